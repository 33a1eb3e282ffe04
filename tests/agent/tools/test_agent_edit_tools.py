"""Segment, text, beat and history tools: what the draft becomes, and the questions asked back."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from agent import edits
from agent.planner import PlanRequest, PlanStep, ToolCall
from agent.state import HISTORY_LIMIT, SessionState
from agent.tools.base import ToolContext, ToolError
from agent.tools.registry import registry
from agent.versions import StateVersions
from renderer.music.catalogue import CATALOGUE
from renderer.schema.draft import Draft, TrackType


def run(state: SessionState, name: str, **args: Any) -> SessionState:
    result = registry()[name].run(state, args, ToolContext(now=lambda: 0.0))
    if result.state.draft is not None:
        draft = Draft.model_validate(result.state.draft.to_json())
        assert edits.timing_problems(draft) == []
    return result.state


def video(state: SessionState) -> list[Any]:
    assert state.draft is not None
    return state.draft.tracks(TrackType.VIDEO)[0].sg


def names(state: SessionState) -> list[str]:
    by_src = {f.cdn_url: f.filename for f in state.video_infos}
    return [by_src[s.src] for s in video(state)]


@pytest.fixture
def made(photos_only: SessionState) -> SessionState:
    return run(photos_only, "make_slideshow")


def test_remove_move_swap_duplicate_by_ordinal_and_name(made: SessionState) -> None:
    order = names(made)
    state = run(made, "remove_segment", target={"kind": "photo", "index": 3})
    assert names(state) == order[:2] + order[3:]
    state = run(state, "move_segment", target={"name": "photo00.jpg"}, position=-1)
    assert names(state)[-1] == "photo00.jpg" and names(state)[0] == "photo01.jpg"
    state = run(state, "swap_segments", first={"index": 1}, second={"index": -1})
    assert names(state)[0] == "photo00.jpg" and names(state)[-1] == "photo01.jpg"
    state = run(state, "duplicate_segment", target={"kind": "photo", "index": 2})
    assert names(state)[1] == names(state)[2] and len(video(state)) == 10
    assert len({s.id for s in video(state)}) == 10  # the copy has its own id
    # Transitions stay with positions: no stray hard cut after moving the first photo away.
    assert all(s.m.tr and s.m.tr.type == "crossfade" for s in video(state)[1:])
    state = run(state, "reorder_segments", order="upload")
    assert names(state)[:4] == ["photo00.jpg", "photo01.jpg", "photo03.jpg", "photo03.jpg"]


def test_references_that_point_at_nothing_or_at_many_are_questions(made: SessionState) -> None:
    remove = registry()["remove_segment"]
    with pytest.raises(ToolError, match=r"only 10 photos on the timeline, so there is no 12th photo"):
        remove.run(made, {"target": {"kind": "photo", "index": 12}})
    with pytest.raises(ToolError, match=r"which photo\? There are 10: 1\. photo00\.jpg, 2\. photo01\.jpg"):
        remove.run(made, {"target": {"kind": "photo"}})
    with pytest.raises(ToolError, match=r"no item named 'beach\.jpg'"):
        remove.run(made, {"target": {"name": "beach.jpg"}})
    with pytest.raises(ToolError) as info:
        remove.run(made, {"target": {"kind": "photo", "index": 12}})
    assert "只有 10张照片" in info.value.message_zh


def test_one_photo_longer_and_clip_trim_and_mute(
    photos_only: SessionState, make_media: Callable[..., Any]
) -> None:
    clip = make_media(20, "video", 1920, 1080, 6.5, "beach.mp4")
    state = run(SessionState(video_infos=[*photos_only.video_infos[:3], clip]), "make_slideshow")
    state = run(state, "set_seconds_per_photo", seconds=5, target={"kind": "photo", "index": 2})
    assert [s.d for s in video(state)] == [3000, 5000, 3000, 6500]
    state = run(state, "trim_segment", target={"kind": "clip", "index": 1}, start_seconds=1, end_seconds=4)
    last = video(state)[-1]
    assert (last.ss, last.d) == (1000, 3000)
    with pytest.raises(ToolError, match=r"6\.5 s long"):
        registry()["trim_segment"].run(state, {"target": {"name": "beach.mp4"}, "start_seconds": 7})
    state = run(state, "set_clip_volume", target={"kind": "clip", "index": 1}, volume=0)
    assert video(state)[-1].m.vol == 0
    with pytest.raises(ToolError, match="photos have no sound"):
        registry()["set_clip_volume"].run(state, {"target": {"index": 1}, "volume": 0})


def test_new_uploads_join_the_end(made: SessionState, make_media: Callable[..., Any]) -> None:
    more = made.model_copy(update={"video_infos": [*made.video_infos, make_media(30, name="late.jpg")]})
    state = run(more, "add_media", media="new")
    assert names(state)[-1] == "late.jpg" and video(state)[-1].m.tr is not None
    again = registry()["add_media"].run(state, {"media": "new"})
    assert not again.changed and "already on the timeline" in again.summary


def test_captions_follow_their_photo_and_the_end_card_the_end(made: SessionState) -> None:
    state = run(made, "add_caption", text="Day one", target={"kind": "photo", "index": 2})
    state = run(state, "add_end_card", text="The End", seconds=2)
    state = run(state, "move_segment", target={"kind": "photo", "index": 2}, position=-1)
    draft = state.draft
    assert draft is not None
    caption = next(t for t in draft.t if t.id == edits.CAPTION_TRACK_ID).sg[0]
    photo = video(state)[-1]
    assert photo.st <= caption.st < caption.end == photo.end  # over the photo, now last
    state = run(state, "set_duration", total_seconds=12)
    end_card = next(t for t in state.draft.t if t.id == edits.END_CARD_TRACK_ID).sg[0]  # type: ignore[union-attr]
    assert (end_card.st, end_card.end) == (10000, 12000)
    state = run(state, "move_text", kind="caption", position="top")
    state = run(state, "edit_text", kind="end_card", text="Bye")
    state = run(state, "remove_segment", target={"kind": "photo", "index": -1})
    texts = {s.m.text: s.m.pos for t in state.draft.tracks(TrackType.TEXT) for s in t.sg}  # type: ignore[union-attr]
    assert texts == {"Bye": "center"}  # the caption went with its photo


@pytest.mark.parametrize("track", ["upbeat", "lofi", "cinematic"])
@pytest.mark.parametrize("per", [None, 1, 3])
def test_cut_to_the_beat_puts_every_cut_on_a_beat(made: SessionState, track: str, per: int | None) -> None:
    state = run(made, "set_music", source=f"builtin:{track}")
    state = run(state, "cut_to_beat", **({"beats_per_segment": per} if per else {}))
    beats = set(CATALOGUE[track].beats_ms)
    period = CATALOGUE[track].duration_ms
    frame_ms = 1000 / state.draft.m.fps  # type: ignore[union-attr]
    segs = video(state)
    for seg in segs[1:]:  # each cut: the moment the next photo starts
        nearest = min(abs((seg.st % period) - b) for b in beats)
        assert nearest <= frame_ms, (seg.st, nearest)
    ends = min(abs((state.draft.d % period) - b) for b in [*beats, period])  # type: ignore[union-attr]
    assert ends <= frame_ms
    if per:
        spacing = 60_000 / CATALOGUE[track].bpm * per
        starts = [0, *(s.st for s in segs[1:])]
        assert all(abs((b - a) - spacing) <= 1 for a, b in itertools.pairwise(starts))


def _on_beat_every(state: SessionState, track: str) -> int:
    """How many beats apart the photos start; asserts every cut lands on a beat (within a frame)."""
    beats, period = CATALOGUE[track].beats_ms, CATALOGUE[track].duration_ms
    frame_ms = 1000 / state.draft.m.fps  # type: ignore[union-attr]
    starts = [0, *(s.st for s in video(state)[1:])]
    for st in starts[1:]:
        assert min(abs((st % period) - b) for b in beats) <= frame_ms, st
    spacing = {round((b - a) / (60_000 / CATALOGUE[track].bpm)) for a, b in itertools.pairwise(starts)}
    assert len(spacing) == 1, spacing
    return spacing.pop()


@pytest.mark.parametrize(("per", "factor", "then"), [(4, 0.75, 3), (4, 1.33, 5), (2, 0.75, 1), (2, 1.33, 3)])
def test_a_pace_change_keeps_a_beat_cut_video_on_the_beat(
    made: SessionState, per: int, factor: float, then: int
) -> None:
    """ "faster" after "cut to the beat": the photos change on fewer beats, still every one on a
    beat (scaling the times alone would have pulled every cut off the beat)."""
    state = run(made, "set_music", source="builtin:upbeat")
    state = run(state, "cut_to_beat", beats_per_segment=per)
    assert _on_beat_every(state, "upbeat") == per
    state = run(state, "set_seconds_per_photo", factor=factor)
    assert _on_beat_every(state, "upbeat") == then


def test_one_beat_per_photo_is_as_fast_as_the_beat_goes(made: SessionState) -> None:
    state = run(made, "set_music", source="builtin:upbeat")
    state = run(state, "cut_to_beat", beats_per_segment=1)
    outcome = registry()["set_seconds_per_photo"].run(state, {"factor": 0.75}, ToolContext(now=lambda: 0.0))
    assert not outcome.changed and "single beat" in outcome.summary
    assert outcome.state.draft == state.draft


def test_cut_to_the_beat_of_an_uploaded_song_needs_its_beats(photos_and_song: SessionState) -> None:
    state = run(photos_and_song, "make_slideshow")
    state = run(state, "set_music", source="song.mp3")
    with pytest.raises(ToolError, match=r"beats of song\.mp3 are not known"):
        registry()["cut_to_beat"].run(state, {})
    song = state.video_infos[-1]
    known = song.model_copy(update={"bpm": 100.0})  # what an upload probe may record
    state = state.model_copy(update={"video_infos": [*state.video_infos[:-1], known]})
    state = run(state, "cut_to_beat", beats_per_segment=4)
    assert [s.st for s in video(state)[1:4]] == [2400, 4800, 7200]


def _turn_state(state: SessionState, turn: Callable[..., Any], message: str) -> SessionState:
    return turn(state, message).state  # type: ignore[no-any-return]


def test_undo_takes_back_a_whole_turn_and_redo_puts_it_back(
    photos_and_song: SessionState, turn: Callable[..., Any]
) -> None:
    made = _turn_state(photos_and_song, turn, "make a slideshow")
    edited = _turn_state(made, turn, "make it square, 20 seconds, and add the title 'Home'")
    assert edited.draft is not None and edited.draft.d == 20000
    t = turn(edited, "undo")
    assert t.state.draft == made.draft and t.state.canvas_config == made.canvas_config
    assert "Undid the last change: Canvas is now square" in t.reply
    redone = turn(t.state, "redo")
    assert redone.state.draft == edited.draft
    again = turn(redone.state, "撤销")
    assert again.state.draft == made.draft and "已撤销上一步修改" in again.reply
    changed = _turn_state(again.state, turn, "make it 15 seconds")
    nothing = turn(changed, "redo")  # a new change cleared what undo had set aside
    assert nothing.state.draft == changed.draft and "nothing to redo" in nothing.reply


def test_history_is_bounded(made: SessionState) -> None:
    versions = StateVersions(made)  # each change committed as the server commits it
    state, number = made, 0
    for i in range(HISTORY_LIMIT + 5):
        ctx = ToolContext(now=lambda: 0.0, version=number, drafts=versions)
        state = registry()["set_duration"].run(state, {"total_seconds": 10 + i}, ctx).state
        number = versions.commit(state)
    assert state.history is not None and len(state.history.past) == HISTORY_LIMIT
    undo = registry()["undo"]
    state = undo.run(state, {"steps": HISTORY_LIMIT}, ToolContext(version=number, drafts=versions)).state
    assert state.draft is not None and state.draft.d == 10000 + 4000  # the oldest kept step
    assert not undo.run(state, {}, ToolContext(drafts=versions)).changed


class _Calls:
    """A planner that makes the given calls, then stops."""

    def __init__(self, *calls: ToolCall) -> None:
        self.calls = list(calls)

    async def plan(self, request: PlanRequest) -> PlanStep:
        return PlanStep(calls=self.calls) if not request.steps else PlanStep(text="Done.")


def test_a_change_undone_in_the_turn_that_made_it_can_be_redone_later(
    made: SessionState, turn: Callable[..., Any]
) -> None:
    planner = _Calls(ToolCall(name="set_duration", args={"total_seconds": 20}), ToolCall(name="undo"))
    t = turn(made, "make it 20 seconds; no, undo that", planner=planner)
    assert t.state.draft == made.draft
    redone = turn(t.state, "redo")
    assert redone.draft.d == 20000 and "Redid the change: Set the video length to 20 s" in redone.reply
    assert turn(redone.state, "undo").state.draft == made.draft


def test_a_history_stored_with_whole_drafts_still_undoes_and_redoes(
    made: SessionState, turn: Callable[..., Any]
) -> None:
    """Sessions stored before the history named versions carry the drafts themselves."""
    longer = run(made, "set_duration", total_seconds=20)
    assert made.draft is not None and longer.history is not None
    stored = longer.to_json()
    stored["history"] = {
        "past": [
            {"turn": "e-1", "what": ["Made a slideshow."], "what_zh": ["已制作幻灯片。"]},
            {"turn": "e-2", "draft": made.draft.to_json(), "what": ["Set the video length to 20 s."]},
        ]
    }
    old = SessionState.model_validate(stored)
    back = turn(old, "undo")
    assert back.state.draft == made.draft and "Set the video length to 20 s" in back.reply
    assert turn(back.state, "undo twice").state.draft is None  # before the first cut
    assert turn(back.state, "redo").state.draft == longer.draft


def test_a_version_no_longer_stored_is_said_plainly(made: SessionState, turn: Callable[..., Any]) -> None:
    stored = made.to_json()
    stored["history"] = {"past": [{"turn": "e-1", "version": 10**6, "what": ["Made a slideshow."]}]}
    t = turn(SessionState.model_validate(stored), "undo")
    assert t.state.draft == made.draft
    assert "Could not undo: version 1000000 of this session is no longer stored" in t.reply


def test_a_turn_that_changes_nothing_says_why(made: SessionState, turn: Callable[..., Any]) -> None:
    vertical = _turn_state(made, turn, "make it vertical")
    t = turn(vertical, "make it vertical")
    assert "already vertical" in t.reply and t.state.draft == vertical.draft
    same = turn(vertical, "4 seconds per photo")
    again = turn(same.state, "4 seconds per photo")
    assert "Nothing changed (it was already so)" in again.reply
    assert again.state.history == same.state.history  # no empty undo step either
