"""Scoped edits: only the named segments change; whole-video fades; keeping only some; shuffling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent.edits import timing_problems, video_track
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError
from agent.tools.registry import registry
from renderer.schema.draft import Draft


@pytest.fixture
def made(photos_only: SessionState, turn: Callable[..., Any]) -> SessionState:
    state: SessionState = turn(photos_only, "make a slideshow").state
    return state


def run(state: SessionState, name: str, **args: Any) -> SessionState:
    return registry()[name].run(state, args, ToolContext()).state


def segs(state: SessionState) -> list[Any]:
    assert state.draft is not None
    track = video_track(state.draft)
    assert track is not None
    return list(track.sg)


def valid(state: SessionState) -> None:
    assert state.draft is not None
    assert timing_problems(Draft.model_validate(state.draft.to_json())) == []


def test_edit_segments_changes_only_the_named_photos(made: SessionState) -> None:
    before = segs(made)
    names = [{"name": before[2].id}, {"name": before[5].id}]
    after_state = run(made, "edit_segments", targets=names, seconds=5, motion="pan_left", fit="contain")
    after = segs(after_state)
    for i, (old, new) in enumerate(zip(before, after, strict=True)):
        if i in (2, 5):
            assert (new.d, new.m.motion, new.m.fit) == (5000, "pan_left", "contain")
        else:  # everything else as it was: time, motion, fit, transition
            assert (new.d, new.m.motion, new.m.fit, new.m.tr) == (old.d, old.m.motion, old.m.fit, old.m.tr)
    valid(after_state)


def test_edit_segments_sets_the_transition_into_one_photo(made: SessionState) -> None:
    before = segs(made)
    after = segs(run(made, "edit_segments", targets=[{"name": before[3].id}], transition="dissolve"))
    assert after[3].m.tr is not None and after[3].m.tr.type == "dissolve"
    assert [s.m.tr for i, s in enumerate(after) if i != 3] == [s.m.tr for i, s in enumerate(before) if i != 3]


def test_a_relative_duration_adds_to_the_photo_time(made: SessionState) -> None:
    first = segs(made)[0]
    after = segs(run(made, "edit_segments", targets=[{"name": first.id}], add_seconds=2))
    assert after[0].d == first.d + 2000


def test_remove_segments_keeps_only_the_named(made: SessionState) -> None:
    before = segs(made)
    kept = run(made, "remove_segments", targets=[{"name": before[1].id}, {"name": before[4].id}], keep=True)
    assert [s.id for s in segs(kept)] == [before[1].id, before[4].id]
    valid(kept)
    with pytest.raises(ToolError):  # nothing left is not a video
        run(made, "remove_segments", targets=[{"name": s.id} for s in before])


def test_shuffle_changes_the_order_and_keeps_every_segment(made: SessionState) -> None:
    before = [s.id for s in segs(made)]
    after = [s.id for s in segs(run(made, "shuffle_segments", seed=1))]
    assert after != before and sorted(after) == sorted(before)


def test_video_fades_are_recorded_on_the_draft(made: SessionState) -> None:
    faded = run(made, "set_video_fades", fade_in_seconds=1, fade_out_seconds=1.5)
    assert faded.draft is not None
    assert (faded.draft.m.fade_in, faded.draft.m.fade_out) == (1000, 1500)
    assert segs(faded) == segs(made)  # the photos are untouched


def test_set_fit_leaves_clips_as_they_are(photos_only: SessionState, make_media: Any, turn: Any) -> None:
    clip = make_media(30, "video", 1920, 1080, 5.0, "clip.mp4")
    state = turn(SessionState(video_infos=[*photos_only.video_infos[:3], clip]), "make a video").state
    clip_fit = segs(state)[-1].m.fit
    fitted = run(state, "set_fit", mode="contain")
    assert [s.m.fit for s in segs(fitted)[:3]] == ["contain"] * 3
    assert segs(fitted)[-1].m.fit == clip_fit


def test_set_duration_can_keep_a_segment(made: SessionState) -> None:
    first = segs(made)[0]
    longer = run(made, "set_duration", total_seconds=60, keep=[{"name": first.id}])
    assert longer.draft is not None and abs(longer.draft.d - 60_000) <= 50
    assert segs(longer)[0].d == first.d
    valid(longer)


def test_set_transition_can_keep_every_photo_time(made: SessionState) -> None:
    before = [s.d for s in segs(made)]
    quick = run(made, "set_transition", kind="crossfade", duration_seconds=0.25, keep_length=False)
    assert [s.d for s in segs(quick)] == before
    assert {s.m.tr.d for s in segs(quick)[1:] if s.m.tr} == {250}
