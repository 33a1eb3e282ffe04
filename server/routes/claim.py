"""Claim links: POST /api/auth/claim-token makes one; GET /workspace/claim?ct=... opens the project
in the studio; POST /api/auth/claim signs the studio in through the link.

A claim token (`clm_` + 43 url-safe chars) is a bearer secret for one session's project, so it is
stored only as a keyed hash; it lives 7 days. The page is the studio (server/studio_page.py) with a
server-made summary of the project (title, timeline, uploads, latest render) that shows until the
script takes over; the script trades the link for a bearer token of the project's owner (the link
is the owner's own invitation to open the project in a browser) and drops it from the address bar.
A browser sends no bearer token with a <video>, so the summary's player reads the render from
GET /workspace/claim/video?ct=..., authorised by the same link.
"""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel
from sqlmodel import Session

from agent.state import SessionState
from database.engine import transaction
from server import session_store, studio_page
from server.auth import hash_token, iso_utc, token_for
from server.deps import CtxDep, CurrentUser, DbDep, owned_session, public_base_url
from server.errors import ApiError, ErrorCode, envelope
from server.responses import SESSION_ERRORS, Envelope, errors
from server.tables import ChatSession, ClaimToken, Token

router = APIRouter(tags=["claim"])

CLAIM_PREFIX = "clm_"
# 7 days, as the official skill (v1.9) documents `expires_in: 604800`.
CLAIM_TTL = timedelta(days=7)


class ClaimCreate(BaseModel):
    task_id: str | None = None
    session_id: str  # any id that is not one of the caller's sessions is 1002, never a 400


class ClaimCreated(BaseModel):
    claim_token: str
    expires_in: int
    claim_url: str


@router.post(
    "/api/auth/claim-token",
    response_model=Envelope[ClaimCreated],
    responses=errors(*SESSION_ERRORS),
    summary="A link that opens this session's project in the browser",
)
def create_claim(
    body: ClaimCreate, request: Request, ctx: CtxDep, db: DbDep, caller: CurrentUser
) -> dict[str, Any]:
    session = owned_session(db, caller, body.session_id)
    if body.task_id is not None and body.task_id != session.task_id:
        raise ApiError(ErrorCode.SESSION_NOT_FOUND, "session not found; create a new session")
    token = CLAIM_PREFIX + secrets.token_urlsafe(32)
    with transaction(ctx.engine) as tx:
        tx.add(
            ClaimToken(
                token_hash=hash_token(ctx.secret, token),
                user_id=caller.id,
                session_id=session.id,
                task_id=session.task_id,
                expires_at=datetime.now(UTC) + CLAIM_TTL,
            )
        )
    return envelope(
        {
            "claim_token": token,
            "expires_in": int(CLAIM_TTL.total_seconds()),
            # Absolute, like cdn_url and outputUrl: skills hand it to a person as it is.
            "claim_url": f"{public_base_url(request, ctx)}/workspace/claim?ct={token}",
        }
    )


class ClaimSignIn(BaseModel):
    claim_token: str


class ClaimedProject(BaseModel):
    token: str
    user_id: str
    expires_at: str
    session_id: str
    task_id: str


@router.post(
    "/api/auth/claim",
    response_model=Envelope[ClaimedProject],
    responses=errors(ErrorCode.TOKEN_INVALID),
    summary="Sign in through a claim link: a bearer token of the project's owner, and the project",
)
def sign_in_with_claim(body: ClaimSignIn, request: Request, ctx: CtxDep, db: DbDep) -> dict[str, Any]:
    session = _claimed_session(db, ctx.secret, body.claim_token)
    if session is None:
        raise ApiError(ErrorCode.TOKEN_INVALID, "this link is invalid or has expired; ask for a new one")
    nonce = ctx.ids.token_nonce()
    token = token_for(ctx.secret, nonce)
    expires_at = (ctx.clock.now() + timedelta(days=ctx.settings.token_ttl_days)).replace(microsecond=0)
    with transaction(ctx.engine) as tx:
        tx.add(
            Token(
                token_hash=hash_token(ctx.secret, token),
                user_id=session.user_id,
                client_id=None,
                created_ip=(request.client.host if request.client else "unknown")[:64],
                expires_at=expires_at,
                nonce=nonce,
            )
        )
    return envelope(
        {
            "token": token,
            "user_id": session.user_id,
            "expires_at": iso_utc(expires_at),
            "session_id": session.id,
            "task_id": session.task_id,
        }
    )


_PAGE_DOC: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "the link is invalid or has expired (an HTML page saying so)",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}


@router.get(
    "/workspace/claim",
    response_class=HTMLResponse,
    responses=_PAGE_DOC,
    summary="The project page a claim link opens",
)
def claim_page(request: Request, ctx: CtxDep, db: DbDep, ct: Annotated[str, Query()] = "") -> HTMLResponse:
    # A mangled link is a person in a browser: they get the "expired" page, never a JSON error.
    root = request.scope.get("root_path", "")
    session = _claimed_session(db, ctx.secret, ct)
    if session is None:
        summary = "<h1>Link expired</h1><p>This link is invalid or has expired.</p>"
        return studio_page.page(
            root, ctx.settings.public_url, title="Link expired", summary=summary, status=404
        )
    state, version = session_store.get_state(ctx.engine, session.id)
    title = (state.draft.m.title if state.draft else None) or session.task_name
    parts = [
        f"<p>{html.escape(_summary(state))}</p>",
        f"<p>Version {version}, {len(state.video_infos)} uploads.</p>",
    ]
    renders = [m for m in state.generated_media if m.type == "render"]
    if ctx.renders.latest_output(session.id) is not None:
        # A browser sends no bearer token, so the page plays the export through the claim link
        # itself (relative: it stays under whatever prefix the page was reached by).
        url = html.escape(f"claim/video?{urlencode({'ct': ct})}", quote=True)
    elif renders:  # one the service did not render here (a client's own note): its own URL
        url = html.escape(renders[-1].url, quote=True)
    else:
        url = ""
    if url:
        parts.append(f'<video controls src="{url}"></video>')
        parts.append(f'<p><a href="{url}" download>Download the video</a></p>')
    else:
        parts.append("<p>No export yet.</p>")
    if state.video_infos:
        items = "".join(f"<li>{html.escape(f.filename)} ({f.file_type})</li>" for f in state.video_infos)
        parts.append(f"<ul>{items}</ul>")
    summary = f"<h1>{html.escape(title)}</h1>" + "".join(parts)
    return studio_page.page(root, ctx.settings.public_url, title=title, summary=summary)


@router.get(
    "/workspace/claim/video",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the latest export (Range requests: 206)"},
        **_PAGE_DOC,
    },
    summary="The latest export of a claimed project, for the page's player (no bearer token)",
)
def claim_video(ctx: CtxDep, db: DbDep, ct: Annotated[str, Query()] = "") -> Response:
    session = _claimed_session(db, ctx.secret, ct)
    found = ctx.renders.latest_output(session.id) if session is not None else None
    if found is None:
        return HTMLResponse(
            "<!doctype html><title>Not found</title><p>No export for this link.</p>", status_code=404
        )
    path, filename = found
    return FileResponse(path, media_type="video/mp4", filename=filename, content_disposition_type="inline")


def _claimed_session(db: Session, secret: bytes, ct: str) -> ChatSession | None:
    if len(ct) > 128 or not ct.startswith(CLAIM_PREFIX):
        return None
    row = db.get(ClaimToken, hash_token(secret, ct))
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        return None
    return db.get(ChatSession, row.session_id)


def _summary(state: SessionState) -> str:
    draft = state.draft
    if draft is None or not draft.t:
        return "The timeline is empty."
    names = ", ".join(t.m.name or f"track {t.id}" for t in draft.t)
    return f"Timeline: {len(draft.t)} tracks ({names}), {draft.d / 1000:.1f} s."
