"""Cut to the beat: every cut between segments lands on a beat of the chosen music.

A cut is the moment the next segment starts (its `st`; with a transition, the start of the
transition into it). Beat grids: built-in tracks carry theirs (renderer.music.catalogue); an uploaded song
has one when the upload probe or an analysis recorded it (`beats_ms`, or `bpm` with an optional
`beat_offset_ms`, on the media file or in `video_analyses[media_id]`). Looping music continues its
grid across the loop point.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field

from agent import edits
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError, ToolResult, tool
from agent.tools.state_view import audio_media, clip_lengths, commit, natural_ms, require_draft, result, secs
from renderer.music.catalogue import track_for_src
from renderer.schema.draft import Segment, TrackType

HORIZON_MS = 60 * 60 * 1000  # beats are listed this far at most (a looping song has no end)


def _grid_from(facts: dict[str, Any], length_ms: int | None) -> list[int] | None:
    beats = facts.get("beats_ms")
    if isinstance(beats, list) and len(beats) >= 2 and all(isinstance(b, int | float) for b in beats):
        return sorted(round(b) for b in beats if b >= 0)
    bpm = facts.get("bpm")
    if isinstance(bpm, int | float) and 20 <= bpm <= 300 and length_ms:
        offset = float(facts.get("beat_offset_ms") or 0)
        step = 60_000 / bpm
        return [round(offset + i * step) for i in range(int((length_ms - offset) / step) + 1)]
    return None


def source_beats(state: SessionState, src: str) -> tuple[list[int], int | None] | None:
    """(beats in the source's own time, the source's length when known), or None if unknown."""
    builtin = track_for_src(src)
    if builtin is not None:
        return builtin.beats_ms, builtin.duration_ms
    for f in audio_media(state):
        if src in (f.cdn_url, f.media_id):
            length = round(f.duration * 1000) if f.duration else None
            for facts in (f.model_extra or {}, state.video_analyses.get(f.media_id, {})):
                grid = _grid_from(facts, length)
                if grid:
                    return grid, length
    return None


def timeline_beats(beats: list[int], length: int | None, *, st: int, ss: int, loop: bool) -> Iterator[int]:
    """The beats as times on the timeline, in order, for music placed at `st` from offset `ss`."""
    period = length if loop and length else None
    k = 0
    while True:
        base = k * period if period else 0
        for b in beats:
            t = st + base + b - ss
            if b + base < ss or (period and b >= period):
                continue
            if t > HORIZON_MS:
                return
            yield t
        if not period:
            return
        k += 1


def beats_per_cut(state: SessionState) -> int | None:
    """How many beats apart the video's cuts are, when every cut lands on a beat of its music
    (within a frame): the video was cut to the beat, and pace changes should keep it so. Else
    None."""
    draft = state.draft
    music = next((t.sg[0] for t in draft.tracks(TrackType.AUDIO) if t.sg), None) if draft else None
    video = edits.video_track(draft) if draft else None
    if draft is None or music is None or not music.src or video is None or len(video.sg) < 3:
        return None
    known = source_beats(state, music.src)
    if known is None:
        return None
    grid = list(
        itertools.takewhile(
            lambda t: t <= draft.d,
            timeline_beats(known[0], known[1], st=music.st, ss=music.ss, loop=bool(music.m.loop)),
        )
    )
    frame_ms = 1000 / draft.m.fps
    cuts = [seg.st for seg in video.sg[1:]]
    if len(grid) < 2 or any(min(abs(cut - b) for b in grid) > frame_ms for cut in cuts):
        return None
    interval = statistics.median(b - a for a, b in itertools.pairwise(grid))
    return max(1, round(statistics.median(b - a for a, b in itertools.pairwise(cuts)) / interval))


class CutToBeatArgs(BaseModel):
    beats_per_segment: int | None = Field(
        None, ge=1, le=64, description="beats each photo lasts; omit to keep about the current pace"
    )


@tool(
    "cut_to_beat",
    "Re-time the segments so every cut lands on a beat of the background music.",
    CutToBeatArgs,
)
def cut_to_beat(state: SessionState, args: CutToBeatArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    music = next((t.sg[0] for t in draft.tracks(TrackType.AUDIO) if t.sg), None)
    if music is None or not music.src:
        raise ToolError("there is no music to cut to: choose the music first", "还没有背景音乐：请先选择音乐")
    known = source_beats(state, music.src)
    if known is None:
        raise ToolError(
            f"the beats of {music.m.name or 'this song'} are not known; a built-in track "
            "(lofi, upbeat, cinematic, calm, acoustic, electronic) can be used to cut to the beat",
            f"还不知道「{music.m.name or '这首歌'}」的节拍；可以改用内置音乐（欢快、电子等）来卡点",
        )
    grid = [
        t
        for t in timeline_beats(known[0], known[1], st=music.st, ss=music.ss, loop=bool(music.m.loop))
        if t > 0
    ]
    if len(grid) < 2:
        raise ToolError("the music has too few beats to cut to", "音乐的节拍太少，无法卡点")
    video = edits.video_track(draft)
    assert video is not None
    segs = list(video.sg)
    interval = statistics.median(b - a for a, b in itertools.pairwise(grid))
    pace = statistics.median([s.d - (s.m.tr.d if s.m.tr and i else 0) for i, s in enumerate(segs)])
    per = args.beats_per_segment or max(1, round(pace / interval))
    cuts = _cuts(segs, grid, per, clip_lengths(state))
    if cuts is None:
        raise ToolError(
            "the music ends before the photos do: make it loop or use fewer beats per photo",
            "音乐比照片先结束：请让音乐循环或减少每张照片的拍数",
        )
    spans = [b - a for a, b in zip([0, *cuts], cuts, strict=False)]
    tr_cap = min(spans) // 3
    timed: list[Segment] = []
    starts = [0, *cuts[:-1]]
    for i, seg in enumerate(segs):
        tr = seg.m.tr if i else None
        if tr is not None and tr.d > tr_cap:
            tr = tr.model_copy(update={"d": tr_cap})
        timed.append(seg.model_copy(update={"m": seg.m.model_copy(update={"tr": tr})}))
    for i, seg in enumerate(timed):
        following = timed[i + 1].m.tr if i + 1 < len(timed) else None
        nxt = following.d if following is not None else 0
        timed[i] = seg.model_copy(update={"d": cuts[i] - starts[i] + nxt})
    laid = edits.relayout(timed)
    new_draft = edits.fit_to_length(
        edits.replace_track(draft, video.model_copy(update={"sg": laid})), natural_ms(state)
    )
    new = commit(state, new_draft)
    bpm = round(60_000 / interval)
    name = music.m.name or "the music"
    return result(
        new,
        f"Cut to the beat of {name} (~{bpm} BPM): a new photo every {per} beat{'s' if per > 1 else ''} "
        f"(video {secs(new_draft.d)} s).",
        f"已按「{name}」的节拍卡点（约 {bpm} BPM）：每 {per} 拍换一张（视频共 {secs(new_draft.d)} 秒）。",
        beats_per_segment=per,
        cuts_ms=[s.st for s in laid[1:]],
    )


def _cuts(segs: list[Segment], grid: list[int], per: int, clip_ms: dict[str, int]) -> list[int] | None:
    """The end of each segment's own part (the next cut; for the last, the video's end), all on beats."""
    cuts: list[int] = []
    cursor, k = 0, -1  # k: index in grid of the last cut
    for seg in segs:
        room = clip_ms.get(seg.src or "")
        step = per
        if room is not None:  # a clip may not outlast its source: fewer beats, at least one
            room -= seg.ss
            while step > 1 and k + step < len(grid) and grid[k + step] - cursor > room * 0.9:
                step -= 1
        if k + step >= len(grid):
            return None
        k += step
        cursor = grid[k]
        cuts.append(cursor)
    return cuts
