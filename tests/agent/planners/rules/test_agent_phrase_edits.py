"""What the draft becomes after relative moves, pace changes, "it", replacing and the music's start.

Each test talks to the rule planner as a user would (a whole turn: plan, tools, reply) and checks the
draft the turn leaves: which file shows where and for how long, where the song starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent import edits
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError
from agent.tools.registry import registry
from renderer.schema.draft import Draft, Segment, TrackType

Turn = Callable[..., Any]


def video(state: SessionState) -> list[Segment]:
    assert state.draft is not None
    return state.draft.tracks(TrackType.VIDEO)[0].sg


def names(state: SessionState) -> list[str]:
    by_src = {f.cdn_url: f.filename for f in state.video_infos}
    return [by_src[s.src or ""] for s in video(state)]


def music(state: SessionState) -> Segment:
    assert state.draft is not None
    return state.draft.tracks(TrackType.AUDIO)[0].sg[0]


def said(turn: Turn, state: SessionState, message: str) -> SessionState:
    """The state after the message; the draft stays valid and keeps the timing invariants."""
    result = turn(state, message)
    assert result.state.draft is not None
    assert edits.timing_problems(Draft.model_validate(result.state.draft.to_json())) == []
    return result.state  # type: ignore[no-any-return]


@pytest.fixture
def made(photos_and_song: SessionState, turn: Turn) -> SessionState:
    return said(turn, photos_and_song, "make a slideshow")


@pytest.fixture
def mixed(made: SessionState, turn: Turn, make_media: Callable[..., Any]) -> SessionState:
    """Six photos, then a 6.5 s clip and a 4 s clip; extra.jpg uploaded after, not on the timeline."""
    photos = made.video_infos[:6]
    clips = [make_media(20, "video", 1920, 1080, 6.5, "beach.mp4"), make_media(21, "video", 1080, 1920, 4.0)]
    state = said(turn, SessionState(video_infos=[*photos, *clips, made.video_infos[-1]]), "make a video")
    return state.model_copy(update={"video_infos": [*state.video_infos, make_media(30, name="extra.jpg")]})


def photo(n: int) -> str:
    return f"photo{n:02d}.jpg"


@pytest.mark.parametrize(
    ("message", "order"),
    [
        ("put the second photo after the fifth", [0, 2, 3, 4, 1, 5]),
        ("move photo 2 before photo 4", [0, 2, 1, 3, 4, 5]),
        ("move the last photo to the start", [9, 0, 1, 2, 3, 4]),
        ("把第二张照片放到第五张后面", [0, 2, 3, 4, 1, 5]),
        ("把第五张移到第二张前面", [0, 4, 1, 2, 3, 5]),
    ],
)
def test_a_photo_goes_right_next_to_the_one_named(
    made: SessionState, turn: Turn, message: str, order: list[int]
) -> None:
    state = said(turn, made, message)
    assert names(state)[:6] == [photo(n) for n in order]
    assert len(video(state)) == 10
    # Transitions stay with positions: no hard cut where the photo left or arrived.
    assert all(s.m.tr is not None and s.m.tr.type == "crossfade" for s in video(state)[1:])


def test_a_moved_photo_keeps_its_caption(made: SessionState, turn: Turn) -> None:
    state = said(turn, made, "add a caption 'Day one' to the second photo")
    state = said(turn, state, "put the second photo after the fifth")
    assert state.draft is not None
    caption = next(t for t in state.draft.t if t.id == edits.CAPTION_TRACK_ID).sg[0]
    carrier = video(state)[4]
    assert names(state)[4] == photo(1) and carrier.st <= caption.st < caption.end <= carrier.end


def test_faster_and_slower_scale_every_photo_and_keep_the_users_edits(
    mixed: SessionState, turn: Turn
) -> None:
    state = said(turn, mixed, "show the third photo for 5 seconds")
    state = said(turn, state, "move the first clip to the start")
    state = said(turn, state, "add the title 'Lake'")
    before = [(n, s.d) for n, s in zip(names(state), video(state), strict=True)]
    assert before[:4] == [("beach.mp4", 6500), (photo(0), 3000), (photo(1), 3000), (photo(2), 5000)]
    faster = said(turn, state, "speed it up")
    got = [(n, s.d) for n, s in zip(names(faster), video(faster), strict=True)]
    # Same order, the photo made longer is still longer, clips play their own length.
    assert got == [(n, d if n.endswith(".mp4") else d * 3 // 4) for n, d in before]
    assert faster.draft is not None and state.draft is not None and faster.draft.d < state.draft.d
    assert music(faster).end == faster.draft.d  # the music follows the video's new length
    assert faster.draft.m.title == "Lake"  # not a remake: the title is still there
    back = said(turn, faster, "slow it down a bit")
    assert [(n, s.d) for n, s in zip(names(back), video(back), strict=True)] == before


def test_slow_down_the_slideshow_is_not_a_remake(made: SessionState, turn: Turn) -> None:
    state = said(turn, made, "remove the third photo")
    state = said(turn, state, "make it square")
    slower = said(turn, state, "slow down the slideshow")
    assert names(slower) == names(state) and len(video(slower)) == 9
    assert [s.d for s in video(slower)] == [4000] * 9  # 3 s x 1.33, to the nearest 50 ms
    assert slower.draft is not None and (slower.draft.m.width, slower.draft.m.height) == (1080, 1080)
    quicker = said(turn, slower, "节奏快一点")
    assert [s.d for s in video(quicker)] == [3000] * 9


def test_pace_never_goes_below_half_a_second(made: SessionState, turn: Turn) -> None:
    state = said(turn, made, "every photo should last 0.6 seconds")
    state = said(turn, state, "make it much faster")
    assert {s.d for s in video(state)} == {500}
    again = turn(state, "make it much faster")
    assert again.state.draft == state.draft and "already show for the shortest time" in again.reply


@pytest.mark.parametrize(
    ("message", "gone"),
    [
        ("the 3rd pic is blurry, remove it", photo(2)),
        ("I don't like the last photo, delete it", photo(9)),
        ("第三张照片太暗了，删掉它", photo(2)),
        ("第二张照片太暗了，把它删掉", photo(1)),
    ],
)
def test_it_is_the_photo_just_named(made: SessionState, turn: Turn, message: str, gone: str) -> None:
    state = said(turn, made, message)
    assert gone not in names(state) and len(video(state)) == 9


def test_it_after_a_removal_is_the_video(made: SessionState, turn: Turn) -> None:
    state = said(turn, made, "remove the 3rd photo and make it 20 seconds")
    assert photo(2) not in names(state) and state.draft is not None and state.draft.d == 20000


def test_a_replaced_photo_keeps_its_place_time_transition_and_caption(
    mixed: SessionState, turn: Turn
) -> None:
    state = said(turn, mixed, "show the third photo for 5 seconds")
    state = said(turn, state, "add a caption 'Day three' to the third photo")
    old = video(state)[2]
    replaced = said(turn, state, "replace the 3rd photo with the new photo")
    new = video(replaced)[2]
    assert names(replaced)[2] == "extra.jpg" and photo(2) not in names(replaced)
    assert (new.id, new.st, new.d, new.m.tr) == (old.id, old.st, old.d, old.m.tr)
    assert new.m.name == "extra.jpg"
    assert replaced.draft is not None
    caption = next(t for t in replaced.draft.t if t.id == edits.CAPTION_TRACK_ID).sg[0]
    assert caption.m.text == "Day three" and new.st <= caption.st < caption.end <= new.end


def test_a_clip_replaced_by_a_photo_and_back(mixed: SessionState, turn: Turn) -> None:
    state = said(turn, mixed, "把第二个视频换成 extra.jpg")
    last = video(state)[-1]
    assert names(state)[-1] == "extra.jpg" and last.d == 3000 and last.m.vol is None
    assert last.m.motion not in (None, "none")  # a photo moves (Ken Burns); the clip did not
    back = said(turn, state, "use photo05.jpg instead of the last photo")
    assert names(back)[-1] == photo(5)
    swapped_out = said(turn, state, "swap out the last photo for photo05.jpg")
    assert names(swapped_out) == names(back)


def test_swap_exchanges_places_and_swap_with_an_upload_replaces(mixed: SessionState, turn: Turn) -> None:
    order = names(mixed)
    swapped = said(turn, mixed, "swap photo 2 and photo 5")
    assert names(swapped)[1] == order[4] and names(swapped)[4] == order[1]
    assert sorted(names(swapped)) == sorted(order)
    replaced = said(turn, mixed, "swap the third photo with extra.jpg")
    assert names(replaced)[2] == "extra.jpg" and order[2] not in names(replaced)


def test_the_song_starts_from_where_the_user_says(made: SessionState, turn: Turn) -> None:
    state = said(turn, made, "start the song from 0:45")
    assert (music(state).ss, music(state).st) == (45000, 0)
    state = said(turn, state, "make the music quieter")  # other changes keep the start
    assert (music(state).ss, music(state).st, music(state).m.vol) == (45000, 0, 0.21)
    assert music(said(turn, state, "music starts from the chorus at 1:02")).ss == 62000
    assert music(said(turn, state, "音乐从30秒开始")).ss == 30000


def test_the_music_can_come_in_later_on_the_video(made: SessionState, turn: Turn) -> None:
    state = said(turn, made, "start the song from 0:45")
    state = said(turn, state, "start the music 5 seconds into the video")
    assert state.draft is not None
    seg = music(state)
    assert (seg.st, seg.ss, seg.end) == (5000, 45000, state.draft.d)
    other = said(turn, state, "use upbeat music")  # another song starts from its top, at the same moment
    assert (music(other).src, music(other).ss, music(other).st) == ("builtin:upbeat", 0, 5000)
    assert music(said(turn, made, "视频开始3秒后再放音乐")).st == 3000


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("move photo 2 after photo 12", "only 10 photos on the timeline, so there is no 12th photo"),
        ("move photo 2 after photo 2", "That is the same one"),
        ("delete it", "Which item? There are 10: 1. photo00.jpg"),
        ("replace the 3rd photo with the new photo", "everything you uploaded is already on the timeline"),
        ("replace the 3rd photo", "Replace it with which upload?"),
        ("replace the 3rd photo with beach.jpg", "no uploaded photo or clip named 'beach.jpg'"),
        ("start the music at 2:00", "song.mp3 is only 1:35 long, so it can't start at 2:00"),
        ("start the music from the chorus", "Where in the song does the chorus start?"),
        ("start the music 50 seconds into the video", "The video is only 25.5 s long"),
        ("make the music faster", "can't change the song's own tempo"),
        ("把第三张换成新照片", "上传的都已经在时间线上了"),
        ("音乐从副歌开始", "副歌从歌曲的哪里开始"),
    ],
)
def test_what_is_missing_or_unclear_is_asked_back(
    made: SessionState, turn: Turn, message: str, answer: str
) -> None:
    result = turn(made, message)
    assert answer in result.reply and result.state.draft == made.draft


def test_tools_check_their_new_arguments(made: SessionState) -> None:
    def run(name: str, **args: Any) -> Any:
        return registry()[name].run(made, args, ToolContext(now=lambda: 0.0))

    with pytest.raises(ToolError, match="one of position, after or before"):
        run("move_segment", target={"index": 1}, position=3, after={"index": 5})
    with pytest.raises(ToolError, match="before or after itself"):
        run("move_segment", target={"index": 2}, before={"index": 2})
    with pytest.raises(ToolError, match="either seconds or factor"):
        run("set_seconds_per_photo")
    with pytest.raises(ToolError, match=r"song\.mp3 is only 95 s long"):
        run("set_music", start_seconds=100)
    with pytest.raises(ToolError, match=r"the video is only 25\.5 s long"):
        run("set_music", delay_seconds=30)
    with pytest.raises(ToolError, match="every upload is already on the timeline"):
        run("replace_segment", target={"index": 1}, media="new")
    same = run("replace_segment", target={"index": 1}, media="photo00.jpg")
    assert not same.changed and same.state == made
