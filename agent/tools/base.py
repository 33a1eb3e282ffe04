"""The tool registry: what a planner may call, with argument models an LLM sees as JSON schema.

A tool is pure: `run(state, args, ctx)` returns a new SessionState (never mutates its input), a
small JSON result for the planner, and a one-sentence summary in English and Chinese for the
reply. Bad arguments or a request the state cannot satisfy raise `ToolError`; the runner hands
its message back to the planner as the function response so the planner can correct itself.
The tools live in the modules beside this one, and `agent.tools.registry` lists them; this module
owns the machinery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from agent.state import HISTORY_LIMIT, DraftHistory, HistoryEntry, SessionState
from agent.versions import DraftLoader
from renderer.schema.draft import Draft


class ToolError(Exception):
    """A tool could not do what was asked; the message is meant for the planner and the user."""

    def __init__(self, message: str, message_zh: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message


# (draft, seconds) -> {"brightness": "dark" | "medium" | "bright", "colors": ["#rrggbb", ...]}
FrameLook = Callable[[Draft, float], dict[str, Any] | None]


@dataclass(frozen=True)
class ToolContext:
    """What tools may know of the outside world: the clock (deterministic in tests), the turn, and
    the session's committed versions.

    `turn` (the invocation id) groups a turn's changes into one undo step; "" makes every change
    its own step (tools called one by one, as in tests). `version` is the committed state version
    whose draft the tool's input state has, if one is known: the undo history names drafts by it
    instead of carrying them. `drafts` loads an earlier version's draft when undo or redo brings
    it back; on the server it reads the database, so the runner calls those tools off the loop.
    `look` measures the picture of a draft at t seconds (brightness, main colours; the server draws
    it with the renderer); None where no pictures can be drawn (tests, tools called alone).
    """

    now: Callable[[], float] = time.time
    turn: str = ""
    version: int | None = None
    drafts: DraftLoader | None = None
    look: FrameLook | None = None

    def iso_now(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ToolResult(BaseModel):
    state: SessionState
    result: dict[str, Any]
    summary: str
    summary_zh: str
    changed: bool = True
    # Undo and redo: the committed version whose draft the new state has (None: not a committed
    # one), so the runner can go on naming the draft by it for the rest of the turn.
    restored: int | None = None


ToolFn = Callable[[SessionState, Any, ToolContext], ToolResult]


def _content(state: SessionState) -> dict[str, Any]:
    data = state.to_json()
    data.pop("history", None)
    return data


def history_entry(
    turn: str, draft: Draft | None, version: int | None, what: list[str], what_zh: list[str]
) -> HistoryEntry:
    """The entry that brings `draft` back: by its committed `version` when one is known, else whole."""
    if draft is None:
        return HistoryEntry(turn=turn, what=what, what_zh=what_zh)
    if version is not None:
        return HistoryEntry(turn=turn, version=version, what=what, what_zh=what_zh)
    return HistoryEntry(turn=turn, draft=draft, what=what, what_zh=what_zh)


def record_change(before: SessionState, outcome: ToolResult, ctx: ToolContext) -> ToolResult:
    """The outcome with its change on the undo history, or marked unchanged (with why) if nothing changed.

    The first change of a turn pushes the draft the turn started from; later changes of the same turn
    only add their summary to that entry, so one undo takes back a whole turn. Any change clears redo.
    """
    if _content(before) == _content(outcome.state):
        if not outcome.changed:
            return outcome
        return outcome.model_copy(
            update={
                "changed": False,
                "summary": f"Nothing changed (it was already so): {outcome.summary}",
                "summary_zh": f"没有变化（本来就是这样）：{outcome.summary_zh}",
            }
        )
    history = before.history or DraftHistory()
    past = list(history.past)
    if ctx.turn and past and past[-1].turn == ctx.turn:
        top = past[-1]
        past[-1] = top.model_copy(
            update={"what": [*top.what, outcome.summary], "what_zh": [*top.what_zh, outcome.summary_zh]}
        )
    else:
        past.append(
            history_entry(ctx.turn, before.draft, ctx.version, [outcome.summary], [outcome.summary_zh])
        )
    state = outcome.state.model_copy(update={"history": DraftHistory(past=past[-HISTORY_LIMIT:], future=[])})
    return outcome.model_copy(update={"state": state, "changed": True})


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    fn: ToolFn = field(repr=False)
    records_history: bool = True  # False for undo and redo, which move along the history themselves

    def schema(self) -> dict[str, Any]:
        """OpenAI `tools` entry: what an LLM planner is shown."""
        params = self.args.model_json_schema()
        params.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def parse(self, raw: Mapping[str, Any] | BaseModel) -> BaseModel:
        if isinstance(raw, self.args):
            return raw
        data = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw)
        try:
            return self.args.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'args'}: {err['msg']}" for err in exc.errors()
            )
            raise ToolError(f"invalid arguments for {self.name}: {problems}") from None

    def __call__(self, state: SessionState, args: Any, ctx: ToolContext) -> ToolResult:
        """The function itself: no argument parsing and no undo history (a tool building on another)."""
        return self.fn(state, args, ctx)

    def run(
        self, state: SessionState, raw: Mapping[str, Any] | BaseModel, ctx: ToolContext | None = None
    ) -> ToolResult:
        args = self.parse(raw)
        ctx = ctx or ToolContext()
        try:
            outcome = self.fn(state, args, ctx)
        except ValidationError as exc:  # a value the draft schema refuses (a colour, a position)
            raise ToolError(f"{self.name}: {exc.errors()[0]['msg']}") from None
        return record_change(state, outcome, ctx) if self.records_history else outcome


def tool(
    name: str, description: str, args: type[BaseModel], *, records_history: bool = True
) -> Callable[[ToolFn], Tool]:
    """Make a tool of a function (no registration: agent.tools.registry lists every tool by hand).

    The Tool stays callable as the function was, so one tool can build on another.
    """

    def make(fn: ToolFn) -> Tool:
        return Tool(name, description, args, fn, records_history)

    return make
