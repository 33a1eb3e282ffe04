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

from database.engine import make_engine
from server.auth import load_secret
from server.body_guard import BodyGuard
from server.config import Settings
from server.context import AppContext
from server.db import init_db
from server.errors import install_handlers
from server.form_json import FormEncodedJsonMiddleware
from server.metrics import Metrics
from server.openapi_doc import build_openapi
from server.prefix import PrefixMiddleware
from server.request_log import RequestObserver, redact_access_log

log = logging.getLogger("nemo.server")


def create_app(
    settings: Settings,
    *,
    planner: Any = None,
    engine: Any = None,
    start_workers: bool = True,
) -> FastAPI:
    """The whole server. `planner` and `engine` are for tests and embedders; None builds the defaults."""
    from server.gateway import ROUTERS as GATEWAY_ROUTERS
    from server.renders.service import RenderService
    from server.routes import ROUTERS
    from server.storage import Storage
    from server.sweeper import Sweeper
    from server.turns import Turns

    fake = settings.mode == "fake"
    if fake:  # the integration-test fake (server/fake): only this branch ever imports it
        from server.fake import setup as fake_setup

        settings = fake_setup.prepare_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = engine if engine is not None else make_engine(settings.effective_database_url)
    init_db(engine)
    ctx = AppContext(
        settings=settings,
        engine=engine,
        secret=load_secret(
            settings.secret_key.get_secret_value() if settings.secret_key else None, settings.data_dir
        ),
        planner=planner if planner is not None else _default_planner(settings),
    )
    if fake:
        fake_setup.configure(ctx)
    ctx.storage = Storage(settings.data_dir)
    ctx.sweeper = Sweeper(
        ctx,
        interval_s=settings.sweep_seconds,
        turn_cap_s=settings.stream_cap_seconds,
        tmp_max_age_s=settings.tmp_max_age_seconds,
    )
    ctx.renders = RenderService(ctx)
    ctx.metrics = Metrics()
    ctx.turns = Turns(
        ctx,
        cap_seconds=settings.stream_cap_seconds,
        wait_seconds=settings.turn_wait_seconds,
        lease_seconds=settings.turn_lease_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The first pass at start, then every sweep_seconds while the server runs.
        ctx.sweeper.start()
        if start_workers:
            ctx.renders.start()
        log.info(
            "nemo server ready: data dir %s, database %s", settings.data_dir, engine.url.render_as_string()
        )
        try:
            yield
        finally:
            await ctx.sweeper.stop()
            await ctx.turns.stop()
            ctx.renders.stop()

    app = FastAPI(
        title="NemoVideo-compatible backend",
        version="0.1.0",
        lifespan=lifespan,
        # /docs and /redoc are server/routes/docs.py's: FastAPI's own load Swagger UI from a CDN.
        docs_url=None,
        redoc_url=None,
        # A JSON body sent without a Content-Type (Python's requests with data=json.dumps(...)) is
        # read as JSON, as the FastAPI the real service runs on did. The strict default guards
        # cookie-authenticated apps against cross-site posts; every call here needs a bearer token.
        strict_content_type=False,
    )
    app.state.ctx = ctx
    redact_access_log()
    install_handlers(app)
    for router in (*ROUTERS, *GATEWAY_ROUTERS):  # the skills' routes, then the official CLI's
        app.include_router(router)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    if fake:  # /_fake routes and the fault/journal middleware, inside the observer and prefix ones
        fake_setup.install(app, ctx)
    # Inside the observer, so refused bodies are logged and counted like any answer.
    app.add_middleware(
        BodyGuard, max_json_bytes=settings.max_json_bytes, idle_timeout_s=settings.body_idle_timeout_seconds
    )
    # Added last = outermost: the prefix is moved into root_path before anything looks at the path.
    app.add_middleware(FormEncodedJsonMiddleware)  # `curl -d '{...}'` labels JSON as a form
    app.add_middleware(RequestObserver, metrics=ctx.metrics)
    app.add_middleware(PrefixMiddleware, routes=app.router.routes)
    return app


def _default_planner(settings: Settings) -> Any:
    from agent.planners.rules.planner import RulePlanner

    llm = settings.llm
    if llm.base_url:
        from agent.planners.llm.planner import LLMPlanner

        return LLMPlanner(
            llm.base_url,
            llm.model,
            llm.api_key.get_secret_value() if llm.api_key else None,
            timeout_seconds=llm.timeout_seconds,
            fallback=RulePlanner(),
        )
    return RulePlanner()
