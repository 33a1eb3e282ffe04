"""Claim links: POST /api/auth/claim-token and the project page at /workspace/claim."""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import Session, select

from agent.events import Event, EventActions
from server import session_store
from server.tables import ClaimToken
from tests.conftest import bearer


def _claim(client: httpx.Client, token: str, sid: str, task_id: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"session_id": sid}
    if task_id:
        body["task_id"] = task_id
    return client.post("/api/auth/claim-token", headers=bearer(token), json=body)


def test_a_claim_link_opens_the_project_with_its_latest_render(
    client: httpx.Client, app: Any, anon_token: Any
) -> None:
    token = anon_token(client)
    created = client.post(
        "/api/tasks/me/with-session/nemo_agent", headers=bearer(token), json={"task_name": "Beach <trip>"}
    ).json()["data"]
    sid = created["session_id"]
    empty_claim = _claim(client, token, sid, created["task_id"]).json()["data"]
    assert empty_claim["claim_token"].startswith("clm_") and empty_claim["expires_in"] == 86400
    page = client.get("/workspace/claim", params={"ct": empty_claim["claim_token"]})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Beach &lt;trip&gt;" in page.text and "No export yet" in page.text

    render = {
        "type": "render",
        "url": "http://127.0.0.1/r/render_1.mp4",
        "created_at": "2026-01-01T00:00:00Z",
    }
    session_store.append_event(
        app.state.ctx.engine,
        sid,
        Event(
            invocation_id="e-x",
            author="nemo_agent",
            actions=EventActions(state_delta={"generated_media": [render]}),
        ),
    )
    claim = _claim(client, token, sid).json()["data"]
    page = client.get(claim["claim_url"])
    assert page.status_code == 200 and 'src="http://127.0.0.1/r/render_1.mp4"' in page.text
    with Session(app.state.ctx.engine) as db:
        stored = db.exec(select(ClaimToken.token_hash)).all()
    assert len(stored) == 2 and claim["claim_token"] not in stored


def test_unknown_or_foreign_claims_are_refused(
    client: httpx.Client, anon_token: Any, new_session: Any
) -> None:
    alice, bob = anon_token(client, "alice"), anon_token(client, "bob")
    sid = new_session(client, alice)
    for answer in (_claim(client, bob, sid), _claim(client, alice, sid, "task_wrong")):
        assert answer.status_code == 404 and answer.json()["code"] == 1002
    for ct in ("clm_unknown", "nope", ""):
        page = client.get("/workspace/claim", params={"ct": ct})
        assert page.status_code == 404 and "invalid or has expired" in page.text
