"""WebSocket /ws/chat?token=<key>&session_id=<id>: chat turns as the official CLI speaks them.

The protocol (README, "WebSocket chat"; the CLI's `src/core/ws.ts` and `agent.ts`):

- The server accepts the socket, then checks it: no or a bad key closes it with code 4001 (the
  CLI reports "Authentication failed"), no `session_id` with 4002, a session that is not the
  caller's answers `{"type":"error","code":1002,...}` and closes with 1008. Refusing the handshake
  itself would answer 403, which the CLI retries ten times over ~40 s.
- Ready: `{"type":"session_ready","session_id","project_id"}`.
- The client sends `{"type":"message","content":"...","metadata":{}}` to run one turn, and
  `{"type":"ping"}` (answered `{"type":"pong"}`). Other types are ignored.
- Each message is answered by the turn's events, then exactly one `done`
  (`{"type":"done","ok":bool}`): `tool_start` / `tool_end` (`tool`), `text` (`text`),
  `state_update` (`keys` the step changed), and `error` (`code`, `error`, `data`) when the turn
  is refused (2001 not enough credits, 429 another turn runs on the session) or fails. A
  `heartbeat` message goes out every `heartbeat_seconds` while the turn is quiet. A socket with no
  `message` for `stream_cap_seconds` is closed (1000, `idle`).
- The turn is the one /run_sse runs (server/turns.py): the same credit hold, per-session lease,
  time cap and persistence. A socket that drops loses nothing: see turn_feeds.py for how a client
  that reconnects without sending anything gets the turn's messages and its `done`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from server import session_store
from server.context import AppContext
from server.deps import user_of
from server.errors import ApiError, ErrorCode
from server.gateway.models import SocketMessage
from server.gateway.turn_feeds import TurnFeed, TurnFeeds
from server.routes.chat import MAX_MESSAGE_CHARS
from server.tables import ChatSession, User
from server.turns import TurnRequest

log = logging.getLogger("nemo.gateway.chat")
router = APIRouter(tags=["gateway"])

CLOSE_AUTH = 4001  # the CLI: "Authentication failed (invalid token)"
CLOSE_NO_SESSION_ID = 4002  # the CLI: "Missing session_id"
CLOSE_POLICY = 1008
CLOSE_NORMAL = 1000
# How long a new socket waits for the client's first message before it takes the socket for a
# reconnect (the CLI sends its message the moment it reads session_ready; a reconnecting CLI sends
# nothing and waits for the turn it started to end).
RESUME_AFTER_SECONDS = 1.0
FEEDS_KEY = "gateway_turn_feeds"


def feeds_of(ctx: AppContext) -> TurnFeeds:
    feeds = ctx.extras.get(FEEDS_KEY)
    if not isinstance(feeds, TurnFeeds):
        feeds = ctx.extras[FEEDS_KEY] = TurnFeeds()
    return feeds


class _Gone(Exception):
    """The client closed the socket (or it broke): nothing more can be sent."""


def _reason(text: str) -> str:
    return text.encode()[:120].decode("utf-8", "ignore")  # a close reason is at most 123 bytes


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    ctx: AppContext = websocket.app.state.ctx
    token = websocket.query_params.get("token")
    session_id = websocket.query_params.get("session_id")
    await websocket.accept()
    try:
        user = await user_of(ctx, f"Bearer {token}" if token else None)
    except ApiError as exc:
        if exc.code == ErrorCode.TOKEN_INVALID:
            await websocket.close(CLOSE_AUTH, _reason(f"invalid token: {exc.message}"))
        else:  # the per-token rate limit
            await websocket.send_json({"type": "error", "code": int(exc.code), "error": exc.message})
            await websocket.close(CLOSE_POLICY, _reason(exc.message))
        return
    if not session_id:
        await websocket.close(CLOSE_NO_SESSION_ID, "missing session_id")
        return
    session = await asyncio.to_thread(session_store.get_session, ctx.engine, session_id)
    if session is None or session.user_id != user.id:
        message = "session not found; create a new project (nemovideo create)"
        await websocket.send_json(
            {"type": "error", "code": int(ErrorCode.SESSION_NOT_FOUND), "error": message}
        )
        await websocket.close(CLOSE_POLICY, _reason(message))
        return
    await SocketChat(websocket, ctx, user, session).run()


class SocketChat:
    """One accepted socket of one caller on one session."""

    def __init__(self, websocket: WebSocket, ctx: AppContext, user: User, session: ChatSession) -> None:
        self.websocket, self.ctx, self.user, self.session = websocket, ctx, user, session
        self.feeds = feeds_of(ctx)
        self._send_lock = asyncio.Lock()  # pongs (reader task) and turn messages share the socket
        self._inbox: asyncio.Queue[SocketMessage | None] = asyncio.Queue()

    async def run(self) -> None:
        reader = asyncio.create_task(self._read(), name=f"socket reader {self.session.id}")
        try:
            await self.send(
                {"type": "session_ready", "session_id": self.session.id, "project_id": self.session.task_id}
            )
            try:
                first = await asyncio.wait_for(self._inbox.get(), RESUME_AFTER_SECONDS)
            except TimeoutError:
                feed = self.feeds.undelivered(self.session.id)
                if feed is not None:  # a client back after its socket dropped mid-turn
                    await self._follow(feed)
                first = await self._next()
            message = first
            while message is not None:
                await self._handle(message)
                message = await self._next()
        except _Gone:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _next(self) -> SocketMessage | None:
        """The client's next `message`; None when it closed the socket, or sent nothing (pings
        aside) for as long as a turn may last: such a socket is closed, so idle sockets do not pile up."""
        try:
            return await asyncio.wait_for(self._inbox.get(), self.ctx.settings.stream_cap_seconds)
        except TimeoutError:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.websocket.close(CLOSE_NORMAL, "idle")
            return None

    async def send(self, message: dict[str, Any]) -> None:
        try:
            async with self._send_lock:
                await self.websocket.send_text(json.dumps(message, ensure_ascii=False, separators=(",", ":")))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise _Gone from exc

    async def _read(self) -> None:
        """Pings are answered here at once, even while a turn runs; the rest goes to the inbox.
        A closed socket puts None there, which ends `run` (a running turn goes on without it)."""
        try:
            while True:
                raw = await self.websocket.receive_text()
                try:
                    message = SocketMessage.model_validate_json(raw)
                except ValidationError:
                    log.info("ignored a socket message that is not a JSON object with a `type`")
                    continue
                if message.type == "ping":
                    await self.send({"type": "pong"})
                elif message.type == "message":
                    self._inbox.put_nowait(message)
                else:
                    log.info("ignored a socket message of type %r", message.type[:64])
        except (WebSocketDisconnect, RuntimeError, OSError, _Gone):
            pass
        finally:
            self._inbox.put_nowait(None)

    async def _handle(self, message: SocketMessage) -> None:
        text = (message.content or "").strip()
        if not text or len(text) > MAX_MESSAGE_CHARS:
            why = (
                "the message has no content"
                if not text
                else f"message longer than {MAX_MESSAGE_CHARS} characters"
            )
            await self._refused(ApiError(ErrorCode.BAD_REQUEST, why))
            return
        settings = self.ctx.settings
        request = TurnRequest(
            session_id=self.session.id,
            user_id=self.user.id,
            message=text,
            language=self.session.language,
            streaming=False,  # the CLI shows whole texts; chunks would be printed twice
        )
        starting = asyncio.ensure_future(
            self.feeds.begin(self.ctx.turns, request, cost=settings.turn_cost, bind_url=settings.bind_url)
        )
        starting.add_done_callback(_consume_outcome)
        try:
            # Shielded: a socket closing here leaves the turn starting (and then running) intact.
            feed = await asyncio.shield(starting)
        except ApiError as exc:
            await self._refused(exc)
            return
        await self._follow(feed)

    async def _refused(self, exc: ApiError) -> None:
        await self.send(
            {"type": "error", "code": int(exc.code), "error": exc.message, "data": exc.data or {}}
        )
        await self.send({"type": "done", "session_id": self.session.id, "ok": False})

    async def _follow(self, feed: TurnFeed) -> None:
        async for message in feed.follow(self.ctx.settings.heartbeat_seconds, self.ctx.clock.time):
            await self.send(message)
        self.feeds.delivered(feed)


def _consume_outcome(task: asyncio.Future[TurnFeed]) -> None:
    # Retrieved here too, so a refusal that nobody awaited (its socket closed) is not logged as lost.
    if not task.cancelled():
        task.exception()
