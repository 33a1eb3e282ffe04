"""Stream behaviours of a faulted /run_sse, applied to the real stream as it is sent.

The turn underneath runs for real (it is server-owned), so the session's draft still changes;
only what the client receives is altered:
- `no_text`: text events are left out (the turn "ends with no text"; clients poll state).
- `error`: after `after_events` events, one final error event (author `system`), then the end.
- `heartbeats_only`: only `: heartbeat` comments for `seconds`, then the end.
- `drop`: after `after_events` events the connection is cut (no clean end of the chunked body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Send

from agent.events import error_event
from server.fake.faults import Fault


class DroppedConnection(Exception):
    """Raised to make the server cut the connection (uvicorn closes the transport)."""


def _is_text_event(line: str) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    parts = (event.get("content") or {}).get("parts") or []
    return any(isinstance(p, dict) and "text" in p for p in parts)


class StreamFault:
    """A `send` for the app that applies one stream behaviour; `finish()` after the app returns."""

    def __init__(
        self, fault: Fault, send: Send, *, event_ids: Callable[[], str], now: Callable[[], float]
    ) -> None:
        self.fault = fault
        self._send = send
        self._event_ids = event_ids
        self._now = now
        self._pending = ""
        self._events_out = 0
        self._invocation_id: str | None = None
        self.active = False  # only an event-stream answer is altered; JSON refusals pass as they are
        self.closed = False
        self.dropped = False
        self._heartbeats: asyncio.Task[None] | None = None

    async def send(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.start":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])
            }
            self.active = headers.get("content-type", "").startswith("text/event-stream")
            await self._send(message)
            if self.active and self.fault.stream == "heartbeats_only":
                self._heartbeats = asyncio.create_task(self._beat())
            if self.active and self.fault.stream == "drop" and self.fault.after_events == 0:
                self._drop()
            return
        if not self.active or message["type"] != "http.response.body":
            await self._send(message)
            return
        if self.fault.stream == "heartbeats_only":
            return  # the heartbeat task speaks for the stream
        self._pending += message.get("body", b"").decode("utf-8")
        blocks = self._pending.split("\n\n")
        self._pending = blocks.pop()
        for block in blocks:
            await self._block(block)
            if self.closed:
                return
        if not message.get("more_body", False):
            if self.fault.stream == "error":
                await self._error_and_close()
            elif self.fault.stream == "drop":
                self._drop()
            else:
                await self._send(message)

    async def _block(self, block: str) -> None:
        data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        if data and self._invocation_id is None:
            self._invocation_id = _invocation_of(data)
        if data and self.fault.stream == "no_text" and _is_text_event(data):
            return
        await self._send({"type": "http.response.body", "body": (block + "\n\n").encode(), "more_body": True})
        if not data:
            return  # a heartbeat comment is not an event
        self._events_out += 1
        if self._events_out >= self.fault.after_events:
            if self.fault.stream == "error":
                await self._error_and_close()
            elif self.fault.stream == "drop":
                self._drop()

    async def _error_and_close(self) -> None:
        message = self.fault.message or "the agent failed while working on your request; try again"
        event = error_event(
            message,
            code=self.fault.event_code,
            invocation_id=self._invocation_id,
            ids=self._event_ids,
            now=self._now,
        )
        body = f"data: {event.to_sse_json()}\n\n".encode()
        await self._send({"type": "http.response.body", "body": body, "more_body": True})
        await self._close()

    async def _close(self) -> None:
        self.closed = True
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    def _drop(self) -> None:
        self.closed = self.dropped = True
        raise DroppedConnection("fault: connection dropped")

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + self.fault.duration()
        while (left := until - loop.time()) > 0:
            comment = f": heartbeat {int(self._now())}\n\n".encode()
            await self._send({"type": "http.response.body", "body": comment, "more_body": True})
            await asyncio.sleep(min(self.fault.heartbeat_seconds, left))
        await self._close()

    async def finish(self) -> None:
        """After the app returned: a heartbeats-only stream keeps going for its full time."""
        if self._heartbeats is not None:
            await self._heartbeats


def _invocation_of(data: str) -> str | None:
    try:
        value: Any = json.loads(data).get("invocationId")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
