"""One module per resource; ROUTERS is what create_app mounts, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from server.routes import (
    auth,
    chat,
    claim,
    credits,
    docs,
    health,
    media,
    preview,
    projects,
    renders,
    sessions,
    state,
    studio,
    uploads,
)

ROUTERS: list[APIRouter] = [
    health.router,
    auth.router,
    sessions.router,
    chat.router,
    uploads.router,
    credits.router,
    state.router,
    renders.router,
    claim.router,
    media.router,
    docs.router,
    preview.router,
    projects.router,
    studio.router,
]
