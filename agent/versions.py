"""Committed versions of a session's state, as undo and redo read them.

The undo history in the session state names earlier drafts by the number of the committed state
version that holds them, not by carrying them: every version is kept anyway (the server's
`state_versions` table), so a copy in the state would only make every stored version, `state`
answer and stateDelta about HISTORY_LIMIT drafts bigger. Undo and redo load the drafts they bring
back through a `DraftLoader`; the server gives one over its table, and `StateVersions` is the same
record in memory, for running the agent without a server (tests, scripts).
"""

from __future__ import annotations

from typing import Protocol

from agent.state import SessionState
from renderer.schema.draft import Draft


class DraftLoader(Protocol):
    def __call__(self, version: int) -> Draft | None:
        """The draft of committed state `version` (None: it had no timeline yet).

        Raises LookupError when this session has no such version.
        """
        ...


class StateVersions:
    """A session's committed states by version number (0 first), in memory."""

    def __init__(self, first: SessionState | None = None) -> None:
        self._states: list[SessionState] = [first or SessionState()]

    @property
    def latest(self) -> tuple[SessionState, int]:
        return self._states[-1], len(self._states) - 1

    def commit(self, state: SessionState) -> int:
        """Keep `state` as the next version; returns its number."""
        self._states.append(state)
        return len(self._states) - 1

    def __call__(self, version: int) -> Draft | None:
        if not 0 <= version < len(self._states):
            raise LookupError(f"no state version {version}")
        return self._states[version].draft
