"""How create_app turns into the fake: settings first, then the context, then routes and middleware."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from server.config import Settings
from server.fake.lifespan import OWNED_MARK
from server.fake.render import render as fake_render
from server.fake.state import EXTRAS_KEY, FakeState

if TYPE_CHECKING:
    from fastapi import FastAPI

    from server.context import AppContext

log = logging.getLogger("nemo.fake")


def prepare_settings(settings: Settings) -> Settings:
    """Fake-mode settings: a fresh temporary data dir unless one was given, a key derived from the
    seed (so tokens repeat run to run), the fake's credits for new users and its render workers."""
    update: dict[str, object] = {"anon_credits": settings.fake.credits}
    if "data_dir" not in settings.model_fields_set:
        tmp = Path(tempfile.mkdtemp(prefix="nemo-fake-"))
        (tmp / OWNED_MARK).touch()
        update["data_dir"] = tmp
    if not settings.secret_key or not settings.secret_key.get_secret_value():
        update["secret_key"] = SecretStr(
            hashlib.sha256(f"nemo-fake:{settings.fake.seed}".encode()).hexdigest()
        )
    update["render"] = settings.render.model_copy(update={"workers": settings.fake.render_workers})
    return settings.model_copy(update=update)


def configure(ctx: AppContext) -> FakeState:
    """Seeded ids, the logical clock and the fast render target, on the app's context."""
    state = FakeState.from_settings(ctx.settings.fake)
    ctx.ids = state.ids
    ctx.clock = state.clock
    ctx.render = fake_render
    ctx.extras[EXTRAS_KEY] = state
    return state


def install(app: FastAPI, ctx: AppContext) -> None:
    """Mount /_fake/... and the fault/journal middleware (call before the outer middleware)."""
    from server.fake.middleware import FakeMiddleware, quiet_dropped_connections
    from server.fake.routes import router

    app.include_router(router)
    app.add_middleware(FakeMiddleware, ctx=ctx)
    quiet_dropped_connections()
    log.warning("FAKE MODE: seeded ids, logical clock, fault injection under /_fake; not for production")
