"""Pure Draft -> Draft edits and the timing invariants every edit keeps.

Invariants (tests check them after every tool): on the visual track each segment starts where
the previous one ends minus its transition (`tr.d`, at most half of either neighbour), so the
only overlap is a transition; `draft.d` is the end of the last visual segment; music and text
never run past `draft.d`. Functions take a Draft and return a new one; they never mutate input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from renderer.schema.draft import (
    ASPECT_SIZES,
    Draft,
    DraftMeta,
    Segment,
    SegmentMeta,
    Track,
    TrackMeta,
    TrackType,
    Transition,
)

VIDEO_TRACK_ID = "v1"
MUSIC_TRACK_ID = "a1"
TITLE_TRACK_ID = "x1"
CAPTION_TRACK_ID = "x2"
END_CARD_TRACK_ID = "x3"
ANCHOR_END = "end"  # a text segment's `m.anchor`: "end" (an end card), or the id of a video segment
DEFAULT_PHOTO_MS = 3000
DEFAULT_TRANSITION_MS = 500
MIN_PHOTO_MS = 500
TITLE_MS = 3000
PANORAMA_RATIO = 2.0  # a photo this much wider (or taller) than it is tall pans instead of zooming


class VisualItem(BaseModel):
    """One photo or clip to lay out: what the draft needs to know about an upload."""

    src: str
    name: str
    kind: str  # "photo" | "clip"
    width: int | None = None
    height: int | None = None
    clip_ms: int | None = None  # a clip's own length; photos stretch freely
    focus: tuple[float, float] | None = None


def ratio_name(width: int, height: int) -> str:
    for name, size in ASPECT_SIZES.items():
        if size == (width, height):
            return name
    g = math.gcd(width, height)
    return f"{width // g}:{height // g}"


def next_id(draft: Draft | None, prefix: str = "s") -> str:
    """A segment id unused in the draft: `s<n>`, one past the highest."""
    used = 0
    for track in draft.t if draft else []:
        for seg in track.sg:
            if seg.id.startswith(prefix) and seg.id[len(prefix) :].isdigit():
                used = max(used, int(seg.id[len(prefix) :]))
    return f"{prefix}{used + 1}"


def auto_motion(item: VisualItem, index: int) -> str:
    """Ken Burns: zoom in and out by turns; panoramas pan along their long side instead."""
    if item.kind == "clip":
        return "none"
    if item.width and item.height:
        if item.width >= PANORAMA_RATIO * item.height:
            return "pan_left" if index % 2 else "pan_right"
        if item.height >= PANORAMA_RATIO * item.width:
            return "pan_up" if index % 2 else "pan_down"
    return "zoom_out" if index % 2 else "zoom_in"


def share_evenly(total: int, caps: Sequence[int | None]) -> list[int]:
    """Split `total` ms over items; an item with a cap (a clip's length) never gets more.

    Water-filling: capped items that fit under the even share keep their cap, the rest share what
    remains, in whole milliseconds (the first items take the remainder) so the sum is exact.
    """
    result: list[int | None] = [None] * len(caps)
    remaining, open_items = total, list(range(len(caps)))
    while open_items:
        share = remaining / len(open_items)
        fixed = [i for i in open_items if caps[i] is not None and caps[i] <= share]  # type: ignore[operator]
        if not fixed:
            base, extra = divmod(remaining, len(open_items))
            for n, i in enumerate(open_items):
                result[i] = base + (1 if n < extra else 0)
            break
        for i in fixed:
            result[i] = caps[i]
            remaining -= caps[i]  # type: ignore[operator]
        open_items = [i for i in open_items if i not in fixed]
    return [max(1, r or 0) for r in result]


def relayout(segments: Sequence[Segment]) -> list[Segment]:
    """Start times from durations and transitions; a transition is clamped to half of either side."""
    out: list[Segment] = []
    for i, seg in enumerate(segments):
        meta = seg.m.model_copy()
        st = 0
        if i == 0:
            meta.tr = None  # nothing to transition from
        else:
            prev = out[-1]
            if meta.tr is not None:
                limit = min(prev.d, seg.d) // 2
                if meta.tr.d > limit or meta.tr.type == "none":
                    meta.tr = meta.tr.model_copy(update={"d": 0 if meta.tr.type == "none" else limit})
            st = prev.end - (meta.tr.d if meta.tr else 0)
        out.append(seg.model_copy(update={"st": st, "m": meta}))
    return out


def fit_total(segments: Sequence[Segment], total_ms: int, clip_ms: Mapping[str, int]) -> list[Segment]:
    """Durations so the last segment ends at `total_ms` exactly; clips never outgrow their source.

    If every item is a clip and they are too short together, the result is shorter than asked.
    """
    if not segments:
        return []
    n = len(segments)
    # Transitions first: cap them at a quarter of the even share so short segments keep a still part.
    tr_cap = max(0, total_ms // n // 4)
    segs = [
        s.model_copy(
            update={
                "m": s.m.model_copy(update={"tr": s.m.tr.model_copy(update={"d": min(s.m.tr.d, tr_cap)})})
            }
        )
        if s.m.tr
        else s
        for s in segments
    ]
    overlap = sum(s.m.tr.d for s in segs[1:] if s.m.tr)
    caps = [clip_ms.get(s.src or "") for s in segs]
    room = [None if c is None else max(1, c - s.ss) for c, s in zip(caps, segs, strict=True)]
    budget = total_ms + overlap
    photos = sum(1 for r in room if r is None)
    clips_whole = sum(r for r in room if r is not None)
    if photos and (budget - clips_whole) / photos >= max(MIN_PHOTO_MS, 4 * tr_cap):
        # Clips play whole; photos share what is left.
        shares = iter(share_evenly(budget - clips_whole, [None] * photos))
        durations = [r if r is not None else next(shares) for r in room]
    else:  # too little time: clips are cut to an even share too
        durations = share_evenly(budget, room)
    laid = relayout([s.model_copy(update={"d": d}) for s, d in zip(segs, durations, strict=True)])
    # Rounding or a clamp may leave a few ms: give them to the last stretchable segment.
    diff = total_ms - laid[-1].end
    if diff:
        stretchable = [i for i, c in enumerate(caps) if c is None] or [n - 1]
        i = stretchable[-1]
        new_d = max(1, laid[i].d + diff)
        if caps[i] is not None:
            new_d = min(new_d, caps[i] - laid[i].ss)  # type: ignore[operator]
        laid = relayout([*laid[:i], laid[i].model_copy(update={"d": new_d}), *laid[i + 1 :]])
    return laid


def visual_end(draft: Draft) -> int:
    ends = [seg.end for track in draft.tracks(TrackType.VIDEO) for seg in track.sg]
    return max(ends, default=0)


def _anchor_span(anchor: object, video: Sequence[Segment], end: int, own_d: int) -> tuple[int, int] | None:
    """Where an anchored text segment belongs now: over its video segment (between the middles of
    the transitions around it), or the last `own_d` ms for an end card; None if its segment is gone."""
    if anchor == ANCHOR_END:
        length = min(own_d, end) if end else own_d
        return max(0, end - length), max(1, length)
    for i, seg in enumerate(video):
        if seg.id == anchor:
            start = seg.st + (seg.m.tr.d // 2 if seg.m.tr and i else 0)
            nxt = video[i + 1] if i + 1 < len(video) else None
            stop = seg.end - (nxt.m.tr.d // 2 if nxt is not None and nxt.m.tr else 0)
            return start, max(1, stop - start)
    return None


def sync_anchors(draft: Draft) -> Draft:
    """Captions follow the photo they belong to, end cards the end; captions of removed photos go."""
    video = video_track(draft)
    segs_v = video.sg if video else []
    end = visual_end(draft)
    tracks: list[Track] = []
    for track in draft.t:
        if track.tt != TrackType.TEXT or not any(
            s.m.model_extra and "anchor" in s.m.model_extra for s in track.sg
        ):
            tracks.append(track)
            continue
        segs: list[Segment] = []
        for seg in track.sg:
            extra = seg.m.model_extra or {}
            anchor = extra.get("anchor")
            if anchor is None:
                segs.append(seg)
                continue
            own = extra.get("want_d")
            span = _anchor_span(anchor, segs_v, end, own if isinstance(own, int) and own > 0 else seg.d)
            if span is not None:
                segs.append(seg.model_copy(update={"st": span[0], "d": span[1]}))
        if segs:
            tracks.append(track.model_copy(update={"sg": sorted(segs, key=lambda s: s.st)}))
    return draft.model_copy(update={"t": tracks})


def fit_to_length(draft: Draft, natural_ms: Mapping[str, int]) -> Draft:
    """`d` from the visual track; music and text trimmed (or a looping song stretched) to it."""
    draft = sync_anchors(draft)
    d = visual_end(draft)
    tracks: list[Track] = []
    for track in draft.t:
        if track.tt == TrackType.VIDEO:
            tracks.append(track)
            continue
        segs: list[Segment] = []
        for seg in track.sg:
            if seg.st >= d:
                continue
            room = d - seg.st
            if track.tt == TrackType.AUDIO:
                own = natural_ms.get(seg.src or "")
                length = room if seg.m.loop or own is None else min(room, max(1, own - seg.ss))
            else:
                length = min(seg.d, room)
            segs.append(seg.model_copy(update={"d": length}))
        if segs:
            tracks.append(track.model_copy(update={"sg": segs}))
    return draft.model_copy(update={"d": d, "t": tracks})


def video_track(draft: Draft) -> Track | None:
    videos = draft.tracks(TrackType.VIDEO)
    return videos[0] if videos else None


def replace_track(draft: Draft, track: Track, *, order: Sequence[TrackType] = ()) -> Draft:
    """The draft with `track` replacing the one with its id, or added (video, then audio, then text)."""
    tracks = [t for t in draft.t if t.id != track.id]
    rank = {TrackType.VIDEO: 0, TrackType.AUDIO: 1, TrackType.TEXT: 2}
    index = next((i for i, t in enumerate(tracks) if rank[t.tt] > rank[track.tt]), len(tracks))
    existing = next((i for i, t in enumerate(draft.t) if t.id == track.id), None)
    if existing is not None:
        index = existing
    tracks.insert(index, track)
    return draft.model_copy(update={"t": tracks})


def remove_track(draft: Draft, track_id: str) -> Draft:
    return draft.model_copy(update={"t": [t for t in draft.t if t.id != track_id]})


def build_visual_track(
    items: Sequence[VisualItem],
    *,
    first_id: int,
    photo_ms: int,
    transition: str,
    transition_ms: int,
    motion: str,
    fit: str,
) -> Track:
    """The slideshow's video track: items in order, each photo `photo_ms`, clips their own length."""
    segs: list[Segment] = []
    for i, item in enumerate(items):
        meta = SegmentMeta(
            name=item.name,
            fit=fit,
            motion=auto_motion(item, i) if motion == "auto" else ("none" if item.kind == "clip" else motion),
            focus=item.focus,
            tr=Transition(type=transition, d=transition_ms) if transition != "none" and i else None,
        )
        if item.kind == "clip":
            meta.vol = 1.0
        d = item.clip_ms if item.kind == "clip" and item.clip_ms else photo_ms
        segs.append(Segment(id=f"s{first_id + i}", src=item.src, st=0, d=max(1, d), ss=0, m=meta))
    return Track(id=VIDEO_TRACK_ID, tt=TrackType.VIDEO, m=TrackMeta(name="Photos"), sg=relayout(segs))


def with_canvas(draft: Draft, width: int, height: int) -> Draft:
    meta: DraftMeta = draft.m.model_copy(update={"width": width, "height": height})
    return draft.model_copy(update={"m": meta})


def set_segment_meta(draft: Draft, track_id: str, **changes: object) -> Draft:
    """Every segment of one track with the same meta fields changed."""
    tracks = [
        t.model_copy(
            update={"sg": [s.model_copy(update={"m": s.m.model_copy(update=changes)}) for s in t.sg]}
        )
        if t.id == track_id
        else t
        for t in draft.t
    ]
    return draft.model_copy(update={"t": tracks})


def timing_problems(draft: Draft) -> list[str]:
    """Every broken timing invariant of the module docstring, as text (empty when all hold)."""
    problems = []
    for track in draft.tracks(TrackType.VIDEO):
        for i, seg in enumerate(track.sg):
            overlap = seg.m.tr.d if seg.m.tr and i else 0
            expected = track.sg[i - 1].end - overlap if i else 0
            if seg.st != expected:
                problems.append(f"{track.id}/{seg.id} starts at {seg.st}, expected {expected}")
            if i and overlap * 2 > min(seg.d, track.sg[i - 1].d):
                problems.append(f"{track.id}/{seg.id} transition {overlap} ms is over half a neighbour")
    if draft.d != visual_end(draft):
        problems.append(f"d is {draft.d}, the last visual segment ends at {visual_end(draft)}")
    for track in draft.t:
        if track.tt != TrackType.VIDEO and any(seg.end > draft.d for seg in track.sg):
            problems.append(f"{track.id} runs past the end of the video")
    return problems
