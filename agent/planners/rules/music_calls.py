"""The rule planner's music calls: which song, how loud, where it starts, fades, looping, the beat.

Where the song starts is checked before anything is planned: a start past the song's end, a
delay past the video's end, or "from the chorus" with no time (only the user can hear where that
is) gets a question back and changes nothing.
"""

from __future__ import annotations

from typing import Any

from agent.language import Lang
from agent.planner import ToolCall
from agent.planners.rules.edit_calls import Question
from agent.planners.rules.intents import Intents
from agent.state import SessionState
from agent.tools.state_view import MUSIC_VOLUME, audio_media, secs
from renderer.music.catalogue import CATALOGUE, track_for_src
from renderer.schema.draft import TrackType


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
    music = found.music
    if music.uploaded_music and songs:
        return songs[-1].media_id
    if music.mood and (music.music_word or fresh):
        return f"builtin:{music.mood}"
    if music.new_music:  # "different music": the next built-in track after the current one
        names = list(CATALOGUE)
        now = (current or "").removeprefix("builtin:")
        return f"builtin:{names[(names.index(now) + 1) % len(names)] if now in names else 'upbeat'}"
    if fresh:
        return songs[-1].media_id if songs else "builtin:lofi"
    return None


def _song(state: SessionState, source: str) -> tuple[str, int | None]:
    """The name users know a music source by, and its length in ms when known."""
    builtin = track_for_src(source) or CATALOGUE.get(source.removeprefix("builtin:"))
    if builtin is not None:
        return builtin.title, builtin.duration_ms
    for f in audio_media(state):
        if source in (f.media_id, f.filename, f.cdn_url):
            return f.filename, round(f.duration * 1000) if f.duration else None
    return source, None


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def _check_start(found: Intents, state: SessionState, lang: Lang, source: str | None) -> None:
    music = found.music
    zh = lang == "zh"
    if music.start_part in ("intro", "前奏") and music.start_s is None:
        raise Question(
            "前奏有多长？我听不到歌曲，请告诉我从哪里开始，比如“音乐从15秒开始”。"
            if zh
            else "How long is the intro? I can't hear the song, so tell me where it should start, "
            'for example "start the music at 0:15".'
        )
    if music.start_part is not None and music.start_s is None:
        part = music.start_part
        raise Question(
            f"{part}从歌曲的哪里开始？我听不到歌曲，请告诉我时间，比如“音乐从1:02开始”。"
            if zh
            else f"Where in the song does the {part} start? I can't hear the song, so tell me the time, "
            'for example "start the music at 1:02".'
        )
    if music.start_s is not None and source is not None:
        name, length = _song(state, source)
        if length is not None and music.start_s * 1000 >= length:
            raise Question(
                f"「{name}」只有 {_clock(length / 1000)} 长，不能从 {_clock(music.start_s)} 开始。"
                f"请选一个 {_clock(length / 1000)} 之前的时间。"
                if zh
                else f"{name} is only {_clock(length / 1000)} long, so it can't start at "
                f"{_clock(music.start_s)}. Pick a moment before {_clock(length / 1000)}."
            )
    draft = state.draft
    if music.delay_s is not None and draft is not None and music.delay_s * 1000 >= draft.d:
        raise Question(
            f"视频只有 {secs(draft.d)} 秒，音乐不能在第 {music.delay_s:g} 秒才进入。"
            if zh
            else f"The video is only {secs(draft.d)} s long, so the music can't come in at "
            f"{music.delay_s:g} s."
        )


def music_calls(found: Intents, state: SessionState, lang: Lang, *, fresh: bool) -> list[ToolCall]:
    """set_music or remove_music for what the message asks of the music; raises Question."""
    current, vol = _current_music(state)
    music = found.music
    if music.no_music:
        return [] if fresh else [ToolCall(name="remove_music")]
    args: dict[str, Any] = {}
    source = _music_source(found, state, fresh=fresh or current is None)
    if source and (fresh or current is None or source != current):
        args["source"] = source
    if music.volume is not None:
        args["volume"] = music.volume
    elif music.volume_step:
        args["volume"] = round(min(1.0, vol * 1.5) if music.volume_step == "up" else vol * 0.6, 2)
    if music.changes_start():
        _check_start(found, state, lang, source or current)
        if music.start_s is not None:
            args["start_seconds"] = music.start_s
        if music.delay_s is not None:
            args["delay_seconds"] = music.delay_s
    adds_music = music.music_word and current is None
    if args or (fresh and current is None) or adds_music:
        return [ToolCall(name="set_music", args=args)]
    return []


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
            mood = found.music.mood or "upbeat"
            out.append(ToolCall(name="set_music", args={"source": f"builtin:{mood}"}))
        args = {"beats_per_segment": e.beats_per} if e.beats_per else {}
        out.append(ToolCall(name="cut_to_beat", args=args))
    return out
