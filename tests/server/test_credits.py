"""Credits: holds, settlement and refunds happen once and never push a balance below zero."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from server import credits
from server.errors import ApiError, ErrorCode
from server.tables import User

pytestmark = pytest.mark.all_dbs


def _user(engine: Engine, available: int, *, anonymous: bool = True) -> str:
    from database.engine import transaction

    user_id = "anon_" + secrets.token_hex(8)
    with transaction(engine) as db:
        db.add(User(id=user_id, anonymous=anonymous, credits_available=available))
    return user_id


def _assert_balance(engine: Engine, user_id: str, available: int, frozen: int) -> None:
    assert credits.balance(engine, user_id) == credits.Balance(
        available=available, frozen=frozen, total=available + frozen
    )


def test_a_hold_freezes_and_settling_spends_it_once(engine: Engine) -> None:
    user = _user(engine, 100)
    hold = credits.hold(engine, user, 5, None)
    _assert_balance(engine, user, 95, 5)
    assert credits.settle(engine, hold) is True
    _assert_balance(engine, user, 95, 0)
    # A second settle or a late refund moves nothing.
    assert credits.settle(engine, hold) is False
    assert credits.refund(engine, hold) is False
    _assert_balance(engine, user, 95, 0)


def test_a_refund_gives_the_hold_back_once(engine: Engine) -> None:
    user = _user(engine, 10)
    hold = credits.hold(engine, user, 7, None)
    _assert_balance(engine, user, 3, 7)
    assert credits.refund(engine, hold) is True
    assert credits.refund(engine, hold) is False
    assert credits.settle(engine, hold) is False
    _assert_balance(engine, user, 10, 0)


def test_not_enough_credits_is_2001_with_bind_url_for_anonymous_users(engine: Engine) -> None:
    anon = _user(engine, 4)
    with pytest.raises(ApiError) as refused:
        credits.hold(engine, anon, 5, None, bind_url="https://example.test/bind")
    assert refused.value.code == ErrorCode.INSUFFICIENT_CREDITS
    assert refused.value.data == {"required": 5, "available": 4, "bind_url": "https://example.test/bind"}
    registered = _user(engine, 0, anonymous=False)
    with pytest.raises(ApiError) as refused_registered:
        credits.hold(engine, registered, 5, None, bind_url="https://example.test/bind")
    assert "bind_url" not in (refused_registered.value.data or {})
    _assert_balance(engine, anon, 4, 0)


def test_fifty_concurrent_holds_never_overdraw(engine: Engine) -> None:
    user = _user(engine, 100)

    def try_hold(_: int) -> str | None:
        try:
            return credits.hold(engine, user, 3, None)
        except ApiError:
            return None

    with ThreadPoolExecutor(max_workers=16) as pool:
        holds = list(pool.map(try_hold, range(50)))
    granted = [h for h in holds if h is not None]
    assert len(granted) == 33  # 33 * 3 = 99 <= 100 < 34 * 3
    _assert_balance(engine, user, 1, 99)

    # Settle and refund them all at once, twice each: every hold closes exactly once.
    half = len(granted) // 2
    jobs = [(credits.settle, h) for h in granted[:half]] * 2 + [
        (credits.refund, h) for h in granted[half:]
    ] * 2
    with ThreadPoolExecutor(max_workers=16) as pool:
        closed = list(pool.map(lambda job: job[0](engine, job[1]), jobs))
    assert sum(closed) == len(granted)
    refunded = (len(granted) - half) * 3
    _assert_balance(engine, user, 1 + refunded, 0)


def test_stale_holds_of_dead_turns_are_refunded(engine: Engine) -> None:
    user = _user(engine, 20)
    hold = credits.hold(engine, user, 5, None)
    assert credits.refund_stale(engine, timedelta(minutes=16)) == 0  # a live turn's hold stays
    later = datetime.now(UTC) + timedelta(minutes=17)
    assert credits.refund_stale(engine, timedelta(minutes=16), now=later) == 1
    assert credits.settle(engine, hold) is False
    _assert_balance(engine, user, 20, 0)


def test_the_balance_route_shows_what_running_turns_hold(client: httpx.Client, app: Any) -> None:
    data = client.post("/api/auth/anonymous-token", headers={"X-Client-Id": "balance"}).json()["data"]
    headers = {"Authorization": f"Bearer {data['token']}"}
    body = client.get("/api/credits/balance/simple", headers=headers).json()
    assert body == {"code": 0, "message": "success", "data": {"available": 100, "frozen": 0, "total": 100}}
    credits.hold(app.state.ctx.engine, data["user_id"], 5, None)
    held = client.get("/api/credits/balance/simple", headers=headers).json()["data"]
    assert held == {"available": 95, "frozen": 5, "total": 100}
