"""The CLI's chat socket (/ws/chat) over real WebSockets: how it refuses, one turn's messages, the
credit and lease checks of /run_sse, and a dropped socket that loses nothing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.sync.client import connect

from agent.events import Content, Event, FunctionCall, FunctionResponse, Part, error_event, text_event
from server.gateway.turn_feeds import TurnFeed, socket_messages
from tests.conftest import get_anon_token
from tests.server.gateway_client import Gateway, close_code, photos, receive, socket_url, until_done

SLIDESHOW = "turn my photos into a 6 second slideshow"


@pytest.fixture
def gateway(client: httpx.Client) -> Gateway:
    return Gateway(client, get_anon_token(client))


def _with_photos(gateway: Gateway, tmp_path: Path) -> tuple[str, str]:
    project, session = gateway.new_project()
    for photo in photos(tmp_path):
        assert gateway.upload(photo, session).status_code == 200
    return project, session


def test_a_bad_key_or_session_closes_the_socket_with_the_codes_the_cli_reads(
    gateway: Gateway, client: httpx.Client
) -> None:
    _project, session = gateway.new_project()
    unknown = "nmv_usr_" + "B" * 43
    with connect(socket_url(client, unknown, session)) as ws:
        code, reason = close_code(ws)
    assert code == 4001 and "invalid token" in reason  # the CLI: "Authentication failed", no retries
    with connect(socket_url(client, None, session)) as ws:
        assert close_code(ws)[0] == 4001
    with connect(socket_url(client, gateway.key, None)) as ws:
        assert close_code(ws) == (4002, "missing session_id")
    stranger = get_anon_token(client)
    with connect(socket_url(client, stranger, session)) as ws:
        refused = receive(ws)
        assert refused["type"] == "error" and refused["code"] == 1002  # the CLI prints `error`
        assert close_code(ws)[0] == 1008


def test_one_turn_is_tool_calls_texts_state_updates_then_done(gateway: Gateway, tmp_path: Path) -> None:
    _project, session = _with_photos(gateway, tmp_path)
    with gateway.socket(session) as ws:
        ws.send(json.dumps({"type": "ping"}))
        assert receive(ws) == {"type": "pong"}
        ws.send(json.dumps({"type": "message", "content": SLIDESHOW, "metadata": {}}))
        said = until_done(ws)
    kinds = [m["type"] for m in said]
    assert kinds[-1] == "done" and said[-1]["ok"] is True and kinds.count("done") == 1
    assert "tool_start" in kinds and "tool_end" in kinds and "state_update" in kinds
    assert kinds.index("tool_start") < kinds.index("tool_end")
    texts = [m["text"] for m in said if m["type"] == "text"]
    assert any("Made a 6 s video from 2 photos" in t for t in texts)
    assert any(t.startswith("Timeline (") or "\nTimeline (" in t for t in texts)
    assert any("draft" in m["keys"] for m in said if m["type"] == "state_update")
    # The turn is the session's, as if it had come through /run_sse.
    state = gateway.get(f"/api/state/nemo_agent/me/{session}/latest").json()["data"]["state"]
    assert state["draft"]["d"] == 6000


def test_an_empty_message_is_refused_and_the_socket_stays_usable(gateway: Gateway, tmp_path: Path) -> None:
    _project, session = _with_photos(gateway, tmp_path)
    with gateway.socket(session) as ws:
        ws.send(json.dumps({"type": "message", "content": "   "}))
        refused = until_done(ws)
        assert refused[0]["type"] == "error" and refused[0]["code"] == 400 and refused[-1]["ok"] is False
        ws.send(json.dumps({"type": "message", "content": SLIDESHOW}))
        assert until_done(ws)[-1]["ok"] is True
    assert gateway.get("/billing/balance").json()["data"]["total_consumed"] == 5  # the refusal cost nothing


def test_without_credits_the_turn_is_refused_with_2001_and_the_bind_link(
    make_settings: Callable[..., Any],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
) -> None:
    client = make_client(make_app(make_settings(anon_credits=0, bind_url="https://example.test/bind")))
    gateway = Gateway(client, get_anon_token(client))
    _project, session = gateway.new_project()
    said = gateway.chat(session, "make a video")
    assert said[0]["type"] == "error" and said[0]["code"] == 2001
    assert said[0]["data"]["bind_url"] == "https://example.test/bind"
    assert said[-1] == {"type": "done", "session_id": session, "ok": False}
    assert gateway.get(f"/api/state/nemo_agent/me/{session}/latest").json()["data"]["version"] == 0


def test_a_dropped_socket_loses_nothing_and_a_reconnect_gets_the_turn(
    gateway: Gateway, tmp_path: Path
) -> None:
    project, session = _with_photos(gateway, tmp_path)
    with gateway.socket(session) as ws:
        ws.send(json.dumps({"type": "message", "content": SLIDESHOW, "metadata": {}}))
    # Gone before reading a thing. The CLI reconnects once and sends nothing: it waits for `done`.
    with gateway.socket(session) as ws:
        replayed = until_done(ws)
    assert replayed[-1] == {"type": "done", "session_id": session, "ok": True}
    assert any("Made a 6 s video from 2 photos" in m.get("text", "") for m in replayed)
    draft = gateway.get(f"/api/v1/state/frontend/{project}").json()["data"]["project"]["timeline_draft"]
    assert draft["d"] == 6000
    assert gateway.get("/billing/balance").json()["data"]["total_consumed"] == 5  # charged once
    # Delivered now: the next socket runs its own turn, not the old one again.
    said = gateway.chat(session, "make it 8 seconds")
    assert said[-1]["ok"] is True and not any("from 2 photos" in m.get("text", "") for m in said)


def test_a_second_socket_waits_its_turn_on_the_session_lease(gateway: Gateway, tmp_path: Path) -> None:
    _project, session = _with_photos(gateway, tmp_path)
    with gateway.socket(session) as first, gateway.socket(session) as second:
        first.send(json.dumps({"type": "message", "content": SLIDESHOW}))
        second.send(json.dumps({"type": "message", "content": "make it 8 seconds"}))
        one, two = until_done(first), until_done(second)
    # Both ran, one after the other (the lease's wait), never both at once on one session.
    assert one[-1]["ok"] is True and two[-1]["ok"] is True
    assert gateway.get("/billing/balance").json()["data"]["total_consumed"] == 10


def test_the_socket_works_under_a_path_prefix_and_idle_sockets_are_closed(
    make_settings: Callable[..., Any],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
) -> None:
    client = make_client(make_app(make_settings(stream_cap_seconds=1.0)))
    gateway = Gateway(client, get_anon_token(client))
    _project, session = gateway.new_project()
    with connect(socket_url(client, gateway.key, session, prefix="/nemo/gw")) as ws:
        assert receive(ws)["type"] == "session_ready"
        # Nothing sent for as long as a turn may last (here 1 s): the server closes the socket.
        assert close_code(ws) == (1000, "idle")


def test_secrets_in_query_strings_never_reach_the_server_log(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _project, session = _with_photos(gateway, tmp_path)
    gateway.chat(session, SLIDESHOW)
    # A claim link's secret rides in its query string too, and uvicorn's access log writes paths.
    claim = gateway.post("/api/auth/claim-token", json={"session_id": session}).json()["data"]
    assert gateway.client.get(claim["claim_url"]).status_code == 200
    # The server's lines (the test's own httpx client logs the URLs it was handed, as any client would).
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("uvicorn", "nemo"))]
    assert any("WebSocket /ws/chat?[redacted]" in line for line in lines), lines
    assert any("/workspace/claim?[redacted]" in line for line in lines), lines
    assert not any(gateway.key in line or claim["claim_token"] in line for line in lines)


# ---- the feed, without a socket ------------------------------------------------------------------


def test_events_become_the_clis_message_types() -> None:
    call = Event(
        content=Content(role="model", parts=[Part(function_call=FunctionCall(id="c1", name="make_video"))]),
        invocation_id="e-1",
        author="nemo_agent",
    )
    answer = Event(
        content=Content(
            role="user", parts=[Part(function_response=FunctionResponse(id="c1", name="make_video"))]
        ),
        invocation_id="e-1",
        author="nemo_agent",
    )
    answer.actions.state_delta["draft"] = {"d": 1000}
    assert socket_messages(call.to_sse_json()) == [
        {"type": "tool_start", "tool": "make_video", "tool_call_id": "c1", "args": {}}
    ]
    assert socket_messages(answer.to_sse_json()) == [
        {"type": "tool_end", "tool": "make_video", "tool_call_id": "c1"},
        {"type": "state_update", "keys": ["draft"]},
    ]
    chunk = text_event("Hel", invocation_id="e-1", partial=True)
    assert socket_messages(chunk.to_sse_json()) == [{"type": "chunk", "text": "Hel"}]
    failed = error_event("not enough credits", code=2001, invocation_id="e-1")
    assert socket_messages(failed.to_sse_json()) == [
        {"type": "error", "code": 2001, "error": "not enough credits"}
    ]


def test_a_quiet_turn_sends_heartbeats_until_its_messages_come() -> None:
    async def scenario() -> list[str]:
        feed = TurnFeed("1234567890123456789")
        seen: list[str] = []

        async def follow() -> None:
            async for message in feed.follow(heartbeat_seconds=0.01):
                seen.append(message["type"])

        follower = asyncio.create_task(follow())
        while "heartbeat" not in seen:
            await asyncio.sleep(0.01)
        await feed.add({"type": "text", "text": "hi"})
        await feed.finish(ok=True)
        await follower
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == "heartbeat" and seen[-2:] == ["text", "done"]
