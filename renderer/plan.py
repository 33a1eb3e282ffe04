"""Draft + output spec -> RenderPlan: absolute frame ranges, pixel geometry and audio items. Pure.

Everything downstream works in output pixels and frame numbers, so the draft's millisecond times
and relative boxes are converted exactly once, here. No PyAV, no torch, no file access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from renderer.errors import RenderError
from renderer.schema.draft import Draft, Segment, TrackType
from renderer.schema.output import OutputSpec

DEFAULT_FIT = "cover"
DEFAULT_MOTION = "none"
DEFAULT_TEXT_SIZE = 0.06


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """'#RRGGBB' or '#RRGGBBAA' -> (r, g, b); the alpha byte is ignored."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


@dataclass(frozen=True)
class VisualItem:
    """One photo or clip on a video track, in output frames and pixels."""

    track: int
    seg_id: str
    path: Path
    start: int  # first frame shown
    end: int  # first frame no longer shown
    ss_seconds: float
    transition: str
    transition_frames: int
    fit: str
    motion: str
    focus: tuple[float, float]
    box: tuple[float, float, float, float]  # x, y, w, h in output pixels
    opacity: float
    vol: float

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class TextItem:
    seg_id: str
    text: str
    start: int
    end: int
    pos: str
    size_px: float
    colour: tuple[int, int, int]
    anim: str
    box_color: str | None = None  # "#RRGGBB[AA]": a background box; text.py draws it


@dataclass(frozen=True)
class AudioItem:
    """A stretch of sound: music segments and the soundtrack of video clips."""

    seg_id: str
    path: Path
    start_seconds: float
    duration_seconds: float
    ss_seconds: float
    vol: float
    fade_in_seconds: float
    fade_out_seconds: float
    loop: bool


@dataclass(frozen=True)
class RenderPlan:
    width: int
    height: int
    fps: int
    n_frames: int
    duration_seconds: float
    bg: tuple[int, int, int]
    tracks: list[list[VisualItem]] = field(default_factory=list)
    texts: list[TextItem] = field(default_factory=list)
    audio: list[AudioItem] = field(default_factory=list)
    fade_in_frames: int = 0  # the whole picture from black over the first frames
    fade_out_frames: int = 0  # and to black over the last

    def visual_items(self) -> list[VisualItem]:
        return [item for track in self.tracks for item in track]


def output_size(draft: Draft, output: OutputSpec) -> tuple[int, int]:
    """The draft canvas scaled so its short side is `output.resolution` pixels, never upscaled."""
    width, height = draft.m.width, draft.m.height
    if output.resolution is None:
        return width, height
    target = int(output.resolution.rstrip("p"))
    scale = min(1.0, target / min(width, height))

    def even(value: float) -> int:
        return max(2, round(value / 2) * 2)

    return even(width * scale), even(height * scale)


def _frame(ms: int, fps: int) -> int:
    return round(ms / 1000 * fps)


def _source(sources: Mapping[str, Path], seg: Segment) -> Path:
    if seg.src is None or seg.src not in sources:
        raise RenderError("missing_source", f"segment {seg.id!r}: no local file for src {seg.src!r}")
    return Path(sources[seg.src])


def frame_count(draft: Draft, output: OutputSpec) -> tuple[int, int]:
    """(frames, fps) of the render: what the job queue splits into parts before any file is read."""
    fps = output.fps or draft.m.fps
    return _frame(draft.d, fps), fps


def build_plan(draft: Draft, sources: Mapping[str, Path], output: OutputSpec) -> RenderPlan:
    width, height = output_size(draft, output)
    n_frames, fps = frame_count(draft, output)
    tracks: list[list[VisualItem]] = []
    texts: list[TextItem] = []
    audio: list[AudioItem] = []
    for track in draft.t:
        if track.tt == TrackType.VIDEO:
            pairs = [
                (_visual(seg, len(tracks), sources, fps, width, height, n_frames), seg)
                for seg in sorted(track.sg, key=lambda s: s.st)
            ]
            pairs = [(item, seg) for item, seg in pairs if item.frames > 0]
            tracks.append([item for item, _ in pairs])
            for i, (item, seg) in enumerate(pairs):
                previous = pairs[i - 1][1] if i > 0 else None
                following = pairs[i + 1][1] if i + 1 < len(pairs) else None
                if item.vol > 0:
                    audio.append(_clip_audio(item, seg, previous, following))
        elif track.tt == TrackType.AUDIO:
            audio.extend(_music(seg, sources, draft.d) for seg in track.sg if seg.st < draft.d)
        elif track.tt == TrackType.TEXT:
            texts.extend(
                _text(seg, fps, height, n_frames)
                for seg in track.sg
                if _frame(seg.st, fps) < min(n_frames, _frame(seg.end, fps))
            )
    return RenderPlan(
        width=width,
        height=height,
        fps=fps,
        n_frames=n_frames,
        duration_seconds=draft.d / 1000,
        bg=hex_to_rgb(draft.m.bg),
        tracks=tracks,
        texts=texts,
        audio=audio,
        fade_in_frames=min(n_frames, _frame(draft.m.fade_in or 0, fps)),
        fade_out_frames=min(n_frames, _frame(draft.m.fade_out or 0, fps)),
    )


def _visual(
    seg: Segment, track: int, sources: Mapping[str, Path], fps: int, width: int, height: int, n_frames: int
) -> VisualItem:
    meta = seg.m
    bx, by, bw, bh = meta.box or (0.0, 0.0, 1.0, 1.0)
    start = _frame(seg.st, fps)
    end = min(n_frames, _frame(seg.end, fps))
    tr = meta.tr
    tr_frames = min(_frame(tr.d, fps), max(0, end - start)) if tr is not None else 0
    return VisualItem(
        track=track,
        seg_id=seg.id,
        path=_source(sources, seg),
        start=start,
        end=max(start, end),
        ss_seconds=seg.ss / 1000,
        transition=tr.type if tr is not None and tr_frames > 0 else "none",
        transition_frames=tr_frames,
        fit=meta.fit or DEFAULT_FIT,
        motion=meta.motion or DEFAULT_MOTION,
        focus=meta.focus or (0.5, 0.5),
        box=(bx * width, by * height, bw * width, bh * height),
        opacity=1.0 if meta.opacity is None else meta.opacity,
        vol=1.0 if meta.vol is None else meta.vol,
    )


def _crossfade_ms(seg: Segment, previous: Segment | None) -> int:
    """How long `seg`'s sound and the one before it cross: its transition, cut short to the
    overlap when the segment before ends sooner (the contract has them equal; client drafts may
    not), so the two fades always sum to constant power. 0 with no transition."""
    if seg.m.tr is None or seg.m.tr.d <= 0:
        return 0
    overlap = previous.end - seg.st if previous is not None else 0
    return min(seg.m.tr.d, overlap) if overlap > 0 else seg.m.tr.d


def _clip_audio(
    item: VisualItem, seg: Segment, previous: Segment | None, following: Segment | None
) -> AudioItem:
    """A clip's own sound; it crossfades with the picture over the transitions at either end.
    When the next segment's transition ends before this one does, this sound ends with it: the
    picture it belongs to is covered from then on. Photos are listed too: render.py drops the
    items whose file has no audio stream."""
    fade_in = max(seg.m.fade_in or 0, _crossfade_ms(seg, previous))
    fade_out = seg.m.fade_out or 0
    duration = seg.d
    if following is not None and following.st < seg.end:
        cross = _crossfade_ms(following, seg)
        duration = min(seg.d, following.st + cross - seg.st)
        fade_out = max(fade_out, cross)
    return AudioItem(
        seg_id=seg.id,
        path=item.path,
        start_seconds=seg.st / 1000,
        duration_seconds=duration / 1000,
        ss_seconds=seg.ss / 1000,
        vol=item.vol,
        fade_in_seconds=fade_in / 1000,
        fade_out_seconds=fade_out / 1000,
        loop=False,
    )


def _music(seg: Segment, sources: Mapping[str, Path], draft_ms: int) -> AudioItem:
    meta = seg.m
    duration_ms = min(seg.d, draft_ms - seg.st)
    return AudioItem(
        seg_id=seg.id,
        path=_source(sources, seg),
        start_seconds=seg.st / 1000,
        duration_seconds=duration_ms / 1000,
        ss_seconds=seg.ss / 1000,
        vol=1.0 if meta.vol is None else meta.vol,
        fade_in_seconds=(meta.fade_in or 0) / 1000,
        fade_out_seconds=(meta.fade_out or 0) / 1000,
        loop=bool(meta.loop),
    )


def _text(seg: Segment, fps: int, height: int, n_frames: int) -> TextItem:
    meta = seg.m
    return TextItem(
        seg_id=seg.id,
        text=(meta.text or "").strip(),
        start=_frame(seg.st, fps),
        end=min(n_frames, _frame(seg.end, fps)),
        pos=meta.pos or "center",
        size_px=(meta.size or DEFAULT_TEXT_SIZE) * height,
        colour=hex_to_rgb(meta.color or "#FFFFFF"),
        anim=meta.anim or "none",
        box_color=meta.box_color,
    )
