"""POST /api/auth/anonymous-token and the bearer check every other route relies on (code 1001)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from server.auth import TOKEN_PREFIX, hash_token, issue_anonymous
from server.tables import Token

pytestmark = pytest.mark.all_dbs

TOKEN_URL = "/api/auth/anonymous-token"


def _token_call(client: httpx.Client, client_id: str | None) -> httpx.Response:
    headers = {} if client_id is None else {"X-Client-Id": client_id}
    return client.post(TOKEN_URL, headers=headers)


def _assert_error(answer: httpx.Response, status: int, code: int, words: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code
    assert words in body["message"]
    return body


def test_a_new_client_gets_a_token_a_user_and_the_default_credits(client: httpx.Client) -> None:
    answer = _token_call(client, "client-a")
    assert answer.status_code == 200
    body = answer.json()
    assert body["code"] == 0 and body["message"] == "success"
    data = body["data"]
    assert data["token"].startswith(TOKEN_PREFIX) and len(data["token"]) == len(TOKEN_PREFIX) + 43
    assert data["user_id"].startswith("anon_") and int(data["user_id"][5:], 16) >= 0
    assert data["credits"] == 100
    expires = datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert expires.tzinfo is not None and data["expires_at"].endswith("Z")
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)


def test_the_same_client_id_gets_the_same_token_back(client: httpx.Client) -> None:
    first = _token_call(client, "same-client").json()["data"]
    again = _token_call(client, "same-client").json()["data"]
    assert again == first
    other = _token_call(client, "other-client").json()["data"]
    assert other["token"] != first["token"] and other["user_id"] != first["user_id"]


def test_the_token_is_stored_only_as_a_keyed_hash(client: httpx.Client, app: Any) -> None:
    token = _token_call(client, "hash-check").json()["data"]["token"]
    ctx = app.state.ctx
    with Session(ctx.engine) as db:
        rows = db.exec(select(Token)).all()
    assert [row.token_hash for row in rows] == [hash_token(ctx.secret, token)]
    assert all(token not in (row.token_hash, row.nonce) for row in rows)


def test_after_expiry_the_same_client_gets_a_new_token_for_the_same_user(app: Any) -> None:
    ctx = app.state.ctx
    kwargs: dict[str, Any] = {
        "client_id": "expiring",
        "ip": "10.0.0.1",
        "credits": 100,
        "ttl": timedelta(days=7),
        "per_ip": 10,
    }
    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    first = issue_anonymous(ctx.engine, ctx.secret, now=t0, **kwargs)
    within = issue_anonymous(ctx.engine, ctx.secret, now=t0 + timedelta(days=6), **kwargs)
    after = issue_anonymous(ctx.engine, ctx.secret, now=t0 + timedelta(days=8), **kwargs)
    assert within.token == first.token
    assert after.token != first.token
    assert after.user_id == first.user_id and after.credits == first.credits
    assert after.expires_at == (t0 + timedelta(days=15)).replace(microsecond=0)


@pytest.mark.parametrize("client_id", [None, "", "x" * 65])
def test_missing_or_oversized_client_id_is_400(client: httpx.Client, client_id: str | None) -> None:
    _assert_error(_token_call(client, client_id), 400, 400, "X-Client-Id")


def test_new_client_ids_per_ip_are_limited_with_retry_after(
    make_settings: Any, make_app: Any, make_client: Any
) -> None:
    client = make_client(make_app(make_settings(anon_tokens_per_ip=3)))
    for i in range(3):
        assert _token_call(client, f"ip-client-{i}").status_code == 200
    refused = _token_call(client, "ip-client-3")
    _assert_error(refused, 429, 429, "too many new client ids")
    retry_after = int(refused.headers["Retry-After"])
    assert 0 < retry_after <= 7 * 24 * 3600
    # Known client ids are not new: they still get their token back.
    assert _token_call(client, "ip-client-0").status_code == 200


def test_the_ip_limit_survives_a_restart(make_settings: Any, make_app: Any, make_client: Any) -> None:
    settings = make_settings(anon_tokens_per_ip=1)
    assert _token_call(make_client(make_app(settings)), "first").status_code == 200
    restarted = make_client(make_app(settings))
    _assert_error(_token_call(restarted, "second"), 429, 429, "too many")


@pytest.mark.parametrize(
    ("authorization", "words"),
    [
        (None, "missing Authorization"),
        ("Basic abc", "malformed token"),
        ("Bearer not-a-token", "malformed token"),
        ("Bearer " + TOKEN_PREFIX + "A" * 43, "unknown token"),
    ],
)
def test_missing_malformed_or_unknown_tokens_are_1001(
    client: httpx.Client, authorization: str | None, words: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = client.get("/api/credits/balance/simple", headers=headers)
    _assert_error(answer, 401, 1001, words)


def test_an_expired_token_is_1001(app: Any, client: httpx.Client) -> None:
    ctx = app.state.ctx
    issued = issue_anonymous(
        ctx.engine,
        ctx.secret,
        client_id="old",
        ip="10.0.0.2",
        credits=100,
        ttl=timedelta(days=7),
        per_ip=10,
        now=datetime.now(UTC) - timedelta(days=8),
    )
    answer = client.get("/api/credits/balance/simple", headers={"Authorization": f"Bearer {issued.token}"})
    _assert_error(answer, 401, 1001, "token expired")


def test_concurrent_first_calls_of_one_client_make_one_user(client: httpx.Client, app: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _token_call(client, "racing-client").json()["data"], range(8)))
    assert len({a["token"] for a in answers}) == 1 and len({a["user_id"] for a in answers}) == 1
    with Session(app.state.ctx.engine) as db:
        assert len(db.exec(select(Token).where(Token.client_id == "racing-client")).all()) == 1
