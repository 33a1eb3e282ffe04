# ruff: noqa: E501  (the security.md -> test map is a wide table)
"""security.md, "Tokens, sessions, credits": every line, as a named test that can fail.

| security.md line                                    | test                                                        |
|-----------------------------------------------------|-------------------------------------------------------------|
| 32 random bytes, recognisable prefix                | test_tokens_carry_a_prefix_and_256_random_bits              |
| stored only as a keyed hash                         | server/test_auth::test_the_token_is_stored_only_as_a_keyed_hash |
| compared in constant time                           | test_a_token_one_character_off_is_1001 (auth.authenticate looks up by HMAC and |
|                                                     | re-compares with hmac.compare_digest; timing is never asserted) |
| never logged                                        | test_tokens_never_reach_the_logs_during_a_full_walk,        |
|                                                     | server/test_operations::test_each_request_is_logged_with_its_attribution_and_never_its_token |
| never put in URLs                                   | test_tokens_never_appear_in_urls                            |
| another user's token: 1002 on every route, exactly  | test_another_users_session_is_1002_on_every_route_like_a_missing_one |
| as for a missing session                            | (+ server/test_sessions_state, test_uploads, test_chat_sse, test_renders) |
| credits never negative with 50 concurrent turns     | test_fifty_concurrent_turns_on_one_token_never_overdraw (SQLite + PostgreSQL), |
| (conditional UPDATE)                                | server/test_credits::test_fifty_concurrent_holds_never_overdraw |
| a failed turn is refunded                           | server/test_chat_sse::test_an_error_mid_turn_ends_the_stream_with_a_system_event_and_refunds |
| total == available + frozen always                  | test_fifty_concurrent_turns_on_one_token_never_overdraw (sampled throughout) |
| rate limits (`limits`): requests per token, 429 +   | test_requests_per_token_past_the_limit_are_429_with_retry_after, |
| Retry-After                                         | test_the_per_token_limit_is_shared_between_processes_through_redis |
| anonymous tokens per IP                             | server/test_auth::test_new_client_ids_per_ip_are_limited_with_retry_after, |
|                                                     | test_the_ip_limit_survives_a_restart                        |
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from server.auth import TOKEN_PREFIX
from server.config import RenderSettings, Settings
from tests import media_factory as mf
from tests.conftest import bearer
from tests.server.test_chat_sse import _body, _photos, _wait_idle

ROOT = Path(__file__).resolve().parents[2]
TOKEN_RE = re.compile(r"nmv_usr_[A-Za-z0-9_-]{43}")


def test_tokens_carry_a_prefix_and_256_random_bits(
    client: httpx.Client, anon_token: Callable[..., str]
) -> None:
    tokens = [anon_token(client) for _ in range(8)]
    assert all(TOKEN_RE.fullmatch(t) for t in tokens), tokens
    assert len(set(tokens)) == len(tokens)
    # 43 base64url characters carry 258 bits; no two tokens share a long prefix of their body.
    bodies = [t[len(TOKEN_PREFIX) :] for t in tokens]
    assert max(len({b[:6] for b in bodies}), 0) == len(bodies)


def test_a_token_one_character_off_is_1001(client: httpx.Client, anon_token: Callable[..., str]) -> None:
    token = anon_token(client)
    assert client.get("/api/credits/balance/simple", headers=bearer(token)).status_code == 200
    for at in (len(TOKEN_PREFIX), len(token) // 2, len(token) - 1):
        swapped = "A" if token[at] != "A" else "B"
        forged = token[:at] + swapped + token[at + 1 :]
        answer = client.get("/api/credits/balance/simple", headers=bearer(forged))
        assert answer.status_code == 401 and answer.json()["code"] == 1001
    assert client.get("/api/credits/balance/simple", headers=bearer(token[:-1])).json()["code"] == 1001


def _walk(client: httpx.Client, token: str, sid: str, tmp_path: Path) -> list[httpx.Response]:
    """A client's whole journey: balance, state, upload, a chat turn, a render, its download."""
    h = bearer(token)
    answers = [client.get("/api/credits/balance/simple", headers=h)]
    answers.append(client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=h))
    photo = mf.png_tiny(tmp_path)
    answers.append(
        client.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            headers=h,
            files={"files": ("p.png", photo.read_bytes())},
        )
    )
    with client.stream("POST", "/run_sse", headers=h, json=_body(sid, "make a 2-second slideshow")) as stream:
        stream.read()
        answers.append(stream)
    answers.append(client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=h))
    src = answers[2].json()["data"]["files"][0]["cdn_url"]
    draft = {"d": 500, "m": {"width": 64, "height": 112, "fps": 5},
             "t": [{"id": "v", "tt": 0, "sg": [{"id": "p", "src": src, "st": 0, "d": 500}]}]}  # fmt: skip
    answers.append(
        client.post(
            "/api/render/proxy/lambda", headers=h, json={"id": "walk", "sessionId": sid, "draft": draft}
        )
    )
    deadline = time.monotonic() + 120
    while (status := client.get("/api/render/proxy/lambda/walk", headers=h)).json().get("status") not in (
        "completed", "failed", "cancelled"):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.2)
    answers.append(status)
    if status.json().get("outputUrl"):
        answers.append(client.get(status.json()["outputUrl"], headers=h))
    answers.append(client.post("/api/auth/claim-token", headers=h, json={"session_id": sid}))
    answers.append(client.get("/api/credits/balance/simple", headers=bearer(token[:-2] + "zz")))  # a bad one
    return answers


@pytest.fixture
def walker(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
) -> httpx.Client:
    settings = make_settings(render=RenderSettings(workers=1, device="cpu", poll_seconds=0.05))
    return make_client(make_app(settings, start_workers=True))


def test_tokens_never_reach_the_logs_during_a_full_walk(
    walker: httpx.Client,
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = anon_token(walker)
    sid = new_session(walker, token)
    answers = _walk(walker, token, sid, tmp_path)
    assert answers[-1].status_code == 401
    assert len(caplog.records) > 10  # the walk was logged
    body = token[len(TOKEN_PREFIX) :]
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''} {record.__dict__!r}"
        assert body not in text and body[:-2] not in text, record.getMessage()
        assert not TOKEN_RE.search(text), record.getMessage()


def test_tokens_never_appear_in_urls(
    walker: httpx.Client, anon_token: Callable[..., str], new_session: Callable[..., str], tmp_path: Path
) -> None:
    token = anon_token(walker)
    sid = new_session(walker, token)
    answers = _walk(walker, token, sid, tmp_path)
    for answer in answers:
        assert token not in str(answer.url)
        if answer.headers.get("content-type", "").startswith(("application/json", "text/event-stream")):
            text = answer.read().decode()
            urls = re.findall(r"(?:https?://|/)[^\s\"']*", text)
            assert not [u for u in urls if TOKEN_PREFIX in u or token[len(TOKEN_PREFIX) :] in u]
        assert token not in answer.headers.get("location", "")
    # No route takes a token in its path or query: the spec has no such parameter.
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    for path, item in spec["paths"].items():
        assert "token" not in path.lower() or path == "/api/auth/anonymous-token" or "claim" in path
        for op in item.values():
            for param in op.get("parameters", []):
                if param["in"] in ("query", "path"):
                    assert "token" not in param["name"].lower() and param["name"] != "authorization", (
                        path,
                        param,
                    )
    # And a token offered in the query string is not accepted.
    answer = walker.get(f"/api/credits/balance/simple?token={token}")
    assert answer.status_code == 401


def test_another_users_session_is_1002_on_every_route_like_a_missing_one(
    walker: httpx.Client, anon_token: Callable[..., str], new_session: Callable[..., str], tmp_path: Path
) -> None:
    alice, bob = anon_token(walker), anon_token(walker)
    sid = new_session(walker, alice)
    missing = "1234567890123456789"
    photo = mf.png_tiny(tmp_path).read_bytes()
    draft = {"d": 500, "m": {"width": 64, "height": 112, "fps": 5}, "t": []}

    def calls(session: str) -> list[httpx.Response]:
        h = bearer(bob)
        return [
            walker.get(f"/api/state/nemo_agent/me/{session}/latest", headers=h),
            walker.get(f"/api/state/nemo_agent/me/{session}/1", headers=h),
            walker.post(
                f"/api/upload-video/nemo_agent/me/{session}", headers=h, files={"files": ("p.png", photo)}
            ),
            walker.post(
                f"/api/upload-video/nemo_agent/me/{session}", headers=h, json={"urls": ["https://a.b/c.jpg"]}
            ),
            walker.post("/run_sse", headers=h, json=_body(session)),
            walker.post(
                "/api/render/proxy/lambda",
                headers=h,
                json={"id": f"r{uuid.uuid4().hex[:8]}", "sessionId": session, "draft": draft},
            ),
            walker.post("/api/auth/claim-token", headers=h, json={"session_id": session}),
        ]

    for foreign, absent in zip(calls(sid), calls(missing), strict=True):
        assert foreign.status_code == 404, (foreign.request.url, foreign.text)
        assert foreign.json() == absent.json() == {
            "code": 1002, "message": "session not found; create a new session", "data": {}}  # fmt: skip
    state = walker.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(alice)).json()["data"]
    assert state["version"] == 0 or state["state"]["video_infos"] == []


@pytest.mark.all_dbs
def test_fifty_concurrent_turns_on_one_token_never_overdraw(
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
) -> None:
    app = make_app()
    client = make_client(app)
    token = anon_token(client)
    sessions = [new_session(client, token) for _ in range(50)]
    for sid in sessions:
        _photos(app, sid)
    balances: list[dict[str, int]] = []
    stop = threading.Event()

    def watch() -> None:
        with httpx.Client(base_url=client.base_url, timeout=60) as own:
            while not stop.is_set():
                balances.append(own.get("/api/credits/balance/simple", headers=bearer(token)).json()["data"])

    results: list[tuple[int, str]] = []

    def turn(sid: str) -> None:
        with (
            httpx.Client(base_url=client.base_url, timeout=120) as own,
            own.stream("POST", "/run_sse", headers=bearer(token), json=_body(sid)) as answer,
        ):
            text = answer.read().decode()
            results.append((answer.status_code, text))

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=turn, args=(sid,)) for sid in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _wait_idle(app)
    stop.set()
    watcher.join()
    final = client.get("/api/credits/balance/simple", headers=bearer(token)).json()["data"]
    balances.append(final)
    assert all(b["available"] >= 0 and b["frozen"] >= 0 for b in balances)
    assert all(b["total"] == b["available"] + b["frozen"] for b in balances)
    ran = [text for status, text in results if status == 200]
    refused = [json.loads(text) for status, text in results if status == 402]
    assert len(ran) == 20 and len(refused) == 30  # 100 credits, 5 a turn
    assert all(r["code"] == 2001 for r in refused)
    assert final == {"available": 0, "frozen": 0, "total": 0}


def _limited(
    make_settings: Callable[..., Settings], make_app: Callable[..., Any], make_client: Callable[[Any], httpx.Client],
    **settings: Any,
) -> httpx.Client:  # fmt: skip
    return make_client(make_app(make_settings(**settings)))


def test_requests_per_token_past_the_limit_are_429_with_retry_after(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    anon_token: Callable[..., str],
    new_session: Callable[..., str],
    tmp_path: Path,
) -> None:
    client = _limited(make_settings, make_app, make_client, rate_limit_per_token="6/minute")
    token, other = anon_token(client), anon_token(client)
    sid = new_session(client, token)  # 1
    for _ in range(5):  # 2..6
        assert client.get("/api/credits/balance/simple", headers=bearer(token)).status_code == 200
    for refused in (
        client.get("/api/credits/balance/simple", headers=bearer(token)),
        client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)),
        client.post(
            f"/api/upload-video/nemo_agent/me/{sid}",
            headers=bearer(token),
            files={"files": ("p.png", mf.png_tiny(tmp_path).read_bytes())},
        ),
        client.post("/run_sse", headers=bearer(token), json=_body(sid)),
    ):
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == 429 and "too many requests" in refused.json()["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/api/credits/balance/simple", headers=bearer(other)).status_code == 200
    # The anonymous-token call itself is not a token's request: the client can still get its token back.
    assert client.get("/healthz").status_code == 200


def test_the_per_token_limit_is_shared_between_processes_through_redis(
    make_settings: Callable[..., Settings],
    make_app: Callable[..., Any],
    make_client: Callable[[Any], httpx.Client],
    anon_token: Callable[..., str],
    tmp_path: Path,
) -> None:
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379", socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    shared = {"rate_limit_per_token": "4/minute", "rate_limit_storage": "redis://127.0.0.1:6379"}
    first = _limited(make_settings, make_app, make_client, **shared)
    second = _limited(make_settings, make_app, make_client, **shared)  # same database, another app
    token = anon_token(first)
    statuses = [
        c.get("/api/credits/balance/simple", headers=bearer(token)).status_code
        for c in (first, second, first, second, first, second)
    ]
    assert statuses == [200, 200, 200, 200, 429, 429]
    keys = redis.Redis.from_url("redis://127.0.0.1:6379").keys("*")
    assert not [k for k in keys if token.encode() in k or token[len(TOKEN_PREFIX) :].encode() in k]
