"""The one-line timeline summary every reply ends with (api-contract.md, /run_sse).

`Timeline (3 tracks): 1. Video: 10 photos (0-30s) 2. BGM: Lo-fi (0-30s, 35%) 3. Title: "Summer" (0-3s)`
"""

from __future__ import annotations

from collections.abc import Set

from renderer.schema.draft import Draft, Segment, Track, TrackType


def _secs(ms: int) -> str:
    value = round(ms / 1000, 1)
    return f"{value:g}"


def _span(segs: list[Segment]) -> str:
    start = min(s.st for s in segs)
    end = max(s.end for s in segs)
    return f"{_secs(start)}-{_secs(end)}s"


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _video(track: Track, clip_srcs: Set[str]) -> str:
    clips = sum(1 for s in track.sg if s.src in clip_srcs)
    photos = len(track.sg) - clips
    parts = [_count(photos, "photo", "photos")] if photos or not clips else []
    if clips:
        parts.append(_count(clips, "clip", "clips"))
    return f"Video: {', '.join(parts)} ({_span(track.sg)})" if track.sg else "Video: empty"


def _audio(track: Track) -> str:
    if not track.sg:
        return "BGM: empty"
    first = track.sg[0]
    name = first.m.name or (first.src or "audio")
    vol = round((first.m.vol if first.m.vol is not None else 1.0) * 100)
    return f"BGM: {name} ({_span(track.sg)}, {vol}%)"


def _text(track: Track) -> str:
    name = track.m.name if track.m.name in ("Captions", "End card") else None
    if not track.sg:
        return f"{name or 'Text'}: empty"
    if len(track.sg) == 1:
        seg = track.sg[0]
        label = name or ("Title" if seg.st == 0 else "Text")
        return f'{label}: "{seg.m.text}" ({_span(track.sg)})'
    return f"{name or 'Text'}: {len(track.sg)} captions ({_span(track.sg)})"


def timeline_summary(draft: Draft | None, clip_srcs: Set[str] = frozenset()) -> str:
    """One line, tracks in draft order; `clip_srcs` tells video clips from photos."""
    if draft is None or not draft.t:
        return "Timeline (0 tracks): empty"
    items = []
    for i, track in enumerate(draft.t, start=1):
        if track.tt == TrackType.VIDEO:
            body = _video(track, clip_srcs)
        elif track.tt == TrackType.AUDIO:
            body = _audio(track)
        else:
            body = _text(track)
        items.append(f"{i}. {body}")
    return f"Timeline ({_count(len(draft.t), 'track', 'tracks')}): " + " ".join(items)
