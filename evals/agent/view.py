"""The draft as FORMAT.md's checks name it: segments by media stem, seconds, the music, the title.

Whole-video fades are the draft's `m.fade_in` / `m.fade_out` (ms from / to black); a segment's
captions are the texts (any text track but the title's) that are on screen during most of its own
time, or anchored to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.edits import TITLE_TRACK_ID, ratio_name, video_track
from agent.state import SessionState
from agent.tools.text import text_track
from renderer.music.catalogue import CATALOGUE, track_for_src
from renderer.schema.draft import Draft, Segment, TrackType


@dataclass(frozen=True)
class SegView:
    id: str
    stem: str
    kind: str  # photo | clip
    duration_s: float
    motion: str
    fit: str
    transition: str
    transition_s: float
    captions: tuple[str, ...]


@dataclass(frozen=True)
class MusicView:
    present: bool
    src: str | None = None  # an upload's stem, or "builtin"
    builtin_mood: str | None = None
    vol: float | None = None
    fade_in_s: float | None = None
    fade_out_s: float | None = None
    start_s: float | None = None  # offset into the song
    delay_s: float | None = None  # where on the timeline it comes in
    loop: bool | None = None


@dataclass(frozen=True)
class DraftView:
    exists: bool
    segments: list[SegView] = field(default_factory=list)
    music: MusicView = MusicView(present=False)
    title: str | None = None
    title_span: tuple[int, int] | None = None
    duration_s: float = 0.0
    aspect: str | None = None
    fade_in_from_black: bool = False
    fade_out_to_black: bool = False
    json: dict[str, Any] = field(default_factory=dict)

    def stems(self) -> list[str]:
        return [s.stem for s in self.segments]


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else name


def _own_span(segs: list[Segment], i: int) -> tuple[int, int]:
    seg = segs[i]
    start = seg.st + (seg.m.tr.d // 2 if seg.m.tr and i else 0)
    nxt = segs[i + 1] if i + 1 < len(segs) else None
    stop = seg.end - (nxt.m.tr.d // 2 if nxt is not None and nxt.m.tr else 0)
    return start, max(start + 1, stop)


def _captions(draft: Draft, segs: list[Segment], i: int) -> tuple[str, ...]:
    title = text_track(draft, "title")
    title_id = title.id if title is not None else TITLE_TRACK_ID
    start, stop = _own_span(segs, i)
    found: list[str] = []
    for track in draft.tracks(TrackType.TEXT):
        if track.id == title_id:
            continue
        for t in track.sg:
            anchor = (t.m.model_extra or {}).get("anchor")
            overlap = min(stop, t.end) - max(start, t.st)
            end_card = anchor == "end" and i == len(segs) - 1  # over the last seconds: the last segment's
            if anchor == segs[i].id or end_card or (anchor is None and overlap * 2 > min(stop - start, t.d)):
                found.append((t.m.text or "").strip())
    return tuple(sorted(found))


def view(state: SessionState) -> DraftView:
    draft = state.draft
    if draft is None:
        return DraftView(exists=False)
    names = {f.cdn_url: f.filename for f in state.video_infos}
    clips = {f.cdn_url for f in state.video_infos if f.file_type == "video"}
    video = video_track(draft)
    segs = list(video.sg) if video else []
    seg_views = [
        SegView(
            id=s.id,
            stem=_stem(names.get(s.src or "", s.m.name or s.id)),
            kind="clip" if s.src in clips else "photo",
            duration_s=s.d / 1000,
            motion=s.m.motion or "none",
            fit=s.m.fit or "cover",
            transition=(s.m.tr.type if s.m.tr and i else "none"),
            transition_s=(s.m.tr.d / 1000 if s.m.tr and i else 0.0),
            captions=_captions(draft, segs, i),
        )
        for i, s in enumerate(segs)
    ]
    music = MusicView(present=False)
    audio = next((t for t in draft.tracks(TrackType.AUDIO) if t.sg), None)
    if audio is not None:
        m = audio.sg[0]
        builtin = track_for_src(m.src or "")
        music = MusicView(
            present=True,
            src="builtin" if builtin else _stem(names.get(m.src or "", m.m.name or "")),
            builtin_mood=next((k for k, t in CATALOGUE.items() if t.src == m.src), None) if builtin else None,
            vol=m.m.vol if m.m.vol is not None else 1.0,
            fade_in_s=(m.m.fade_in or 0) / 1000,
            fade_out_s=(m.m.fade_out or 0) / 1000,
            start_s=m.ss / 1000,
            delay_s=m.st / 1000,
            loop=m.m.loop,
        )
    title_track = text_track(draft, "title")
    title = title_track.sg[0] if title_track is not None and title_track.sg else None
    return DraftView(
        exists=True,
        segments=seg_views,
        music=music,
        title=(title.m.text or "").strip() if title else None,
        title_span=(title.st, title.d) if title else None,
        duration_s=draft.d / 1000,
        aspect=ratio_name(draft.m.width, draft.m.height),
        fade_in_from_black=bool(draft.m.fade_in),
        fade_out_to_black=bool(draft.m.fade_out),
        json=draft.to_json(),
    )
