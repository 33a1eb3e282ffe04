"""The journal: what clients sent, so a test can assert on it (GET /_fake/requests).

Each entry: method, path (as sent, prefix included), the route path (prefix removed), query,
headers minus credentials, a body summary (JSON keys, or multipart file names and sizes; never
the bytes), the status answered and the fault applied. Bodies are summarised as they stream by.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from typing import Any

from starlette.types import Scope

HIDDEN_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
MAX_ENTRIES = 2000
_DISPOSITION = re.compile(r'(\w+)\*?="?([^";]*)"?')


def request_headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_key, raw_value in scope.get("headers", []):
        key = raw_key.decode("latin-1").lower()
        if key in HIDDEN_HEADERS:
            continue
        value = raw_value.decode("latin-1")
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def json_summary(body: bytes) -> dict[str, Any]:
    if not body:
        return {"kind": "none", "size": 0}
    try:
        value = json.loads(body)
    except ValueError:
        return {"kind": "invalid_json", "size": len(body)}
    summary: dict[str, Any] = {"kind": "json", "size": len(body), "type": type(value).__name__}
    if isinstance(value, dict):
        summary["keys"] = sorted(value)
    return summary


class MultipartScanner:
    """Follows a multipart body chunk by chunk, keeping only part names, file names and sizes."""

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.buffer = b"\r\n"  # the first delimiter has no CRLF before it
        self.state = "preamble"
        self.parts: list[dict[str, Any]] = []
        self.size = 0

    @classmethod
    def for_content_type(cls, content_type: str) -> MultipartScanner | None:
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        return cls(match.group(1).encode("latin-1")) if match else None

    def feed(self, data: bytes) -> None:
        self.size += len(data)
        if self.state == "done":
            return
        self.buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        if self.state in ("preamble", "body"):
            at = self.buffer.find(self.delimiter)
            if at < 0:
                keep = len(self.delimiter) - 1  # the tail may hold the start of a delimiter
                used = max(0, len(self.buffer) - keep)
                if self.state == "body":
                    self.parts[-1]["size"] += used
                self.buffer = self.buffer[used:]
                return False
            if self.state == "body":
                self.parts[-1]["size"] += at
            self.buffer = self.buffer[at + len(self.delimiter) :]
            self.state = "delimited"
        if self.state == "delimited":
            if len(self.buffer) < 2:
                return False
            if self.buffer.startswith(b"--"):
                self.state, self.buffer = "done", b""
                return False
            self.state = "headers"
        if self.state == "headers":
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 64 * 1024:  # not multipart as we know it: stop looking
                    self.state, self.buffer = "done", b""
                return False
            self.parts.append(self._part(self.buffer[:end].decode("utf-8", "replace")))
            self.buffer = self.buffer[end + 4 :]
            self.state = "body"
            return True
        return False

    @staticmethod
    def _part(headers: str) -> dict[str, Any]:
        part: dict[str, Any] = {"name": None, "filename": None, "content_type": None, "size": 0}
        for line in headers.split("\r\n"):
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key == "content-disposition":
                for attr, attr_value in _DISPOSITION.findall(value):
                    if attr.lower() in ("name", "filename"):
                        part[attr.lower()] = attr_value
            elif key == "content-type":
                part["content_type"] = value.strip()
        return part

    def summary(self) -> dict[str, Any]:
        files = [p for p in self.parts if p["filename"] is not None]
        fields = [p["name"] for p in self.parts if p["filename"] is None]
        return {
            "kind": "multipart",
            "size": self.size,
            "files": files,
            "fields": fields,
            "complete": self.state == "done",
        }


class Journal:
    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._lock = threading.Lock()
        self._seq = 0

    def start(self, scope: Scope, route_path: str) -> dict[str, Any]:
        """A new entry for this request; the middleware fills in body, status and fault as it goes."""
        with self._lock:
            self._seq += 1
            entry: dict[str, Any] = {
                "seq": self._seq,
                "method": scope["method"],
                "path": scope["path"],
                "route_path": route_path,
                "query": scope.get("query_string", b"").decode("latin-1"),
                "headers": request_headers(scope),
                "body": {"kind": "none", "size": 0},
                "session_id": None,
                "status": None,
                "fault": None,
            }
            self._entries.append(entry)
            return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(json.dumps(e)) for e in self._entries]  # a copy the caller may keep

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
