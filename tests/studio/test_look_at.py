"""The agent's look_at tool sees the draft's picture through the server's still (server/stills.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from agent.planner import PlanRequest, PlanStep, ToolCall
from agent.planners.rules.planner import RulePlanner
from agent.state import SessionState
from agent.tools.base import ToolContext
from agent.tools.registry import registry
from server.config import RenderSettings
from tests.conftest import bearer, create_session, get_anon_token
from tests.studio.conftest import PHOTO_COLOURS, photo_bytes


class LookingPlanner:
    """An LLM's first step on "look at <seconds>": call look_at; then end the turn. Anything
    else: the rule planner (it makes the slideshow)."""

    def __init__(self) -> None:
        self.rules = RulePlanner()

    async def plan(self, request: PlanRequest) -> PlanStep:
        if not request.message.startswith("look at "):
            return await self.rules.plan(request)
        if request.steps:
            return PlanStep(text="Looked.", text_covers_changes=True)
        seconds = float(request.message.removeprefix("look at "))
        return PlanStep(calls=[ToolCall(name="look_at", args={"t": seconds})])


def _turn(client: httpx.Client, token: str, sid: str, text: str) -> list[dict[str, Any]]:
    body = {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": sid,
        "new_message": {"parts": [{"text": text}]},
    }
    with client.stream("POST", "/run_sse", headers=bearer(token), json=body) as stream:
        return [
            json.loads(line[len("data: ") :]) for line in stream.iter_lines() if line.startswith("data: ")
        ]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _close(colour: str, rgb: tuple[int, int, int], tolerance: int = 40) -> bool:
    values = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return max(abs(a - b) for a, b in zip(values, rgb, strict=True)) <= tolerance


def test_look_at_reports_what_is_showing_and_the_pictures_colours(
    make_settings: Any, make_app: Any, make_client: Any
) -> None:
    render = RenderSettings(workers=0, device="cpu")
    client = make_client(make_app(make_settings(render=render), planner=LookingPlanner()))
    token = get_anon_token(client)
    sid = create_session(client, token)
    names = list(PHOTO_COLOURS)
    for name in names:  # one at a time: the slideshow keeps this order
        files = [("files", (name, photo_bytes(PHOTO_COLOURS[name]), "image/jpeg"))]
        assert client.post(
            f"/api/upload-video/nemo_agent/me/{sid}", headers=bearer(token), files=files
        ).is_success
    _turn(client, token, sid, "make a vertical slideshow with the title Summer")

    events = _turn(client, token, sid, "look at 0.5")
    responses = [
        part["functionResponse"]["response"]
        for event in events
        for part in event.get("content", {}).get("parts", [])
        if "functionResponse" in part
    ]
    assert len(responses) == 1, events
    seen = responses[0]
    assert [s["media"] for s in seen["showing"] if "media" in s] == [names[0]]
    assert [s["text"] for s in seen["showing"] if "text" in s] == ["Summer"]
    # the picture itself: the first photo's colour leads, and the white card is seen too
    colours = seen["picture"]["colors"]
    assert _close(colours[0], PHOTO_COLOURS[names[0]]), (colours, _hex(PHOTO_COLOURS[names[0]]))
    assert any(_close(c, (255, 255, 255)) for c in colours), colours
    assert seen["picture"]["brightness"] in ("dark", "medium", "bright")

    later = _turn(client, token, sid, "look at 4.5")
    text = " ".join(p.get("text", "") for e in later for p in e.get("content", {}).get("parts", []))
    response = next(
        p["functionResponse"]["response"]
        for e in later
        for p in e["content"]["parts"]
        if "functionResponse" in p
    )
    assert [s["media"] for s in response["showing"] if "media" in s] == [names[1]] or names[2] in str(
        response
    )
    assert "Looked." in text


def test_look_at_without_eyes_answers_from_the_draft(make_settings: Any) -> None:
    # a tool called alone (tests, tools without a server): what is showing, no picture
    from agent.state import MediaFile

    infos = [
        MediaFile(
            media_id=f"m{i}",
            filename=f"p{i}.jpg",
            file_type="image",
            cdn_url=f"http://h/media/p{i}.jpg",
            hash=f"{i:064d}",
            width=1080,
            height=1920,
        )
        for i in range(2)
    ]
    tools = registry()
    state = (
        tools["make_slideshow"].run(SessionState(video_infos=infos), {}, ToolContext(now=lambda: 0.0)).state
    )
    seen = tools["look_at"].run(state, {"t": 0.2}, ToolContext(now=lambda: 0.0))
    assert seen.changed is False and seen.result["picture"] is None
    assert [s["media"] for s in seen.result["showing"]] == ["p0.jpg"]
    assert "p0.jpg" in seen.summary and "p0.jpg" in seen.summary_zh
