"""The render proxy: queue an export, poll it, cancel it, download the MP4 (api-contract.md).

Status answers carry the fields flat, with `success`, and again under `data`, because clients read
them in all three ways. The download is the bytes themselves (clients `curl -o` without `-L`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from server.deps import AttributionDep, CtxDep, CurrentUser, public_base_url
from server.errors import ErrorCode
from server.renders.links import RenderStatus, status_answer
from server.renders.service import RenderService
from server.renders.submission import RenderRequest
from server.responses import errors

router = APIRouter(tags=["renders"])


def _service(ctx: CtxDep) -> RenderService:
    return ctx.renders  # type: ignore[no-any-return]


_SUBMIT_ERRORS = errors(
    ErrorCode.TOKEN_INVALID,
    ErrorCode.SESSION_NOT_FOUND,
    ErrorCode.EXPORT_BLOCKED,
    ErrorCode.URL_REFUSED,
    ErrorCode.DUPLICATE_RENDER,
    ErrorCode.RATE_LIMITED,
)
_READ_ERRORS = errors(ErrorCode.TOKEN_INVALID, ErrorCode.RENDER_NOT_FOUND)


@router.post(
    "/api/render/proxy/lambda",
    response_model=RenderStatus,
    responses=_SUBMIT_ERRORS,
    summary="Queue an export of the draft (no credits); answers with the render's status",
)
def submit_render(
    body: RenderRequest, request: Request, ctx: CtxDep, user: CurrentUser, attribution: AttributionDep
) -> RenderStatus:
    base = public_base_url(request, ctx)
    job = _service(ctx).submit(user, body, attribution, base)
    return status_answer(job, base, ctx.secret)


# Legacy paths: the same handler registered again, under the name it had (the OpenAPI stays the same).
router.post(
    "/api/render/proxy/draft",
    response_model=RenderStatus,
    responses=_SUBMIT_ERRORS,
    summary="Legacy alias of POST /api/render/proxy/lambda",
    name="submit_render_legacy",
)(submit_render)


@router.get(
    "/api/render/proxy/lambda/{render_id}",
    response_model=RenderStatus,
    responses=_READ_ERRORS,
    summary="A render's status: pending, processing, completed or failed (a cancelled one: failed)",
)
def render_status(render_id: str, request: Request, ctx: CtxDep, user: CurrentUser) -> RenderStatus:
    return status_answer(_service(ctx).status(user, render_id), public_base_url(request, ctx), ctx.secret)


@router.post(
    "/api/render/proxy/lambda/{render_id}/cancel",
    response_model=RenderStatus,
    responses=_READ_ERRORS,
    summary="Cancel a render; a running one stops within seconds",
)
def cancel_render(render_id: str, request: Request, ctx: CtxDep, user: CurrentUser) -> RenderStatus:
    return status_answer(_service(ctx).cancel(user, render_id), public_base_url(request, ctx), ctx.secret)


@router.get(
    "/api/render/proxy/{render_id}/download",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the MP4 (Range requests answered with 206)"},
        **_READ_ERRORS,
    },
    summary="The rendered MP4 itself (never a redirect)",
)
def download_render(render_id: str, ctx: CtxDep, user: CurrentUser) -> FileResponse:
    path, filename = _service(ctx).output_file(user, render_id)
    return FileResponse(path, media_type="video/mp4", filename=filename)  # attachment by default


# HEAD answers the GET's headers (size, type) without the bytes: download tools ask first.
router.add_api_route(
    "/api/render/proxy/{render_id}/download",
    download_render,
    methods=["HEAD"],
    include_in_schema=False,
    name="download_render_head",
)


router.get(
    "/api/render/proxy/{render_id}",
    response_model=RenderStatus,
    responses=_READ_ERRORS,
    summary="Legacy alias of GET /api/render/proxy/lambda/{id}",
    name="render_status_legacy",
)(render_status)
