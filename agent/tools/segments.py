"""Segment tools: add, remove, move, swap, replace, reorder, duplicate and trim photos and clips;
clip sound.

Transitions stay with positions (agent.tools.segment_list). Captions anchored to a photo go with it
(edits.sync_anchors); a replaced photo keeps its segment id, so its caption stays with the new one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from agent import edits
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError, ToolResult, tool
from agent.tools.segment_list import (
    apply_segments,
    find_upload,
    segments,
    unused_media,
    usual_photo_ms,
)
from agent.tools.segment_refs import (
    Target,
    describe_target,
    describe_target_zh,
    display_names,
    resolve,
    segment_name,
)
from agent.tools.state_view import (
    clip_lengths,
    clip_srcs,
    require_draft,
    result,
    secs,
    visual_item,
    visual_media,
)

_TARGET_DESC = "which segment: kind (photo/clip/any) with a 1-based index (-1 last), or a file name"


class TargetArgs(BaseModel):
    target: Target = Field(..., description=_TARGET_DESC)


@tool("remove_segment", "Take one photo or clip off the timeline.", TargetArgs)
def remove_segment(state: SessionState, args: TargetArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    i = resolve(state, args.target)
    if len(segs) == 1:
        raise ToolError(
            "that is the only segment; the video needs at least one", "这是唯一的片段，视频至少需要一个"
        )
    en, zh = describe_target(state, i), describe_target_zh(state, i)
    new = apply_segments(state, segs[:i] + segs[i + 1 :], positions_from=segs)
    n = len(segs) - 1
    return result(new, f"Removed {en}; {n} left.", f"已删除{zh}，还剩 {n} 个。", removed=segs[i].id)


class MoveArgs(BaseModel):
    target: Target = Field(..., description=_TARGET_DESC)
    position: int | None = Field(None, description="new 1-based position among all segments; -1 the end")
    after: Target | None = Field(None, description="instead of position: right after this segment")
    before: Target | None = Field(None, description="instead of position: right before this segment")


def _destination(state: SessionState, args: MoveArgs, i: int, n: int) -> int:
    """The 1-based position `move_segment` puts segment `i` at (of `n`), from whichever was given."""
    if sum(x is not None for x in (args.position, args.after, args.before)) != 1:
        raise ToolError("give one of position, after or before", "请给出位置，或放在哪个片段之前/之后")
    anchor = args.after or args.before
    if anchor is None:
        to = args.position if args.position and args.position > 0 else n + 1 + (args.position or 0)
        if not 1 <= to <= n:
            raise ToolError(f"position must be 1 to {n}", f"位置必须在 1 到 {n} 之间")
        return to
    j = resolve(state, anchor)
    if j == i:
        raise ToolError(
            "it cannot go before or after itself: name another photo or clip", "不能放在它自己的前后"
        )
    j = j - 1 if j > i else j  # where the anchor sits once the segment is lifted out
    return j + 2 if args.after is not None else j + 1


@tool(
    "move_segment",
    "Move one photo or clip to another position, or right after or before another one.",
    MoveArgs,
)
def move_segment(state: SessionState, args: MoveArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    i = resolve(state, args.target)
    n = len(segs)
    to = _destination(state, args, i, n)
    en, zh = describe_target(state, i), describe_target_zh(state, i)
    rest = segs[:i] + segs[i + 1 :]
    order = [*rest[: to - 1], segs[i], *rest[to - 1 :]]
    new = apply_segments(state, order, positions_from=segs)
    anchor = args.after or args.before
    if anchor is not None:
        j = resolve(state, anchor)
        side_en, side_zh = ("after", "后面") if args.after is not None else ("before", "前面")
        return result(
            new,
            f"Moved {en} {side_en} {describe_target(state, j)}; it is now number {to} of {n}.",
            f"已把{zh}移到{describe_target_zh(state, j)}{side_zh}，现在是第 {to} 个。",
        )
    where_en = "the start" if to == 1 else "the end" if to == n else f"position {to}"
    where_zh = "最前面" if to == 1 else "最后" if to == n else f"第 {to} 位"
    return result(new, f"Moved {en} to {where_en}.", f"已把{zh}移到{where_zh}。")


class SwapArgs(BaseModel):
    first: Target
    second: Target


@tool("swap_segments", "Swap the places of two photos or clips.", SwapArgs)
def swap_segments(state: SessionState, args: SwapArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    a, b = resolve(state, args.first), resolve(state, args.second)
    if a == b:
        raise ToolError("those are the same segment", "这是同一个片段")
    en = f"{describe_target(state, a)} and {describe_target(state, b)}"
    zh = f"{describe_target_zh(state, a)}和{describe_target_zh(state, b)}"
    order = list(segs)
    order[a], order[b] = order[b], order[a]
    return result(apply_segments(state, order, positions_from=segs), f"Swapped {en}.", f"已交换{zh}。")


class ReplaceArgs(BaseModel):
    target: Target = Field(..., description=_TARGET_DESC)
    media: str = Field(
        ...,
        description="media_id or file name of the upload to show instead; 'new' for the one upload "
        "not on the timeline yet",
    )


@tool(
    "replace_segment",
    "Show another uploaded photo or clip in place of one segment: same place, transition and caption; "
    "a photo keeps the time it had, a clip plays its own length.",
    ReplaceArgs,
)
def replace_segment(state: SessionState, args: ReplaceArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    i = resolve(state, args.target)
    upload = find_upload(state, args.media)
    old = segs[i]
    en, zh = describe_target(state, i), describe_target_zh(state, i)
    if old.src == upload.cdn_url:
        return result(
            state,
            f"{en[0].upper()}{en[1:]} already is {upload.filename}.",
            f"{zh}已经是它了。",
            changed=False,
        )
    item = visual_item(upload, state)
    clips = clip_srcs(state)
    was_clip = old.src in clips
    motion: str | None
    if item.kind == "clip":
        d, motion, vol = item.clip_ms or old.d, "none", old.m.vol if was_clip else 1.0
    else:  # a photo takes the place's time (a clip's place: the usual photo time) and its motion
        d = usual_photo_ms(segs, clips) if was_clip else old.d
        motion, vol = edits.auto_motion(item, i) if was_clip else old.m.motion, None
    meta = old.m.model_copy(update={"name": item.name, "focus": item.focus, "motion": motion, "vol": vol})
    segs[i] = old.model_copy(update={"src": item.src, "d": d, "ss": 0, "m": meta})
    return result(
        apply_segments(state, segs),
        f"Replaced {en} with {upload.filename}.",
        f"已把{zh}换成 {upload.filename}。",
    )


class ReorderArgs(BaseModel):
    order: Literal["reverse", "by_name", "upload"] | None = Field(
        None, description="reverse the order, sort by file name, or back to upload order"
    )
    positions: list[int] | None = Field(
        None, description="the current 1-based positions in their new order, e.g. [3, 1, 2]"
    )


@tool("reorder_segments", "Put the photos and clips in a new order.", ReorderArgs)
def reorder_segments(state: SessionState, args: ReorderArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    names = display_names(state)
    if args.positions is not None:
        n = len(segs)
        if sorted(args.positions) != list(range(1, n + 1)):
            raise ToolError(f"positions must list each of 1 to {n} once", f"位置必须恰好列出 1 到 {n} 各一次")
        order = [segs[p - 1] for p in args.positions]
        en, zh = "the order you gave", "你给的顺序"
    elif args.order == "reverse":
        order, en, zh = segs[::-1], "reverse order", "倒序"
    elif args.order == "by_name":
        order = sorted(segs, key=lambda s: segment_name(s, names).lower())
        en, zh = "file-name order", "文件名顺序"
    elif args.order == "upload":
        rank = {f.cdn_url: i for i, f in enumerate(state.video_infos)}
        order = sorted(segs, key=lambda s: rank.get(s.src or "", len(rank)))
        en, zh = "upload order", "上传顺序"
    else:
        raise ToolError("give an order (reverse, by_name, upload) or positions", "请给出顺序")
    return result(
        apply_segments(state, order, positions_from=segs), f"Put the segments in {en}.", f"已按{zh}排列。"
    )


@tool("duplicate_segment", "Show one photo or clip twice: a copy right after it.", TargetArgs)
def duplicate_segment(state: SessionState, args: TargetArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    i = resolve(state, args.target)
    copy = segs[i].model_copy(update={"id": edits.next_id(state.draft)})
    new = apply_segments(state, [*segs[: i + 1], copy, *segs[i + 1 :]], positions_from=segs)
    en, zh = describe_target(state, i), describe_target_zh(state, i)
    return result(new, f"Duplicated {en}: it now shows twice in a row.", f"已复制{zh}，现在连续出现两次。")


class TrimArgs(BaseModel):
    target: Target = Field(..., description=_TARGET_DESC)
    seconds: float | None = Field(None, gt=0, le=3600, description="keep this many seconds")
    start_seconds: float | None = Field(None, ge=0, description="clips: where in the clip to start")
    end_seconds: float | None = Field(None, gt=0, description="clips: where in the clip to stop")


@tool(
    "trim_segment",
    "Shorten a clip (keep `seconds`, or the part from start_seconds to end_seconds of the clip), "
    "or set how long one photo shows.",
    TrimArgs,
)
def trim_segment(state: SessionState, args: TrimArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    i = resolve(state, args.target)
    seg = segs[i]
    own = clip_lengths(state).get(seg.src or "")
    en, zh = describe_target(state, i), describe_target_zh(state, i)
    if own is None:  # a photo: trimming is its duration
        if args.seconds is None:
            raise ToolError("for a photo, say how many seconds it should show", "照片请说明显示几秒")
        ms = round(args.seconds * 1000)
        segs[i] = seg.model_copy(update={"d": ms})
        new = apply_segments(state, segs)
        return result(
            new, f"{en[0].upper()}{en[1:]} now shows for {secs(ms)} s.", f"{zh}现在显示 {secs(ms)} 秒。"
        )
    start = round(args.start_seconds * 1000) if args.start_seconds is not None else seg.ss
    if args.end_seconds is not None:
        end = round(args.end_seconds * 1000)
    elif args.seconds is not None:
        end = start + round(args.seconds * 1000)
    else:
        end = min(own, start + seg.d)
    end = min(end, own)
    if start >= own or end - start < 100:
        raise ToolError(
            f"the clip is {secs(own)} s long: choose a part inside it of at least 0.1 s",
            f"这个片段长 {secs(own)} 秒，请选择其中至少 0.1 秒的部分",
        )
    segs[i] = seg.model_copy(update={"ss": start, "d": end - start})
    new = apply_segments(state, segs)
    span = f"{secs(start)}-{secs(end)} s"
    return result(
        new,
        f"Trimmed {en} to its {span} ({secs(end - start)} s).",
        f"已把{zh}剪成 {span}（{secs(end - start)} 秒）。",
    )


class AddMediaArgs(BaseModel):
    media: list[str] | Literal["new"] = Field(
        "new",
        description="media_id or file name of each upload to add, or 'new': every upload not on the timeline",
    )
    position: int = Field(-1, description="1-based position of the first one; -1 at the end")


@tool("add_media", "Add uploaded photos or clips to the existing timeline.", AddMediaArgs)
def add_media(state: SessionState, args: AddMediaArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    uploads = visual_media(state)
    if args.media == "new":
        chosen = unused_media(state)
        if not chosen:
            return result(
                state,
                "Every upload is already on the timeline.",
                "所有素材都已经在时间线上了。",
                changed=False,
            )
    else:
        by_key = {k.lower(): f for f in uploads for k in (f.media_id, f.filename)}
        missing = [m for m in args.media if m.lower() not in by_key]
        if missing:
            raise ToolError(
                f"unknown media: {', '.join(missing)}; uploaded: {', '.join(f.filename for f in uploads)}",
                f"找不到素材：{', '.join(missing)}",
            )
        chosen = [by_key[m.lower()] for m in args.media]
    draft = require_draft(state)
    items = [visual_item(f, state) for f in chosen]
    first = int(edits.next_id(draft)[1:])
    fresh = edits.build_visual_track(
        items,
        first_id=first,
        photo_ms=usual_photo_ms(segs, clip_srcs(state)),
        transition="none",
        transition_ms=0,
        motion="auto",
        fit="cover",
    ).sg
    n = len(segs)
    at = args.position if args.position > 0 else n + 2 + args.position
    at = min(max(at, 1), n + 1)
    order = segs[: at - 1] + list(fresh) + segs[at - 1 :]
    new = apply_segments(state, order, positions_from=segs)
    names = ", ".join(f.filename for f in chosen)
    return result(
        new,
        f"Added {len(chosen)} to the timeline: {names}.",
        f"已把 {len(chosen)} 个素材加入时间线：{names}。",
    )


class ClipVolumeArgs(BaseModel):
    target: Target | None = Field(None, description="one clip; omit for every clip")
    volume: float = Field(..., ge=0, le=2, description="0 mutes, 1 is the clip's own level")


@tool(
    "set_clip_volume", "Mute a video clip's own sound, or set its volume (one clip or all).", ClipVolumeArgs
)
def set_clip_volume(state: SessionState, args: ClipVolumeArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    clips = clip_srcs(state)
    if args.target is not None:
        target = (
            args.target if args.target.kind != "photo" else args.target.model_copy(update={"kind": "clip"})
        )
        chosen = [resolve(state, target)]
        if segs[chosen[0]].src not in clips:
            raise ToolError("that is a photo; photos have no sound", "这是照片，照片没有声音")
        en, zh = describe_target(state, chosen[0]), describe_target_zh(state, chosen[0])
    else:
        chosen = [i for i, s in enumerate(segs) if s.src in clips]
        if not chosen:
            raise ToolError(
                "there are no video clips on the timeline, only photos", "时间线上没有视频片段，只有照片"
            )
        en, zh = ("the clip" if len(chosen) == 1 else f"all {len(chosen)} clips"), "视频片段"
    for i in chosen:
        segs[i] = segs[i].model_copy(update={"m": segs[i].m.model_copy(update={"vol": args.volume})})
    new = apply_segments(state, segs)
    if args.volume == 0:
        return result(new, f"Muted {en}.", f"已将{zh}静音。")
    pct = round(args.volume * 100)
    return result(new, f"Set the sound of {en} to {pct}%.", f"{zh}的音量已设为 {pct}%。")
