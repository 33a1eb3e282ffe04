"""AppContext: the collaborators one app instance owns, built by create_app, reached through deps.

Nothing here is global: two apps in one process (tests do this) never share an engine or a key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from render_jobs.child import RenderFn, render_draft
from server.auth import TokenCache
from server.clock import Clock
from server.config import Settings
from server.ids import IdSource

if TYPE_CHECKING:
    from agent.planner import Planner


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    secret: bytes  # keys token hashes; from NEMO_SECRET_KEY or made once in the data dir
    planner: Planner
    # Every id and every wall-clock time a client sees comes from these two (the fake seeds them).
    ids: IdSource = field(default_factory=IdSource)
    clock: Clock = field(default_factory=Clock)
    # Who each recently seen token belongs to (server/auth.py TokenCache).
    tokens: TokenCache = field(default_factory=TokenCache)
    # What the render workers call in their child process (the fake has its own): a module-level
    # function, pickled by name.
    render: RenderFn = render_draft
    # Filled in by create_app from the modules that own them (storage.py, the render service).
    storage: Any = None
    renders: Any = None
    # server/metrics.py Metrics and server/turns.py Turns (chat turns and their per-session locks).
    metrics: Any = None
    turns: Any = None
    # server/sweeper.py Sweeper: releases holds and temp files of requests that died.
    sweeper: Any = None
    extras: dict[str, Any] = field(default_factory=dict)
