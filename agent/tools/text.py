"""Text tools beside the title: captions on photos, the end card, and editing, moving or removing text.

Three text tracks, each with its own id: the title (`x1`, agent.tools.layers), captions (`x2`,
each caption anchored to the photo it belongs to, so it follows that photo) and the end card
(`x3`, anchored to the end of the video).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent import edits
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError, ToolResult, tool
from agent.tools.segment_refs import Target, describe_target, describe_target_zh, resolve
from agent.tools.state_view import commit, natural_ms, require_draft, result, secs
from renderer.schema.draft import TEXT_POSITIONS, Draft, Segment, SegmentMeta, Track, TrackMeta, TrackType

Position = Literal[TEXT_POSITIONS]  # type: ignore[valid-type]
TextKind = Literal["title", "caption", "end_card"]
_TRACKS: dict[str, tuple[str, str]] = {
    "title": (edits.TITLE_TRACK_ID, "Title"),
    "caption": (edits.CAPTION_TRACK_ID, "Captions"),
    "end_card": (edits.END_CARD_TRACK_ID, "End card"),
}
_NAMES_EN = {"title": "the title", "caption": "the caption", "end_card": "the end card"}
_NAMES_ZH = {"title": "标题", "caption": "字幕", "end_card": "片尾字幕"}
POS_ZH = {
    "top": "顶部",
    "center": "中间",
    "bottom": "底部",
    "top_left": "左上角",
    "top_right": "右上角",
    "bottom_left": "左下角",
    "bottom_right": "右下角",
}


def text_track(draft: Draft, kind: TextKind) -> Track | None:
    track_id, _name = _TRACKS[kind]
    texts = draft.tracks(TrackType.TEXT)
    found = next((t for t in texts if t.id == track_id), None)
    if found is None and kind == "title":  # a client's own text track counts as the title
        found = next((t for t in texts if t.m.name not in ("Captions", "End card")), None)
    return found


def _put(draft: Draft, kind: TextKind, segs: list[Segment]) -> Draft:
    old = text_track(draft, kind)
    track_id, name = _TRACKS[kind]
    if not segs:
        return edits.remove_track(draft, old.id) if old else draft
    track = Track(id=old.id if old else track_id, tt=TrackType.TEXT, m=TrackMeta(name=name), sg=segs)
    return edits.replace_track(draft, track)


def _save(state: SessionState, draft: Draft) -> SessionState:
    return commit(state, edits.fit_to_length(draft, natural_ms(state)))


class AddCaptionArgs(BaseModel):
    text: str = Field(..., min_length=1, max_length=300)
    target: Target | None = Field(None, description="the photo or clip it belongs to (it follows it)")
    start_seconds: float | None = Field(None, ge=0, description="when no target: where it starts")
    duration_seconds: float = Field(3, gt=0, le=600, description="when no target: how long it shows")
    position: Position = Field("bottom")


@tool("add_caption", "Add a caption over one photo or clip (or at a time).", AddCaptionArgs)
def add_caption(state: SessionState, args: AddCaptionArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    text = args.text.strip()
    if not text:
        raise ToolError("the caption text is empty", "字幕内容为空")
    meta = SegmentMeta(text=text, pos=args.position, size=0.05, color="#FFFFFF", anim="fade")
    old = text_track(draft, "caption")
    seg_id = edits.next_id(draft)
    if args.target is not None:
        i = resolve(state, args.target)
        video = edits.video_track(draft)
        assert video is not None
        meta = meta.model_copy(update={"anchor": video.sg[i].id})
        seg = Segment(id=seg_id, st=0, d=1, m=meta)
        where_en, where_zh = f"on {describe_target(state, i)}", f"在{describe_target_zh(state, i)}上"
    else:
        start = round((args.start_seconds or 0) * 1000)
        if start >= draft.d:
            raise ToolError(f"the video is only {secs(draft.d)} s long", f"视频只有 {secs(draft.d)} 秒")
        seg = Segment(
            id=seg_id, st=start, d=min(round(args.duration_seconds * 1000), draft.d - start), m=meta
        )
        where_en = where_zh = f"{secs(seg.st)}-{secs(seg.end)} s"
    new = _save(state, _put(draft, "caption", [*(old.sg if old else []), seg]))
    return result(new, f'Added the caption "{text}" {where_en}.', f"已添加字幕「{text}」（{where_zh}）。")


class EndCardArgs(BaseModel):
    text: str = Field(..., min_length=1, max_length=300)
    seconds: float = Field(3, gt=0, le=60, description="how long it shows at the end")
    position: Position = Field("center")


@tool("add_end_card", "Show text over the last seconds of the video (replaces an end card).", EndCardArgs)
def add_end_card(state: SessionState, args: EndCardArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    text = args.text.strip()
    if not text:
        raise ToolError("the end card text is empty", "片尾字幕内容为空")
    old = text_track(draft, "end_card")
    ms = round(args.seconds * 1000)
    meta = SegmentMeta(text=text, pos=args.position, size=0.07, color="#FFFFFF", anim="fade")
    meta = meta.model_copy(update={"anchor": edits.ANCHOR_END, "want_d": ms})
    seg = Segment(id=old.sg[0].id if old and old.sg else edits.next_id(draft), st=0, d=ms, m=meta)
    new = _save(state, _put(draft, "end_card", [seg]))
    return result(
        new,
        f'Added the end card "{text}" (last {secs(ms)} s).',
        f"已添加片尾字幕「{text}」（最后 {secs(ms)} 秒）。",
    )


class WhichText(BaseModel):
    kind: TextKind = Field(..., description="title, caption or end_card")
    number: int | None = Field(None, description="captions: 1-based in time order, -1 the last")
    target: Target | None = Field(None, description="captions: the one on this photo or clip")


def _pick(state: SessionState, which: WhichText, *, all_ok: bool) -> tuple[list[Segment], list[int]]:
    """The kind's segments and the indexes meant (all of them when no caption is named and all_ok)."""
    draft = require_draft(state)
    track = text_track(draft, which.kind)
    if track is None or not track.sg:
        raise ToolError(f"there is no {which.kind.replace('_', ' ')} yet", f"还没有{_NAMES_ZH[which.kind]}")
    segs = list(track.sg)
    if which.kind != "caption":
        return segs, [0]
    if which.target is not None:
        video = edits.video_track(draft)
        assert video is not None
        seg_id = video.sg[resolve(state, which.target)].id
        found = [i for i, s in enumerate(segs) if (s.m.model_extra or {}).get("anchor") == seg_id]
        if not found:
            raise ToolError("that photo has no caption", "那张照片没有字幕")
        return segs, found
    if which.number is not None:
        n = which.number if which.number > 0 else len(segs) + 1 + which.number
        if not 1 <= n <= len(segs):
            raise ToolError(f"there are only {len(segs)} captions", f"只有 {len(segs)} 条字幕")
        return segs, [n - 1]
    if len(segs) == 1 or all_ok:
        return segs, list(range(len(segs)))
    listed = ", ".join(f'{i}. "{s.m.text}"' for i, s in enumerate(segs, start=1))
    raise ToolError(
        f"which caption? There are {len(segs)}: {listed}", f"是哪一条字幕？共有 {len(segs)} 条：{listed}"
    )


class EditTextArgs(WhichText):
    text: str = Field(..., min_length=1, max_length=300)


@tool("edit_text", "Change the words of the title, a caption or the end card.", EditTextArgs)
def edit_text(state: SessionState, args: EditTextArgs, ctx: ToolContext) -> ToolResult:
    segs, chosen = _pick(state, args, all_ok=False)
    text = args.text.strip()
    for i in chosen:
        segs[i] = segs[i].model_copy(update={"m": segs[i].m.model_copy(update={"text": text})})
    draft = _put(require_draft(state), args.kind, segs)
    if args.kind == "title":
        draft = draft.model_copy(update={"m": draft.m.model_copy(update={"title": text})})
    new = _save(state, draft)
    return result(
        new, f'Changed {_NAMES_EN[args.kind]} to "{text}".', f"{_NAMES_ZH[args.kind]}已改为「{text}」。"
    )


class MoveTextArgs(WhichText):
    position: Position = Field(..., description="where on the screen")


@tool("move_text", "Move the title, captions or end card to another place on the screen.", MoveTextArgs)
def move_text(state: SessionState, args: MoveTextArgs, ctx: ToolContext) -> ToolResult:
    segs, chosen = _pick(state, args, all_ok=True)
    for i in chosen:
        segs[i] = segs[i].model_copy(update={"m": segs[i].m.model_copy(update={"pos": args.position})})
    new = _save(state, _put(require_draft(state), args.kind, segs))
    many = args.kind == "caption" and len(chosen) > 1
    what_en = "the captions" if many else _NAMES_EN[args.kind]
    pos = args.position.replace("_", " ")
    return result(
        new, f"Moved {what_en} to the {pos}.", f"已把{_NAMES_ZH[args.kind]}移到{POS_ZH[args.position]}。"
    )


@tool("remove_text", "Remove a caption, all captions, the title or the end card.", WhichText)
def remove_text(state: SessionState, args: WhichText, ctx: ToolContext) -> ToolResult:
    segs, chosen = _pick(state, args, all_ok=True)
    keep = [s for i, s in enumerate(segs) if i not in chosen]
    draft = _put(require_draft(state), args.kind, keep)
    if args.kind == "title":
        draft = draft.model_copy(update={"m": draft.m.model_copy(update={"title": None})})
    new = _save(state, draft)
    many = args.kind == "caption" and len(chosen) > 1
    en = f"all {len(chosen)} captions" if many else _NAMES_EN[args.kind]
    return result(new, f"Removed {en}.", f"已删除{'全部' if many else ''}{_NAMES_ZH[args.kind]}。")
