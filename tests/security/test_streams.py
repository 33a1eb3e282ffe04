# ruff: noqa: E501  (the security.md -> test map is a wide table)
"""security.md, "Streams (/run_sse)": every line, as a named test that can fail.

| security.md line                                        | test                                                  |
|---------------------------------------------------------|-------------------------------------------------------|
| turn owned by the server: a client that disconnects     | server/test_chat_sse::test_a_client_that_drops_mid_turn_loses_nothing_and_pays_once |
| finds the draft in state, charged once                  |                                                       |
| heartbeat comments every 15 s                           | server/test_chat_sse::test_a_turn_streams_adk_events_with_heartbeats_and_commits_the_draft |
| hard 15-minute cap (short by a setting in the test)     | server/test_chat_sse::test_the_time_cap_stops_a_turn_with_an_error_event_and_a_refund |
| a silent client does not hold a worker                  | test_a_silent_client_does_not_hold_the_session_or_the_server |
| two turns at once: the second waits or is refused       | server/test_chat_sse::test_a_second_turn_on_a_busy_session_is_refused_with_retry_after, |
|                                                         | test_a_second_turn_waits_and_versions_rise_by_one_per_change |
| never corrupted; versions +1 per committed change       | test_a_second_turn_waits_and_versions_rise_by_one_per_change, |
|                                                         | server/test_sessions_state::test_concurrent_writers_make_one_version_each_and_lose_nothing |
| errors end the stream with the `system` error event     | server/test_chat_sse::test_an_error_mid_turn_ends_the_stream_with_a_system_event_and_refunds |
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from server.config import Settings
from tests.conftest import bearer
from tests.server.test_chat_sse import GatedPlanner, _body, _events, _photos, _wait_idle, balance


def test_a_silent_client_does_not_hold_the_session_or_the_server(
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    app = make_app()
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    url = httpx.URL(str(client.base_url))
    body = json.dumps(_body(sid)).encode()
    # A client that sends its request and then never reads a byte (nor closes the connection).
    silent = socket.create_connection((url.host, url.port))
    silent.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    silent.sendall(
        (
            f"POST /run_sse HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )
    try:
        time.sleep(0.2)
        _wait_idle(app)  # the turn ended on its own, unread
        state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
        assert state["state"]["draft"]["d"] == 12000
        assert balance(client, token) == {"available": 95, "frozen": 0, "total": 95}
        # The session is free again: the next turn runs while the silent client still hangs on.
        with client.stream(
            "POST", "/run_sse", headers=bearer(token), json=_body(sid, "add the title Winter")
        ) as nxt:
            assert nxt.status_code == 200
            assert _events(list(nxt.iter_lines()))[-1]["author"] == "nemo_agent"
        assert client.get("/healthz").status_code == 200
    finally:
        silent.close()


def test_a_second_turn_waits_and_versions_rise_by_one_per_change(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    planner = GatedPlanner()
    app = make_app(make_settings(turn_wait_seconds=60), planner=planner)
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    results: list[list[dict[str, Any]]] = []

    def turn(text: str) -> None:
        with (
            httpx.Client(base_url=client.base_url, timeout=120) as own,
            own.stream("POST", "/run_sse", headers=bearer(token), json=_body(sid, text)) as answer,
        ):
            assert answer.status_code == 200
            results.append(_events(list(answer.iter_lines())))

    first = threading.Thread(target=turn, args=("turn my photos into a 12-second slideshow",))
    first.start()
    assert planner.started.wait(30)
    second = threading.Thread(target=turn, args=("add the title Winter",))
    second.start()
    time.sleep(0.5)
    assert balance(client, token)["frozen"] == 5  # the second turn waits, holding nothing yet
    planner.gate.set()
    first.join(120)
    second.join(120)
    _wait_idle(app)
    assert len(results) == 2 and all(events[-1]["author"] == "nemo_agent" for events in results)
    latest = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert latest["state"]["draft"]["m"].get("title") == "Winter"
    versions = [
        client.get(f"/api/state/nemo_agent/me/{sid}/{v}", headers=bearer(token))
        for v in range(1, latest["version"] + 1)
    ]
    assert [v.status_code for v in versions] == [200] * latest["version"]
    assert [v.json()["data"]["version"] for v in versions] == list(range(1, latest["version"] + 1))
    assert balance(client, token) == {"available": 90, "frozen": 0, "total": 90}
