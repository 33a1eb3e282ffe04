"""Chat turns owned by the server, not by the HTTP connection that asked for them.

A turn runs as its own asyncio task: it asks the agent's runner for events, persists each one
(session_store.append_event: the event and its stateDelta as a new version, one transaction),
then hands it to whoever is reading. A reader that goes away loses nothing: the task goes on,
commits the draft, and settles the credit hold once (refunds it if the turn fails, is cut by the
time cap, or the server shuts down under it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.events import Content, Event, Part, error_event
from server import credits, session_store
from server.errors import DISK_FULL_MESSAGE, ApiError, ErrorCode, is_disk_full
from server.turn_lock import Lease, LeaseLost, TurnLocks

if TYPE_CHECKING:
    from server.context import AppContext

log = logging.getLogger("nemo.turns")

_DONE = None
INTERNAL_MESSAGE = "internal error; the server log has the details"


@dataclass
class TurnRequest:
    session_id: str
    user_id: str
    message: str
    language: str | None
    streaming: bool
    state_delta: dict[str, Any] = field(default_factory=dict)
    hold_id: str = ""


class Turns:
    """The running turns of one app, their per-session leases, and the settings they run under."""

    def __init__(
        self, ctx: AppContext, *, cap_seconds: float, wait_seconds: float, lease_seconds: float = 15.0
    ) -> None:
        self.ctx = ctx
        self.cap_seconds = cap_seconds
        # Held in the database, so API processes sharing it never run two turns on one session.
        self.locks = TurnLocks(ctx.engine, wait_seconds, lease_seconds=lease_seconds)
        self._tasks: set[asyncio.Task[None]] = set()

    async def begin(
        self, request: TurnRequest, *, cost: int, bind_url: str | None
    ) -> asyncio.Queue[str | None]:
        """Everything that can still refuse with an HTTP error, then the turn itself.

        Takes the session's turn lease (429 + Retry-After when another turn, in this process or
        another one on the same database, keeps it past the wait),
        holds the turn's credits (2001), applies the client's state_delta (400), and starts the
        turn, which releases the lease and closes the hold when it ends. Returns the queue of the
        turn's event JSON lines, ending with None.
        """
        engine = self.ctx.engine
        lease = await self.locks.acquire(request.session_id)
        if lease is None:
            raise ApiError(
                ErrorCode.RATE_LIMITED,
                "another turn is running on this session; retry when it has finished",
                headers={"Retry-After": str(max(1, round(self.locks.wait_seconds)))},
            )
        try:
            request.hold_id = await asyncio.to_thread(
                credits.hold, engine, request.user_id, cost, request.session_id, bind_url=bind_url
            )
        except BaseException:
            await asyncio.shield(self.locks.release(lease))
            raise
        try:
            if request.state_delta:
                await asyncio.to_thread(
                    session_store.apply_state_delta,
                    engine,
                    request.session_id,
                    request.state_delta,
                    reason="client state_delta",
                    fence=lease.fence,
                )
        except BaseException:
            await asyncio.shield(asyncio.to_thread(credits.refund, engine, request.hold_id))
            await asyncio.shield(self.locks.release(lease))
            raise
        return self._start(request, lease)

    def _start(self, request: TurnRequest, lease: Lease) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        task = asyncio.create_task(self._run(request, queue, lease), name=f"turn {request.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return queue

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Tests and shutdown: until every running turn has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Shutdown: let turns finish within the grace period, then cancel (their holds are refunded)."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(list(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, request: TurnRequest, queue: asyncio.Queue[str | None], lease: Lease) -> None:
        engine = self.ctx.engine
        metrics = self.ctx.metrics
        invocation_id = self.ctx.ids.invocation_id()
        outcome = "error"
        if metrics is not None:
            metrics.turns_running.inc()
        try:
            async with asyncio.timeout(self.cap_seconds):
                async for event in self._events(request, invocation_id, lease):
                    if not event.partial:  # ADK does not persist streaming chunks either
                        await asyncio.to_thread(
                            session_store.append_event, engine, request.session_id, event, fence=lease.fence
                        )
                    queue.put_nowait(event.to_sse_json())
            await asyncio.to_thread(credits.settle, engine, request.hold_id)
            outcome = "ok"
        except TimeoutError:
            outcome = "timeout"
            await self._fail(
                request,
                queue,
                invocation_id,
                f"the turn ran past {self.cap_seconds:g} s and was stopped",
                fence=lease.fence,
            )
        except ApiError as exc:
            await self._fail(
                request, queue, invocation_id, exc.message, code=int(exc.code), fence=lease.fence
            )
        except LeaseLost:  # this process stalled past its lease and another turn has the session now
            await self._fail(
                request,
                queue,
                invocation_id,
                "another turn took over this session; this turn was stopped",
                fence=lease.fence,
            )
        except asyncio.CancelledError:
            outcome = "cancelled"
            await asyncio.shield(asyncio.to_thread(credits.refund, engine, request.hold_id))
            raise
        except Exception as exc:
            if is_disk_full(exc):
                log.error("turn on session %s stopped: disk full (%s)", request.session_id, exc)
            else:
                log.exception("turn on session %s failed", request.session_id)
            message = DISK_FULL_MESSAGE if is_disk_full(exc) else INTERNAL_MESSAGE
            await self._fail(request, queue, invocation_id, message, fence=lease.fence)
        finally:
            try:
                # Released before the stream ends, so a client that saw the end may start the next turn.
                await asyncio.shield(self.locks.release(lease))
            finally:
                queue.put_nowait(_DONE)
                if metrics is not None:
                    metrics.turns_running.dec()
                    metrics.turns.labels(outcome).inc()

    async def _events(self, request: TurnRequest, invocation_id: str, lease: Lease) -> AsyncIterator[Event]:
        from agent.runner import run_turn
        from server.stills import looker

        engine = self.ctx.engine
        history = await asyncio.to_thread(session_store.events, engine, request.session_id)
        # The user's words are part of the session's history (ADK stores them as an event too),
        # but are not streamed back.
        said = Event(
            content=Content(role="user", parts=[Part(text=request.message)]),
            invocation_id=invocation_id,
            author="user",
            id=self.ctx.ids.event_id(),
            timestamp=self.ctx.clock.time(),
        )
        await asyncio.to_thread(
            session_store.append_event, engine, request.session_id, said, fence=lease.fence
        )
        state, version = await asyncio.to_thread(session_store.get_state, engine, request.session_id)
        async for event in run_turn(
            state,
            request.message,
            planner=self.ctx.planner,
            language=request.language,
            streaming=request.streaming,
            invocation_id=invocation_id,
            ids=self.ctx.ids.event_id,
            now=self.ctx.clock.time,
            history=history,
            # Undo history names drafts by their version here; undo and redo load them back.
            version=version,
            drafts=session_store.StoredDrafts(engine, request.session_id),
            # the look_at tool sees the draft's picture as the studio's still does
            look=looker(self.ctx, request.user_id, request.session_id, state.video_infos),
        ):
            yield event

    async def _fail(
        self,
        request: TurnRequest,
        queue: asyncio.Queue[str | None],
        invocation_id: str,
        message: str,
        *,
        code: int = 5000,
        fence: session_store.Fence | None = None,
    ) -> None:
        engine = self.ctx.engine
        try:
            await asyncio.to_thread(credits.refund, engine, request.hold_id)
        except Exception:  # the stream still ends with the error event; the hold sweep refunds it
            log.exception("could not refund hold %s now; the sweep will", request.hold_id)
        event = error_event(
            message,
            code=code,
            invocation_id=invocation_id,
            ids=self.ctx.ids.event_id,
            now=self.ctx.clock.time,
        )
        try:
            await asyncio.to_thread(
                session_store.append_event, engine, request.session_id, event, fence=fence
            )
        except LeaseLost:  # the session is another turn's now: only this turn's reader hears of it
            pass
        except Exception:  # the error event still reaches a reader even if the database is what failed
            log.exception("could not store the error event of session %s", request.session_id)
        queue.put_nowait(event.to_sse_json())
