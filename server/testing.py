"""The `nemo_fake` pytest fixture: the NemoVideo fake server, for testing API clients.

Installed with the package as a pytest plugin (entry point `nemo_fake`), so a client project only
has to `pip install` this package and ask for the fixture:

    def test_my_client(nemo_fake):
        client = MyClient(base_url=nemo_fake.base_url)
        nemo_fake.fault("POST /run_sse", error=1002)      # the next turn finds its session gone
        client.run("make a video")                         # ... your client recovers
        assert nemo_fake.requests(path="/run_sse")[-1]["headers"]["x-skill-source"] == "my-skill"

Each test gets its own server: in-process (uvicorn on a thread), on a free 127.0.0.1 port, with a
temporary data dir, in fake mode (seeded ids, fast renders, unlimited credits, /_fake routes).
Override the `nemo_fake_settings` fixture to change settings (e.g. `{"fake": {"seed": 7}}`).
This module imports nothing heavy until a test asks for the fixture.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["LiveServer", "NemoFake", "nemo_fake", "nemo_fake_settings", "start_fake", "stop_fake"]


class NemoFake:
    """A running fake server: its `base_url` and the calls a test makes to steer it."""

    def __init__(self, base_url: str, data_dir: Path) -> None:
        self.base_url = base_url
        self.data_dir = data_dir
        self._http = httpx.Client(base_url=base_url, timeout=30)

    def url(self, path: str) -> str:
        return self.base_url + path

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._http.request(method, path, **kwargs)
        if answer.status_code != 200:
            raise AssertionError(f"{method} {path} -> {answer.status_code}: {answer.text}")
        return dict(answer.json()["data"])

    def fault(self, route: str | None = None, *, times: int = 1, **options: Any) -> dict[str, Any]:
        """Queue a fault for the next `times` requests matching `route` ("POST /run_sse", path
        patterns with `*`), e.g. `fault("GET /api/state/*", error=1002)`,
        `fault("POST /run_sse", stream="no_text")`, `fault(render="fail")`,
        `fault("POST /api/auth/anonymous-token", error=429, retry_after=2)`. Options: session_id,
        error, message, retry_after, bind_url, latency_ms, stream, render, seconds,
        heartbeat_seconds, after_events, event_code. Returns the queued fault."""
        body: dict[str, Any] = {"times": times, **options}
        if route is not None:
            body["route"] = route
        return dict(self._call("POST", "/_fake/faults", json=body)["fault"])

    def faults(self) -> list[dict[str, Any]]:
        """Faults still pending."""
        return list(self._call("GET", "/_fake/faults")["faults"])

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "/_fake/faults")["cleared"])

    def requests(self, path: str | None = None, method: str | None = None) -> list[dict[str, Any]]:
        """What clients sent, oldest first: method, path, route_path, query, headers (lower-case
        names; no Authorization or Cookie), body summary, session_id, status, fault. Optionally only
        those whose route path is `path` and/or whose method is `method`."""
        entries = list(self._call("GET", "/_fake/requests")["requests"])
        return [
            e
            for e in entries
            if (path is None or e["route_path"] == path) and (method is None or e["method"] == method.upper())
        ]

    def reset(self, data: bool = False) -> None:
        """Forget the journal and pending faults; `data=True` also deletes every user, session,
        upload and render, and restarts the ids and the clock."""
        self._call("POST", "/_fake/reset", json={"data": data})

    def set_credits(self, available: int, user_id: str | None = None) -> None:
        """Give one user (or everyone, and new users from now on) `available` credits."""
        self._call("POST", "/_fake/credits", json={"available": available, "user_id": user_id})

    def advance_clock(self, seconds: float) -> str:
        """Move the server's clock forward (tokens really expire); returns the new ISO time."""
        return str(self._call("POST", "/_fake/clock", json={"advance_seconds": seconds})["now"])

    def close(self) -> None:
        self._http.close()


class LiveServer:
    """uvicorn serving `app` on 127.0.0.1 in a thread, lifespan on, on a port the OS picked.

    `start()`/`stop()`, or use it as a context manager; `what` names it when it fails to start."""

    def __init__(self, app: FastAPI, what: str = "the test server") -> None:
        import uvicorn

        self.what = what
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=None, ws="auto", lifespan="on", proxy_headers=False, timeout_graceful_shutdown=5
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.what} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _settings(data_dir: Path, overrides: dict[str, Any]) -> Any:
    from server.config import Settings

    class ArgumentSettings(Settings):
        """From arguments only: the developer's NEMO_ variables and .env never leak into a test."""

        @classmethod
        def settings_customise_sources(cls, settings_cls, init_settings, **_sources):  # type: ignore[no-untyped-def,override]
            return (init_settings,)

    values: dict[str, Any] = {
        "mode": "fake",
        "data_dir": data_dir,
        "render": {"poll_seconds": 0.05},  # renders start at once
        "log_level": "warning",
    }
    for key, value in overrides.items():  # nested settings ({"fake": {"seed": 7}}) are merged
        merged = isinstance(value, dict) and isinstance(values.get(key), dict)
        values[key] = {**values[key], **value} if merged else value
    return ArgumentSettings(_env_file=None, **values)


def start_fake(data_dir: Path, **overrides: Any) -> tuple[NemoFake, LiveServer]:
    """Start a fake outside pytest (scripts, other test runners); stop it with `stop_fake`."""
    from server.app import create_app

    server = LiveServer(create_app(_settings(data_dir, overrides)), "the NemoVideo fake")
    server.start()
    return NemoFake(server.base_url, data_dir), server


def stop_fake(fake: NemoFake, server: LiveServer) -> None:
    fake.close()
    server.stop()


@pytest.fixture
def nemo_fake_settings() -> dict[str, Any]:
    """Settings of the fake for this test (override in your conftest), e.g. {"fake": {"seed": 7}}."""
    return {}


@pytest.fixture
def nemo_fake(
    tmp_path_factory: pytest.TempPathFactory, nemo_fake_settings: dict[str, Any]
) -> Iterator[NemoFake]:
    """A fresh NemoVideo fake server for this test; see NemoFake for what it offers."""
    fake, server = start_fake(tmp_path_factory.mktemp("nemo-fake"), **nemo_fake_settings)
    try:
        yield fake
    finally:
        stop_fake(fake, server)
