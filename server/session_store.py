"""Sessions, their events and state versions: the one writer of session state.

Every change of a session's state is one transaction that locks the session row, reads the latest
version, applies the change, validates the result as a `SessionState`, and writes version + 1. So
versions increase by exactly one per committed change, whoever writes (a chat turn's events, an
upload's `add_media`, a client's `state_delta`), and no change is ever based on a stale version.
SQLite serialises writers with BEGIN IMMEDIATE (db.py); PostgreSQL with `SELECT ... FOR UPDATE`.

A state delta follows ADK's `actions.stateDelta`: each key replaces that key of the state; a null
value removes the key (back to its default); `temp:` keys are never persisted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agent.events import Event
from agent.runner import apply_state_delta as agent_apply_delta
from agent.state import GeneratedMedia, MediaFile, SessionState
from database.engine import read_session, transaction
from renderer.schema.draft import Draft
from server.errors import ApiError, ErrorCode
from server.ids import IdSource
from server.tables import ChatSession, SessionEvent, StateVersion, utcnow

_NOT_FOUND = "session not found; create a new session"
# Called with the open write transaction, after the session row is locked; raises to refuse.
Fence = Callable[[Session], None]


def create_session(
    engine: Engine,
    *,
    user_id: str,
    task_name: str = "project",
    language: str | None = None,
    ids: IdSource | None = None,
) -> ChatSession:
    """A new session with state version 0: the empty SessionState."""
    ids = ids or IdSource()
    row = ChatSession(
        id=ids.session_id(), task_id=ids.task_id(), task_name=task_name, user_id=user_id, language=language
    )
    with transaction(engine) as db:
        db.add(row)
        db.flush()  # the session row first: state_versions references it
        db.add(StateVersion(session_id=row.id, version=0, state_json=_dump(SessionState()), reason="created"))
    return row


def get_session(engine: Engine, session_id: str) -> ChatSession | None:
    if not session_id.isdigit() or len(session_id) > 32:
        return None
    with read_session(engine) as db:
        return db.get(ChatSession, session_id)


def session_of_task(engine: Engine, task_id: str) -> ChatSession | None:
    """The session of a task (one each: `sessions.task_id` is unique)."""
    if not task_id.startswith("task_") or len(task_id) > 64:
        return None
    with read_session(engine) as db:
        return db.exec(select(ChatSession).where(ChatSession.task_id == task_id)).first()


def sessions_of_user(
    engine: Engine, user_id: str, *, offset: int, limit: int
) -> tuple[list[ChatSession], int]:
    """A page of the user's sessions, most recently changed first, and how many there are."""
    with read_session(engine) as db:
        total = db.exec(
            select(func.count()).select_from(ChatSession).where(ChatSession.user_id == user_id)
        ).one()
        newest_first = (col(ChatSession.updated_at).desc(), col(ChatSession.id).desc())
        rows = db.exec(
            select(ChatSession)
            .where(ChatSession.user_id == user_id)
            .order_by(*newest_first)
            .offset(offset)
            .limit(limit)
        ).all()
    return list(rows), total


def get_state(engine: Engine, session_id: str, version: int | None = None) -> tuple[SessionState, int]:
    """The latest state (or the given version) and its version number.

    Unknown session: 1002. Unknown version of a known session: 400 naming the versions that exist
    (the session is fine, so "create a new session" would be the wrong advice).
    """
    if not session_id.isdigit() or len(session_id) > 32:
        raise ApiError(ErrorCode.SESSION_NOT_FOUND, _NOT_FOUND)
    with read_session(engine) as db:
        session = db.get(ChatSession, session_id)
        if session is None:
            raise ApiError(ErrorCode.SESSION_NOT_FOUND, _NOT_FOUND)
        wanted = session.version if version is None else version
        row = db.exec(
            select(StateVersion).where(StateVersion.session_id == session_id, StateVersion.version == wanted)
        ).first()
    if row is None:
        raise ApiError(
            ErrorCode.BAD_REQUEST,
            f"state version {version} does not exist; this session has versions 0 to {session.version}",
        )
    return SessionState.model_validate(json.loads(row.state_json)), row.version


class StoredDrafts:
    """The drafts of one session's committed versions: the DraftLoader undo and redo read
    (agent.versions). Only the draft of the asked version is parsed, not the whole state."""

    def __init__(self, engine: Engine, session_id: str) -> None:
        self.engine, self.session_id = engine, session_id

    def __call__(self, version: int) -> Draft | None:
        with read_session(self.engine) as db:
            row = db.exec(
                select(StateVersion).where(
                    StateVersion.session_id == self.session_id, StateVersion.version == version
                )
            ).first()
        if row is None:
            raise LookupError(f"session {self.session_id} has no state version {version}")
        draft = json.loads(row.state_json).get("draft")
        return None if draft is None else Draft.model_validate(draft)


def apply_delta(state: SessionState, delta: dict[str, Any]) -> SessionState:
    """The agent's semantics (each key replaces, null removes), minus ADK's unpersisted `temp:` keys.

    Raises pydantic's ValidationError when the result is not a valid SessionState.
    """
    return agent_apply_delta(state, {k: v for k, v in delta.items() if not k.startswith("temp:")})


def append_event(engine: Engine, session_id: str, event: Event, *, fence: Fence | None = None) -> int:
    """Persist one event and apply its `actions.stateDelta`, in one transaction. Returns the version.

    An event without a delta is stored and leaves the version as it is. `fence` (a chat turn's
    lease check) runs inside the transaction and may refuse the write by raising.
    """
    delta = event.actions.state_delta
    with transaction(engine) as db:
        session = _lock_session(db, session_id)
        if fence is not None:
            fence(db)
        db.add(
            SessionEvent(
                session_id=session_id, invocation_id=event.invocation_id, event_json=event.to_sse_json()
            )
        )
        if not delta:
            return session.version
        return _commit(db, session, lambda state: apply_delta(state, delta), f"event {event.id}")


def apply_state_delta(
    engine: Engine, session_id: str, delta: dict[str, Any], *, reason: str, fence: Fence | None = None
) -> int:
    """A client's `state_delta` (before a turn): a new version, or 400 naming the bad field."""
    if not delta:
        return get_state(engine, session_id)[1]
    with transaction(engine) as db:
        session = _lock_session(db, session_id)
        if fence is not None:
            fence(db)
        try:
            return _commit(db, session, lambda state: apply_delta(state, delta), reason)
        except ValidationError as exc:
            raise ApiError(ErrorCode.BAD_REQUEST, "invalid state_delta: " + _first_error(exc)) from None


def add_media(
    engine: Engine,
    session_id: str,
    files: list[MediaFile],
    *,
    analyses: dict[str, dict[str, Any]] | None = None,
) -> int:
    """Append uploads to `video_infos`, and their facts (by media_id) to `video_analyses`, as one
    new version; returns it (the upload route calls this)."""

    def _append(state: SessionState) -> SessionState:
        return state.model_copy(
            update={
                "video_infos": [*state.video_infos, *files],
                "video_analyses": {**state.video_analyses, **(analyses or {})},
            }
        )

    with transaction(engine) as db:
        session = _lock_session(db, session_id)
        return _commit(db, session, _append, f"upload of {len(files)} file(s)")


def add_generated_media(
    engine: Engine,
    session_id: str,
    item: GeneratedMedia,
    reason: str,
    *,
    once: Callable[[Session], bool] | None = None,
) -> int | None:
    """Append one made item (a render, a preview) to `generated_media` as one new version.

    `once`, run inside the same transaction first, claims the right to add it (a render job's
    `announced` flag): when it says False, nothing is written and None is returned. One transaction
    for both, so a process dying between them can neither lose the item nor add it twice."""

    def _append(state: SessionState) -> SessionState:
        return state.model_copy(update={"generated_media": [*state.generated_media, item]})

    with transaction(engine) as db:
        session = _lock_session(db, session_id)
        if once is not None and not once(db):
            return None
        return _commit(db, session, _append, reason)


def events(engine: Engine, session_id: str) -> list[Event]:
    """The session's persisted events, oldest first (history for planners, and tests)."""
    with read_session(engine) as db:
        rows = db.exec(
            select(SessionEvent).where(SessionEvent.session_id == session_id).order_by(col(SessionEvent.id))
        ).all()
    return [Event.model_validate_json(row.event_json) for row in rows]


def _lock_session(db: Session, session_id: str) -> ChatSession:
    # FOR UPDATE makes concurrent writers of one session queue on PostgreSQL (SQLite ignores it:
    # BEGIN IMMEDIATE already gave this transaction the write lock).
    session = db.exec(select(ChatSession).where(ChatSession.id == session_id).with_for_update()).first()
    if session is None:
        raise ApiError(ErrorCode.SESSION_NOT_FOUND, _NOT_FOUND)
    return session


def _commit(
    db: Session, session: ChatSession, change: Callable[[SessionState], SessionState], reason: str
) -> int:
    latest = db.exec(
        select(StateVersion).where(
            StateVersion.session_id == session.id, StateVersion.version == session.version
        )
    ).one()
    state = change(SessionState.model_validate(json.loads(latest.state_json)))
    session.version += 1
    session.updated_at = utcnow()
    db.add(session)
    db.add(
        StateVersion(
            session_id=session.id, version=session.version, state_json=_dump(state), reason=reason[:256]
        )
    )
    return session.version


def _dump(state: SessionState) -> str:
    return json.dumps(state.to_json(), ensure_ascii=False, separators=(",", ":"))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{loc}: {err.get('msg', 'invalid')}" if loc else str(err.get("msg", "invalid"))
