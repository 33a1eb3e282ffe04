"""Layer tools: the title, the soundtrack, and describing the timeline."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, Field

from agent import edits
from agent.state import GeneratedMedia, MediaFile, SessionState
from agent.summary import timeline_summary
from agent.tools.base import ToolContext, ToolError, ToolResult, tool
from agent.tools.state_view import (
    MUSIC_VOLUME,
    audio_media,
    clip_srcs,
    commit,
    natural_ms,
    require_draft,
    result,
    secs,
)
from agent.tools.text import text_track
from renderer.music.catalogue import BUILTIN_PREFIX, CATALOGUE, BuiltinTrack
from renderer.schema.draft import (
    TEXT_ANIMS,
    TEXT_POSITIONS,
    Segment,
    SegmentMeta,
    Track,
    TrackMeta,
    TrackType,
)

_T = TypeVar("_T")
_POS_DESC = ", ".join(TEXT_POSITIONS)


def _title_track(state: SessionState) -> Track | None:
    return text_track(state.draft, "title") if state.draft else None


class AddTitleArgs(BaseModel):
    text: str = Field(..., min_length=1, max_length=200)
    start_seconds: float = Field(0, ge=0)
    duration_seconds: float = Field(3, gt=0, le=600)
    position: str = Field("center", description=f"one of {_POS_DESC}")
    size: float = Field(0.08, gt=0, le=0.5, description="text height relative to the canvas height")
    color: str = "#FFFFFF"
    anim: str = Field("fade", description=f"one of {', '.join(TEXT_ANIMS)}")


@tool("add_title", "Show a title over the video (replaces an existing title).", AddTitleArgs)
def add_title(state: SessionState, args: AddTitleArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    text = args.text.strip()
    if not text:
        raise ToolError("the title text is empty", "标题内容为空")
    old = _title_track(state)
    keep = old.sg[0].id if old and old.sg else edits.next_id(draft)
    start = round(args.start_seconds * 1000)
    if start >= draft.d:
        raise ToolError(f"the title would start after the video ends ({secs(draft.d)} s)")
    meta = SegmentMeta(text=text, pos=args.position, size=args.size, color=args.color, anim=args.anim)
    seg = Segment(id=keep, st=start, d=min(round(args.duration_seconds * 1000), draft.d - start), m=meta)
    track = Track(
        id=old.id if old else edits.TITLE_TRACK_ID, tt=TrackType.TEXT, m=TrackMeta(name="Title"), sg=[seg]
    )
    draft = edits.replace_track(draft, track)
    draft = draft.model_copy(update={"m": draft.m.model_copy(update={"title": text})})
    new = commit(state, draft)
    span = f"{secs(seg.st)}-{secs(seg.end)} s"
    return result(
        new, f'Added the title "{text}" ({span}, {args.position}).', f"已添加标题「{text}」（{span}）。"
    )


class SetTitleArgs(BaseModel):
    text: str = Field(..., min_length=1, max_length=200)


@tool("set_title", "Change the text of the existing title.", SetTitleArgs)
def set_title(state: SessionState, args: SetTitleArgs, ctx: ToolContext) -> ToolResult:
    old = _title_track(state)
    if old is None or not old.sg:
        return add_title(state, AddTitleArgs(text=args.text), ctx)
    seg = old.sg[0]
    return add_title(
        state,
        AddTitleArgs(
            text=args.text,
            start_seconds=seg.st / 1000,
            duration_seconds=seg.d / 1000,
            position=seg.m.pos or "center",
        ),
        ctx,
    )


class NoArgs(BaseModel):
    pass


@tool("remove_title", "Remove the title.", NoArgs)
def remove_title(state: SessionState, args: NoArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    old = _title_track(state)
    if old is None:
        return result(state, "There was no title to remove.", "当前没有标题可删除。", changed=False)
    draft = edits.remove_track(draft, old.id)
    new = commit(state, draft.model_copy(update={"m": draft.m.model_copy(update={"title": None})}))
    return result(new, "Removed the title.", "已删除标题。")


class SetMusicArgs(BaseModel):
    source: str | None = Field(
        None,
        description="'builtin:<name>' with name one of "
        + ", ".join(CATALOGUE)
        + "; or the media_id (or filename) of an uploaded audio file; omit to keep the current music",
    )
    volume: float | None = Field(
        None, ge=0, le=2, description="0..2, 1 = the song at the target loudness (default 0.35)"
    )
    fade_in_ms: int | None = Field(None, ge=0, le=30_000)
    fade_out_ms: int | None = Field(None, ge=0, le=30_000)
    loop: bool | None = Field(
        None, description="repeat the song if it is shorter than the video (default true)"
    )
    start_seconds: float | None = Field(
        None, ge=0, le=3600, description="where in the song to start playing (skip its intro); default 0"
    )
    delay_seconds: float | None = Field(
        None, ge=0, le=3600, description="when the music comes in on the video's timeline; default 0"
    )


def _resolve_music(state: SessionState, source: str) -> tuple[str, str, BuiltinTrack | None]:
    """(src, display name, built-in track or None) for a builtin name or an uploaded audio file."""
    name = source.removeprefix(BUILTIN_PREFIX).strip().lower().replace("-", "")
    if name in CATALOGUE:
        track = CATALOGUE[name]
        return track.src, track.title, track
    for f in audio_media(state):
        if source in (f.media_id, f.filename, f.cdn_url):
            return f.cdn_url, f.filename, None
    uploaded = ", ".join(f.filename for f in audio_media(state)) or "none"
    raise ToolError(
        f"unknown music {source!r}: built-in tracks are {', '.join(CATALOGUE)}; uploaded audio: {uploaded}"
    )


def _pick(new: _T | None, current: _T | None, default: _T) -> _T:
    """The asked value, else the current one, else the default."""
    return new if new is not None else (current if current is not None else default)


def _default_music(state: SessionState) -> str:
    songs: list[MediaFile] = audio_media(state)
    return songs[-1].media_id if songs else "builtin:lofi"  # the latest upload is "this song"


@tool(
    "set_music",
    "Choose the background music and its volume, fades and looping; trimmed to the video.",
    SetMusicArgs,
)
def set_music(state: SessionState, args: SetMusicArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    old = next(iter(draft.tracks(TrackType.AUDIO)), None)
    old_seg = old.sg[0] if old and old.sg else None
    source = args.source or (old_seg.src if old_seg else None) or _default_music(state)
    src, name, builtin = _resolve_music(state, source)
    prev = old_seg.m if old_seg else SegmentMeta(vol=MUSIC_VOLUME, fade_in=1000, fade_out=2000, loop=True)

    meta = SegmentMeta(
        name=name,
        vol=_pick(args.volume, prev.vol, MUSIC_VOLUME),
        fade_in=_pick(args.fade_in_ms, prev.fade_in, 1000),
        fade_out=_pick(args.fade_out_ms, prev.fade_out, 2000),
        loop=_pick(args.loop, prev.loop, True),
    )
    same = old_seg is not None and old_seg.src == src
    # The offset belongs to the song (another song starts from its top); the delay to the video.
    ss = _ms(args.start_seconds, old_seg.ss if old_seg and same else 0)
    st = _ms(args.delay_seconds, old_seg.st if old_seg else 0)
    own = natural_ms(state).get(src)
    if own is not None and ss >= own:
        raise ToolError(
            f"{name} is only {secs(own)} s long: choose a start before {_clock(own)}",
            f"「{name}」只有 {secs(own)} 秒：请选 {_clock(own)} 之前的位置",
        )
    if st >= draft.d:
        raise ToolError(
            f"the video is only {secs(draft.d)} s long: the music must come in before that",
            f"视频只有 {secs(draft.d)} 秒：音乐要在这之前开始",
        )
    seg = Segment(
        id=old_seg.id if old_seg else edits.next_id(draft), src=src, st=st, d=draft.d - st, ss=ss, m=meta
    )
    track = Track(
        id=old.id if old else edits.MUSIC_TRACK_ID, tt=TrackType.AUDIO, m=TrackMeta(name="BGM"), sg=[seg]
    )
    draft = edits.fit_to_length(edits.replace_track(draft, track), natural_ms(state))
    media = list(state.generated_media)
    if builtin and all(g.url != src for g in media):
        media.append(
            GeneratedMedia(
                type="music",
                url=src,
                duration=builtin.duration_ms / 1000,
                prompt=builtin.mood,
                created_at=ctx.iso_now(),
            )
        )
    new = commit(state, draft, generated_media=media)
    vol = round((meta.vol or 0) * 100)
    playing = next(iter(draft.tracks(TrackType.AUDIO))).sg[0].d  # how long it plays (to the video's end)
    kind_en = f"the built-in {name} track" if builtin else f'"{name}"'
    kind_zh = f"内置的 {name} 音乐" if builtin else f"「{name}」"
    verb_en, verb_zh = ("Music is", "背景音乐") if same else ("Background music is now", "背景音乐已换成")
    where_en = (f", playing from {_clock(ss)} of the song" if ss else "") + (
        f", coming in at {secs(st)} s" if st else ""
    )
    where_zh = (f"，从歌曲的 {_clock(ss)} 开始播放" if ss else "") + (
        f"，在第 {secs(st)} 秒进入" if st else ""
    )
    return result(
        new,
        f"{verb_en} {kind_en} at {vol}% volume, {secs(playing)} s with fades{where_en}.",
        f"{verb_zh}{kind_zh}，音量 {vol}%{where_zh}，带淡入淡出。",
        music=src,
        start_ms=ss,
        delay_ms=st,
    )


def _ms(seconds: float | None, current: int) -> int:
    return current if seconds is None else round(seconds * 1000)


def _clock(ms: int) -> str:
    """1:02 for 62000: how people name a moment in a song."""
    whole, tenths = divmod(round(ms / 100), 10)
    return f"{whole // 60}:{whole % 60:02d}" + (f".{tenths}" if tenths else "")


@tool("remove_music", "Remove the background music.", NoArgs)
def remove_music(state: SessionState, args: NoArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    audio = draft.tracks(TrackType.AUDIO)
    if not audio:
        return result(state, "There was no music to remove.", "当前没有背景音乐。", changed=False)
    for track in audio:
        draft = edits.remove_track(draft, track.id)
    return result(commit(state, draft), "Removed the background music.", "已去掉背景音乐。")


@tool("describe", "Describe the current timeline (changes nothing).", NoArgs)
def describe(state: SessionState, args: NoArgs, ctx: ToolContext) -> ToolResult:
    line = timeline_summary(state.draft, clip_srcs(state))
    tracks = [
        {"id": t.id, "type": t.tt.name.lower(), "segments": len(t.sg)}
        for t in (state.draft.t if state.draft else [])
    ]
    return result(
        state, "Here is the timeline.", "这是当前的时间线。", changed=False, summary=line, tracks=tracks
    )
