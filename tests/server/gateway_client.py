"""A client of the gateway the official CLI speaks (server/gateway), as its source calls it: the
key as a bearer token, projects, a multipart `file` with a `session_id` field, and chat turns
over the WebSocket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

SOCKET_TIMEOUT_SECONDS = 120


def socket_url(client: httpx.Client, key: str | None, session_id: str | None, prefix: str = "") -> str:
    base = str(client.base_url).rstrip("/").replace("http://", "ws://", 1)
    query = []
    if key is not None:
        query.append(f"token={key}")
    if session_id is not None:
        query.append(f"session_id={session_id}")
    return f"{base}{prefix}/ws/chat?{'&'.join(query)}"


def receive(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=SOCKET_TIMEOUT_SECONDS)))


def until_done(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every message up to and including `done`, heartbeats left out."""
    seen: list[dict[str, Any]] = []
    while True:
        message = receive(ws)
        if message["type"] != "heartbeat":
            seen.append(message)
        if message["type"] == "done":
            return seen


def close_code(ws: ClientConnection) -> tuple[int, str]:
    """The code and reason the server closed with (messages before it are skipped)."""
    try:
        while True:
            ws.recv(timeout=SOCKET_TIMEOUT_SECONDS)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason


def photos(directory: Path, count: int = 2) -> list[Path]:
    paths = []
    for i in range(count):
        path = directory / f"photo{i}.jpg"
        Image.new("RGB", (320, 240), (60 * i + 40, 100, 200 - 60 * i)).save(path, quality=90)
        paths.append(path)
    return paths


class Gateway:
    def __init__(self, client: httpx.Client, key: str) -> None:
        self.client, self.key = client, key

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, headers=self.auth, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.post(path, headers=self.auth, **kw)

    def new_project(self) -> tuple[str, str]:
        """(project_id, session_id), as `nemovideo create` makes them."""
        answer = self.post("/projects", json={"create_session": True})
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        return str(data["project_id"]), str(data["session"]["session_id"])

    def upload(self, path: Path, session_id: str) -> httpx.Response:
        # The file first, then the field, in the order the CLI's FormData sends them.
        return self.client.post(
            "/files/upload",
            headers=self.auth,
            files=[("file", (path.name, path.read_bytes(), "image/jpeg"))],
            data={"session_id": session_id},
        )

    @contextmanager
    def socket(self, session_id: str) -> Iterator[ClientConnection]:
        """A socket on the session, past its `session_ready`."""
        with connect(socket_url(self.client, self.key, session_id), open_timeout=30) as ws:
            ready = receive(ws)
            assert ready["type"] == "session_ready", ready
            yield ws

    def chat(self, session_id: str, text: str) -> list[dict[str, Any]]:
        """One turn as `nemovideo chat` runs it: every message after session_ready, `done` last."""
        with self.socket(session_id) as ws:
            ws.send(json.dumps({"type": "message", "content": text, "metadata": {}}))
            return until_done(ws)
