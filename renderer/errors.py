"""The renderer's one error type: it lands on the job row as (code, message)."""

from __future__ import annotations


class RenderError(Exception):
    """A render that cannot finish. `code` is a short machine word (`missing_source`, `bad_media`,
    `cancelled`, `encoder`, ...); `message` is safe to show a user (no paths beyond names)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
