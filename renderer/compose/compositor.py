"""Drawing the frames of a plan: background, each track's layers with their motion and
transitions, then the text. Pixel work goes through a PlaneOps (ops/protocol.py), so the same code
composites on the CPU and on a GPU; render.py feeds the frames it draws to the encoder.
"""

from __future__ import annotations

from renderer.compose.layers import draw_text, draw_visual
from renderer.compose.motion import MOTION_REGISTRY
from renderer.compose.ops.device import make_ops
from renderer.compose.ops.protocol import PlaneOps
from renderer.compose.sources import SourcePool
from renderer.compose.text import TEXT_ANIM_REGISTRY, TextLayer
from renderer.compose.transitions import TRANSITION_REGISTRY, ease_in_out
from renderer.plan import RenderPlan, VisualItem
from renderer.planes import FrameBuffer, Planes, solid_planes


class Compositor:
    """Draws frame after frame of `plan` into the encoder's buffers, on `device` ("cpu",
    "cuda" or "torch-cpu", as render.choose_device gives). Frames must come in order: the
    source pool loads ahead and frees behind, and static layers are reused from the frame
    before. `ops` replaces the device's default backend (a CpuOps with a chosen warp, say)."""

    def __init__(self, plan: RenderPlan, pool: SourcePool, device: str, ops: PlaneOps | None = None) -> None:
        self.plan, self.pool = plan, pool
        self.ops = ops if ops is not None else make_ops(device)
        self.background = self.ops.resident(solid_planes(plan.width, plan.height, plan.bg))
        self.black = self.ops.resident(solid_planes(plan.width, plan.height, (0, 0, 0)))
        self.texts: dict[int, TextLayer] = {}

    def draw(self, frame: int, buffer: FrameBuffer) -> None:
        plan, ops = self.plan, self.ops
        self.pool.advance(frame)
        canvas = ops.frame(buffer)
        actives = [[it for it in track if it.start <= frame < it.end] for track in plan.tracks]
        if not _covers_canvas(actives, plan, frame):
            for target, plane in zip(canvas.all(), self.background.all(), strict=True):
                ops.assign(target, plane)
        for active in actives:
            self._draw_track(canvas, active, frame)
        self._draw_texts(canvas, frame)
        light = _fade_light(plan, frame)
        if light < 1.0:  # the whole video fading in from / out to black, text and all
            mixed = TRANSITION_REGISTRY["crossfade"](self.black, canvas, light, ops)
            for target, plane in zip(canvas.all(), mixed.all(), strict=True):
                ops.assign(target, plane)
        ops.deliver(canvas, buffer)
        ops.next_frame()

    def _draw_track(self, canvas: Planes, active: list[VisualItem], frame: int) -> None:
        if not active:
            return
        ops = self.ops
        *steady, incoming = active
        for item in steady:
            self._draw_item(canvas, item, frame)
        into = frame - incoming.start
        if not incoming.transition_frames or into >= incoming.transition_frames:
            self._draw_item(canvas, incoming, frame)
            return
        p = ease_in_out((into + 0.5) / incoming.transition_frames)
        if incoming.transition == "crossfade" and incoming.fit != "blur":
            # mix(a, over(a, layer, o), p) == over(a, layer, o * p): one blend, no frame copies
            self._draw_item(canvas, incoming, frame, incoming.opacity * p)
            return
        below = Planes(*(ops.copy(plane) for plane in canvas.all()))
        self._draw_item(canvas, incoming, frame)
        mixed = TRANSITION_REGISTRY[incoming.transition](below, canvas, p, ops)
        for target, plane in zip(canvas.all(), mixed.all(), strict=True):
            ops.assign(target, plane)

    def _draw_item(self, canvas: Planes, item: VisualItem, frame: int, opacity: float | None = None) -> None:
        loaded = self.pool.get(item)
        source = loaded.source_at(frame, self.plan.fps)
        pose = MOTION_REGISTRY[item.motion]((frame - item.start + 0.5) / max(1, item.frames))
        draw_visual(canvas, source, item, pose, self.ops, loaded.backdrop, opacity)

    def _draw_texts(self, canvas: Planes, frame: int) -> None:
        plan, layers = self.plan, self.texts
        for index, item in enumerate(plan.texts):
            if not item.start <= frame < item.end:
                layers.pop(index, None)
                continue
            layer = layers.get(index)
            if layer is None:
                layer = layers[index] = TextLayer(item, plan.width, plan.height)
            t = (frame - item.start + 0.5) / plan.fps
            pose = TEXT_ANIM_REGISTRY[item.anim](t, (item.end - item.start) / plan.fps, layer.size)
            draw_text(canvas, layer.raster(pose.reveal), pose.opacity, pose.dy, self.ops)


def _fade_light(plan: RenderPlan, frame: int) -> float:
    """How much of the picture shows at `frame` (1: all; 0: black) under the whole-video fades."""
    light = 1.0
    if plan.fade_in_frames and frame < plan.fade_in_frames:
        light = min(light, (frame + 0.5) / plan.fade_in_frames)
    left = plan.n_frames - frame
    if plan.fade_out_frames and left <= plan.fade_out_frames:
        light = min(light, (left - 0.5) / plan.fade_out_frames)
    return max(0.0, light)


def _covers_canvas(actives: list[list[VisualItem]], plan: RenderPlan, frame: int) -> bool:
    """True when the first track's bottom layer paints every pixel opaquely, so filling the
    background first would be overwritten anyway (a copy of a whole frame saved). Not while
    that layer is itself transitioning in over nothing (the segment before it ended early):
    the transition starts from the background, not from whatever the buffer held."""
    if not actives or not actives[0]:
        return False
    item = actives[0][0]
    if len(actives[0]) == 1 and frame - item.start < item.transition_frames:
        return False
    x, y, w, h = item.box
    return (
        item.fit in ("cover", "blur")
        and item.opacity >= 0.999
        and x <= 0
        and y <= 0
        and x + w >= plan.width
        and y + h >= plan.height
    )
