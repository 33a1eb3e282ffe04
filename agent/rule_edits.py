"""The rule planner's calls for single photos and clips, text, the beat and the music's fades.

References are checked against the state before anything is planned, so a message that points at
nothing ("the 12th photo" with 10) or at one of many ("remove the photo") gets a question back
and changes nothing. Removals run from the last position to the first, so "remove the first and
second photos" removes the photos the user meant.
"""

from __future__ import annotations

from typing import Any

from agent.intents import Intents
from agent.intents_edit import SegmentOp
from agent.language import Lang
from agent.planner import ToolCall
from agent.references import Ref
from agent.segment_refs import Target, resolve
from agent.state import SessionState
from agent.state_view import clip_srcs
from agent.tools import ToolError
from renderer.draft import TrackType


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
        indexes = [_index(state, ref, lang, check) for ref in op.refs]
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


def music_extras(found: Intents, calls: list[ToolCall], state: SessionState) -> list[ToolCall]:
    """Fades and looping folded into the planned set_music call (or a new one); then the beat cut."""
    e = found.edit
    extra = {
        k: v
        for k, v in (("fade_in_ms", e.fade_in_ms), ("fade_out_ms", e.fade_out_ms), ("loop", e.loop))
        if v is not None
    }
    planned = next((c for c in calls if c.name == "set_music"), None)
    removing = any(c.name == "remove_music" for c in calls)
    has_music = bool(state.draft and state.draft.tracks(TrackType.AUDIO))
    out = list(calls)
    if extra and not removing:
        if planned is not None:
            planned.args.update(extra)
        else:
            out.append(ToolCall(name="set_music", args=extra))
            planned = out[-1]
    if e.beat and not removing:
        if planned is None and not has_music:
            mood = found.mood or "upbeat"
            out.append(ToolCall(name="set_music", args={"source": f"builtin:{mood}"}))
        args = {"beats_per_segment": e.beats_per} if e.beats_per else {}
        out.append(ToolCall(name="cut_to_beat", args=args))
    return out
