"""The official CLI's gateway over real HTTP (server/gateway): each route's answer as the CLI's
source reads it, its refusals, and the mapping of projects onto our tasks and sessions."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import bearer, create_session, get_anon_token
from tests.server.gateway_client import Gateway, photos
from tests.server.test_renders import tiny_draft

SLIDESHOW = "turn my photos into a 6 second slideshow"


@pytest.fixture
def gateway(client: httpx.Client) -> Gateway:
    return Gateway(client, get_anon_token(client))


def _error(answer: httpx.Response, status: int, code: int) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["code"] == code, body
    return str(body["message"])


# ---- auth ----------------------------------------------------------------------------------------


def test_verify_names_the_keys_user_and_refuses_others_with_401(client: httpx.Client) -> None:
    key = get_anon_token(client, "verify-me")
    answer = client.post("/auth/verify", json={"token": key})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["valid"] is True and data["user_id"].startswith("anon_") and data["anonymous"] is True
    assert data["expires_at"].endswith("Z")
    # The CLI sends the key in the header as well; the header alone is enough.
    assert client.post("/auth/verify", headers=bearer(key)).json()["data"]["user_id"] == data["user_id"]
    unknown = "nmv_usr_" + "A" * 43
    # 401 is what the CLI takes for an auth error (it checks the status beside its 1010/1011).
    assert "unknown token" in _error(client.post("/auth/verify", json={"token": unknown}), 401, 1001)
    _error(client.post("/auth/verify", json={}), 401, 1001)
    _error(client.get("/billing/balance", headers=bearer(unknown)), 401, 1001)


# ---- projects ------------------------------------------------------------------------------------


@pytest.mark.all_dbs
def test_projects_are_our_tasks_and_their_one_session(gateway: Gateway, client: httpx.Client) -> None:
    first, first_session = gateway.new_project()
    assert first.startswith("task_") and first_session.isdigit()
    # A session a skill made is a project here, and a project the CLI made is a session there.
    skill_session = create_session(client, gateway.key, task_name="from the skill")
    state = client.get(f"/api/state/nemo_agent/me/{first_session}/latest", headers=gateway.auth)
    assert state.json()["data"]["task_id"] == first

    listed = gateway.get("/projects").json()["data"]
    assert listed["total"] == 2
    names = {p["project_id"]: p["name"] for p in listed["projects"]}
    assert names[first] == "project" and "from the skill" in names.values()
    skill_project = next(pid for pid, name in names.items() if name == "from the skill")
    sessions = gateway.get(f"/projects/{skill_project}/sessions").json()["data"]["sessions"]
    assert [s["session_id"] for s in sessions] == [skill_session]

    one = gateway.get(f"/projects/{first}").json()["data"]
    assert one["project_id"] == first and one["created_at"].endswith("Z") and one["updated_at"]
    page = gateway.get("/projects", params={"page_size": 1, "page_no": 2}).json()["data"]
    assert len(page["projects"]) == 1 and page["total"] == 2


def test_another_users_project_is_not_found(gateway: Gateway, client: httpx.Client, tmp_path: Path) -> None:
    project, session = gateway.new_project()
    stranger = Gateway(client, get_anon_token(client))
    for path in (
        f"/projects/{project}",
        f"/projects/{project}/sessions",
        f"/api/v1/state/frontend/{project}",
        "/projects/task_000000000000000000000000",
    ):
        assert "nemovideo project list" in _error(stranger.get(path), 404, 1002), path
    assert stranger.get("/projects").json()["data"]["projects"] == []
    _error(stranger.upload(photos(tmp_path, 1)[0], session), 404, 1002)


def test_frontend_state_is_empty_then_holds_uploads_and_the_draft(gateway: Gateway, tmp_path: Path) -> None:
    project, session = gateway.new_project()
    empty = gateway.get(f"/api/v1/state/frontend/{project}").json()["data"]
    # `nemovideo project get` prints "State: empty" for an empty `project`.
    assert empty["project"] == {} and empty["session_id"] == session

    for photo in photos(tmp_path):
        uploaded = gateway.upload(photo, session)
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.json()["data"]["files"][0]["filename"] == photo.name
    with_media = gateway.get(f"/api/v1/state/frontend/{project}").json()["data"]["project"]
    assert [f["filename"] for f in with_media["video_infos"]] == ["photo0.jpg", "photo1.jpg"]
    assert "timeline_draft" not in with_media

    said = gateway.chat(session, SLIDESHOW)
    assert said[-1] == {"type": "done", "session_id": session, "ok": True}
    state = gateway.get(f"/api/v1/state/frontend/{project}").json()["data"]
    draft = state["project"]["timeline_draft"]
    assert draft["d"] == 6000 and draft["t"]  # what the CLI's export checks before rendering
    skill_view = gateway.get(f"/api/state/nemo_agent/me/{session}/latest").json()["data"]
    assert skill_view["state"]["draft"] == draft and skill_view["version"] == state["version"]


# ---- uploads -------------------------------------------------------------------------------------


def test_upload_refusals_name_what_to_fix(gateway: Gateway, tmp_path: Path) -> None:
    _project, session = gateway.new_project()
    photo = photos(tmp_path, 1)[0]
    no_session = gateway.post(
        "/files/upload", files=[("file", (photo.name, photo.read_bytes(), "image/jpeg"))]
    )
    assert "session_id" in _error(no_session, 400, 400)
    assert "multipart" in _error(gateway.post("/files/upload", json={"session_id": session}), 400, 400)
    text = tmp_path / "notes.jpg"
    text.write_text("not a photo at all\n" * 20)
    _error(gateway.upload(text, session), 415, 4001)
    # Plain fields are kept (the session is one), but not without end.
    padding = {f"note{i}": "x" * 1024 for i in range(100)}
    piled = gateway.post("/files/upload", files=[("file", (photo.name, photo.read_bytes(), "image/jpeg"))],
                         data={"session_id": session, **padding})  # fmt: skip
    assert "too many form fields" in _error(piled, 400, 400)
    # Nothing was added by the refused uploads.
    frontend = gateway.get(f"/api/v1/state/frontend/{_project}").json()["data"]
    assert frontend["project"] == {}


# ---- billing -------------------------------------------------------------------------------------


@pytest.mark.all_dbs
def test_balance_and_history_count_each_charged_turn(
    make_settings: Callable[..., Any],
    make_app: Callable[..., FastAPI],
    make_client: Callable[[FastAPI], httpx.Client],
    tmp_path: Path,
) -> None:
    client = make_client(make_app(make_settings(turn_cost=7, anon_credits=50)))
    gateway = Gateway(client, get_anon_token(client))
    before = gateway.get("/billing/balance").json()["data"]
    assert before == {"available": 50, "frozen": 0, "total": 50, "total_consumed": 0}
    history = gateway.get("/billing/usage/conversations").json()["data"]
    assert [(i["kind"], i["amount_delta"], i["grant"]["source"]) for i in history["items"]] == [
        ("grant", 50, "welcome")
    ]

    project, session = gateway.new_project()
    for photo in photos(tmp_path):
        gateway.upload(photo, session)
    gateway.chat(session, SLIDESHOW)
    after = gateway.get("/billing/balance").json()["data"]
    assert after == {"available": 43, "frozen": 0, "total": 43, "total_consumed": 7}

    history = gateway.get("/billing/usage/conversations").json()["data"]
    assert history["total"] == 2 and history["has_next"] is False
    turn, grant = history["items"]
    assert turn["kind"] == "conversation" and turn["amount_delta"] == -7
    conversation = turn["conversation"]
    assert conversation["project_id"] == project and conversation["session_id"] == session
    assert conversation["user_message"] == SLIDESHOW and conversation["conversation_id"].startswith("e-")
    assert conversation["tool_breakdown"] and all(t["count"] >= 1 for t in conversation["tool_breakdown"])
    assert grant["kind"] == "grant" and grant["amount_delta"] == 50  # 43 left + 7 spent

    first = gateway.get("/billing/usage/conversations", params={"page_size": 1}).json()["data"]
    assert (
        first["total_pages"] == 2
        and first["has_next"] is True
        and first["items"][0]["kind"] == "conversation"
    )
    second = gateway.get("/billing/usage/conversations", params={"page_size": 1, "page_no": 2}).json()["data"]
    assert [i["kind"] for i in second["items"]] == ["grant"] and second["has_next"] is False
    old = gateway.get("/billing/usage/conversations", params={"end_date": "2020-01-01"}).json()["data"]
    assert old["items"] == [] and old["total"] == 0
    bad = gateway.get("/billing/usage/conversations", params={"start_date": "yesterday"})
    assert "YYYY-MM-DD" in _error(bad, 400, 400)


# ---- renders -------------------------------------------------------------------------------------


def test_render_proxy_under_the_cli_paths_and_the_download_link(
    make_app: Callable[..., FastAPI], make_client: Callable[[FastAPI], httpx.Client]
) -> None:
    client = make_client(make_app(start_workers=True))
    gateway = Gateway(client, get_anon_token(client))
    project, session = gateway.new_project()
    nothing = gateway.get(f"/services/v1/render-proxy/{project}/download").json()["data"]
    assert nothing == {"project_id": project, "render_id": None, "output": None}  # "No rendered video found"

    # The CLI's own body: codec and crf beside the format.
    body = {"id": "draft-cli-1", "draft": tiny_draft(), "sessionId": session,
            "output": {"format": "mp4", "codec": "h264", "crf": 23}}  # fmt: skip
    submitted = gateway.post("/services/v1/render-proxy/lambda", json=body)
    assert submitted.status_code == 200, submitted.text
    deadline = time.monotonic() + 120
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = gateway.get("/services/v1/render-proxy/lambda/draft-cli-1").json()
        if status["data"]["status"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert status["data"]["status"] == "completed", status
    assert status["data"]["outputUrl"]  # what the CLI's poll reads, under `data`

    for asked in (project, "draft-cli-1"):
        latest = gateway.get(f"/services/v1/render-proxy/{asked}/download").json()["data"]
        assert latest["render_id"] == "draft-cli-1"
        video = httpx.get(latest["output"]["url"])  # the CLI downloads without its key
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        assert len(video.content) == latest["output"]["size"]
    missing = gateway.get("/services/v1/render-proxy/task_000000000000000000000000/download")
    assert "nemovideo project list" in _error(missing, 404, 4004)


def test_gateway_routes_answer_under_a_path_prefix(gateway: Gateway) -> None:
    project, _session = gateway.new_project()
    answer = gateway.get(f"/nemo/gw/projects/{project}")
    assert answer.status_code == 200 and answer.json()["data"]["project_id"] == project
    assert gateway.get("/nemo/gw/billing/balance").json()["data"]["available"] == 100
