"""A client's recovery paths against the fake: every refusal the real service makes, on demand."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fake_client import Client


def test_token_expiry_1001_then_a_new_token_recovers(nemo_fake: Any, client: Client) -> None:
    nemo_fake.fault("GET /api/credits/balance/simple", error=1001)

    refused = client.balance()
    assert refused.status_code == 401
    assert refused.json() == {
        "code": 1001,
        "message": "token expired; get a new anonymous token",
        "data": {},
    }

    client.get_token()  # what the client docs say to do on 1001
    again = client.balance()
    assert again.status_code == 200
    assert again.json()["code"] == 0


def test_a_token_really_expires_when_the_clock_moves_past_its_life(nemo_fake: Any, client: Client) -> None:
    first = client.token
    user = client.balance()
    assert user.status_code == 200

    nemo_fake.advance_clock(8 * 86_400)  # the token lives 7 days
    expired = client.balance()
    assert expired.status_code == 401 and expired.json()["code"] == 1001

    renewed = client.get_token()
    assert client.token != first  # a new token, for the same user and the same credits
    assert client.balance().json()["data"]["available"] == renewed["credits"]


def test_session_loss_1002_then_a_new_session(nemo_fake: Any, client: Client) -> None:
    lost = client.new_session()
    nemo_fake.fault("POST /run_sse", error=1002, session_id=lost)

    turn = client.run(lost, "hello")
    assert turn.status == 404
    assert turn.body == {"code": 1002, "message": "session not found; create a new session", "data": {}}

    fresh = client.new_session()
    assert fresh != lost
    turn = client.run(fresh, "hello")
    assert turn.status == 200
    assert "Timeline" in turn.text


def test_out_of_credits_2001_carries_the_bind_link(nemo_fake: Any, client: Client) -> None:
    session = client.new_session()
    nemo_fake.fault("POST /run_sse", error=2001)

    turn = client.run(session, "make a video")
    assert turn.status == 402
    assert turn.body is not None and turn.body["code"] == 2001
    assert turn.body["data"]["bind_url"].startswith("https://")


def test_real_credit_exhaustion_answers_2001_too(nemo_fake: Any, client: Client) -> None:
    session = client.new_session()
    user_id = client.get_token()["user_id"]
    nemo_fake.set_credits(0, user_id=user_id)

    turn = client.run(session, "make a video")
    assert turn.status == 402
    assert turn.body is not None and turn.body["code"] == 2001
    assert "bind_url" in turn.body["data"]
    assert client.balance().json()["data"] == {"available": 0, "frozen": 0, "total": 0}


def test_429_then_retry_after_the_retry_after_header(nemo_fake: Any, client: Client) -> None:
    session = client.new_session()
    nemo_fake.fault("GET /api/state/nemo_agent/*", error=429, retry_after=1)

    refused = client.state(session)
    assert refused.status_code == 429
    assert refused.json()["code"] == 429
    wait = int(refused.headers["Retry-After"])
    assert wait == 1

    time.sleep(wait)
    answer = client.state(session)
    assert answer.status_code == 200
    assert answer.json()["data"]["session_id"] == session
    statuses = [r["status"] for r in nemo_fake.requests(method="GET") if r["session_id"] == session]
    assert statuses == [429, 200]


def test_upload_refusals_name_the_file(nemo_fake: Any, client: Client) -> None:
    session = client.new_session()
    nemo_fake.fault("POST /api/upload-video/*", error=4001)
    refused = client.upload_photos(session, 1)
    assert refused.status_code == 415
    body = refused.json()
    assert body["code"] == 4001 and "photo_0.jpg" in body["message"]
    assert body["data"]["errors"][0]["filename"] == "photo_0.jpg"

    nemo_fake.fault("POST /api/upload-video/*", error=4002)
    assert client.upload_photos(session, 1).json()["code"] == 4002
    assert client.upload_photos(session, 1).status_code == 200  # the faults are used up


def test_a_fault_for_one_session_leaves_the_others_alone(nemo_fake: Any, client: Client) -> None:
    mine, other = client.new_session(), client.new_session()
    nemo_fake.fault("GET /api/state/*", error=1002, session_id=mine, times=2)

    assert client.state(other).status_code == 200
    assert client.state(mine).json()["code"] == 1002
    assert [f["remaining"] for f in nemo_fake.faults()] == [1]
    assert client.state(mine).json()["code"] == 1002
    assert nemo_fake.faults() == []
    assert client.state(mine).status_code == 200


def test_added_latency_still_answers(nemo_fake: Any, client: Client) -> None:
    nemo_fake.fault("GET /api/credits/balance/simple", latency_ms=50)
    assert client.balance().status_code == 200
    (entry,) = nemo_fake.requests(path="/api/credits/balance/simple")
    assert entry["fault"]["kind"] == "latency"


# The contract's table: body code -> HTTP status.
CONTRACT = [
    (1001, 401),
    (1002, 404),
    (2001, 402),
    (4001, 415),
    (4002, 413),
    (400, 400),
    (402, 402),
    (429, 429),
]


@pytest.mark.parametrize(("code", "http_status"), CONTRACT)
def test_every_contract_error_in_its_envelope(
    nemo_fake: Any, client: Client, code: int, http_status: int
) -> None:
    nemo_fake.fault("POST /api/tasks/*", error=code)
    answer = client.http.post("/api/tasks/me/with-session/nemo_agent", headers=client.auth(), json={})
    assert answer.status_code == http_status
    body = answer.json()
    assert set(body) == {"code", "message", "data"} and body["code"] == code and body["message"]
    assert ("Retry-After" in answer.headers) == (code == 429)
