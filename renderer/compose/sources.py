"""Decoded sources for the frames being drawn: loaded ahead on a worker thread, freed when done.

Memory stays flat however many photos a draft has: only the segments visible now or within the
lookahead window are held (a 12 MP photo at 1080p cover scale is about 10 MB of planes).

Photos are decoded OVERSAMPLE times larger than the closest zoom needs and kept with a MARGIN of
replicated border: both let the per-frame warp take OpenCV's separable resize path (resample.py)
instead of warpAffine. With the scale a little under 1:1 even at the closest zoom, the fractional
offsets that path can hit are dense (a pan at exactly 1:1 could hit none), and the margin lets it
start before the view's edge.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from renderer.compose.layers import Source, blurred_backdrop, with_margin
from renderer.compose.motion import needed_scale
from renderer.media.decode_image import is_photo, load_photo
from renderer.media.decode_video import ClipReader
from renderer.plan import RenderPlan, VisualItem
from renderer.planes import Planes
from renderer.priority import lower_this_thread


@dataclass
class Loaded:
    """A photo (fixed source) or a clip (a reader asked per frame)."""

    item: VisualItem
    photo: Source | None = None
    clip: ClipReader | None = None
    backdrop: Planes | None = None
    _clip_frame: int = field(default=-1)
    _clip_source: Source | None = None

    def source_at(self, frame: int, fps: int) -> Source:
        if self.photo is not None:
            return self.photo
        assert self.clip is not None
        if frame != self._clip_frame or self._clip_source is None:
            planes = self.clip.planes_at((frame - self.item.start) / fps)
            self._clip_source = Source(planes, self.clip.width, self.clip.height, self.clip.factor)
            self._clip_frame = frame
            if self.item.fit == "blur":
                self.backdrop = blurred_backdrop(self._clip_source, self.item.box)
        return self._clip_source

    def close(self) -> None:
        if self.clip is not None:
            self.clip.close()


OVERSAMPLE = 1.015
MARGIN = 128


def load(item: VisualItem, bg: tuple[int, int, int]) -> Loaded:
    def scale_for(width: int, height: int) -> float:
        return needed_scale(
            width, height, item.box, "contain" if item.fit == "blur" else item.fit, item.motion
        )

    if is_photo(item.path):
        planes, factor = load_photo(item.path, lambda w, h: scale_for(w, h) * OVERSAMPLE, bg)
        nominal_w = round(planes.width / factor[0])
        nominal_h = round(planes.height / factor[1])
        source = Source(with_margin(planes, MARGIN), nominal_w, nominal_h, factor, MARGIN)
        backdrop = blurred_backdrop(source, item.box) if item.fit == "blur" else None
        return Loaded(item, photo=source, backdrop=backdrop)
    return Loaded(item, clip=ClipReader(item.path, item.ss_seconds, scale_for))


class SourcePool:
    """Prefetches the sources of segments starting within `lookahead` frames; frees finished ones."""

    def __init__(self, plan: RenderPlan, lookahead: int, nice: int = 0) -> None:
        """`nice`: how much lower than the creator's the decode thread's CPU priority is."""
        self.plan = plan
        self.lookahead = lookahead
        self.pending = sorted(plan.visual_items(), key=lambda it: it.start)
        self.loading: dict[VisualItem, Future[Loaded]] = {}
        self.executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="nemo-decode", initializer=lower_this_thread, initargs=(nice,)
        )

    def advance(self, frame: int) -> None:
        """Start loads for what appears soon; drop what has ended."""
        while self.pending and self.pending[0].start <= frame + self.lookahead:
            item = self.pending.pop(0)
            if item.end > frame:
                self.loading[item] = self.executor.submit(load, item, self.plan.bg)
        for item in [it for it in self.loading if it.end <= frame]:
            future = self.loading.pop(item)
            if future.done() and future.exception() is None:
                future.result().close()
            else:
                future.add_done_callback(_close_quietly)

    def get(self, item: VisualItem) -> Loaded:
        future = self.loading.get(item)
        if future is None:
            future = self.loading[item] = self.executor.submit(load, item, self.plan.bg)
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        for future in self.loading.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                future.result().close()
        self.loading.clear()


def _close_quietly(future: Future[Loaded]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()
