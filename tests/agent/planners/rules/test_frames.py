"""The frame reader through whole turns: references by what a photo shows, scoped edits, numbers in
words, questions, refusals, follow-ups, the first video as asked, replies in the user's language.

Sessions are FORMAT.md's (evals/agent/scenarios.py): six photos named for what they show
(cat_on_sofa, lake_sunset, beach_day, birthday_cake, mountain_hike, dog_park), a clip and a song;
`made` is the 19 s rough cut, `made_zh` the same with Chinese file names.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent.events import Event, text_event
from agent.planners.rules.numbers import durations
from agent.planners.rules.planner import RulePlanner
from agent.runner import apply_state_delta, run_turn
from agent.state import SessionState
from agent.versions import StateVersions
from evals.agent.scenarios import build
from evals.agent.view import DraftView, view


def talk(scenario: str, *messages: str) -> tuple[DraftView, DraftView, str]:
    """Run the messages in one session; (the view before the last, after it, the last reply)."""
    state = build(scenario)
    versions = StateVersions(state)
    history: list[Event] = []
    before = view(state)
    reply = ""
    for message in messages:
        before = view(state)
        _, number = versions.latest

        async def turn(
            s: SessionState = state, n: int = number, m: str = message, h: tuple[Event, ...] = tuple(history)
        ) -> list[Event]:
            run = run_turn(s, m, planner=RulePlanner(), version=n, drafts=versions, history=h)
            return [e async for e in run]

        events = asyncio.run(turn())
        for e in events:
            if e.actions.state_delta:
                state = apply_state_delta(state, e.actions.state_delta)
                versions.commit(state)
        history += [text_event(message, invocation_id="e-user", author="user"), *events]
        reply = events[-1].text
    return before, view(state), reply


def seg(v: DraftView, stem: str) -> Any:
    return next(s for s in v.segments if s.stem == stem)


def others_unchanged(before: DraftView, after: DraftView, *named: str) -> None:
    for old in before.segments:
        if old.stem in named:
            continue
        new = seg(after, old.stem)
        assert (new.duration_s, new.motion, new.fit, new.transition) == (
            old.duration_s,
            old.motion,
            old.fit,
            old.transition,
        ), old.stem


@pytest.mark.parametrize(
    ("scenario", "message", "stem", "attr", "value"),
    [
        ("made", "make the cat pic 6 secs", "cat_on_sofa", "duration_s", 6.0),
        ("made", "zoom out on the lake shot", "lake_sunset", "motion", "zoom_out"),
        ("made", "show the whole dog photo, don't crop it", "dog_park", "fit", "contain"),
        ("made", "fade through black into the beach photo", "beach_day", "transition", "fade_black"),
        ("made", "1st one needs to stay up longer, like 5 sec", "cat_on_sofa", "duration_s", 5.0),
        ("made", "猫那张放五秒", "cat_on_sofa", "duration_s", 5.0),
        ("made_zh", "the cat photo should be 4 seconds", "猫咪", "duration_s", 4.0),
        ("made_zh", "湖边那张改成拉远的效果", "西湖日落", "motion", "zoom_out"),
    ],
)
def test_a_photo_named_by_what_it_shows_is_the_only_one_changed(
    scenario: str, message: str, stem: str, attr: str, value: object
) -> None:
    before, after, _ = talk(scenario, message)
    assert getattr(seg(after, stem), attr) == value
    others_unchanged(before, after, stem)


def test_ranges_and_runs_name_exactly_their_photos() -> None:
    before, after, _ = talk("made", "the 2 pics right before the fireworks r too quick, give em 4 secs each")
    assert [seg(after, s).duration_s for s in ("mountain_hike", "dog_park")] == [4.0, 4.0]
    others_unchanged(before, after, "mountain_hike", "dog_park")
    before, after, _ = talk("made_zh", "第二张到第四张，每张放4秒。")
    assert [seg(after, s).duration_s for s in ("西湖日落", "海边", "生日蛋糕")] == [4.0, 4.0, 4.0]
    others_unchanged(before, after, "西湖日落", "海边", "生日蛋糕")


def test_whole_video_fade_is_not_every_transition() -> None:
    before, after, _ = talk("made", "fade out to black at the end")
    assert after.fade_out_to_black and not after.fade_in_from_black
    others_unchanged(before, after)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("stretch it to a min and a half", 90),
        ("一分半", 90),
        ("半分钟", 30),
        ("1:30", 90),
        ("like 20 sec", 20),
    ],
)
def test_durations_in_words(text: str, seconds: float) -> None:
    assert durations(text)[0].value == seconds


@pytest.mark.parametrize(
    ("scenario", "message", "expected"),
    [
        ("made", "hows long is it rn", "19"),
        ("made", "which pic comes right after the beach one", "birthday_cake"),
        ("made_zh", "背景音乐用的是哪首歌？", "夏日"),
        ("made_zh", "一共用了几张照片？", "6"),
    ],
)
def test_questions_are_answered_from_the_draft_and_change_nothing(
    scenario: str, message: str, expected: str
) -> None:
    before, after, reply = talk(scenario, message)
    assert before.json == after.json
    assert expected in reply


@pytest.mark.parametrize(
    ("message", "nearest"),
    [("export it in 4K", "1080"), ("make it a gif", "MP4"), ("导出成60帧的慢动作", "30")],
)
def test_unsupported_wishes_are_refused_with_the_nearest_thing(message: str, nearest: str) -> None:
    before, after, reply = talk("made", message)
    assert before.json == after.json
    assert nearest in reply and "not sure" not in reply


def test_follow_ups_use_the_previous_turn() -> None:
    _, after, _ = talk("made", "make the sunset pic 5 sec", "hmm nah too long, 4")
    assert seg(after, "lake_sunset").duration_s == 4.0
    _, after, _ = talk(
        "made", "Make the dog photo zoom out instead of in.", "Do the same thing for the cat photo."
    )
    assert seg(after, "cat_on_sofa").motion == "zoom_out"
    _, after, _ = talk("made", "music at 70% pls", "still too loud lol")
    assert after.music.vol is not None and after.music.vol < 0.7


def test_the_first_video_uses_the_photos_asked_for() -> None:
    _, after, _ = talk("fresh", "just make a vid of the cat and dog ones")
    assert after.stems() == ["cat_on_sofa", "dog_park"]
    _, after, _ = talk("fresh_zh", "烟花那段不要 光用照片剪一个横屏的")
    assert "烟花" not in after.stems() and after.aspect == "16:9"


def test_new_uploads_go_where_they_are_put() -> None:
    _, after, _ = talk("made_plus_new", "Add the city skyline picture right after the beach photo.")
    assert after.stems()[:4] == ["cat_on_sofa", "lake_sunset", "beach_day", "city_skyline"]
    # "in the middle" is a place too (it used to crash the turn: a place word compared to a number)
    before, after, _ = talk("made_plus_new", "put the city skyline pic in the middle")
    assert "city_skyline" in after.stems() and after.stems()[0] != "city_skyline"
    assert after.stems()[-1] != "city_skyline" and len(after.stems()) == len(before.stems()) + 1


def test_a_chinese_request_gets_a_chinese_reply_footer_included() -> None:
    _, _, reply = talk("made_zh", "把猫咪那张改成5秒")
    assert reply.splitlines()[-1].startswith("时间线（")
    assert "Timeline" not in reply


def test_short_file_names_are_not_read_in_ordinary_words(make_media: Any) -> None:
    """'a.jpg' is named by its file name, not by the article in "make a vertical slideshow"."""
    from agent.planners.rules.planner import plan_calls

    state = SessionState(
        video_infos=[make_media(i, name=n) for i, n in enumerate(["a.jpg", "b.jpg", "c.jpg"])]
    )
    made = plan_calls("make a vertical slideshow, 2 seconds each, with the title Summer", state, "en")
    assert "media_ids" not in made.calls[0].args  # every photo
    only = plan_calls("make a video of just a.jpg and c.jpg", state, "en")
    assert only.calls[0].args["media_ids"] == ["med00", "med02"]
