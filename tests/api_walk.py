"""A client walking the public API the way a NemoVideo skill does: with its token and session it
uploads, chats over /run_sse, reads the state, exports and downloads the MP4 (real HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import bearer


class ApiWalk:
    """The calls a skill makes, with its token and session."""

    def __init__(self, http: httpx.Client, token: str, session_id: str) -> None:
        self.http, self.headers, self.sid = http, bearer(token), session_id

    @classmethod
    def start(
        cls,
        http: httpx.Client,
        anon_token: Callable[..., str],
        new_session: Callable[..., str],
        **session: Any,
    ) -> ApiWalk:
        """A new anonymous token and a session (`session` is the create-session body)."""
        token = anon_token(http)
        return cls(http, token, new_session(http, token, **session))

    def upload(self, paths: list[Path]) -> list[dict[str, Any]]:
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
        answer = self.http.post(
            f"/api/upload-video/nemo_agent/me/{self.sid}", headers=self.headers, files=files
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()["data"]
        assert body["session_state_applied"] is True
        assert not body.get("errors"), body["errors"]
        return list(body["files"])

    def chat(self, text: str) -> list[dict[str, Any]]:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": self.sid,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }
        events = []
        with self.http.stream("POST", "/run_sse", headers=self.headers, json=body, timeout=120) as answer:
            assert answer.status_code == 200
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
        assert events and events[-1]["author"] == "nemo_agent", events[-1:]
        return events

    def state(self, version: str | int = "latest") -> tuple[dict[str, Any], int]:
        """The session's state at `version`, and the version number it answered with."""
        answer = self.http.get(f"/api/state/nemo_agent/me/{self.sid}/{version}", headers=self.headers)
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        return dict(data["state"]), int(data["version"])

    def draft(self) -> dict[str, Any]:
        return dict(self.state()[0]["draft"])

    def export(self, draft: dict[str, Any], out: Path, render_id: str, **output: Any) -> dict[str, Any]:
        """Render `draft` as MP4 (`output` adds to the render call's output), wait, download to
        `out`; returns the completed status."""
        body = {"id": render_id, "sessionId": self.sid, "draft": draft, "output": {"format": "mp4", **output}}
        answer = self.http.post("/api/render/proxy/lambda", headers=self.headers, json=body)
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 400
        while True:
            status = self.http.get(f"/api/render/proxy/lambda/{render_id}", headers=self.headers).json()
            if status["status"] in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() < deadline, f"render still {status['status']} at {status['progress']}%"
            time.sleep(0.25)
        assert status["status"] == "completed", status
        answer = self.http.get(f"/api/render/proxy/{render_id}/download", headers=self.headers)
        assert answer.status_code == 200
        out.write_bytes(answer.content)
        return dict(status)


def video_segments(draft: dict[str, Any]) -> list[dict[str, Any]]:
    """The segments of the draft's video tracks, in order."""
    return [seg for track in draft["t"] if track["tt"] == 0 for seg in track["sg"]]
