"""The fake router's lifespan: a temporary data dir the fake made for itself goes when the app stops."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from server.context import AppContext

# Marks a data dir the fake made for itself: deleted when the app shuts down.
OWNED_MARK = ".nemo-fake-temporary"


@asynccontextmanager
async def fake_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At shutdown, a temporary data dir the fake made is deleted (at exit would be too late:
    uvicorn re-raises SIGTERM, and atexit handlers never run)."""
    yield
    ctx: AppContext = app.state.ctx
    data_dir = ctx.settings.data_dir
    if (data_dir / OWNED_MARK).exists():
        await ctx.turns.stop()
        ctx.renders.stop()  # both are safe to call again in the app's own shutdown
        ctx.engine.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)
