"""look_at: what is on screen at a moment of the video, for a planner that wants to describe it.

From the draft: which photo or clip, which text, which transition is showing at `t`. From the
picture itself, when the server can draw it (ToolContext.look: the studio's still of the draft,
composited by the renderer): its brightness and its main colours. The agent stays light (no
pixels here): the measuring is the server's, handed in as a function.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from agent.state import SessionState
from agent.tools.base import ToolContext, ToolResult, tool
from agent.tools.state_view import require_draft, result
from renderer.schema.draft import TrackType


class LookArgs(BaseModel):
    t: float = Field(..., ge=0, description="seconds from the start of the video")


def _showing(state: SessionState, t_ms: int) -> list[dict[str, Any]]:
    draft = require_draft(state)
    names = {f.cdn_url: f.filename for f in state.video_infos} | {
        f.media_id: f.filename for f in state.video_infos
    }
    seen: list[dict[str, Any]] = []
    for track in draft.t:
        for seg in track.sg:
            if not seg.st <= t_ms < seg.st + seg.d:
                continue
            if track.tt == TrackType.TEXT:
                seen.append({"track": track.id, "segment": seg.id, "text": seg.m.text or ""})
            elif track.tt == TrackType.VIDEO:
                item: dict[str, Any] = {"track": track.id, "segment": seg.id,
                                        "media": seg.m.name or names.get(seg.src or "", seg.src)}  # fmt: skip
                tr = seg.m.tr
                if tr is not None and tr.d > 0 and t_ms < seg.st + tr.d:
                    item["transition_in"] = tr.type
                seen.append(item)
    return seen


@tool(
    "look_at",
    "Look at the video at a moment: what is showing (media, text, transition) and, when the server "
    "can draw it, the picture's brightness and main colours. Changes nothing.",
    LookArgs,
    records_history=False,  # changes nothing; and drawing the picture runs off the event loop
)
def look_at(state: SessionState, args: LookArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    t_ms = min(int(args.t * 1000), max(0, draft.d - 1))
    showing = _showing(state, t_ms)
    picture = ctx.look(draft, t_ms / 1000) if ctx.look is not None else None
    media = ", ".join(str(s["media"]) for s in showing if "media" in s) or "nothing"
    texts = [str(s["text"]) for s in showing if "text" in s]
    en = f"At {t_ms / 1000:.1f} s: {media}" + (f", text {', '.join(texts)!r}" if texts else "") + "."
    zh = f"{t_ms / 1000:.1f} 秒处：{media}" + (f"，文字「{'、'.join(texts)}」" if texts else "") + "。"
    if picture:
        en += f" The picture is {picture['brightness']} (mostly {', '.join(picture['colors'][:3])})."
        zh += f"画面{ {'dark': '偏暗', 'bright': '明亮'}.get(picture['brightness'], '亮度适中') }。"
    return result(state, en, zh, changed=False, t=t_ms / 1000, showing=showing, picture=picture)
