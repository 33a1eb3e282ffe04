"""The rule planner's phrase corpus: message -> the tool calls it plans (English and Chinese).

`fresh`: ten photos and a song uploaded, nothing made yet. `made`: the same after "make a
slideshow" (video track and the uploaded song as music, no title). Each expected call lists the
tool name and the arguments that must be present with those values (others may be present too).
Every planned turn is also run, and its draft must validate and keep the timing invariants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent.edits import timing_problems
from agent.rule_planner import plan_calls
from agent.state import SessionState
from renderer.draft import Draft

M = "make_slideshow"
Call = tuple[str, dict[str, Any]]
SONG = "med10"

CORPUS: list[tuple[str, str, list[Call]]] = [
    # --- making the video (fresh) ---
    (
        "fresh",
        "turn my photos into a slideshow video with music and transitions",
        [(M, {"transition": "crossfade"}), ("set_music", {"source": SONG})],
    ),
    (
        "fresh",
        "turn these photos into a 30-second video with transitions and background music",
        [(M, {"total_seconds": 30}), ("set_music", {"source": SONG})],
    ),
    ("fresh", "make a slideshow", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "Make a slideshow with this background music", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "create a video from my photos", [(M, {}), ("set_music", {})]),
    ("fresh", "make me a 1 minute video", [(M, {"total_seconds": 60}), ("set_music", {})]),
    ("fresh", "make a thirty seconds slideshow", [(M, {"total_seconds": 30}), ("set_music", {})]),
    ("fresh", "make a video that is half a minute long", [(M, {"total_seconds": 30}), ("set_music", {})]),
    ("fresh", "make a one and a half minute video", [(M, {"total_seconds": 90}), ("set_music", {})]),
    ("fresh", "make a 1m30s montage", [(M, {"total_seconds": 90}), ("set_music", {})]),
    ("fresh", "slideshow, 4 seconds per photo", [(M, {"seconds_per_photo": 4}), ("set_music", {})]),
    (
        "fresh",
        "make a slideshow, each photo for 2.5 seconds",
        [(M, {"seconds_per_photo": 2.5}), ("set_music", {})],
    ),
    ("fresh", "make a vertical slideshow for TikTok", [(M, {"aspect": "9:16"}), ("set_music", {})]),
    ("fresh", "make a 16:9 video for YouTube", [(M, {"aspect": "16:9"}), ("set_music", {})]),
    ("fresh", "make a square slideshow for an Instagram post", [(M, {"aspect": "1:1"}), ("set_music", {})]),
    ("fresh", "make a slideshow without music", [(M, {})]),
    ("fresh", "make a slideshow with upbeat music", [(M, {}), ("set_music", {"source": "builtin:upbeat"})]),
    (
        "fresh",
        "make a slideshow with some calm piano music",
        [(M, {}), ("set_music", {"source": "builtin:calm"})],
    ),
    (
        "fresh",
        "create a video with epic cinematic music",
        [(M, {}), ("set_music", {"source": "builtin:cinematic"})],
    ),
    ("fresh", "make a slideshow with my song", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "make a slideshow with no transitions", [(M, {"transition": "none"}), ("set_music", {})]),
    (
        "fresh",
        "make a slideshow with fade to black transitions",
        [(M, {"transition": "fade_black"}), ("set_music", {})],
    ),
    (
        "fresh",
        "make a slideshow with 1-second crossfades",
        [(M, {"transition": "crossfade", "transition_seconds": 1}), ("set_music", {})],
    ),
    ("fresh", "make a slideshow, no ken burns", [(M, {"motion": "none"}), ("set_music", {})]),
    ("fresh", "make a slideshow and don't crop the photos", [(M, {"fit": "contain"}), ("set_music", {})]),
    (
        "fresh",
        "turn my photos into a slideshow and add the title Summer 2026",
        [(M, {}), ("set_music", {}), ("add_title", {"text": "Summer 2026"})],
    ),
    (
        "fresh",
        "make a vertical 20 second video with a fade and the title 'Lake Trip'",
        [
            (M, {"aspect": "9:16", "total_seconds": 20, "transition": "crossfade"}),
            ("set_music", {}),
            ("add_title", {"text": "Lake Trip"}),
        ],
    ),
    ("fresh", "make it vertical", [(M, {"aspect": "9:16"}), ("set_music", {})]),
    ("fresh", "30 seconds please", [(M, {"total_seconds": 30}), ("set_music", {})]),
    (
        "fresh",
        'put a title "Our Wedding" on it',
        [(M, {}), ("set_music", {}), ("add_title", {"text": "Our Wedding"})],
    ),
    (
        "fresh",
        "compile these pictures into a reel with electronic music",
        [(M, {"aspect": "9:16"}), ("set_music", {"source": "builtin:electronic"})],
    ),
    ("fresh", "做成视频", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "把我的照片做成一个30秒的视频", [(M, {"total_seconds": 30}), ("set_music", {})]),
    (
        "fresh",
        "把这些照片做成三十秒的竖屏视频",
        [(M, {"total_seconds": 30, "aspect": "9:16"}), ("set_music", {})],
    ),
    ("fresh", "做一个一分钟的横屏视频", [(M, {"total_seconds": 60, "aspect": "16:9"}), ("set_music", {})]),
    (
        "fresh",
        "用这些照片做一个抖音视频，配欢快的音乐",
        [(M, {"aspect": "9:16"}), ("set_music", {"source": "builtin:upbeat"})],
    ),
    ("fresh", "生成一个方形的视频，不要音乐", [(M, {"aspect": "1:1"})]),
    ("fresh", "做成幻灯片，每张照片显示4秒", [(M, {"seconds_per_photo": 4}), ("set_music", {})]),
    ("fresh", "做成视频，用这首歌做背景音乐", [(M, {}), ("set_music", {"source": SONG})]),
    ("fresh", "做成视频，配上安静的音乐", [(M, {}), ("set_music", {"source": "builtin:calm"})]),
    (
        "fresh",
        "做成视频，加上标题：我们的夏天",
        [(M, {}), ("set_music", {}), ("add_title", {"text": "我们的夏天"})],
    ),
    ("fresh", "做成视频，不要转场", [(M, {"transition": "none"}), ("set_music", {})]),
    ("fresh", "做成视频，用黑场转场", [(M, {"transition": "fade_black"}), ("set_music", {})]),
    ("fresh", "制作一个电子相册，吉他音乐", [(M, {}), ("set_music", {"source": "builtin:acoustic"})]),
    # --- editing what was made ---
    ("made", "make it vertical", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "switch to landscape", [("set_aspect", {"aspect": "16:9"})]),
    ("made", "make it square", [("set_aspect", {"aspect": "1:1"})]),
    ("made", "change the aspect ratio to 4:5", [("set_aspect", {"aspect": "4:5"})]),
    ("made", "make it vertical for TikTok", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "I need it for YouTube Shorts", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "改成竖屏", [("set_aspect", {"aspect": "9:16"})]),
    ("made", "改成横屏", [("set_aspect", {"aspect": "16:9"})]),
    ("made", "make it 30 seconds", [("set_duration", {"total_seconds": 30})]),
    ("made", "make the video 45 seconds long", [("set_duration", {"total_seconds": 45})]),
    ("made", "shorten it to fifteen seconds", [("set_duration", {"total_seconds": 15})]),
    ("made", "make it a minute", [("set_duration", {"total_seconds": 60})]),
    ("made", "make it 2 minutes", [("set_duration", {"total_seconds": 120})]),
    ("made", "时长改成20秒", [("set_duration", {"total_seconds": 20})]),
    ("made", "改成一分钟", [("set_duration", {"total_seconds": 60})]),
    ("made", "4 seconds per photo", [("set_seconds_per_photo", {"seconds": 4})]),
    ("made", "show each photo for 5 seconds", [("set_seconds_per_photo", {"seconds": 5})]),
    ("made", "every picture should last 2 seconds", [("set_seconds_per_photo", {"seconds": 2})]),
    ("made", "2 seconds each", [("set_seconds_per_photo", {"seconds": 2})]),
    ("made", "每张照片显示4秒", [("set_seconds_per_photo", {"seconds": 4})]),
    ("made", "每张图片停留三秒", [("set_seconds_per_photo", {"seconds": 3})]),
    ("made", "add the title Summer 2026", [("add_title", {"text": "Summer 2026"})]),
    ("made", "add the title 'Lake Trip' at the start", [("add_title", {"text": "Lake Trip"})]),
    ("made", "title: Graduation Day", [("add_title", {"text": "Graduation Day"})]),
    ("made", 'put "Happy Birthday Mom" as the title', [("add_title", {"text": "Happy Birthday Mom"})]),
    ("made", "add a title that says Welcome Home", [("add_title", {"text": "Welcome Home"})]),
    ("made", "add the title Paris for 5 seconds", [("add_title", {"text": "Paris", "duration_seconds": 5})]),
    ("made", "标题 夏天", [("add_title", {"text": "夏天"})]),
    ("made", "加上标题「毕业快乐」", [("add_title", {"text": "毕业快乐"})]),
    ("made", "remove the title", [("remove_title", {})]),
    ("made", "去掉标题", [("remove_title", {})]),
    ("made", "no music", [("remove_music", {})]),
    ("made", "remove the background music", [("remove_music", {})]),
    ("made", "去掉背景音乐", [("remove_music", {})]),
    ("made", "use upbeat music instead", [("set_music", {"source": "builtin:upbeat"})]),
    ("made", "change the music to something calm", [("set_music", {"source": "builtin:calm"})]),
    ("made", "use a lo-fi track", [("set_music", {"source": "builtin:lofi"})]),
    ("made", "try some electronic dance music", [("set_music", {"source": "builtin:electronic"})]),
    ("made", "use different music", [("set_music", {"source": "builtin:upbeat"})]),
    ("made", "换成欢快的音乐", [("set_music", {"source": "builtin:upbeat"})]),
    ("made", "换成电影感的配乐", [("set_music", {"source": "builtin:cinematic"})]),
    ("made", "set the music volume to 50%", [("set_music", {"volume": 0.5})]),
    ("made", "make the music quieter", [("set_music", {"volume": 0.21})]),
    ("made", "turn the music up", [("set_music", {"volume": 0.52})]),
    ("made", "音乐音量调到20%", [("set_music", {"volume": 0.2})]),
    ("made", "音乐小声一点", [("set_music", {"volume": 0.21})]),
    ("made", "use crossfade transitions", [("set_transition", {"kind": "crossfade"})]),
    ("made", "use 1 second dissolves", [("set_transition", {"kind": "dissolve", "duration_seconds": 1})]),
    ("made", "fade to black between photos", [("set_transition", {"kind": "fade_black"})]),
    ("made", "use wipe transitions", [("set_transition", {"kind": "wipe_left"})]),
    ("made", "no transitions, hard cuts", [("set_transition", {"kind": "none"})]),
    ("made", "转场改成溶解", [("set_transition", {"kind": "dissolve"})]),
    ("made", "不要转场", [("set_transition", {"kind": "none"})]),
    ("made", "remove the ken burns effect, no motion", [("set_motion", {"kind": "none"})]),
    ("made", "zoom in on every photo", [("set_motion", {"kind": "zoom_in"})]),
    ("made", "add ken burns", [("set_motion", {"kind": "auto"})]),
    ("made", "不要动画", [("set_motion", {"kind": "none"})]),
    ("made", "show the whole photo, don't crop", [("set_fit", {"mode": "contain"})]),
    ("made", "use a blurred background instead of black bars", [("set_fit", {"mode": "blur"})]),
    (
        "made",
        "make it vertical, 20 seconds, with a fade",
        [
            ("set_aspect", {"aspect": "9:16"}),
            ("set_transition", {"kind": "crossfade"}),
            ("set_duration", {"total_seconds": 20}),
        ],
    ),
    (
        "made",
        "改成竖屏，30秒，加上标题 旅行",
        [
            ("set_aspect", {"aspect": "9:16"}),
            ("set_duration", {"total_seconds": 30}),
            ("add_title", {"text": "旅行"}),
        ],
    ),
    ("made", "set the transition to slide", [("set_transition", {"kind": "slide_left"})]),
    ("made", "make the photos change every 2 seconds", [("set_seconds_per_photo", {"seconds": 2})]),
    (
        "made",
        "use 0.8 second transitions",
        [("set_transition", {"kind": "crossfade", "duration_seconds": 0.8})],
    ),
    ("made", "make it 15s", [("set_duration", {"total_seconds": 15})]),
    ("made", "视频改成45秒", [("set_duration", {"total_seconds": 45})]),
    ("made", "把音乐音量调低一点", [("set_music", {"volume": 0.21})]),
    (
        "made",
        "make the music louder and add the title 'Hello World'",
        [("set_music", {"volume": 0.52}), ("add_title", {"text": "Hello World"})],
    ),
    (
        "fresh",
        "I want a 45 second vertical video with cinematic music, titled Iceland",
        [
            (M, {"total_seconds": 45, "aspect": "9:16"}),
            ("set_music", {"source": "builtin:cinematic"}),
            ("add_title", {"text": "Iceland"}),
        ],
    ),
    (
        "fresh",
        "帮我把照片剪成一个竖屏短视频，每张3秒，配上电子音乐",
        [(M, {"seconds_per_photo": 3, "aspect": "9:16"}), ("set_music", {"source": "builtin:electronic"})],
    ),
    (
        "fresh",
        "Make a video for my mom's birthday with happy music",
        [(M, {}), ("set_music", {"source": "builtin:upbeat"})],
    ),
    ("made", "what's on the timeline?", [("describe", {})]),
    ("made", "描述一下当前的时间线", [("describe", {})]),
    ("made", "start over with 5 seconds per photo", [(M, {"seconds_per_photo": 5})]),
]
QUESTIONS: list[tuple[str, str]] = [
    ("fresh", "hello"),
    ("fresh", "你好"),
    ("made", "what can you do"),
    ("made", "export"),
    ("made", "render it"),
    ("made", "导出视频"),
    ("made", "undo"),
]


@pytest.fixture
def states(photos_and_song: SessionState, turn: Callable[..., Any]) -> dict[str, SessionState]:
    return {"fresh": photos_and_song, "made": turn(photos_and_song, "make a slideshow").state}


@pytest.mark.parametrize(("start", "message", "expected"), CORPUS, ids=[m for _, m, _ in CORPUS])
def test_phrase(
    start: str, message: str, expected: list[Call], states: dict[str, SessionState], turn: Callable[..., Any]
) -> None:
    state = states[start]
    step = plan_calls(message, state, "en")
    got = [(c.name, c.args) for c in step.calls]
    assert [name for name, _ in got] == [name for name, _ in expected], got
    for (_, args), (_, want) in zip(got, expected, strict=True):
        assert {k: args.get(k) for k in want} == want, args
    result = turn(state, message)
    assert not [
        e
        for e in result.events
        if e.content
        and e.content.parts[0].function_response
        and "error" in e.content.parts[0].function_response.response
    ]
    draft = Draft.model_validate(result.draft.to_json())
    assert timing_problems(draft) == []


@pytest.mark.parametrize(("start", "message"), QUESTIONS, ids=[m for _, m in QUESTIONS])
def test_phrase_changes_nothing(
    start: str, message: str, states: dict[str, SessionState], turn: Callable[..., Any]
) -> None:
    state = states[start]
    step = plan_calls(message, state, "en")
    assert step.calls == [] and step.text
    assert turn(state, message).state == state


def test_corpus_size() -> None:
    assert len(CORPUS) + len(QUESTIONS) >= 100
