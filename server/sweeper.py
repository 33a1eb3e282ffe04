"""The periodic sweep: releases what requests that died were holding, while the server runs.

A turn's credit hold and an upload's temp files belong to a request; when its process dies
(kill -9, a crash, a full disk mid-turn) nothing in that request will ever release them. Fixing
them only at the next start left credits frozen and temp files on disk for as long as the server
ran; the sweep runs at start and then every `interval_s`, in every API process, and each release
is exactly-once (credits.refund_orphaned, Storage.sweep_tmp), so sweeps racing across processes
sharing a database and a data dir are harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from server import credits

if TYPE_CHECKING:
    from server.context import AppContext

log = logging.getLogger("nemo.sweep")


class SweepReport(BaseModel):
    holds_refunded: int
    tmp_files_removed: int


class Sweeper:
    def __init__(
        self, ctx: AppContext, *, interval_s: float, turn_cap_s: float, tmp_max_age_s: float
    ) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.turn_cap = timedelta(seconds=turn_cap_s + 60)
        self.tmp_max_age_s = tmp_max_age_s
        self._task: asyncio.Task[None] | None = None

    def sweep_once(self) -> SweepReport:
        """One pass (blocking: database and files). Each part runs even if the other fails."""
        refunded = removed = 0
        try:
            refunded = credits.refund_orphaned(self.ctx.engine, cap=self.turn_cap)
        except Exception:  # a full disk or a database blip: the next pass tries again
            log.exception("sweep: could not refund orphaned credit holds this time")
        try:
            removed = self.ctx.storage.sweep_tmp(self.tmp_max_age_s)
        except Exception:
            log.exception("sweep: could not clear temp files this time")
        if refunded or removed:
            log.warning(
                "sweep: refunded %d credit holds and removed %d temp files left by requests that died",
                refunded,
                removed,
            )
        return SweepReport(holds_refunded=refunded, tmp_files_removed=removed)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.to_thread(self.sweep_once)
            await asyncio.sleep(self.interval_s)
