"""Tools and the pure edits under them: invariants hold after every edit, errors are clear."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from agent import edits
from agent.state import SessionState
from agent.summary import timeline_summary
from agent.tools.base import ToolContext, ToolError
from agent.tools.registry import registry, tool_specs
from renderer.schema.draft import Draft, Segment, SegmentMeta, TrackType, Transition

TOOL_NAMES = {
    "make_slideshow",
    "set_duration",
    "set_seconds_per_photo",
    "set_aspect",
    "set_transition",
    "set_motion",
    "set_fit",
    "add_title",
    "set_title",
    "remove_title",
    "set_music",
    "remove_music",
    "describe",
    "look_at",
    "remove_segment",
    "move_segment",
    "swap_segments",
    "replace_segment",
    "reorder_segments",
    "duplicate_segment",
    "trim_segment",
    "add_media",
    "set_clip_volume",
    "add_caption",
    "add_end_card",
    "edit_text",
    "move_text",
    "remove_text",
    "cut_to_beat",
    "undo",
    "redo",
    "edit_segments",
    "remove_segments",
    "shuffle_segments",
    "set_video_fades",
}


def run(state: SessionState, name: str, **args: Any) -> SessionState:
    result = registry()[name].run(state, args, ToolContext(now=lambda: 0.0))
    draft = Draft.model_validate(result.state.draft.to_json())  # type: ignore[union-attr]
    assert edits.timing_problems(draft) == []
    return result.state


def test_every_tool_has_a_schema_an_llm_can_read() -> None:
    specs = tool_specs()
    assert {s["function"]["name"] for s in specs} == TOOL_NAMES
    for spec in specs:
        assert spec["type"] == "function" and spec["function"]["description"]
        assert spec["function"]["parameters"]["type"] == "object"
        json.dumps(spec)
    make = next(s for s in specs if s["function"]["name"] == "make_slideshow")["function"]["parameters"]
    assert "crossfade" in json.dumps(make["properties"]["transition"])


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 31])
@pytest.mark.parametrize("total", [1000, 7777, 30000, 60000])
def test_fit_total_ends_exactly_on_the_length(n: int, total: int) -> None:
    segs = [
        Segment(id=f"s{i}", src=f"p{i}", st=0, d=3000, m=SegmentMeta(tr=Transition(d=500) if i else None))
        for i in range(n)
    ]
    fitted = edits.fit_total(segs, total, {})
    assert fitted[-1].end == total
    draft = Draft(d=total, t=[{"id": "v1", "tt": 0, "sg": [s.model_dump() for s in fitted]}])
    assert edits.timing_problems(draft) == []


def test_clips_never_outgrow_their_source() -> None:
    segs = [
        Segment(id="s1", src="clip", st=0, d=4000),
        Segment(id="s2", src="photo", st=0, d=3000, m=SegmentMeta(tr=Transition(d=500))),
    ]
    fitted = edits.fit_total(segs, 30000, {"clip": 4000})
    assert fitted[0].d == 4000 and fitted[-1].end == 30000
    assert edits.share_evenly(10, [None, 2, None]) == [4, 2, 4]


def test_transitions_are_clamped_to_half_a_neighbour() -> None:
    segs = [
        Segment(id="a", src="x", st=0, d=400),
        Segment(id="b", src="y", st=0, d=3000, m=SegmentMeta(tr=Transition(d=2000))),
    ]
    laid = edits.relayout(segs)
    assert laid[1].m.tr is not None and laid[1].m.tr.d == 200 and laid[1].st == 200


def test_tools_need_a_timeline_first(photos_only: SessionState) -> None:
    with pytest.raises(ToolError, match="no timeline"):
        registry()["set_aspect"].run(photos_only, {"aspect": "9:16"})
    with pytest.raises(ToolError, match="no photos"):
        registry()["make_slideshow"].run(SessionState(), {})


def test_bad_arguments_say_which_field(photos_only: SessionState) -> None:
    state = run(photos_only, "make_slideshow")
    with pytest.raises(ToolError, match="aspect"):
        registry()["set_aspect"].run(state, {"aspect": "3:2"})
    with pytest.raises(ToolError, match="transition"):
        registry()["make_slideshow"].run(state, {"transition": "spin"})
    with pytest.raises(ToolError, match=r"unknown media: nope\.jpg"):
        registry()["make_slideshow"].run(state, {"media_ids": ["nope.jpg"]})
    with pytest.raises(ToolError, match="built-in tracks are"):
        registry()["set_music"].run(state, {"source": "builtin:polka"})
    with pytest.raises(ToolError, match="colour"):
        registry()["add_title"].run(state, {"text": "Hi", "color": "red"})


def test_chosen_media_in_the_chosen_order(photos_only: SessionState) -> None:
    files = photos_only.video_infos
    state = run(
        photos_only, "make_slideshow", media_ids=[files[3].filename, files[0].media_id], total_seconds=10
    )
    video = state.draft.tracks(TrackType.VIDEO)[0]  # type: ignore[union-attr]
    assert [s.src for s in video.sg] == [files[3].cdn_url, files[0].cdn_url] and state.draft.d == 10000  # type: ignore[union-attr]


def test_clips_keep_their_length_and_sound(
    photos_only: SessionState, turn: Callable[..., Any], make_media: Callable[..., Any]
) -> None:
    clip = make_media(20, "video", 1920, 1080, 6.5, "beach.mp4")
    state = SessionState(video_infos=[*photos_only.video_infos[:3], clip])
    t = turn(state, "make a 20 second video")
    video = t.draft.tracks(TrackType.VIDEO)[0]
    last = video.sg[-1]
    assert (last.src, last.d, last.m.motion, last.m.vol) == (clip.cdn_url, 6500, "none", 1.0)
    assert t.draft.d == 20000
    assert "1. Video: 3 photos, 1 clip (0-20s)" in t.reply


def test_set_transition_keeps_the_length_and_music_follows(photos_only: SessionState) -> None:
    state = run(photos_only, "make_slideshow", total_seconds=30)
    state = run(state, "set_music", source="builtin:cinematic", volume=0.5)
    state = run(state, "set_transition", kind="fade_black", duration_seconds=1)
    assert state.draft.d == 30000  # type: ignore[union-attr]
    state = run(state, "set_seconds_per_photo", seconds=2)
    music = state.draft.tracks(TrackType.AUDIO)[0].sg[0]  # type: ignore[union-attr]
    assert music.end == state.draft.d and music.m.vol == 0.5  # type: ignore[union-attr]
    assert [g.url for g in state.generated_media] == ["builtin:cinematic"]
    assert state.generated_media[0].created_at == "1970-01-01T00:00:00.000Z"


def test_title_is_trimmed_with_the_video_and_removable(photos_only: SessionState) -> None:
    state = run(photos_only, "make_slideshow", total_seconds=10)
    state = run(state, "add_title", text="Lake Trip", duration_seconds=8)
    state = run(state, "set_duration", total_seconds=5)
    title = state.draft.tracks(TrackType.TEXT)[0].sg[0]  # type: ignore[union-attr]
    assert title.end == 5000
    state = run(state, "set_title", text="Lake Trip 2026")
    assert state.draft.tracks(TrackType.TEXT)[0].sg[0].m.text == "Lake Trip 2026"  # type: ignore[union-attr]
    state = run(state, "remove_title")
    assert state.draft.tracks(TrackType.TEXT) == [] and state.draft.m.title is None  # type: ignore[union-attr]


def test_panoramas_pan_instead_of_zooming(photos_only: SessionState) -> None:
    wide = photos_only.video_infos[0].model_copy(update={"width": 8000, "height": 2000})
    state = run(SessionState(video_infos=[wide, *photos_only.video_infos[1:3]]), "make_slideshow")
    motions = [s.m.motion for s in state.draft.tracks(TrackType.VIDEO)[0].sg]  # type: ignore[union-attr]
    assert motions == ["pan_right", "zoom_out", "zoom_in"]


def test_summary_line_form() -> None:
    draft = Draft.model_validate(
        {
            "d": 30000,
            "t": [
                {
                    "id": "v1",
                    "tt": 0,
                    "sg": [{"id": f"s{i}", "src": f"p{i}", "st": i * 3000, "d": 3000} for i in range(10)],
                },
                {
                    "id": "a1",
                    "tt": 1,
                    "sg": [
                        {
                            "id": "s20",
                            "src": "builtin:lofi",
                            "st": 0,
                            "d": 30000,
                            "m": {"name": "Lo-fi", "vol": 0.35},
                        }
                    ],
                },
                {"id": "x1", "tt": 7, "sg": [{"id": "s21", "st": 0, "d": 3000, "m": {"text": "Summer"}}]},
            ],
        }
    )
    assert timeline_summary(draft) == (
        "Timeline (3 tracks): 1. Video: 10 photos (0-30s) 2. BGM: Lo-fi (0-30s, 35%) "
        '3. Title: "Summer" (0-3s)'
    )
    assert timeline_summary(None) == "Timeline (0 tracks): empty"
