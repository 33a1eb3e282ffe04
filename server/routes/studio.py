"""The web studio: `/` serves it, `/studio/{asset}` its static files (server/static/studio)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from server import studio_page
from server.deps import CtxDep
from server.errors import ApiError, ErrorCode
from server.responses import errors

router = APIRouter(tags=["studio"])


@router.get("/", response_class=HTMLResponse, summary="The web studio (HTML)")
def studio(request: Request, ctx: CtxDep) -> HTMLResponse:
    return studio_page.page(request.scope.get("root_path", ""), ctx.settings.public_url)


@router.get(
    "/studio/{name}",
    response_class=FileResponse,
    responses={
        200: {"content": {"text/javascript": {}, "text/css": {}}},
        **errors(ErrorCode.RENDER_NOT_FOUND),
    },
    summary="The studio's static files (scripts, styles, icons)",
)
def studio_asset(name: str, ctx: CtxDep) -> FileResponse:
    found = studio_page.asset(name, ctx.settings.public_url)
    if found is None:
        raise ApiError(ErrorCode.RENDER_NOT_FOUND, "no such studio file")
    return found
