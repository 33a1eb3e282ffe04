"""NEMO_LLM_BASE_URL set: the server plans with the LLM, and a turn still works when it is down.

The endpoint here is a port on 127.0.0.1 with nothing listening: a real connection refusal.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from server.config import LLMSettings
from tests.conftest import bearer
from tests.server.test_chat_sse import _body, _photos


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_llm_endpoint_refusing_connections_falls_back_to_the_rule_planner(
    make_settings: Any, make_app: Any, make_client: Any, anon_token: Any, new_session: Any
) -> None:
    llm = LLMSettings(
        base_url=f"http://127.0.0.1:{_closed_port()}/v1", model="local", api_key=None, timeout_seconds=5
    )
    app = make_app(make_settings(llm=llm))
    client = make_client(app)
    token = anon_token(client)
    sid = new_session(client, token)
    _photos(app, sid)
    body = _body(sid, "make a 9 second slideshow")
    auth = bearer(token)
    with client.stream("POST", "/run_sse", headers=auth, json=body) as answer:
        lines = [line for line in answer.iter_lines() if line.startswith("data: ")]
    final = json.loads(lines[-1][len("data: ") :])
    text = final["content"]["parts"][0]["text"]
    assert "(The language model was unreachable; used the built-in planner.)" in text.splitlines()
    state = client.get(f"/api/state/nemo_agent/me/{sid}/latest", headers=auth).json()["data"]
    assert state["state"]["draft"]["d"] == 9000
