"""Sessions and their state: creation, versions, ownership (1002), and the one writer of state."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agent.events import Content, Event, EventActions, Part, text_event
from agent.state import MediaFile
from server import session_store
from server.errors import ApiError, ErrorCode
from server.tables import StateVersion, User
from tests.conftest import bearer

pytestmark = pytest.mark.all_dbs

DRAFT = {
    "d": 3000,
    "m": {"title": "Summer", "width": 1080, "height": 1920, "fps": 30},
    "t": [
        {"id": "x1", "tt": 7, "sg": [{"id": "s1", "st": 0, "d": 3000, "m": {"text": "Summer"}}], "extra": 1}
    ],
}


def _media(n: int) -> MediaFile:
    return MediaFile(
        media_id=f"m{n}",
        filename=f"p{n}.jpg",
        file_type="image",
        cdn_url=f"http://h/media/{n}",
        hash="0" * 64,
    )


@pytest.fixture
def owner(engine: Engine) -> str:
    from database.engine import transaction

    with transaction(engine) as db:
        db.add(User(id="anon_0123456789abcdef", credits_available=100))
    return "anon_0123456789abcdef"


def test_a_new_session_has_ids_of_the_contract_and_empty_state(client: httpx.Client, anon_token: Any) -> None:
    token = anon_token(client)
    answer = client.post(
        "/api/tasks/me/with-session/nemo_agent",
        headers=bearer(token),
        json={"task_name": "trip", "language": "zh-CN"},
    )
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["task_id"].startswith("task_")
    assert len(data["session_id"]) == 19 and data["session_id"].isdigit()
    assert data["user_id"].startswith("anon_")
    state = client.get(f"/api/state/nemo_agent/me/{data['session_id']}/latest", headers=bearer(token)).json()
    assert state["code"] == 0
    assert state["data"]["task_id"] == data["task_id"] and state["data"]["task_name"] == "trip"
    assert state["data"]["version"] == 0
    assert state["data"]["state"] == {
        "draft": None,
        "video_infos": [],
        "canvas_config": {"width": 1080, "height": 1920, "ratio": "9:16"},
        "video_analyses": {},
        "generated_media": [],
    }
    # Also with the caller's own id in place of `me`, and with no body at all.
    bare = client.post(f"/api/tasks/{data['user_id']}/with-session/nemo_agent", headers=bearer(token))
    assert bare.status_code == 200 and bare.json()["data"]["session_id"] != data["session_id"]


def test_versions_of_the_state_stay_readable(
    client: httpx.Client, anon_token: Any, new_session: Any, app: Any
) -> None:
    token = anon_token(client)
    sid = new_session(client, token)
    engine = app.state.ctx.engine
    session_store.add_media(engine, sid, [_media(1)])
    session_store.append_event(engine, sid, _delta_event({"draft": DRAFT}))
    base = f"/api/state/nemo_agent/me/{sid}"
    latest = client.get(f"{base}/latest", headers=bearer(token)).json()["data"]
    assert latest["version"] == 2
    assert latest["state"]["draft"]["t"][0]["extra"] == 1  # unknown keys survive the round trip
    assert latest["state"]["video_infos"][0]["media_id"] == "m1"
    v1 = client.get(f"{base}/1", headers=bearer(token)).json()["data"]
    assert v1["version"] == 1 and v1["state"]["draft"] is None and len(v1["state"]["video_infos"]) == 1
    missing = client.get(f"{base}/7", headers=bearer(token))
    assert missing.status_code == 400
    assert missing.json()["code"] == 400 and "versions 0 to 2" in missing.json()["message"]
    bad = client.get(f"{base}/first", headers=bearer(token))
    assert bad.status_code == 400 and "latest" in bad.json()["message"]


def test_another_users_session_looks_exactly_like_a_missing_one(
    client: httpx.Client, anon_token: Any, new_session: Any
) -> None:
    alice, bob = anon_token(client, "alice"), anon_token(client, "bob")
    sid = new_session(client, alice)
    theirs = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(bob))
    missing = client.get("/api/state/nemo_agent/me/1234567890123456789/latest", headers=bearer(bob))
    for answer in (theirs, missing):
        assert answer.status_code == 404
        assert answer.json() == {
            "code": 1002,
            "message": "session not found; create a new session",
            "data": {},
        }


def test_someone_elses_user_id_in_the_path_is_1001(
    client: httpx.Client, anon_token: Any, new_session: Any
) -> None:
    token = anon_token(client)
    sid = new_session(client, token)
    for url in (f"/api/state/nemo_agent/anon_ffff/{sid}/latest",):
        answer = client.get(url, headers=bearer(token))
        assert answer.status_code == 401 and answer.json()["code"] == 1001
    created = client.post("/api/tasks/anon_ffff/with-session/nemo_agent", headers=bearer(token), json={})
    assert created.status_code == 401 and "not the token's user" in created.json()["message"]


def test_a_malformed_session_body_is_400(client: httpx.Client, anon_token: Any) -> None:
    token = anon_token(client)
    for body in ({"task_name": ""}, {"task_name": 5}, {"language": "x" * 40}):
        answer = client.post("/api/tasks/me/with-session/nemo_agent", headers=bearer(token), json=body)
        assert answer.status_code == 400, body
        assert answer.json()["code"] == 400 and answer.json()["message"].startswith("invalid request")
    broken = client.post(
        "/api/tasks/me/with-session/nemo_agent",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert broken.status_code == 400 and broken.json()["code"] == 400


def _delta_event(delta: dict[str, Any]) -> Event:
    return Event(
        content=Content(role="model", parts=[Part(text="changed")]),
        invocation_id="e-test",
        author="nemo_agent",
        actions=EventActions(state_delta=delta),
    )


def test_events_are_stored_and_only_deltas_make_versions(engine: Engine, owner: str) -> None:
    sid = session_store.create_session(engine, user_id=owner).id
    assert session_store.append_event(engine, sid, text_event("hi", invocation_id="e-1")) == 0
    assert session_store.append_event(engine, sid, _delta_event({"draft": DRAFT, "temp:scratch": 1})) == 1
    state, version = session_store.get_state(engine, sid)
    assert version == 1 and state.draft is not None and state.draft.m.title == "Summer"
    assert "temp:scratch" not in state.to_json()
    # A null value removes the key (back to its default).
    assert session_store.append_event(engine, sid, _delta_event({"draft": None})) == 2
    assert session_store.get_state(engine, sid)[0].draft is None
    assert [e.text for e in session_store.events(engine, sid)] == ["hi", "changed", "changed"]


def test_an_invalid_client_delta_is_400_and_changes_nothing(engine: Engine, owner: str) -> None:
    sid = session_store.create_session(engine, user_id=owner).id
    with pytest.raises(ApiError) as refused:
        session_store.apply_state_delta(engine, sid, {"draft": {"d": -1}}, reason="test")
    assert refused.value.code == ErrorCode.BAD_REQUEST and "draft" in refused.value.message
    assert session_store.get_state(engine, sid)[1] == 0


def test_unknown_sessions_are_1002_for_every_writer(engine: Engine) -> None:
    for call in (
        lambda: session_store.get_state(engine, "1234567890123456789"),
        lambda: session_store.add_media(engine, "1234567890123456789", [_media(1)]),
        lambda: session_store.append_event(engine, "not-a-number", _delta_event({})),
    ):
        with pytest.raises(ApiError) as refused:
            call()
        assert refused.value.code == ErrorCode.SESSION_NOT_FOUND


def test_concurrent_writers_make_one_version_each_and_lose_nothing(engine: Engine, owner: str) -> None:
    sid = session_store.create_session(engine, user_id=owner).id

    def write(n: int) -> int:
        if n % 2:
            return session_store.add_media(engine, sid, [_media(n)])
        return session_store.append_event(engine, sid, _delta_event({f"note_{n}": n}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        versions = list(pool.map(write, range(24)))
    assert sorted(versions) == list(range(1, 25))
    state, version = session_store.get_state(engine, sid)
    assert version == 24
    assert sorted(m.media_id for m in state.video_infos) == sorted(f"m{n}" for n in range(1, 24, 2))
    assert all(state.to_json()[f"note_{n}"] == n for n in range(0, 24, 2))
    with Session(engine) as db:
        stored = db.exec(select(StateVersion.version).where(StateVersion.session_id == sid)).all()
    assert sorted(stored) == list(range(25))
    assert json.loads(db_state_json(engine, sid, 24))["video_infos"] == [
        m.model_dump(mode="json", exclude_none=True) for m in state.video_infos
    ]


def db_state_json(engine: Engine, sid: str, version: int) -> str:
    with Session(engine) as db:
        row = db.exec(
            select(StateVersion).where(StateVersion.session_id == sid, StateVersion.version == version)
        ).one()
    return row.state_json


def test_generated_media_answer_with_every_field_of_the_contract(
    client: httpx.Client, anon_token: Any, new_session: Any, app: Any
) -> None:
    # api-contract.md: `generated_media` items carry type, url, duration, prompt and created_at;
    # clients index them without checking, so an unknown one is null, not missing.
    token = anon_token(client)
    sid = new_session(client, token)
    made = {"type": "preview", "url": "http://127.0.0.1/p.mp4", "created_at": "2026-01-01T00:00:00Z"}
    session_store.append_event(app.state.ctx.engine, sid, _delta_event({"generated_media": [made]}))
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=bearer(token)).json()["data"]
    assert state["state"]["generated_media"] == [{**made, "duration": None, "prompt": None}]
