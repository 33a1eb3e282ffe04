"""Chat turns as the WebSocket gateway tells them: each turn's events become socket messages in a
feed that outlives the socket that asked for the turn.

The turn itself runs in server/turns.py (credits, the per-session lease, the time cap, persisting
every event), exactly as for /run_sse. A feed drains the turn's event queue whether or not a socket
is reading, translating each ADK event into the CLI's message types, and ends with `done`. A socket
that drops mid-turn loses nothing: the work is committed by the turn, and a client that reconnects
to the session (the CLI does once, a second later, without sending its message again) is handed
the whole feed from its first message, `done` included. A feed is forgotten once a socket has sent
its `done`, or `keep_seconds` after the turn ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from agent.events import Event
from server.turns import TurnRequest

if TYPE_CHECKING:
    from server.turns import Turns

log = logging.getLogger("nemo.gateway.feeds")

KEEP_SECONDS = 120.0  # how long an undelivered ending waits for its client to come back


def socket_messages(event_json: str) -> list[dict[str, Any]]:
    """One ADK event (the JSON /run_sse streams) -> the socket messages the CLI reads:
    `tool_start`/`tool_end` for function calls and responses, `chunk` for partial text, `text`
    for final text, `state_update` naming the state keys a step changed, `error` for a failed turn."""
    event = Event.model_validate_json(event_json)
    if event.error_code is not None:
        code = int(event.error_code) if event.error_code.isdigit() else event.error_code
        return [{"type": "error", "code": code, "error": event.error_message or event.text}]
    messages: list[dict[str, Any]] = []
    for part in event.content.parts if event.content is not None else []:
        if part.function_call is not None:
            call = part.function_call
            messages.append(
                {"type": "tool_start", "tool": call.name, "tool_call_id": call.id, "args": call.args}
            )
        elif part.function_response is not None:
            answer = part.function_response
            messages.append({"type": "tool_end", "tool": answer.name, "tool_call_id": answer.id})
        elif part.text:
            messages.append({"type": "chunk" if event.partial else "text", "text": part.text})
    if event.state_delta:
        messages.append({"type": "state_update", "keys": sorted(event.state_delta)})
    return messages


class TurnFeed:
    """The socket messages of one turn, in order, ending with `done`."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self.messages: list[dict[str, Any]] = []
        self.finished = False
        self.delivered = False  # a socket sent this feed's `done`
        self._changed = asyncio.Condition()

    async def add(self, message: dict[str, Any]) -> None:
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    async def finish(self, ok: bool) -> None:
        async with self._changed:
            self.messages.append({"type": "done", "session_id": self.session_id, "ok": ok})
            self.finished = True
            self._changed.notify_all()

    async def follow(
        self, heartbeat_seconds: float, now: Callable[[], float] = time.time
    ) -> AsyncIterator[dict[str, Any]]:
        """Every message from the first, as they come, `done` last; a `heartbeat` message after
        each `heartbeat_seconds` without one (proxies close sockets that stay silent)."""
        sent = 0
        while True:
            async with self._changed:
                if sent == len(self.messages):
                    with contextlib.suppress(TimeoutError):  # quiet: a heartbeat goes out
                        await asyncio.wait_for(self._changed.wait(), heartbeat_seconds)
                fresh = self.messages[sent:]
                finished = self.finished
            if not fresh:
                yield {"type": "heartbeat", "ts": int(now())}
                continue
            for message in fresh:
                yield message
            sent += len(fresh)
            if finished and sent == len(self.messages):
                return


class TurnFeeds:
    """The feeds of one app, by session: at most one per session (the turn lease sees to that)."""

    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._feeds: dict[str, TurnFeed] = {}
        self._pumps: set[asyncio.Task[None]] = set()

    async def begin(self, turns: Turns, request: TurnRequest, *, cost: int, bind_url: str | None) -> TurnFeed:
        """Start a turn (Turns.begin: every refusal is its ApiError) and its feed. Callers run this
        in a task of its own, so a socket closing mid-call cannot cut between the credit hold and
        the turn's start."""
        queue = await turns.begin(request, cost=cost, bind_url=bind_url)
        feed = TurnFeed(request.session_id)
        self._feeds[request.session_id] = feed
        pump = asyncio.create_task(self._pump(queue, feed), name=f"feed {request.session_id}")
        self._pumps.add(pump)
        pump.add_done_callback(self._pumps.discard)
        return feed

    def undelivered(self, session_id: str) -> TurnFeed | None:
        """The session's turn whose `done` no socket has sent yet (running, or ended recently)."""
        feed = self._feeds.get(session_id)
        return feed if feed is not None and not feed.delivered else None

    def delivered(self, feed: TurnFeed) -> None:
        feed.delivered = True
        if feed.finished and self._feeds.get(feed.session_id) is feed:
            del self._feeds[feed.session_id]

    async def _pump(self, queue: asyncio.Queue[str | None], feed: TurnFeed) -> None:
        ok = True
        try:
            while (line := await queue.get()) is not None:
                for message in socket_messages(line):
                    ok = ok and message["type"] != "error"
                    await feed.add(message)
        except Exception:  # a message we could not translate: the turn goes on; this feed ends
            log.exception("could not relay a turn event of session %s", feed.session_id)
            await feed.add(
                {"type": "error", "code": 5000, "error": "internal error; the server log has the details"}
            )
            ok = False
        finally:
            await feed.finish(ok)
            asyncio.get_running_loop().call_later(self.keep_seconds, self._forget, feed)

    def _forget(self, feed: TurnFeed) -> None:
        if self._feeds.get(feed.session_id) is feed:
            del self._feeds[feed.session_id]
