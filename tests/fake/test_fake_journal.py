"""The journal (what the client sent), reset, determinism from a seed, and /_fake outside fake mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_client import SKILL_HEADERS, Client, photo

from server.testing import start_fake, stop_fake


def test_the_journal_shows_attribution_headers_and_never_the_token(nemo_fake: Any, client: Client) -> None:
    session = client.new_session()
    client.upload_photos(session, 2)
    client.run(session, "make a slideshow")

    sent = nemo_fake.requests()
    assert [(r["method"], r["route_path"]) for r in sent] == [
        ("POST", "/api/auth/anonymous-token"),
        ("POST", "/api/tasks/me/with-session/nemo_agent"),
        ("POST", f"/api/upload-video/nemo_agent/me/{session}"),
        ("POST", "/run_sse"),
    ]
    for entry in sent:
        for name, value in SKILL_HEADERS.items():
            assert entry["headers"][name.lower()] == value
        assert "authorization" not in entry["headers"]
        assert client.token not in repr(entry)

    upload = sent[2]["body"]
    assert upload["kind"] == "multipart" and upload["complete"]
    assert [(f["filename"], f["size"]) for f in upload["files"]] == [
        ("photo_0.jpg", len(photo(0))),
        ("photo_1.jpg", len(photo(1))),
    ]
    turn = sent[3]
    assert turn["body"]["keys"] == ["app_name", "new_message", "session_id", "user_id"]
    assert (turn["session_id"], turn["status"]) == (session, 200)


def test_a_client_that_forgets_the_headers_shows_up_in_the_journal(nemo_fake: Any) -> None:
    with httpx.Client(base_url=nemo_fake.base_url) as bare:
        bare.post("/api/auth/anonymous-token", headers={"X-Client-Id": "forgetful"})
    (entry,) = nemo_fake.requests(path="/api/auth/anonymous-token")
    assert not any(name.startswith("x-skill-") for name in entry["headers"])


def test_reset_clears_journal_and_faults_and_optionally_data(nemo_fake: Any, client: Client) -> None:
    session = client.new_session()
    nemo_fake.fault("GET /api/state/*", error=1002)
    nemo_fake.reset()
    assert nemo_fake.requests() == [] and nemo_fake.faults() == []
    assert client.state(session).status_code == 200  # data kept

    nemo_fake.reset(data=True)
    assert client.balance().json()["code"] == 1001  # every user is gone
    client.get_token()
    assert client.state(session).json()["code"] == 1002


def _script(base_url: str) -> list[Any]:
    """One client run; everything id- or time-like that came back."""
    client = Client(base_url)
    client.client_id = "determinism"
    token = client.get_token()
    session = client.new_session()
    files = client.upload_photos(session, 1).json()["data"]["files"]
    turn = client.run(session, "make a slideshow")
    task = client.state(session).json()["data"]["task_id"]
    client.http.close()
    events = [(e["id"], e["invocationId"], e["timestamp"]) for e in turn.events]
    return [token, session, task, files[0]["media_id"], events]


def test_the_same_seed_gives_the_same_ids_on_two_fresh_servers(nemo_fake: Any, tmp_path: Path) -> None:
    first = _script(nemo_fake.base_url)
    second_fake, server = start_fake(tmp_path / "second")
    try:
        second = _script(second_fake.base_url)
    finally:
        stop_fake(second_fake, server)
    assert first == second
    token, session, task, media_id, events = first
    assert token["token"].startswith("nmv_usr_") and len(token["token"]) == 51
    assert token["user_id"].startswith("anon_") and token["expires_at"] == "2026-03-27T09:46:40Z"
    assert session.isdigit() and len(session) == 19
    assert task.startswith("task_") and media_id.startswith("media_")
    assert events and all(e[1].startswith("e-") and len(e[0]) == 8 for e in events)


def test_another_seed_gives_other_ids(nemo_fake: Any, tmp_path: Path) -> None:
    first = _script(nemo_fake.base_url)
    other_fake, server = start_fake(tmp_path / "other", fake={"seed": 2})
    try:
        other = _script(other_fake.base_url)
    finally:
        stop_fake(other_fake, server)
    assert first[0]["token"] != other[0]["token"] and first[1] != other[1]


@pytest.mark.parametrize("nemo_fake_settings", [{"mode": "normal"}])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_fake/faults"),
        ("POST", "/_fake/faults"),
        ("GET", "/_fake/requests"),
        ("POST", "/_fake/reset"),
    ],
)
def test_fake_routes_are_404_outside_fake_mode(nemo_fake: Any, method: str, path: str) -> None:
    with httpx.Client(base_url=nemo_fake.base_url) as http:
        answer = http.request(method, path, json={"route": "POST /run_sse", "error": 1002})
        assert answer.status_code == 404
        assert http.get("/healthz").status_code == 200
