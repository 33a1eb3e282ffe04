"""The Planner protocol: what the runner asks a planner each step, and what it gets back.

One step: the runner sends a `PlanRequest` (the user's message, the reply language, the current
state, the tools' JSON schemas and every tool call made so far this turn with its response); the
planner answers a `PlanStep`: tool calls to run now, or none and (optionally) its own words, which
ends the turn. This is the shape of OpenAI tool calling, so an LLM planner maps one step to one
chat-completions request (`steps` become the assistant tool_calls and tool messages), while the
rule planner plans everything on the first step. Arguments are plain JSON here: the runner
validates them against the tool's pydantic Args and returns any error to the planner.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from agent.language import Lang
from agent.state import SessionState

MAX_STEPS = 6  # planner round trips per turn (the runner's limit; an LLM planner plans within it)


class ToolCall(BaseModel):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None  # the planner's own call id (an LLM's); the runner assigns one when None


class StepRecord(BaseModel):
    """One tool call of this turn and what came back (`response` is {"error": ...} on failure)."""

    call: ToolCall
    response: dict[str, Any]
    ok: bool
    step: int = 0  # the planner round trip that asked for it (an LLM replays one message per step)


class PlanRequest(BaseModel):
    message: str
    language: Lang
    state: SessionState
    steps: list[StepRecord] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)  # OpenAI `tools` entries
    history: list[dict[str, str]] = Field(default_factory=list)  # earlier turns: {"role", "text"}


class PlanStep(BaseModel):
    calls: list[ToolCall] = Field(default_factory=list)
    # With no calls the turn ends. `text` is the planner's own words: a question, a note on
    # exporting, or (an LLM's) the whole reply; `text_covers_changes` says the runner need not
    # list the tools' summaries before it.
    text: str | None = None
    text_covers_changes: bool = False

    @property
    def done(self) -> bool:
        return not self.calls


@runtime_checkable
class Planner(Protocol):
    async def plan(self, request: PlanRequest) -> PlanStep: ...


@runtime_checkable
class StreamingPlanner(Planner, Protocol):
    """A planner that can write its words as it thinks (an LLM): used when the client asked for streaming.

    `plan_stream` yields text deltas, which the runner sends at once as `partial` events and puts
    at the start of the reply, then exactly one PlanStep, whose `text` holds only words not yet yielded.
    """

    def plan_stream(self, request: PlanRequest) -> AsyncIterator[str | PlanStep]: ...
