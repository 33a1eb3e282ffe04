"""Whole turns through the runner with the rule planner: what a client sees and what the state becomes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from agent.edits import timing_problems
from agent.planner import PlanRequest, PlanStep, ToolCall
from agent.state import SessionState
from renderer.schema.draft import Draft, TrackType

SUMMARY = re.compile(r"^Timeline \(\d+ tracks?\): 1\. .+$")


def _valid(turn: Any) -> Draft:
    draft = Draft.model_validate(turn.draft.to_json())  # what the render call will receive
    assert timing_problems(draft) == []
    return draft


def test_slideshow_with_uploaded_music(photos_and_song: SessionState, turn: Callable[..., Any]) -> None:
    t = turn(photos_and_song, "turn my photos into a slideshow video with music and transitions")
    draft = _valid(t)
    video = draft.tracks(TrackType.VIDEO)[0]
    photos = [f for f in photos_and_song.video_infos if f.file_type == "image"]
    assert [s.src for s in video.sg] == [f.cdn_url for f in photos]  # upload order
    assert all(s.m.tr and s.m.tr.type == "crossfade" and s.m.tr.d == 500 for s in video.sg[1:])
    assert [s.m.motion for s in video.sg[:4]] == ["zoom_in", "zoom_out", "zoom_in", "zoom_out"]
    # Photos shaped like the canvas fill it; the others are shown whole on a blurred copy.
    canvas_portrait = draft.m.height > draft.m.width
    for seg, photo in zip(video.sg, photos, strict=True):
        matches = photo.orientation == ("portrait" if canvas_portrait else "landscape")
        assert seg.m.fit == ("cover" if matches else "blur"), (photo.width, photo.height, seg.m.fit)
    music = draft.tracks(TrackType.AUDIO)[0].sg[0]
    assert music.src == photos_and_song.video_infos[-1].cdn_url  # the uploaded song, not a built-in
    assert (music.m.vol, music.m.fade_in, music.m.fade_out, music.m.loop) == (0.35, 1000, 2000, True)
    assert music.d == draft.d == 10 * 3000 - 9 * 500
    assert t.tool_names == ["make_slideshow", "set_music"]
    assert SUMMARY.match(t.reply.splitlines()[-1])
    assert (
        t.reply.splitlines()[-1]
        == "Timeline (2 tracks): 1. Video: 10 photos (0-25.5s) 2. BGM: song.mp3 (0-25.5s, 35%)"
    )


def test_thirty_second_video_is_exactly_thirty_seconds(
    photos_and_song: SessionState, turn: Callable[..., Any]
) -> None:
    t = turn(
        photos_and_song, "turn these photos into a 30-second video with transitions and background music"
    )
    draft = _valid(t)
    assert draft.d == 30000
    assert draft.tracks(TrackType.VIDEO)[0].sg[-1].end == 30000
    assert draft.tracks(TrackType.AUDIO)[0].sg[0].end == 30000


def test_orientation_follows_the_photos_until_asked(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    landscape = SessionState(
        video_infos=[f.model_copy(update={"width": 4000, "height": 3000}) for f in photos_only.video_infos]
    )
    t = turn(landscape, "make a slideshow")
    assert (t.draft.m.width, t.draft.m.height) == (1920, 1080)
    assert t.state.canvas_config is not None and t.state.canvas_config.ratio == "16:9"
    t = turn(t.state, "make it vertical")
    assert (t.draft.m.width, t.draft.m.height) == (1080, 1920)
    assert t.state.canvas_config.model_dump() == {"width": 1080, "height": 1920, "ratio": "9:16"}  # type: ignore[union-attr]
    _valid(t)


def test_built_in_music_when_nothing_was_uploaded(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    t = turn(photos_only, "make a slideshow with upbeat music", now=lambda: 1774000000.0)
    music = t.draft.tracks(TrackType.AUDIO)[0].sg[0]
    assert music.src == "builtin:upbeat" and music.m.name == "Upbeat"
    [listed] = t.state.generated_media
    assert (listed.type, listed.url, listed.prompt) == ("music", "builtin:upbeat", "happy")
    assert listed.created_at == "2026-03-20T09:46:40.000Z"
    assert 60 <= (listed.duration or 0) <= 90
    plain = turn(photos_only, "make a slideshow")
    assert plain.draft.tracks(TrackType.AUDIO)[0].sg[0].src == "builtin:lofi"


def test_a_sequence_of_edits(photos_and_song: SessionState, turn: Callable[..., Any]) -> None:
    t = turn(photos_and_song, "turn my photos into a slideshow video with music and transitions")
    t = turn(t.state, "add the title Summer 2026")
    [title] = t.draft.tracks(TrackType.TEXT)[0].sg
    assert (title.m.text, title.st, title.d, title.m.pos, title.m.anim) == (
        "Summer 2026",
        0,
        3000,
        "center",
        "fade",
    )
    assert t.draft.m.title == "Summer 2026"
    assert t.reply.endswith('3. Title: "Summer 2026" (0-3s)')
    t = turn(t.state, "每张照片显示4秒")
    video = t.draft.tracks(TrackType.VIDEO)[0]
    assert all(s.d == 4000 for s in video.sg)
    assert t.draft.d == 10 * 4000 - 9 * 500
    assert "每张照片" in t.reply
    t = turn(t.state, "make it 20 seconds")
    assert t.draft.d == 20000
    _valid(t)


def test_chinese_request_gets_a_chinese_reply(
    photos_and_song: SessionState, turn: Callable[..., Any]
) -> None:
    t = turn(photos_and_song, "把这些照片做成三十秒的竖屏视频，标题 夏天")
    assert t.draft.d == 30000 and t.draft.m.height == 1920
    assert t.draft.tracks(TrackType.TEXT)[0].sg[0].m.text == "夏天"
    body = t.reply.splitlines()[:-1]
    assert body and all(re.search(r"[\u4e00-\u9fff]", line) for line in body)
    english = turn(photos_and_song, "make a slideshow", language="zh-CN")
    assert re.search(r"[\u4e00-\u9fff]", english.reply.splitlines()[0])


def test_no_uploads_gets_a_question_and_no_draft(turn: Callable[..., Any]) -> None:
    for message in ("turn my photos into a slideshow video with music and transitions", "做成视频", "hello"):
        t = turn(SessionState(), message)
        assert t.state.draft is None
        assert len(t.events) == 1 and "?" in t.reply.replace("？", "?")
        # the footer is in the reply's language (issue 15: it was English in Chinese replies)
        footer = "时间线（0 条轨道）：空" if message == "做成视频" else "Timeline (0 tracks): empty"
        assert t.reply.splitlines()[-1] == footer


def test_export_changes_nothing_and_points_at_the_render_call(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    made = turn(photos_only, "make a slideshow")
    t = turn(made.state, "export it")
    assert t.state == made.state and len(t.events) == 1
    assert "/api/render/proxy/lambda" in t.reply
    assert turn(photos_only, "export").state.draft is None


def test_streaming_sends_partial_chunks_then_the_whole_text(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    t = turn(photos_only, "make a slideshow", streaming=True)
    partial = [e for e in t.events if e.partial]
    assert len(partial) >= 2
    assert "".join(e.text for e in partial) == t.reply
    assert t.events[-1].partial is None and t.events[-2].partial is True


def test_ids_and_times_are_deterministic_when_given(
    photos_only: SessionState, turn: Callable[..., Any], counter_ids: Callable[[], Callable[[], str]]
) -> None:
    def once() -> list[str]:
        t = turn(
            photos_only,
            "make a slideshow",
            ids=counter_ids(),
            now=lambda: 1774000000.5,
            invocation_id="e-fixed",
        )
        return [e.to_sse_json() for e in t.events]

    first = once()
    assert first == once()
    events = [json.loads(line) for line in first]
    assert all(re.fullmatch(r"[A-Za-z0-9]{8}", e["id"]) for e in events)
    assert len({e["id"] for e in events}) == len(events)
    assert {e["timestamp"] for e in events} == {1774000000.5}
    assert {e["invocationId"] for e in events} == {"e-fixed"}
    calls = [p["functionCall"] for e in events for p in e["content"]["parts"] if "functionCall" in p]
    replies = [
        p["functionResponse"] for e in events for p in e["content"]["parts"] if "functionResponse" in p
    ]
    assert [c["id"] for c in calls] == [r["id"] for r in replies]
    assert [e["content"]["role"] for e in events[:2]] == ["model", "user"]
    assert (
        "draft" in events[1]["actions"]["stateDelta"]
        and "canvas_config" in events[1]["actions"]["stateDelta"]
    )


class _Scripted:
    """A planner that first sends a bad call, then corrects it after reading the error (as an LLM would)."""

    def __init__(self) -> None:
        self.seen: list[PlanRequest] = []

    async def plan(self, request: PlanRequest) -> PlanStep:
        self.seen.append(request)
        if len(request.steps) == 0:
            return PlanStep(calls=[ToolCall(name="set_aspect", args={"aspect": "7:3"})])
        if len(request.steps) == 1:
            return PlanStep(calls=[ToolCall(name="set_aspect", args={"aspect": "1:1"}, id="call_2")])
        return PlanStep(text="Squared it.", text_covers_changes=True)


def test_tool_errors_go_back_to_the_planner(photos_only: SessionState, turn: Callable[..., Any]) -> None:
    made = turn(photos_only, "make a slideshow")
    planner = _Scripted()
    t = turn(made.state, "square please", planner=planner)
    first = planner.seen[1].steps[0]
    assert not first.ok and "aspect" in first.response["error"]
    assert (t.draft.m.width, t.draft.m.height) == (1080, 1080)
    assert t.reply.splitlines()[0].startswith("Could not set_aspect")
    assert t.reply.splitlines()[1] == "Squared it."
    assert planner.seen[0].tools and {s["function"]["name"] for s in planner.seen[0].tools} >= {
        "make_slideshow"
    }


class _Looping:
    async def plan(self, request: PlanRequest) -> PlanStep:
        return PlanStep(calls=[ToolCall(name="describe")] * 5)


def test_a_planner_that_never_stops_is_cut_off(photos_only: SessionState, turn: Callable[..., Any]) -> None:
    made = turn(photos_only, "make a slideshow")
    t = turn(made.state, "describe", planner=_Looping())
    assert len(t.tool_names) <= 24
    assert t.events[-1].text.splitlines()[-1].startswith("Timeline (2 tracks)")
