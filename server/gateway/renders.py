"""The gateway's render proxy: POST/GET /services/v1/render-proxy/lambda[/{id}] are the skill
routes' own handlers under the CLI's paths (same body, same status answer); and
GET /services/v1/render-proxy/{id}/download, which the CLI's `project download` calls with a
project id, answers JSON: the newest finished render's `output` (`url`, fetched without a token,
and `size`), or `output: null` when the project has none yet.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from server import session_store
from server.deps import CtxDep, CurrentUser, public_base_url
from server.errors import ApiError, ErrorCode, envelope
from server.gateway.models import ProjectDownload
from server.renders.links import RenderStatus, status_answer
from server.responses import Envelope, errors
from server.routes.renders import cancel_render, render_status, submit_render

router = APIRouter(tags=["gateway"])

PREFIX = "/services/v1/render-proxy"

router.post(
    f"{PREFIX}/lambda",
    response_model=RenderStatus,
    responses=errors(
        ErrorCode.TOKEN_INVALID,
        ErrorCode.SESSION_NOT_FOUND,
        ErrorCode.EXPORT_BLOCKED,
        ErrorCode.URL_REFUSED,
        ErrorCode.DUPLICATE_RENDER,
    ),
    summary="POST /api/render/proxy/lambda under the CLI's path",
    name="gateway_submit_render",
)(submit_render)

router.get(
    f"{PREFIX}/lambda/{{render_id}}",
    response_model=RenderStatus,
    responses=errors(ErrorCode.TOKEN_INVALID, ErrorCode.RENDER_NOT_FOUND),
    summary="GET /api/render/proxy/lambda/{id} under the CLI's path",
    name="gateway_render_status",
)(render_status)

router.post(
    f"{PREFIX}/lambda/{{render_id}}/cancel",
    response_model=RenderStatus,
    responses=errors(ErrorCode.TOKEN_INVALID, ErrorCode.RENDER_NOT_FOUND),
    summary="POST /api/render/proxy/lambda/{id}/cancel under the CLI's path",
    name="gateway_cancel_render",
)(cancel_render)


@router.get(
    f"{PREFIX}/{{item_id}}/download",
    response_model=Envelope[ProjectDownload],
    responses=errors(ErrorCode.TOKEN_INVALID, ErrorCode.RENDER_NOT_FOUND),
    summary="Where to fetch a project's newest finished render (or a render's, by its id)",
)
def latest_render(item_id: str, request: Request, ctx: CtxDep, caller: CurrentUser) -> dict[str, Any]:
    renders = ctx.renders
    project_id: str | None = None
    session = session_store.session_of_task(ctx.engine, item_id)
    if session is not None and session.user_id == caller.id:
        project_id = item_id
        newest = renders.latest_output(session.id)
        if newest is None:
            return envelope(
                ProjectDownload(project_id=project_id, render_id=None, output=None).model_dump(by_alias=True)
            )
        render_id = newest[1].removesuffix(".mp4")
    else:
        render_id = item_id
    try:
        job = renders.status(caller, render_id)
    except ApiError as exc:
        if exc.code != ErrorCode.RENDER_NOT_FOUND:
            raise
        raise ApiError(
            ErrorCode.RENDER_NOT_FOUND,
            f"no project or render {item_id!r}; list your projects with `nemovideo project list`",
        ) from None
    status = status_answer(job, public_base_url(request, ctx), ctx.secret)
    answer = ProjectDownload(project_id=project_id, render_id=job.render_id, output=status.output)
    return envelope(answer.model_dump(by_alias=True))  # the wire's `size`, as the CLI reads it
