"""The embedded default planner: patterns, not a model (English and simplified Chinese).

It reads the message's intents (agent.intents) and plans every tool call on the first step; on the
next step it ends the turn with a note when one is due (export, a question). A message that refers
to nothing (no uploads yet) or asks nothing it understands gets a clear question and no calls.
"""

from __future__ import annotations

from typing import Any

from agent.intents import Intents, read_intents
from agent.language import Lang
from agent.planner import PlanRequest, PlanStep, ToolCall
from agent.rule_edits import Question, music_extras, segment_calls, text_calls
from agent.state import SessionState
from agent.state_view import MUSIC_VOLUME, audio_media, visual_media
from renderer.draft import TrackType
from renderer.music import CATALOGUE

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


def _current_music(state: SessionState) -> tuple[str | None, float]:
    draft = state.draft
    for track in draft.tracks(TrackType.AUDIO) if draft else []:
        for seg in track.sg:
            return seg.src, seg.m.vol if seg.m.vol is not None else 1.0
    return None, MUSIC_VOLUME


def _music_source(found: Intents, state: SessionState, *, fresh: bool) -> str | None:
    """The `source` for set_music, or None to keep (or default) it."""
    songs = audio_media(state)
    current, _ = _current_music(state)
    if found.uploaded_music and songs:
        return songs[-1].media_id
    if found.mood and (found.music_word or fresh):
        return f"builtin:{found.mood}"
    if found.new_music:  # "different music": the next built-in track after the current one
        names = list(CATALOGUE)
        now = (current or "").removeprefix("builtin:")
        return f"builtin:{names[(names.index(now) + 1) % len(names)] if now in names else 'upbeat'}"
    if fresh:
        return songs[-1].media_id if songs else "builtin:lofi"
    return None


def _music_calls(found: Intents, state: SessionState, *, fresh: bool) -> list[ToolCall]:
    current, vol = _current_music(state)
    if found.no_music:
        return [] if fresh else [ToolCall(name="remove_music")]
    args: dict[str, Any] = {}
    source = _music_source(found, state, fresh=fresh or current is None)
    if source and (fresh or current is None or source != current):
        args["source"] = source
    if found.volume is not None:
        args["volume"] = found.volume
    elif found.volume_step:
        args["volume"] = round(min(1.0, vol * 1.5) if found.volume_step == "up" else vol * 0.6, 2)
    adds_music = found.music_word and current is None
    if args or (fresh and current is None) or adds_music:
        return [ToolCall(name="set_music", args=args)]
    return []


def _make_args(found: Intents, state: SessionState) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if found.total_s:
        args["total_seconds"] = found.total_s
    if found.per_photo_s:
        args["seconds_per_photo"] = found.per_photo_s
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
    if found.transition:
        args: dict[str, Any] = {"kind": found.transition}
        if found.transition_s is not None:
            args["duration_seconds"] = found.transition_s
        calls.append(ToolCall(name="set_transition", args=args))
    if found.total_s:  # after photo timing and transitions, so the length asked for wins
        calls.append(ToolCall(name="set_duration", args={"total_seconds": found.total_s}))
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


def plan_calls(message: str, state: SessionState, lang: Lang) -> PlanStep:
    """Every call the message asks for, or a question; pure, so the phrase corpus can test it."""
    found = read_intents(message)
    history: list[ToolCall] = []
    if found.edit.undo:
        history.append(ToolCall(name="undo", args={"steps": found.edit.undo} if found.edit.undo > 1 else {}))
    if found.edit.redo:
        history.append(ToolCall(name="redo"))
    has_draft = state.draft is not None and bool(state.draft.tracks(TrackType.VIDEO))
    media = visual_media(state)
    asks_edit = found.edits_anything() or found.make or bool(found.music_word and not found.describe)
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
    except Question as question:
        return PlanStep(text=str(question))
    calls: list[ToolCall] = list(history)
    if make:
        calls.append(ToolCall(name="make_slideshow", args=_make_args(found, state)))
        calls += _music_calls(found, state, fresh=not has_draft)
    else:
        calls += _edit_calls(found)
        calls += _music_calls(found, state, fresh=False)
    calls += edits
    calls += _title_calls(found, state)
    calls += text_calls(found)
    calls = music_extras(found, calls, state)
    if found.describe and not calls:
        calls.append(ToolCall(name="describe"))
    if not calls:
        return PlanStep(text=_say("export", lang) if found.export else _say("help", lang))
    return PlanStep(calls=calls)


class RulePlanner:
    """Planner protocol implementation with no model behind it."""

    async def plan(self, request: PlanRequest) -> PlanStep:
        if not request.steps:
            return plan_calls(request.message, request.state, request.language)
        found = read_intents(request.message)
        notes = []
        if found.export:
            notes.append(_say("export", request.language))
        return PlanStep(text=" ".join(notes) or None)
