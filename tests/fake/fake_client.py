"""What a client developer writes to test against the fake: a tiny client over plain HTTP.

Nothing here imports the server: only `httpx` and Pillow (for test photos). The server comes
from the `nemo_fake` fixture that the package ships as a pytest plugin.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

SKILL_HEADERS = {"X-Skill-Source": "acme-skill", "X-Skill-Version": "1.4.2", "X-Skill-Platform": "pytest"}


@dataclass
class Turn:
    status: int
    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = None  # the JSON answer when the turn was refused before streaming

    @property
    def text(self) -> str:
        return "".join(
            part.get("text", "")
            for event in self.events
            if not event.get("partial")
            for part in (event.get("content") or {}).get("parts", [])
        )


class Client:
    """The calls every NemoVideo client makes, as a skill would make them."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers=SKILL_HEADERS, timeout=60)
        self.client_id = uuid.uuid4().hex
        self.token = ""

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get_token(self) -> dict[str, Any]:
        answer = self.http.post("/api/auth/anonymous-token", headers={"X-Client-Id": self.client_id})
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        self.token = data["token"]
        return data

    def new_session(self) -> str:
        answer = self.http.post("/api/tasks/me/with-session/nemo_agent", headers=self.auth(), json={})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["data"]["session_id"])

    def balance(self) -> httpx.Response:
        return self.http.get("/api/credits/balance/simple", headers=self.auth())

    def state(self, session_id: str) -> httpx.Response:
        return self.http.get(f"/api/state/nemo_agent/me/{session_id}/latest", headers=self.auth())

    def upload_photos(self, session_id: str, count: int) -> httpx.Response:
        files = [("files", (f"photo_{i}.jpg", photo(i), "image/jpeg")) for i in range(count)]
        url = f"/api/upload-video/nemo_agent/me/{session_id}"
        return self.http.post(url, headers=self.auth(), files=files)

    def run(self, session_id: str, text: str) -> Turn:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
        }
        with self.http.stream("POST", "/run_sse", headers=self.auth(), json=body) as answer:
            turn = Turn(status=answer.status_code)
            if not answer.headers.get("content-type", "").startswith("text/event-stream"):
                answer.read()
                turn.body = answer.json()
                return turn
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    turn.events.append(json.loads(line[6:]))
                elif line.startswith(":"):
                    turn.comments.append(line)
        return turn

    def render(self, session_id: str, render_id: str, draft: dict[str, Any], **output: Any) -> httpx.Response:
        body = {"id": render_id, "sessionId": session_id, "draft": draft, "output": output}
        return self.http.post("/api/render/proxy/lambda", headers=self.auth(), json=body)

    def render_status(self, render_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/api/render/proxy/lambda/{render_id}", headers=self.auth())
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.new("RGB", size, ((seed * 40) % 256, 120, (200 - seed * 30) % 256))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def small_draft(cdn_urls: list[str], width: int = 480, height: int = 854) -> dict[str, Any]:
    """A draft a client builds itself: one second per photo."""
    segments = [
        {"id": f"s{i}", "src": url, "st": i * 1000, "d": 1000, "ss": 0, "m": {"fit": "cover"}}
        for i, url in enumerate(cdn_urls)
    ]
    return {
        "d": 1000 * len(cdn_urls),
        "m": {"width": width, "height": height, "fps": 24},
        "t": [{"id": "v1", "tt": 0, "sg": segments}],
    }
