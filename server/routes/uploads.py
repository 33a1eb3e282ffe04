"""POST /api/upload-video/nemo_agent/me/{session_id}: multipart files or JSON URLs -> session media.

The body is never read before the caller, the session and Content-Length are checked; it is then
streamed to temp files under the storage root with a byte count (chunked bodies too), so the limit
holds without trusting any header and nothing large sits in memory. Each file is judged on its
own: one bad file in a batch fails only itself (listed in `data.errors`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field, ValidationError

from agent.state import MediaFile
from database.engine import read_session
from server.deps import CtxDep, CurrentUser, check_user_segment, owned_session, public_base_url
from server.errors import ApiError, ErrorCode, envelope
from server.fetch_url import FetchError, fetcher_for
from server.multipart import MultipartReceiver, ReceivedFile
from server.responses import Envelope, errors
from server.uploads import (
    FileFailure,
    Intaken,
    clean_filename,
    hash_file,
    intake,
    make_proxies,
    media_file,
    record,
)

log = logging.getLogger("nemo.uploads")
router = APIRouter(tags=["uploads"])

MAX_FILES = 50
MAX_URLS = 20
_JSON_LIMIT = 64 * 1024


class UrlUpload(BaseModel):
    urls: list[str] = Field(min_length=1, max_length=MAX_URLS)
    source_type: str = "url"


class UploadError(BaseModel):
    filename: str
    code: int
    message: str


class UploadAnswer(BaseModel):
    files: list[MediaFile]
    session_state_applied: bool
    errors: list[UploadError] = Field(default_factory=list)


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "file": {"type": "string", "format": "binary"},
                    },
                }
            },
            "application/json": {"schema": UrlUpload.model_json_schema()},
        },
    }
}


@router.post(
    "/api/upload-video/nemo_agent/{user}/{session_id}",
    response_model=Envelope[UploadAnswer],
    responses=errors(
        ErrorCode.TOKEN_INVALID,
        ErrorCode.SESSION_NOT_FOUND,
        ErrorCode.UNSUPPORTED_FILE_TYPE,
        ErrorCode.FILE_TOO_LARGE,
        ErrorCode.URL_REFUSED,
    ),
    openapi_extra=_BODY_DOC,
    summary="Upload photos, clips or audio (multipart `files`/`file`, or JSON `urls`) into a session",
)
async def upload(
    user: str,
    session_id: str,
    request: Request,
    ctx: CtxDep,
    caller: CurrentUser,
    background: BackgroundTasks,
) -> dict[str, Any]:
    check_user_segment(user, caller)

    def _owned() -> str:
        with read_session(ctx.engine) as db:
            return owned_session(db, caller, session_id).id

    session = await anyio.to_thread.run_sync(_owned)
    content_type = request.headers.get("content-type", "")
    # No Content-Type at all is read as JSON, as on every other route (see create_app): a multipart
    # body cannot be parsed without the boundary its Content-Type names anyway.
    is_json = content_type.split(";")[0].strip().lower() in ("application/json", "")
    # Each file is held to max_upload_mb while it streams; the request as a whole (every file of a
    # batch, boundaries included) to max_request_mb, checked against Content-Length before reading.
    body_limit = _JSON_LIMIT if is_json else ctx.settings.max_request_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > body_limit:
        raise (
            request_too_large(body_limit)
            if not is_json
            else ApiError(ErrorCode.BAD_REQUEST, "request body too large")
        )

    if is_json:
        published, failures = await _from_urls(ctx, request, body_limit)
    elif content_type.lower().startswith("multipart/form-data"):
        published, failures = await read_multipart(ctx, request, content_type, body_limit)
    else:
        raise ApiError(
            ErrorCode.BAD_REQUEST, 'send multipart/form-data (field `files`) or JSON {"urls": [...]}'
        )

    return envelope(await publish(ctx, request, caller.id, session, published, failures, background))


async def publish(
    ctx: CtxDep,
    request: Request,
    user_id: str,
    session_id: str,
    published: list[Intaken],
    failures: list[FileFailure],
    background: BackgroundTasks,
) -> dict[str, Any]:
    """Files that passed intake -> media rows and the session's `video_infos`; the answer's `data`.
    At least one file must have passed: otherwise the first failure is the answer (its code)."""
    if not published:
        first = failures[0] if failures else FileFailure("", ErrorCode.BAD_REQUEST, "no files in the upload")
        raise ApiError(first.code, first.message, data={"errors": [f.as_json() for f in failures]})
    base_url = public_base_url(request, ctx)
    items = [
        (item, media_file(item, media_id=ctx.ids.media_id(), base_url=base_url, secret=ctx.secret))
        for item in published
    ]
    await anyio.to_thread.run_sync(
        lambda: record(ctx.engine, user_id=user_id, session_id=session_id, items=items)
    )
    background.add_task(make_proxies, ctx.storage, ctx.engine, published, ctx.settings.max_image_pixels)
    return {
        "files": [info.model_dump(mode="json") for _, info in items],
        "session_state_applied": True,
        "errors": [f.as_json() for f in failures],
    }


def _too_large_message(name: str, limit: int) -> str:
    return f"{name}: file too large (limit {limit // (1024 * 1024)} MB per file); compress it"


def request_too_large(limit: int) -> ApiError:
    return ApiError(
        ErrorCode.FILE_TOO_LARGE,
        f"upload request too large (limit {limit // (1024 * 1024)} MB for all files together); "
        "send fewer files at once",
    )


async def read_multipart(
    ctx: CtxDep,
    request: Request,
    content_type: str,
    body_limit: int,
    check_fields: Callable[[dict[str, str]], None] | None = None,
) -> tuple[list[Intaken], list[FileFailure]]:
    """Stream the multipart body to temp files, then judge each file (intake into storage).
    `check_fields` sees the plain form fields once the body is read and before any file is kept:
    it raises to refuse the whole upload (the gateway's session named in a field)."""
    storage = ctx.storage
    receiver = MultipartReceiver(
        content_type, storage.new_tmp_path, file_limit=ctx.settings.max_upload_bytes, max_files=MAX_FILES
    )
    received: list[ReceivedFile] = []
    chunks = request.stream()
    total = 0
    try:
        try:
            async for chunk in chunks:
                total += len(chunk)
                if total > body_limit:
                    raise request_too_large(body_limit)
                if chunk:
                    await anyio.to_thread.run_sync(receiver.feed, chunk)
        except (ApiError, OSError):
            # Refused mid-body (a full disk, a bad part): read the rest, unstored, so the client,
            # still sending, gets to read the answer instead of a connection reset.
            await _drain(chunks, body_limit - total)
            raise
        received = receiver.finish()
        if check_fields is not None:
            await anyio.to_thread.run_sync(check_fields, receiver.fields)
        return await anyio.to_thread.run_sync(lambda: _intake_all(ctx, received))
    finally:
        # Whatever happened (limit, disconnect, bad body, a crash), no temp file outlives the request;
        # shielded, because a cancelled request (the client went away) would cancel this await too.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(receiver.discard)


async def _drain(chunks: AsyncIterator[bytes], budget_bytes: int) -> None:
    """Read and drop what is left of a body, at most `budget_bytes` (the request's own limit)."""
    with contextlib.suppress(Exception):
        async for chunk in chunks:
            budget_bytes -= len(chunk)
            if budget_bytes < 0:
                return


def _intake_all(ctx: CtxDep, received: list[ReceivedFile]) -> tuple[list[Intaken], list[FileFailure]]:
    published: list[Intaken] = []
    failures: list[FileFailure] = []
    for part in received:
        name = clean_filename(part.filename)
        if part.too_large:
            message = _too_large_message(name, ctx.settings.max_upload_bytes)
            failures.append(FileFailure(name, ErrorCode.FILE_TOO_LARGE, message))
            continue
        try:
            published.append(
                intake(
                    ctx.storage,
                    part.path,
                    filename=name,
                    sha256=part.sha256,
                    size=part.size,
                    max_pixels=ctx.settings.max_image_pixels,
                )
            )
        except ApiError as exc:
            failures.append(FileFailure(name, exc.code, exc.message))
    return published, failures


async def _read_json(request: Request, limit: int) -> UrlUpload:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(ErrorCode.BAD_REQUEST, "request body too large")
    try:
        return UrlUpload.model_validate(json.loads(bytes(body) or b"null"))
    except (ValueError, ValidationError) as exc:
        raise ApiError(
            ErrorCode.BAD_REQUEST, 'expected JSON {"urls": ["https://..."], "source_type": "url"}'
        ) from exc


async def _from_urls(
    ctx: CtxDep, request: Request, body_limit: int
) -> tuple[list[Intaken], list[FileFailure]]:
    body = await _read_json(request, body_limit)
    fetcher = fetcher_for(ctx)
    storage = ctx.storage
    published: list[Intaken] = []
    failures: list[FileFailure] = []
    for url in body.urls:
        label = clean_filename(url.rsplit("/", 1)[-1].split("?", 1)[0]) if isinstance(url, str) else "url"
        tmp = storage.new_tmp_path()
        try:
            result = await fetcher.fetch_to_file(url, tmp)
            name = clean_filename(result.filename)
            sha, size = await anyio.to_thread.run_sync(hash_file, tmp)
            judge = functools.partial(
                intake,
                storage,
                tmp,
                filename=name,
                sha256=sha,
                size=size,
                max_pixels=ctx.settings.max_image_pixels,
            )
            item = await anyio.to_thread.run_sync(judge)
            published.append(item)
        except FetchError as exc:
            code = ErrorCode.FILE_TOO_LARGE if exc.code == "too_large" else ErrorCode.URL_REFUSED
            failures.append(FileFailure(label, code, f"{label}: {exc.message}"))
        except ApiError as exc:
            failures.append(FileFailure(label, exc.code, exc.message))
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return published, failures
