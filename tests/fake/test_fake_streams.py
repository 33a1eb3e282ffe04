"""/run_sse behaviours of the real service, on demand: no text, an error mid-stream, heartbeats
only, a dropped connection. In each, the turn itself still runs, so polling state resolves it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fake_client import Client


def _session_with_photos(client: Client, count: int = 3) -> str:
    session = client.new_session()
    assert client.upload_photos(session, count).status_code == 200
    return session


def _draft(client: Client, session: str) -> dict[str, Any] | None:
    answer = client.state(session)
    assert answer.status_code == 200
    draft: dict[str, Any] | None = answer.json()["data"]["state"]["draft"]
    return draft


def test_a_textless_turn_is_resolved_by_polling_state(nemo_fake: Any, client: Client) -> None:
    session = _session_with_photos(client)
    nemo_fake.fault("POST /run_sse", stream="no_text")

    turn = client.run(session, "make a slideshow")
    assert turn.status == 200
    assert turn.events, "tool events still arrive"
    assert turn.text == ""  # the turn ended without saying anything

    draft = _draft(client, session)  # what the client docs say to do: read the state
    assert draft is not None
    assert len(draft["t"][0]["sg"]) == 3


def test_an_error_event_mid_stream(nemo_fake: Any, client: Client) -> None:
    session = _session_with_photos(client)
    nemo_fake.fault("POST /run_sse", stream="error", after_events=1, message="model overloaded")

    turn = client.run(session, "make a slideshow")
    assert turn.status == 200  # the stream had started: errors are events now
    assert len(turn.events) == 2
    last = turn.events[-1]
    assert last["author"] == "system"
    assert last["errorCode"] == "5000"
    assert last["errorMessage"] == "model overloaded"
    assert last["content"]["parts"][0]["text"] == "Error: model overloaded"
    assert last["invocationId"] == turn.events[0]["invocationId"]


def test_heartbeats_only_then_the_stream_closes(nemo_fake: Any, client: Client) -> None:
    session = _session_with_photos(client)
    nemo_fake.fault("POST /run_sse", stream="heartbeats_only", seconds=1, heartbeat_seconds=0.2)

    turn = client.run(session, "make a slideshow")
    assert turn.status == 200
    assert turn.events == []
    assert turn.comments and all(c.startswith(": heartbeat ") for c in turn.comments)
    assert _draft(client, session) is not None  # the work was done all the same


def test_a_dropped_connection(nemo_fake: Any, client: Client) -> None:
    session = _session_with_photos(client)
    nemo_fake.fault("POST /run_sse", stream="drop", after_events=1)

    with pytest.raises(httpx.RemoteProtocolError):
        client.run(session, "make a slideshow")
    # The turn belongs to the server: reading state after a reconnect finds the draft.
    for _ in range(100):
        if _draft(client, session) is not None:
            break
    assert _draft(client, session) is not None
    assert client.run(session, "add the title Summer").status == 200  # the session is usable again
