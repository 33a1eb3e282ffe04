"""create_app(settings) -> FastAPI: builds the app's collaborators, routers and lifespan.

No settings, engine or app exist at import time. Tests build as many apps as they like, each
with its own data dir and database.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from server.auth import load_secret
from server.config import Settings
from server.context import AppContext
from server.db import init_db, make_engine
from server.errors import install_handlers

log = logging.getLogger("nemo.server")


def create_app(
    settings: Settings,
    *,
    planner: Any = None,
    engine: Any = None,
    start_workers: bool = True,
) -> FastAPI:
    """The whole server. `planner` and `engine` are for tests and embedders; None builds the defaults."""
    from agent.rule_planner import RulePlanner
    from server.render_service import RenderService
    from server.routes import ROUTERS
    from server.storage import Storage

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine if engine is not None else make_engine(settings.effective_database_url)
    init_db(engine)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        secret=load_secret(settings.secret_key, settings.data_dir),
        planner=planner if planner is not None else RulePlanner(),
    )
    ctx.storage = Storage(settings.data_dir)
    ctx.renders = RenderService(ctx)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_workers:
            ctx.renders.start()
        log.info("nemo server ready: data dir %s, database %s", settings.data_dir, engine.url.render_as_string())
        try:
            yield
        finally:
            ctx.renders.stop()

    app = FastAPI(
        title="NemoVideo-compatible backend",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
