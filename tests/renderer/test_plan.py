"""The plan and the registries: every draft name has an implementation; times and sizes convert
exactly; slow Ken Burns motion is smooth to the sub-pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from renderer.compose.motion import FIT_REGISTRY, MOTION_REGISTRY, view_matrix
from renderer.compose.text import TEXT_ANIM_REGISTRY, TEXT_POSITION_REGISTRY
from renderer.compose.transitions import TRANSITION_REGISTRY
from renderer.plan import build_plan
from renderer.schema import draft as schema
from renderer.schema.output import OutputSpec
from tests.renderer.render_check import draft


def test_every_draft_name_has_an_implementation() -> None:
    assert set(schema.TRANSITIONS) <= set(TRANSITION_REGISTRY)
    assert set(schema.MOTIONS) <= set(MOTION_REGISTRY)
    assert set(schema.FIT_MODES) <= set(FIT_REGISTRY)
    assert set(schema.TEXT_POSITIONS) <= set(TEXT_POSITION_REGISTRY)
    assert set(schema.TEXT_ANIMS) <= set(TEXT_ANIM_REGISTRY)


def test_plan_converts_milliseconds_to_frames_and_overlaps_to_transitions() -> None:
    plan = build_plan(draft("crossfade"), {"red": Path("r"), "blue": Path("b")}, OutputSpec())
    assert plan.n_frames == 30
    first, second = plan.tracks[0]
    assert (first.start, first.end, second.start, second.end) == (0, 20, 10, 30)
    assert (second.transition, second.transition_frames) == ("crossfade", 10)


def test_plan_scales_boxes_and_text_with_the_output_size() -> None:
    big = draft("overlay", m={"width": 720, "height": 1280, "fps": 30})
    plan = build_plan(big, {"red": Path("r"), "blue": Path("b")}, OutputSpec(resolution="480p", fps=25))
    assert (plan.width, plan.height, plan.fps, plan.n_frames) == (480, 854, 25, 25)
    assert plan.tracks[1][0].box == pytest.approx((240, 427, 240, 427))


@pytest.mark.parametrize("motion", ["zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down"])
def test_slow_motion_is_smooth_and_never_shows_an_edge(motion: str) -> None:
    # a 4000x3000 photo on a 1080x1920 canvas for 3 s at 30 fps; track where a marker lands
    src_w, src_h, box, frames = 4000, 3000, (0.0, 0.0, 1080.0, 1920.0), 90
    marker = np.array([2100.0, 1400.0])
    path = []
    for f in range(frames):
        pose = MOTION_REGISTRY[motion]((f + 0.5) / frames)
        matrix, _ = view_matrix(src_w, src_h, box, "cover", pose, (0.5, 0.45))
        a, b = matrix[:, :2], matrix[:, 2]
        path.append(np.linalg.solve(a, marker - b))  # the output pixel showing the marker
        corners = [matrix @ np.array([x, y, 1.0]) for x in (-0.5, 1079.5) for y in (-0.5, 1919.5)]
        for cx, cy in corners:  # the view's corners stay inside the photo
            assert -0.5 - 1e-6 <= cx <= src_w - 0.5 + 1e-6 and -0.5 - 1e-6 <= cy <= src_h - 0.5 + 1e-6
    second = np.diff(np.array(path), n=2, axis=0)
    assert np.abs(second).max() <= 0.02
    assert np.abs(np.array(path[-1]) - np.array(path[0])).max() > 5  # and it does move
