"""The rule planner's calls for single photos and clips, and for text (music: music_calls).

References are checked against the state before anything is planned, so a message that points at
nothing ("the 12th photo" with 10) or at one of many ("remove the photo") gets a question back
and changes nothing. Removals run from the last position to the first, so "remove the first and
second photos" removes the photos the user meant.
"""

from __future__ import annotations

from typing import Any

from agent.language import Lang
from agent.planner import ToolCall
from agent.planners.rules.intents import Intents
from agent.planners.rules.intents_segment import SegmentOp
from agent.planners.rules.references import Ref
from agent.state import SessionState
from agent.tools.base import ToolError
from agent.tools.segment_list import find_upload, unused_media
from agent.tools.segment_refs import Target, resolve
from agent.tools.state_view import clip_srcs, visual_media
from renderer.schema.draft import TrackType


class Question(Exception):
    """A reference the state cannot satisfy: the text is the question to ask back."""


def _question(err: ToolError, lang: Lang) -> Question:
    text = err.message_zh if lang == "zh" else err.message
    return Question(text[0].upper() + text[1:] if text else text)


def _index(state: SessionState, ref: Ref, lang: Lang, check: bool) -> int | None:
    if not check:
        return None
    try:
        return resolve(state, Target.model_validate(ref.target()))
    except ToolError as err:
        raise _question(err, lang) from None


def segment_calls(found: Intents, state: SessionState, lang: Lang, *, check: bool) -> list[ToolCall]:
    """Calls for the message's segment edits; raises Question. `check`: a timeline exists to check."""
    calls: list[ToolCall] = []
    removals: list[tuple[int, Ref]] = []
    clips = clip_srcs(state)
    video = state.draft.tracks(TrackType.VIDEO)[0].sg if check and state.draft else []
    for op in found.edit.ops:
        if op.op == "swap" and check:
            op = _swap_as_replace(op, state)
        indexes = [_index(state, ref, lang, check) for ref in op.refs]
        anchor = _index(state, op.anchor, lang, check) if op.anchor is not None else None
        if anchor is not None and anchor == indexes[0]:
            raise Question(
                "这是同一张：请说放在另一张的前面或后面。"
                if lang == "zh"
                else "That is the same one: say which other photo or clip it should go after or before."
            )
        if op.op == "replace":
            media = _upload_for(op, state, lang)
            calls.append(
                ToolCall(name="replace_segment", args={"target": op.refs[0].target(), "media": media})
            )
            continue
        if op.op == "remove":
            removals += [
                (i if i is not None else -n, ref)
                for n, (i, ref) in enumerate(zip(indexes, op.refs, strict=True))
            ]
            continue
        calls += _one(op, indexes, video, clips, lang)
    for i, ref in sorted(removals, key=lambda pair: pair[0], reverse=True):
        target = ref.target()
        if (
            len(removals) > 1 and i >= 0 and video and ref.name is None
        ):  # from the back, as positions counted from the front
            kind = ref.kind
            same = [n for n, s in enumerate(video) if kind == "any" or (s.src in clips) == (kind == "clip")]
            target = {"kind": kind, "index": same.index(i) + 1} if i in same else target
        calls.append(ToolCall(name="remove_segment", args={"target": target}))
    e = found.edit
    if e.add_media:
        calls.append(ToolCall(name="add_media", args={"media": e.add_media}))
    if e.reorder:
        calls.append(ToolCall(name="reorder_segments", args={"order": e.reorder}))
    if e.mute_all:
        calls.append(ToolCall(name="set_clip_volume", args={"volume": 0}))
    return calls


def _one(
    op: SegmentOp, indexes: list[int | None], video: list[Any], clips: set[str], lang: Lang
) -> list[ToolCall]:
    target = op.refs[0].target()
    if op.op == "swap":
        if len(op.refs) < 2:
            raise Question(
                "交换哪两个？"
                if lang == "zh"
                else 'Swap it with which one? Name both, e.g. "swap the first and third photos".'
            )
        return [ToolCall(name="swap_segments", args={"first": target, "second": op.refs[1].target()})]
    if op.op == "move":
        if op.anchor is not None and op.side is not None:  # "after the fifth"
            return [ToolCall(name="move_segment", args={"target": target, op.side: op.anchor.target()})]
        return [ToolCall(name="move_segment", args={"target": target, "position": op.position})]
    if op.op == "duplicate":
        return [ToolCall(name="duplicate_segment", args={"target": target})]
    if op.op in ("mute", "volume"):
        return [ToolCall(name="set_clip_volume", args={"target": target, "volume": op.volume or 0})]
    is_clip = indexes[0] is not None and video[indexes[0]].src in clips
    if op.op == "trim" or is_clip or op.refs[0].kind == "clip":
        args: dict[str, Any] = {"target": target}
        for key, value in (("seconds", op.seconds), ("start_seconds", op.start_s), ("end_seconds", op.end_s)):
            if value is not None:
                args[key] = value
        return [ToolCall(name="trim_segment", args=args)]
    return [ToolCall(name="set_seconds_per_photo", args={"seconds": op.seconds, "target": target})]


def text_calls(found: Intents) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for op in found.text.ops:
        args: dict[str, Any] = {}
        if op.refs:
            args["target"] = op.refs[0].target()
        if op.op == "add" and op.kind == "caption":
            args["text"] = op.text
            if op.start_s is not None:
                args["start_seconds"] = op.start_s
            if op.position:
                args["position"] = op.position
            calls.append(ToolCall(name="add_caption", args=args))
        elif op.op == "add":
            calls.append(ToolCall(name="add_end_card", args={"text": op.text}))
        elif op.op == "edit":
            args |= {"kind": op.kind, "text": op.text}
            if op.number is not None:
                args["number"] = op.number
            calls.append(ToolCall(name="edit_text", args=args))
        elif op.op == "move":
            calls.append(ToolCall(name="move_text", args={"kind": op.kind, "position": op.position}))
        else:
            calls.append(ToolCall(name="remove_text", args={"kind": op.kind, **args}))
    return calls


def _on_timeline(state: SessionState, ref: Ref) -> bool:
    try:
        resolve(state, Target.model_validate(ref.target()))
    except ToolError:
        return False
    return True


def _swap_as_replace(op: SegmentOp, state: SessionState) -> SegmentOp:
    """ "Swap the third photo with beach.jpg", where beach.jpg is uploaded but not on the timeline:
    there is nothing to exchange places with, so it means putting beach.jpg in its place."""
    if len(op.refs) != 2:
        return op
    for media, other in ((op.refs[1], op.refs[0]), (op.refs[0], op.refs[1])):
        if media.name and not _on_timeline(state, media) and _on_timeline(state, other):
            try:
                find_upload(state, media.name)
            except ToolError:
                continue
            return SegmentOp(op="replace", refs=[other], media=media.name)
    return op


def _upload_for(op: SegmentOp, state: SessionState, lang: Lang) -> str:
    """The file name of the upload a replace puts in; a Question when none or several fit."""
    zh = lang == "zh"
    try:
        fresh = unused_media(state)
    except ToolError:  # no timeline yet: every upload is new
        fresh = visual_media(state)
    if op.media is None:
        names = ", ".join(f.filename for f in fresh or visual_media(state)) or "-"
        raise Question(
            f"换成哪个素材？请说文件名，比如“把第三张换成 beach.jpg”。可选：{names}"
            if zh
            else 'Replace it with which upload? Say its file name, for example "replace the 3rd photo '
            f'with beach.jpg". Uploads: {names}'
        )
    if op.media != "new":
        try:
            return find_upload(state, op.media).filename
        except ToolError as err:
            raise _question(err, lang) from None
    kind = op.media_kind
    fits = [f for f in fresh if kind == "any" or (f.file_type == "video") == (kind == "clip")]
    if len(fits) == 1:
        return fits[0].filename
    what_en, what_zh = {"photo": ("photo", "照片"), "clip": ("clip", "视频")}.get(kind, ("upload", "素材"))
    if not fits:
        raise Question(
            f"我没找到新的{what_zh}：上传的都已经在时间线上了。请先上传，或说出文件名。"
            if zh
            else f"I don't see a new {what_en}: everything you uploaded is already on the timeline. "
            "Upload it first, or tell me its file name."
        )
    names = ", ".join(f.filename for f in fits)
    raise Question(
        f"有 {len(fits)} 个新{what_zh}还不在时间线上：{names}。用哪一个？"
        if zh
        else f"There are {len(fits)} new {what_en}s not on the timeline yet: {names}. Which one?"
    )
