"""POST /run_sse: one chat turn, streamed in Google ADK `api_server` framing.

Everything that can refuse (token 1001, session 1002, a running turn 429, credits 2001, a bad
state_delta 400) is decided before the stream starts, so those are ordinary JSON answers. Then
the turn runs as a server-owned task (server/turns.py) and this route only relays its events:
`data: <event json>` lines, `: heartbeat <unix-ts>` comments while work goes on, no `event:` field
and no done marker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sse_starlette import EventSourceResponse, ServerSentEvent

from server import session_store
from server.deps import AttributionDep, CtxDep, CurrentUser, check_user_segment
from server.errors import ApiError, ErrorCode
from server.responses import errors
from server.turns import TurnRequest

router = APIRouter(tags=["chat"])

APP_NAME = "nemo_agent"
MAX_MESSAGE_CHARS = 20_000


class _CamelToo(BaseModel):
    """Accepts snake_case and camelCase keys, as ADK's request models do."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class MessagePart(_CamelToo):
    text: str | None = None


class NewMessage(_CamelToo):
    role: str | None = "user"
    parts: list[MessagePart] = Field(min_length=1, max_length=64)


class RunRequest(_CamelToo):
    app_name: str = APP_NAME
    user_id: str = "me"
    # Unbounded on purpose: any id that is not one of the caller's sessions is 1002 (create a new
    # session), never a validation 400 (api-contract.md, /run_sse).
    session_id: str
    new_message: NewMessage
    streaming: bool = False
    state_delta: dict[str, Any] | None = None


_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`text/event-stream`: `data: <ADK Event JSON>` lines; `: heartbeat` comments",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.post(
    "/run_sse",
    response_class=EventSourceResponse,
    responses={
        **_SSE_DOC,
        **errors(
            ErrorCode.TOKEN_INVALID,
            ErrorCode.SESSION_NOT_FOUND,
            ErrorCode.INSUFFICIENT_CREDITS,
            ErrorCode.RATE_LIMITED,
        ),
    },
    summary="Run one chat turn and stream its events (ADK api_server framing)",
)
async def run_sse(
    body: RunRequest, ctx: CtxDep, caller: CurrentUser, _attribution: AttributionDep
) -> EventSourceResponse:
    check_user_segment(body.user_id, caller)
    if body.app_name != APP_NAME:
        raise ApiError(ErrorCode.BAD_REQUEST, f"unknown app_name {body.app_name!r}; use {APP_NAME!r}")
    message = "\n".join(part.text for part in body.new_message.parts if part.text).strip()
    if not message:
        raise ApiError(ErrorCode.BAD_REQUEST, "new_message.parts has no text")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ApiError(ErrorCode.BAD_REQUEST, f"message longer than {MAX_MESSAGE_CHARS} characters")
    session = await asyncio.to_thread(session_store.get_session, ctx.engine, body.session_id)
    if session is None or session.user_id != caller.id:
        raise ApiError(ErrorCode.SESSION_NOT_FOUND, "session not found; create a new session")
    settings = ctx.settings
    queue = await ctx.turns.begin(
        TurnRequest(
            session_id=session.id,
            user_id=caller.id,
            message=message,
            language=session.language,
            streaming=body.streaming,
            state_delta=body.state_delta or {},
        ),
        cost=settings.turn_cost,
        bind_url=settings.bind_url,
    )
    return EventSourceResponse(
        _relay(queue),
        headers={"Cache-Control": "no-cache"},
        ping=settings.heartbeat_seconds,
        ping_message_factory=lambda: ServerSentEvent(comment=f"heartbeat {int(time.time())}", sep="\n"),
        sep="\n",
    )


# JSON leaves these raw inside strings, but line readers such as httpx's iter_lines and Python's
# str.splitlines end a line at them, which would cut a `data:` line in two. Escaped, the event is
# the same JSON, on one line for every reader.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _one_line(event_json: str) -> str:
    return event_json.translate(_LINE_BREAKS)


async def _relay(queue: asyncio.Queue[str | None]) -> AsyncIterator[ServerSentEvent]:
    # The turn ends itself (its own time cap), so the stream is capped with it. A reader that
    # leaves only stops this relay; the turn task goes on.
    while (line := await queue.get()) is not None:
        yield ServerSentEvent(data=_one_line(line), sep="\n")
