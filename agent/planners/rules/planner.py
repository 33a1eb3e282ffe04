"""The embedded default planner: patterns, not a model (English and simplified Chinese).

It reads the message's intents (rules.intents) and plans every tool call on the first step; on the
next step it ends the turn with a note when one is due (export, a question). A message that refers
to nothing (no uploads yet) or asks nothing it understands gets a clear question and no calls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agent.edits import DEFAULT_PHOTO_MS
from agent.language import Lang
from agent.planner import PlanRequest, PlanStep, ToolCall
from agent.planners.rules.edit_calls import Question, segment_calls, text_calls
from agent.planners.rules.frame_planner import frame_plan
from agent.planners.rules.frames import TRANSITION
from agent.planners.rules.intents import Intents, read_intents
from agent.planners.rules.make_plan import refine_make
from agent.planners.rules.music_calls import music_calls, music_extras
from agent.planners.rules.normalize import normalize
from agent.state import SessionState
from agent.tools.base import ToolError
from agent.tools.segment_refs import Target, resolve
from agent.tools.state_view import audio_media, visual_media
from renderer.schema.draft import TrackType

_TEXT: dict[str, dict[Lang, str]] = {
    "no_media": {
        "en": "I don't see any photos or video clips in this session yet. Could you upload them first? "
        'Then tell me what to make, for example "turn my photos into a 30-second slideshow with music".',
        "zh": "这个会话里还没有照片或视频片段。可以先上传素材吗？然后告诉我想做什么，"
        "比如“把我的照片做成 30 秒的视频，加上音乐”。",
    },
    "only_audio": {
        "en": "I only see audio so far. Which photos or clips should the video show? Upload them and ask "
        "again, and I'll use your song as the soundtrack.",
        "zh": "目前只有音频。视频里要放哪些照片或片段？上传后再告诉我，我会用你的音乐做背景音乐。",
    },
    "offer": {
        "en": "Would you like me to turn your {n} uploads into a slideshow? Say for example "
        '"make a 30-second vertical slideshow with upbeat music and the title Summer".',
        "zh": "要我把你上传的 {n} 个素材做成视频吗？"
        "可以这样说：“做成 30 秒竖屏视频，配欢快的音乐，标题 夏天”。",
    },
    "help": {
        "en": 'I\'m not sure what to change. I can remake the slideshow, set the length ("30 seconds"), '
        "the seconds per photo, the shape (vertical, landscape, square), a title, the music (a mood or "
        "your upload, volume), transitions and motion, or get it ready to export. What would you like?",
        "zh": "我不确定要改什么。我可以：重新做视频、设置时长（“30秒”）、每张照片的时长、"
        "画面比例（竖屏、横屏、方形）、"
        "标题、背景音乐（风格或你上传的音乐、音量）、转场和镜头运动，或者准备导出。你想怎么改？",
    },
    "tempo": {
        "en": "I can't change the song's own tempo. I can make the photos change faster or slower "
        '("speed it up"), cut them to the beat, or use a livelier track ("use electronic music").',
        "zh": "我没法改变歌曲本身的速度。可以让照片切换得更快或更慢（“节奏快一点”），"
        "跟着节拍卡点，或者换一首更有活力的音乐（“换成电子音乐”）。",
    },
    "nothing_to_export": {
        "en": "There is nothing to export yet. Upload photos and ask me to make a video first.",
        "zh": "还没有可以导出的内容。请先上传照片并让我做成视频。",
    },
    "export": {
        "en": "The draft is ready to export: send it to the render call (POST /api/render/proxy/lambda with "
        "this session's draft and output format mp4), poll GET /api/render/proxy/lambda/<id> until it is "
        "completed, then download the MP4.",
        "zh": "草稿已可以导出：把本会话的草稿发给渲染接口（POST /api/render/proxy/lambda，输出格式 mp4），"
        "轮询 GET /api/render/proxy/lambda/<id> 直到完成，然后下载 MP4。",
    },
}


def _say(key: str, lang: Lang, **values: Any) -> str:
    return _TEXT[key][lang].format(**values)


def _make_args(found: Intents, state: SessionState) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if found.total_s:
        args["total_seconds"] = found.total_s
    if found.per_photo_s:
        args["seconds_per_photo"] = found.per_photo_s
    elif found.pace:  # "a fast slideshow": the usual time per photo, times the pace
        args["seconds_per_photo"] = round(DEFAULT_PHOTO_MS / 1000 * found.pace * 20) / 20
    if found.transition:
        args["transition"] = found.transition
    if found.transition_s is not None:
        args["transition_seconds"] = found.transition_s
    if found.motion:
        args["motion"] = found.motion
    if found.fit:
        args["fit"] = found.fit
    if found.aspect:
        args["aspect"] = found.aspect
    return args


def _edit_calls(found: Intents) -> list[ToolCall]:
    calls = []
    if found.aspect:
        calls.append(ToolCall(name="set_aspect", args={"aspect": found.aspect}))
    if found.per_photo_s:
        calls.append(ToolCall(name="set_seconds_per_photo", args={"seconds": found.per_photo_s}))
    elif found.pace:  # every photo's own time scaled, so photos set apart stay apart
        calls.append(ToolCall(name="set_seconds_per_photo", args={"factor": found.pace}))
    if found.transition:
        args: dict[str, Any] = {"kind": found.transition}
        if found.transition_s is not None:
            args["duration_seconds"] = found.transition_s
        calls.append(ToolCall(name="set_transition", args=args))
    if found.motion:
        calls.append(ToolCall(name="set_motion", args={"kind": found.motion}))
    if found.fit:
        calls.append(ToolCall(name="set_fit", args={"mode": found.fit}))
    return calls


def _title_calls(found: Intents, state: SessionState) -> list[ToolCall]:
    if found.remove_title:
        return [ToolCall(name="remove_title")]
    if not found.title:
        return []
    has_title = bool(state.draft and state.draft.tracks(TrackType.TEXT))
    if found.title_change and has_title:
        return [ToolCall(name="set_title", args={"text": found.title})]
    args: dict[str, Any] = {"text": found.title}
    if found.title_position:
        args["position"] = found.title_position
    if found.title_s:
        args["duration_seconds"] = found.title_s
    return [ToolCall(name="add_title", args=args)]


def plan_calls(
    message: str, state: SessionState, lang: Lang, history: Sequence[dict[str, str]] = ()
) -> PlanStep:
    """Every call the message asks for, or a question; pure, so the phrase corpus can test it.

    The frame reader (frame_planner) goes first; what it does not understand, the phrase reader
    below reads.
    """
    framed, decisive = frame_plan(message, state, lang, list(history))
    if framed is not None and decisive:
        return framed
    step = _phrase_plan(message, state, lang)
    if state.draft is None:
        return refine_make(message, state, lang, step)
    fallback = not step.calls and (step.text or "").startswith(_say("help", lang)[:20])
    if framed is not None and (
        fallback
        or _overreaches(step, framed)
        or _misses(step, framed, state)
        or _reads_more(step, framed)
        or _idle_music(step, framed, state)
        or _stray_transition(step, framed, message)
        or _music_missed(step, framed)
    ):
        return framed  # the phrases understood nothing, or would change more than the frames read
    return step


_TARGET_ARGS = ("target", "first", "second", "after", "before")


def _targets(step: PlanStep, state: SessionState) -> set[int]:
    """The timeline positions a plan's calls name (None: one of them names nothing there)."""
    out: set[int] = set()
    for call in step.calls:
        if call.name in ("add_media",):
            continue
        named = [call.args[k] for k in _TARGET_ARGS if isinstance(call.args.get(k), dict)]
        named += [t for t in call.args.get("targets", []) if isinstance(t, dict)]
        for raw in named:
            try:
                out.add(resolve(state, Target.model_validate(raw)))
            except (ToolError, ValueError):
                continue
    return out


_EDITS_OF_SOME = {
    "edit_segments",
    "add_caption",
    "set_seconds_per_photo",
    "trim_segment",
    "move_segment",
    "remove_segments",
}


def _misses(phrases: PlanStep, frames: PlanStep, state: SessionState) -> bool:
    """The phrase plan edits fewer of the photos the frames read ("first 3 photos 2 sec each"), or
    none of them while the frames name some."""
    mine_calls = [c for c in frames.calls if c.name in _EDITS_OF_SOME]
    if not mine_calls:
        return False
    mine = _targets(PlanStep(calls=mine_calls), state)
    theirs = _targets(phrases, state)
    return bool(mine) and (not theirs or theirs < mine)


_DOMAIN = {
    "set_music": "music",
    "remove_music": "music",
    "set_duration": "length",
    "set_seconds_per_photo": "length",
    "set_aspect": "aspect",
    "add_title": "title",
    "set_title": "title",
    "remove_title": "title",
    "add_caption": "caption",
    "set_video_fades": "fades",
}


def _domains(step: PlanStep) -> set[str]:
    return {_DOMAIN.get(c.name, "segments") for c in step.calls}


def _reads_more(phrases: PlanStep, frames: PlanStep) -> bool:
    """The frames read every part of the message the phrases read, and more ("the song's way too loud
    and the whole thing drags, 12 sec tops": the phrases saw only the length)."""
    mine, theirs = _domains(frames), _domains(phrases)
    return bool(theirs) and theirs < mine


def _idle_music(phrases: PlanStep, frames: PlanStep, state: SessionState) -> bool:
    """The phrases set the music's volume to what it already is where the frames read a change
    ("music louder pls i can barely hear it": at 100% the phrase reader can go no higher)."""
    audio = (
        next((t.sg[0] for t in state.draft.tracks(TrackType.AUDIO) if t.sg), None) if state.draft else None
    )
    if audio is None:
        return False
    now = audio.m.vol if audio.m.vol is not None else 1.0
    theirs = [c.args.get("volume") for c in phrases.calls if c.name == "set_music" and "volume" in c.args]
    mine = [c.args.get("volume") for c in frames.calls if c.name == "set_music" and "volume" in c.args]
    return bool(theirs and mine) and theirs[-1] == now and mine[-1] != now


_WHOLE_VIDEO = {"set_duration", "make_slideshow", "set_motion", "set_fit", "set_transition", "set_aspect"}


def _overreaches(phrases: PlanStep, frames: PlanStep) -> bool:
    """The phrase plan touches the whole video (its length, every photo, a remake) where the frames
    found an edit of some photos only: "1st one needs to stay up longer, like 5 sec"."""
    mine = {c.name for c in frames.calls}
    if mine & (_WHOLE_VIDEO | {"set_seconds_per_photo"}):
        return False
    return any(
        c.name in ("set_duration", "make_slideshow")
        or (c.name == "set_seconds_per_photo" and "target" not in c.args)
        for c in phrases.calls
    )


def _music_missed(phrases: PlanStep, frames: PlanStep) -> bool:
    """The frames read a music fade or offset the phrases' music call lacks ("can the song come in
    softer at the start": a fade in, not a lower volume)."""
    timing = {"fade_in_ms", "fade_out_ms", "start_seconds"}
    mine = {k for c in frames.calls if c.name == "set_music" for k in c.args} & timing
    theirs = {k for c in phrases.calls if c.name == "set_music" for k in c.args}
    return bool(mine) and any(c.name == "set_music" for c in phrases.calls) and not mine <= theirs


def _stray_transition(phrases: PlanStep, frames: PlanStep, text: str) -> bool:
    """The phrases change every transition where the message speaks of no transition but of the
    music's fades ("remove the fade-out from the music", "make the ending fade longer")."""
    if not any(c.name == "set_transition" for c in phrases.calls):
        return False
    if any(c.name == "set_transition" or "transition" in c.args for c in frames.calls):
        return False
    music_fades = any(
        c.name == "set_music" and ("fade_in_ms" in c.args or "fade_out_ms" in c.args) for c in frames.calls
    )
    return music_fades and not re.search(TRANSITION, normalize(text), re.I)


def _phrase_plan(message: str, state: SessionState, lang: Lang) -> PlanStep:
    found = read_intents(message)
    history: list[ToolCall] = []
    if found.edit.undo:
        history.append(ToolCall(name="undo", args={"steps": found.edit.undo} if found.edit.undo > 1 else {}))
    if found.edit.redo:
        history.append(ToolCall(name="redo"))
    has_draft = state.draft is not None and bool(state.draft.tracks(TrackType.VIDEO))
    media = visual_media(state)
    asks_edit = found.edits_anything() or found.make or bool(found.music.music_word and not found.describe)
    if history and not (found.make or found.edits_anything()):
        return PlanStep(calls=history)
    if not asks_edit and not found.export and not found.describe:
        if not has_draft:
            if not media:
                return PlanStep(text=_say("only_audio" if audio_media(state) else "no_media", lang))
            return PlanStep(text=_say("offer", lang, n=len(media)))
        return PlanStep(text=_say("help", lang))
    make = found.make or (asks_edit and not has_draft)
    if make and not media:
        return PlanStep(text=_say("only_audio" if audio_media(state) else "no_media", lang))
    if not make and not has_draft:  # export or describe with nothing made yet
        return PlanStep(text=_say("nothing_to_export" if found.export else "no_media", lang))
    try:  # references are checked against the timeline the message is about (undo changes it)
        edits = segment_calls(found, state, lang, check=has_draft and not make and not history)
        music = music_calls(found, state, lang, fresh=make and not has_draft)
    except Question as question:
        return PlanStep(text=str(question))
    calls: list[ToolCall] = list(history)
    if make:
        calls.append(ToolCall(name="make_slideshow", args=_make_args(found, state)))
    else:
        calls += _edit_calls(found)
    calls += music
    calls += edits
    if found.total_s and not make:  # after photo timing, transitions and removals: the length asked wins
        calls.append(ToolCall(name="set_duration", args={"total_seconds": found.total_s}))
    calls += _title_calls(found, state)
    calls += text_calls(found)
    calls = music_extras(found, calls, state)
    if found.describe and not calls:
        calls.append(ToolCall(name="describe"))
    if not calls:
        if found.music_tempo:
            return PlanStep(text=_say("tempo", lang))
        return PlanStep(text=_say("export", lang) if found.export else _say("help", lang))
    return PlanStep(calls=calls)


class RulePlanner:
    """Planner protocol implementation with no model behind it."""

    async def plan(self, request: PlanRequest) -> PlanStep:
        if not request.steps:
            return plan_calls(request.message, request.state, request.language, request.history)
        found = read_intents(request.message)
        notes = []
        if found.export:
            notes.append(_say("export", request.language))
        return PlanStep(text=" ".join(notes) or None)
