# ruff: noqa: E501  (the finding -> test map is a wide table)
"""Hardening II (issue 14): each finding of the attack-and-fault pass, as a named test that failed
before its fix. The long fault loops (kills, a full disk, a corrupt database) are in
tests/security/test_fault_loops.py (`make soak` runs them at full count).

| finding                                             | test                                                        |
|-----------------------------------------------------|-------------------------------------------------------------|
| 1. account takeover by X-Client-Id                  | test_a_client_id_sent_from_elsewhere_never_gets_the_owners_token, |
|                                                     | test_the_owner_keeps_its_token_from_a_new_address_by_presenting_it |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import bearer


def _from_address(client: httpx.Client, address: str) -> httpx.Client:
    """A client of the same server whose connections come from another loopback address: another
    caller, as far as the server can tell (Linux answers all of 127.0.0.0/8)."""
    return httpx.Client(
        base_url=client.base_url, timeout=60, transport=httpx.HTTPTransport(local_address=address)
    )


def _token_call(http: httpx.Client, client_id: str, token: str | None = None) -> dict[str, Any]:
    headers = {"X-Client-Id": client_id, **(bearer(token) if token else {})}
    answer = http.post("/api/auth/anonymous-token", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["data"])


# ------------------------------------------------------------------ 1. client ids are not secrets


def test_a_client_id_sent_from_elsewhere_never_gets_the_owners_token(
    client: httpx.Client, new_session: Callable[..., str]
) -> None:
    owner = _token_call(client, "my-laptop")
    sid = new_session(client, owner["token"])
    with _from_address(client, "127.0.0.2") as attacker:
        stolen = _token_call(attacker, "my-laptop")
        assert stolen["token"] != owner["token"] and stolen["user_id"] != owner["user_id"]
        # The attacker's token opens none of the owner's things.
        state = attacker.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(stolen["token"]))
        assert state.json()["code"] == 1002
        # Asking again from there is idempotent for the attacker's own account, nothing more.
        assert _token_call(attacker, "my-laptop")["token"] == stolen["token"]
    # The owner, calling again from its address, still gets its own token (the contract's promise).
    assert _token_call(client, "my-laptop") == owner


def test_the_owner_keeps_its_token_from_a_new_address_by_presenting_it(client: httpx.Client) -> None:
    owner = _token_call(client, "roaming-laptop")
    with _from_address(client, "127.0.0.3") as elsewhere:
        again = _token_call(elsewhere, "roaming-laptop", token=owner["token"])
        assert again["token"] == owner["token"] and again["user_id"] == owner["user_id"]
        # A token of another client id proves nothing about this one.
        other = _token_call(client, "another-id")
        foreign = _token_call(elsewhere, "roaming-laptop-2", token=other["token"])
        assert foreign["user_id"] not in (owner["user_id"], other["user_id"])
