"""Claim links: POST /api/auth/claim-token and the project page at /workspace/claim."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import httpx
from sqlmodel import Session, select

from agent.events import Event, EventActions
from server import session_store
from server.config import RenderSettings
from server.tables import ClaimToken
from tests.conftest import bearer
from tests.server.test_renders import tiny_draft


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
    assert (
        empty_claim["claim_token"].startswith("clm_") and empty_claim["expires_in"] == 604800
    )  # 7 days, as the official skill documents
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


def test_the_claim_url_is_absolute_and_keeps_the_path_prefix(
    client: httpx.Client, anon_token: Any, new_session: Any
) -> None:
    # Skills hand this link to a person as it is, like cdn_url and outputUrl: a full URL that works
    # through the same proxy prefix the client reached us by.
    token = anon_token(client)
    sid = new_session(client, token)
    for prefix in ("", "/some/prefix"):
        answer = client.post(
            f"{prefix}/api/auth/claim-token", headers=bearer(token), json={"session_id": sid}
        )
        claim = answer.json()["data"]
        assert claim["claim_url"] == f"{client.base_url}{prefix}/workspace/claim?ct={claim['claim_token']}"
        page = httpx.get(claim["claim_url"])
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


def test_the_claim_page_plays_the_latest_render_in_a_browser_without_a_token(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    # The page is for a person in a browser: its <video> and download link carry no bearer token,
    # so they must not point at the token-guarded download route.
    render = RenderSettings(workers=1, device="cpu", poll_seconds=0.05)
    client = make_client(make_app(make_settings(render=render), start_workers=True))
    token = anon_token(client)
    sid = new_session(client, token)
    body = {"id": "claimed_1", "sessionId": sid, "draft": tiny_draft(), "output": {"quality": "low"}}
    assert client.post("/api/render/proxy/lambda", headers=bearer(token), json=body).status_code == 200
    deadline = time.monotonic() + 120
    while (status := client.get("/api/render/proxy/lambda/claimed_1", headers=bearer(token)).json())[
        "status"
    ] != "completed":
        assert status["status"] in ("pending", "processing") and time.monotonic() < deadline, status
        time.sleep(0.1)
    mp4 = client.get(status["outputUrl"], headers=bearer(token)).content

    for prefix in ("", "/behind/a/proxy"):
        claim = client.post(
            f"{prefix}/api/auth/claim-token", headers=bearer(token), json={"session_id": sid}
        ).json()["data"]
        page = httpx.get(claim["claim_url"])
        assert page.status_code == 200
        sources = re.findall(r'<video[^>]* src="([^"]+)"', page.text)
        links = re.findall(r'<a href="([^"]+)"', page.text)
        assert len(sources) == 1 and links == sources
        video_url = page.url.join(html.unescape(sources[0]))
        assert str(video_url).startswith(f"{client.base_url}{prefix}/workspace/")
        video = httpx.get(video_url)  # what the browser does: no Authorization header
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert video.content == mp4
        ranged = httpx.get(video_url, headers={"Range": "bytes=0-99"})
        assert ranged.status_code == 206 and ranged.content == mp4[:100]

    refused = httpx.get(page.url.join("claim/video?ct=clm_unknown"))
    assert refused.status_code == 404
