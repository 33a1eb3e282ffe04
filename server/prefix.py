"""Serve every route with and without a path prefix: the base URL is all a client changes.

For a request whose path is not one of ours (`https://host/some/prefix/api/...`), the leading
segments before the first of our roots are moved from the path into ASGI's `root_path`. Routing
then sees `/api/...`, and URLs the app builds from the request (`cdn_url`, `outputUrl`) keep the
prefix, so they work through the same proxy. A candidate is taken only when one of the app's
routes matches what follows it, so a prefix that itself contains `/api/` still works.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

ROOTS_WITH_CHILDREN = (
    "/api/",
    "/media/",
    "/workspace/",
    "/studio/",
    # the official CLI's gateway (server/gateway)
    "/auth/",
    "/billing/",
    "/files/",
    "/services/",
    "/ws/",
)
EXACT_ROOTS = (
    "/run_sse",
    "/healthz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/openapi.yaml",
    "/projects",
)


def _is_root(rest: str) -> bool:
    if rest.startswith(ROOTS_WITH_CHILDREN):
        return True
    return any(rest == r or rest.startswith(r + "/") for r in EXACT_ROOTS)


def _matches(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    return any(route.matches(scope)[0] is not Match.NONE for route in routes)


def find_prefix(scope: Scope, routes: Sequence[BaseRoute]) -> str | None:
    """The prefix to move into root_path, or None when the path is ours already (or no root)."""
    path = get_route_path(scope)
    if _matches(routes, scope):
        return None
    for i, char in enumerate(path):
        if char != "/" or i == 0 or not _is_root(path[i:]):
            continue
        candidate = {**scope, "root_path": scope.get("root_path", "") + path[:i]}
        if _matches(routes, candidate):
            return path[:i]
    return None


class PrefixMiddleware:
    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):  # the CLI's chat is a WebSocket
            prefix = find_prefix(scope, self.routes)
            if prefix:
                scope = {**scope, "root_path": scope.get("root_path", "") + prefix}
        await self.app(scope, receive, send)
