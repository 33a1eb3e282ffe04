"""POST /run_sse read as a client reads it: raw lines over real HTTP.

The planner is the LLM boundary, so the doubles here implement the agent's Planner protocol
around the real RulePlanner (slower, gated, or failing); the runner, tools, session store and
credits are all real.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from typing import Any

import httpx
import pytest

from agent.planner import PlanRequest, PlanStep
from agent.planners.rules.planner import RulePlanner
from agent.state import MediaFile
from server import session_store
from tests.conftest import bearer

MESSAGE = "turn my photos into a 12-second slideshow with music and the title Summer"
ADK_EVENT_KEYS = {
    "content",
    "invocationId",
    "author",
    "actions",
    "id",
    "timestamp",
    "partial",
    "turnComplete",
    "errorCode",
    "errorMessage",
}
ADK_PART_KEYS = {"text", "functionCall", "functionResponse"}


class SlowPlanner:
    """The rule planner, thinking for a while before every step (heartbeats must flow meanwhile)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.inner = RulePlanner()

    async def plan(self, request: PlanRequest) -> PlanStep:
        await asyncio.sleep(self.seconds)
        return await self.inner.plan(request)


class GatedPlanner:
    """The rule planner, held at its first step until the test opens the gate."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.gate = threading.Event()
        self.inner = RulePlanner()

    async def plan(self, request: PlanRequest) -> PlanStep:
        self.started.set()
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        return await self.inner.plan(request)


class FailingPlanner:
    """Makes the slideshow, then fails on its next step (an LLM endpoint going away mid-turn)."""

    def __init__(self) -> None:
        self.inner = RulePlanner()

    async def plan(self, request: PlanRequest) -> PlanStep:
        if request.steps:
            raise RuntimeError("upstream said: secret internals at 10.0.0.7")
        step = await self.inner.plan(request)
        return PlanStep(calls=step.calls[:1])


class SleepyPlanner:
    async def plan(self, request: PlanRequest) -> PlanStep:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


def _photos(app: Any, sid: str, n: int = 3) -> None:
    files = [
        MediaFile(
            media_id=f"m{i}",
            filename=f"p{i}.jpg",
            file_type="image",
            cdn_url=f"http://127.0.0.1/media/p{i}.jpg",
            hash=f"{i:064d}",
            width=1080,
            height=1920,
        )
        for i in range(n)
    ]
    session_store.add_media(app.state.ctx.engine, sid, files)


def _body(sid: str, text: str = MESSAGE, **extra: Any) -> dict[str, Any]:
    return {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": sid,
        "new_message": {"role": "user", "parts": [{"text": text}]},
        **extra,
    }


def _read_stream(client: httpx.Client, token: str, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    with client.stream("POST", "/run_sse", headers=bearer(token), json=body) as answer:
        lines = list(answer.iter_lines())
    return answer, lines


def _events(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def _check_adk_shape(event: dict[str, Any]) -> None:
    assert set(event) <= ADK_EVENT_KEYS, set(event) - ADK_EVENT_KEYS
    assert {"invocationId", "author", "actions", "id", "timestamp"} <= set(event)
    assert re.fullmatch(r"[A-Za-z0-9]{8}", event["id"])
    assert event["invocationId"].startswith("e-")
    assert set(event["actions"]) >= {"stateDelta", "artifactDelta", "requestedAuthConfigs"}
    if "content" in event:
        assert event["content"]["role"] in ("model", "user")
        for part in event["content"]["parts"]:
            assert set(part) <= ADK_PART_KEYS and len(part) == 1


def balance(client: httpx.Client, token: str) -> dict[str, int]:
    return dict(client.get("/api/credits/balance/simple", headers=bearer(token)).json()["data"])


def _wait_idle(app: Any) -> None:
    deadline = time.monotonic() + 60
    while app.state.ctx.turns.running:
        assert time.monotonic() < deadline, "the turn never ended"
        time.sleep(0.02)


def test_a_turn_streams_adk_events_with_heartbeats_and_commits_the_draft(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    app = make_app(make_settings(heartbeat_seconds=0.2), planner=SlowPlanner(0.5))
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    answer, lines = _read_stream(client, token, _body(sid))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["cache-control"] == "no-cache"
    assert answer.headers["x-accel-buffering"] == "no"
    for line in lines:  # nothing but data lines, heartbeat comments and blank separators
        assert line == "" or line.startswith("data: ") or re.fullmatch(r": heartbeat \d{10}", line), line
    assert any(line.startswith(": heartbeat ") for line in lines)
    events = _events(lines)
    for event in events:
        _check_adk_shape(event)
    assert len({e["invocationId"] for e in events}) == 1
    calls = [p["functionCall"]["name"] for e in events for p in e["content"]["parts"] if "functionCall" in p]
    assert calls[0] == "make_slideshow" and "set_music" in calls
    responses = [e for e in events if "functionResponse" in e["content"]["parts"][0]]
    assert all(e["content"]["role"] == "user" for e in responses)
    assert any("draft" in e["actions"]["stateDelta"] for e in responses)
    final = events[-1]
    assert final["author"] == "nemo_agent" and "partial" not in final
    assert re.search(r"Timeline \(\d+ tracks\): 1\. Video: 3 photos", final["content"]["parts"][0]["text"])

    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert state["state"]["draft"]["d"] == 12000
    assert state["state"]["draft"]["m"]["title"] == "Summer"
    assert balance(client, token) == {"available": 95, "frozen": 0, "total": 95}


def test_streaming_true_sends_partial_chunks_then_the_whole_text(
    client: httpx.Client, app: Any, anon_token: Any, new_session: Any
) -> None:
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    _, lines = _read_stream(client, token, _body(sid, streaming=True))
    events = _events(lines)
    partial = [e for e in events if e.get("partial")]
    assert partial, "no partial chunks"
    final = events[-1]
    assert "partial" not in final
    assert "".join(e["content"]["parts"][0]["text"] for e in partial) == final["content"]["parts"][0]["text"]


def test_camel_case_bodies_and_the_callers_own_id_are_accepted(
    client: httpx.Client, app: Any, anon_token: Any, new_session: Any
) -> None:
    data = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": "camel"}).json()["data"]
    sid = new_session(client, data["token"])
    _photos(app, sid)
    body = {
        "appName": "nemo_agent",
        "userId": data["user_id"],
        "sessionId": sid,
        "newMessage": {"parts": [{"text": "make a slideshow"}]},
        "stateDelta": {"client_note": "from the web studio"},
    }
    answer, lines = _read_stream(client, data["token"], body)
    assert answer.status_code == 200 and _events(lines)[-1]["author"] == "nemo_agent"
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(data["token"])).json()["data"]
    assert state["state"]["client_note"] == "from the web studio"
    assert state["state"]["draft"]["t"][0]["tt"] == 0


def test_a_client_that_drops_mid_turn_loses_nothing_and_pays_once(
    make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    planner = GatedPlanner()
    app = make_app(planner=planner)
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    with client.stream("POST", "/run_sse", headers=bearer(token), json=_body(sid)) as answer:
        assert answer.status_code == 200
        assert planner.started.wait(30)
    # The connection is closed; only now may the agent finish its work.
    planner.gate.set()
    _wait_idle(app)
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert state["state"]["draft"]["d"] == 12000 and state["state"]["draft"]["m"]["title"] == "Summer"
    assert balance(client, token) == {"available": 95, "frozen": 0, "total": 95}
    stored = session_store.events(app.state.ctx.engine, sid)
    assert stored[0].author == "user" and stored[-1].text.startswith("Made a 12 s video")


def test_an_error_mid_turn_ends_the_stream_with_a_system_event_and_refunds(
    make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    app = make_app(planner=FailingPlanner())
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    answer, lines = _read_stream(client, token, _body(sid))
    assert answer.status_code == 200
    events = _events(lines)
    for event in events:
        _check_adk_shape(event)
    last = events[-1]
    assert last["author"] == "system"
    assert last["errorCode"] == "5000"
    assert last["content"]["parts"][0]["text"] == "Error: " + last["errorMessage"]
    assert "10.0.0.7" not in json.dumps(events) and "upstream" not in last["errorMessage"]
    assert balance(client, token) == {"available": 100, "frozen": 0, "total": 100}
    # What was committed before the failure stays committed.
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert state["state"]["draft"]["t"][0]["tt"] == 0


def test_the_time_cap_stops_a_turn_with_an_error_event_and_a_refund(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    app = make_app(make_settings(stream_cap_seconds=0.5), planner=SleepyPlanner())
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    answer, lines = _read_stream(client, token, _body(sid))
    assert answer.status_code == 200
    last = _events(lines)[-1]
    assert last["author"] == "system" and "ran past 0.5 s" in last["errorMessage"]
    assert balance(client, token) == {"available": 100, "frozen": 0, "total": 100}


def test_a_second_turn_on_a_busy_session_is_refused_with_retry_after(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    planner = GatedPlanner()
    app = make_app(make_settings(turn_wait_seconds=0.2), planner=planner)
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    with client.stream("POST", "/run_sse", headers=bearer(token), json=_body(sid)) as first:
        assert planner.started.wait(30)
        second = client.post("/run_sse", headers=bearer(token), json=_body(sid, "add the title Winter"))
        assert second.status_code == 429
        assert second.json()["code"] == 429 and "another turn is running" in second.json()["message"]
        assert int(second.headers["Retry-After"]) >= 1
        assert balance(client, token)["frozen"] == 5  # only the running turn holds credits
        planner.gate.set()
        assert _events(list(first.iter_lines()))[-1]["author"] == "nemo_agent"
    _wait_idle(app)
    assert balance(client, token) == {"available": 95, "frozen": 0, "total": 95}


@pytest.mark.all_dbs
def test_refusals_before_the_stream_are_plain_json(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    client = make_client(make_app(make_settings(turn_cost=60)))
    alice, bob = anon_token(client, "alice"), anon_token(client, "bob")
    sid = new_session(client, alice)

    def run(token: str, body: dict[str, Any]) -> httpx.Response:
        return client.post("/run_sse", headers=bearer(token), json=body)

    for refused in (run(bob, _body(sid)), run(bob, _body("1234567890123456789"))):
        assert refused.status_code == 404
        assert refused.json() == {
            "code": 1002,
            "message": "session not found; create a new session",
            "data": {},
        }
    wrong_user = run(alice, {**_body(sid), "user_id": "anon_someone_else"})
    assert wrong_user.status_code == 401 and wrong_user.json()["code"] == 1001
    no_token = client.post("/run_sse", json=_body(sid))
    assert no_token.status_code == 401 and no_token.json()["code"] == 1001
    for bad in ({"session_id": sid}, {**_body(sid), "new_message": {"parts": []}}, _body(sid, "   ")):
        answer = run(alice, bad)
        assert answer.status_code == 400 and answer.json()["code"] == 400, bad
    bad_delta = run(alice, {**_body(sid), "state_delta": {"draft": {"d": "long"}}})
    assert bad_delta.status_code == 400 and "state_delta" in bad_delta.json()["message"]

    assert run(alice, _body(sid)).status_code == 200  # 100 credits: the first 60-credit turn runs
    broke = run(alice, _body(sid))
    assert broke.status_code == 402
    body = broke.json()
    assert body["code"] == 2001 and "not enough credits" in body["message"]
    assert body["data"]["bind_url"] == "https://nemovideo.com/bind"
    assert balance(client, alice) == {"available": 40, "frozen": 0, "total": 40}


def test_each_event_stays_one_line_for_line_readers_that_split_on_unicode_separators(
    client: httpx.Client, app: Any, anon_token: Any, new_session: Any
) -> None:
    # httpx's iter_lines, like Python's str.splitlines, also ends lines at U+2028, U+2029 and U+0085;
    # a title holding them is echoed in every later event, and must not cut its `data:` line.
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    title = "Sum\u2028mer\u2029by\u0085the sea"
    _, lines = _read_stream(client, token, _body(sid, f"make a slideshow with the title {title}"))
    for line in lines:
        assert line == "" or line.startswith("data: ") or line.startswith(": heartbeat "), line
    events = _events(lines)
    final = events[-1]
    assert final["author"] == "nemo_agent" and title in final["content"]["parts"][0]["text"]
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert state["state"]["draft"]["m"]["title"] == title


def test_bodies_sent_without_a_content_type_are_read_as_json(
    client: httpx.Client, app: Any, anon_token: Any
) -> None:
    # Some HTTP clients (Python's requests with data=json.dumps(...)) send no Content-Type; the
    # FastAPI the real service runs on reads such bodies as JSON, so they must work here too.
    token = anon_token(client)
    created = client.post(
        "/api/tasks/me/with-session/nemo_agent", headers=bearer(token), content=b'{"task_name": "bare"}'
    )
    assert created.status_code == 200, created.text
    sid = created.json()["data"]["session_id"]
    _photos(app, sid)
    with client.stream(
        "POST", "/run_sse", headers=bearer(token), content=json.dumps(_body(sid, "make a slideshow")).encode()
    ) as answer:
        assert answer.status_code == 200
        events = _events(list(answer.iter_lines()))
    assert events[-1]["author"] == "nemo_agent"
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert state["task_name"] == "bare" and state["state"]["draft"]["t"][0]["tt"] == 0


def test_an_over_long_session_id_is_an_unknown_session(client: httpx.Client, anon_token: Any) -> None:
    # The client's reaction to 1002 (create a new session) is the right one for any id we do not hold.
    token = anon_token(client)
    answer = client.post("/run_sse", headers=bearer(token), json=_body("7" * 70))
    assert answer.status_code == 404
    assert answer.json() == {"code": 1002, "message": "session not found; create a new session", "data": {}}


def test_long_attribution_headers_are_accepted(
    client: httpx.Client, app: Any, anon_token: Any, new_session: Any
) -> None:
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    headers = {**bearer(token), "X-Skill-Source": "s" * 300, "X-Skill-Version": "1." + "9" * 400}
    with client.stream("POST", "/run_sse", headers=headers, json=_body(sid, "make a slideshow")) as answer:
        assert answer.status_code == 200
        assert _events(list(answer.iter_lines()))[-1]["author"] == "nemo_agent"
