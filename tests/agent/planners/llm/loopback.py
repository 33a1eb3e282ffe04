"""A tiny OpenAI-compatible endpoint on 127.0.0.1 that answers with recorded responses.

It is the double at the LLM boundary: the planner under test talks real HTTP to it (httpx, its
own client, no transport injected), and it answers each POST to /v1/chat/completions with the
next recorded body, verbatim as the server in question sends it (see `recorded`), keeping every
request body it was sent for the test to read.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Recorded:
    """One recorded answer: a JSON body, or a server-sent-events stream of JSON chunks."""

    def __init__(
        self, body: dict[str, Any] | None = None, chunks: list[dict[str, Any]] | None = None
    ) -> None:
        self.body, self.chunks = body, chunks

    def payload(self) -> tuple[str, bytes]:
        if self.chunks is not None:
            lines = "".join(f"data: {json.dumps(c, ensure_ascii=False)}\n\n" for c in self.chunks)
            return "text/event-stream", (lines + "data: [DONE]\n\n").encode()
        return "application/json", json.dumps(self.body, ensure_ascii=False).encode()


class LoopbackLLM:
    """Serves `answers` in order (each `delay_seconds` late); `requests` holds every body it was
    sent (parsed JSON)."""

    def __init__(self, *answers: Recorded, delay_seconds: float = 0.0) -> None:
        self.answers = list(answers)
        self.delay_seconds = delay_seconds  # a slow model: each answer comes this late
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                outer.requests.append(json.loads(self.rfile.read(length)))
                outer.paths.append(self.path)
                time.sleep(outer.delay_seconds)
                if not outer.answers:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b"no recorded answer left")
                    return
                kind, data = outer.answers.pop(0).payload()
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def messages(self, i: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.requests[i]["messages"]
        return messages

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
