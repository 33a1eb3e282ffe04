"""Which video segment a request means: by position among photos, clips or all, by file name or id.

`Target` is the argument model tools take (its JSON schema is what an LLM sees); `resolve` finds
the segment in the state or raises a ToolError that is a question a user can answer ("which
photo? there are 10: ...", "there are only 10 photos").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent.state import SessionState
from agent.tools.base import ToolError
from agent.tools.state_view import clip_srcs, require_video
from renderer.schema.draft import Segment

Kind = Literal["any", "photo", "clip"]
_KIND_EN = {"any": ("item", "items"), "photo": ("photo", "photos"), "clip": ("clip", "clips")}
_KIND_ZH = {"any": "个片段", "photo": "张照片", "clip": "个视频片段"}
MAX_LISTED = 12


class Target(BaseModel):
    """One segment of the video track."""

    kind: Kind = Field("any", description="count among photos, clips, or all segments")
    index: int | None = Field(
        None, description="1-based position among segments of that kind; -1 the last, -2 the one before"
    )
    name: str | None = Field(None, description="file name, media_id or segment id")


def segment_kind(seg: Segment, clips: set[str]) -> Kind:
    return "clip" if seg.src in clips else "photo"


def display_names(state: SessionState) -> dict[str, str]:
    """Segment src -> the file name users know it by."""
    return {f.cdn_url: f.filename for f in state.video_infos}


def segment_name(seg: Segment, names: dict[str, str]) -> str:
    return names.get(seg.src or "", seg.m.name or seg.id)


def _keys(seg: Segment, state: SessionState) -> set[str]:
    keys = {seg.id, seg.m.name or "", seg.src or ""}
    for f in state.video_infos:
        if f.cdn_url == seg.src:
            keys |= {f.filename, f.media_id, f.filename.rsplit(".", 1)[0]}
    return {k.lower() for k in keys if k}


def _listing(segs: list[Segment], names: dict[str, str]) -> str:
    shown = [f"{i}. {segment_name(s, names)}" for i, s in enumerate(segs[:MAX_LISTED], start=1)]
    more = f", ... ({len(segs) - MAX_LISTED} more)" if len(segs) > MAX_LISTED else ""
    return ", ".join(shown) + more


def count_phrase(n: int, kind: Kind) -> str:
    one, many = _KIND_EN[kind]
    return f"{n} {one if n == 1 else many}"


def resolve(state: SessionState, target: Target) -> int:
    """The index of the meant segment on the video track, or a ToolError asking which."""
    _, video = require_video(state)
    clips, names = clip_srcs(state), display_names(state)
    pool = [
        i for i, s in enumerate(video.sg) if target.kind == "any" or segment_kind(s, clips) == target.kind
    ]
    one, many = _KIND_EN[target.kind]
    zh_unit = _KIND_ZH[target.kind]
    if target.name:
        wanted = target.name.strip().lower()
        found = [i for i in pool if wanted in _keys(video.sg[i], state)]
        if not found:
            listed = _listing([video.sg[i] for i in pool], names) or "none"
            raise ToolError(
                f"there is no {one} named {target.name!r} on the timeline; {many} there: {listed}",
                f"时间线上没有名为「{target.name}」的素材；现有：{listed}",
            )
        pool = found
    if target.index is None:
        if len(pool) == 1:
            return pool[0]
        if not pool:
            raise ToolError(f"there are no {many} on the timeline", f"时间线上没有{zh_unit.lstrip('个张')}")
        listed = _listing([video.sg[i] for i in pool], names)
        raise ToolError(
            f"which {one}? There are {len(pool)}: {listed}. "
            f'Say for example "the third {one}" or a file name.',
            f"是哪一{zh_unit[0]}？共有 {len(pool)}{zh_unit}：{listed}。可以说“第三{zh_unit[0]}”或文件名。",
        )
    position = target.index if target.index > 0 else len(pool) + 1 + target.index
    if target.index == 0 or not 1 <= position <= len(pool):
        raise ToolError(
            f"there {'is' if len(pool) == 1 else 'are'} only {count_phrase(len(pool), target.kind)}"
            f" on the timeline, so there is no {_ordinal(target.index)} {one}",
            f"时间线上只有 {len(pool)}{zh_unit}，没有第 {target.index} {zh_unit[0]}",
        )
    return pool[position - 1]


def _ordinal(n: int) -> str:
    if n < 0:
        return "last" if n == -1 else f"{-n}th from last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _nth_of_kind(state: SessionState, index: int) -> tuple[Segment, Kind, int]:
    """The segment at `index`, whether it is a photo or a clip, and its position among those."""
    _, video = require_video(state)
    seg = video.sg[index]
    clips = clip_srcs(state)
    kind = segment_kind(seg, clips)
    nth = sum(1 for s in video.sg[: index + 1] if segment_kind(s, clips) == kind)
    return seg, kind, nth


def describe_target(state: SessionState, index: int) -> str:
    """'the 3rd photo (beach.jpg)' for replies."""
    seg, kind, nth = _nth_of_kind(state, index)
    return f"the {_ordinal(nth)} {kind} ({segment_name(seg, display_names(state))})"


def describe_target_zh(state: SessionState, index: int) -> str:
    seg, kind, nth = _nth_of_kind(state, index)
    unit = "张照片" if kind == "photo" else "个视频片段"
    return f"第 {nth} {unit}（{segment_name(seg, display_names(state))}）"
