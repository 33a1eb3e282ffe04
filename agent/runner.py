"""One chat turn: planner -> tools -> Events. No I/O of its own: the server persists what it yields,
and undo and redo read earlier drafts only through the `drafts` loader the caller passes.

For each tool call the runner yields a `functionCall` event, runs the tool on the current state,
and yields a `functionResponse` event whose `actions.stateDelta` carries the changed state keys
(the server applies them with `apply_state_delta`, the same function tests use). A ToolError goes
back to the planner as `{"error": message}`. Every turn ends with one text event: what changed, in
the session's language, then the one-line timeline summary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal

from agent.events import (
    AGENT_AUTHOR,
    Content,
    Event,
    EventActions,
    FunctionCall,
    FunctionResponse,
    Part,
    new_event_id,
    new_invocation_id,
    text_event,
)
from agent.language import Lang, reply_language
from agent.planner import MAX_STEPS, Planner, PlanRequest, PlanStep, StepRecord, StreamingPlanner, ToolCall
from agent.state import SessionState
from agent.summary import timeline_summary
from agent.tools.base import FrameLook, ToolContext, ToolError, ToolResult
from agent.tools.registry import registry, tool_specs
from agent.tools.state_view import clip_srcs
from agent.versions import DraftLoader

MAX_CALLS = 24  # tool calls per turn: a looping planner cannot run forever
STATE_KEYS = ("draft", "canvas_config", "generated_media", "video_infos", "history")


def state_delta(before: SessionState, after: SessionState) -> dict[str, Any]:
    """The keys of `after` that differ from `before`, as JSON (the draft as Draft.to_json())."""
    old, new = before.to_json(), after.to_json()
    return {key: new.get(key) for key in STATE_KEYS if old.get(key) != new.get(key)}


def apply_state_delta(state: SessionState, delta: Mapping[str, Any]) -> SessionState:
    """The state after one event's stateDelta (keys replace their old values; null removes)."""
    data = state.to_json()
    for key, value in delta.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return SessionState.model_validate(data)


def _history(events: Sequence[Event]) -> list[dict[str, str]]:
    turns = []
    for event in events:
        if event.partial or not event.text or event.author == "system":
            continue
        turns.append({"role": "user" if event.author == "user" else "assistant", "text": event.text})
    return turns


def _reply(
    lang: Lang,
    results: list[ToolResult],
    failures: list[tuple[str, ToolError]],
    note: str | None,
    covers: bool,
    state: SessionState,
    said: str = "",
) -> str:
    """The final text; `said` (words a planner already streamed) comes first, exactly as sent."""
    lines: list[str] = []
    if not covers:
        lines += [r.summary_zh if lang == "zh" else r.summary for r in results]
    for name, err in failures:
        lines.append(
            f"未能完成 {name}：{err.message_zh}" if lang == "zh" else f"Could not {name}: {err.message}"
        )
    if note:
        lines.append(note)
    if not lines and not said:
        lines.append("没有做任何修改。" if lang == "zh" else "Nothing changed.")
    lines.append(timeline_summary(state.draft, clip_srcs(state), lang))
    body = "\n".join(lines)
    return f"{said}\n{body}" if said else body


def _chunks(text: str, parts: int = 4) -> list[str]:
    """Split on spaces (or anywhere, for Chinese) into about `parts` pieces that join to `text`."""
    size = max(1, len(text) // parts)
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        space = text.find(" ", end)
        end = space + 1 if 0 <= space - end < 12 else end
        out.append(text[start:end])
        start = end
    return out


async def run_turn(
    state: SessionState,
    message: str,
    *,
    planner: Planner,
    language: str | None = None,
    streaming: bool = False,
    invocation_id: str | None = None,
    ids: Callable[[], str] | None = None,
    now: Callable[[], float] | None = None,
    history: Sequence[Event] = (),
    version: int | None = None,
    drafts: DraftLoader | None = None,
    look: FrameLook | None = None,
) -> AsyncIterator[Event]:
    """Run one user message to the end, yielding ADK events; see the module docstring.

    `version` is the committed state version `state` is, and `drafts` reads the drafts of the
    session's committed versions: with both, the undo history names drafts by version instead of
    carrying them (agent.versions); without, it carries them whole. `look` lets the look_at tool
    measure the picture at a moment (ToolContext.look).
    """
    lang = reply_language(language, message)
    next_id = ids or new_event_id
    clock = now or time.time
    inv = invocation_id or new_invocation_id()
    tools, specs, ctx = registry(), tool_specs(), ToolContext(now=clock, turn=inv, drafts=drafts, look=look)
    steps: list[StepRecord] = []
    results: list[ToolResult] = []
    failures: list[tuple[str, ToolError]] = []
    note: str | None = None
    covers = False
    calls_made = 0
    said = ""  # planner words already sent as partial events
    draft_version = version  # the committed version whose draft `state` has, while one is known

    def event(role: Literal["model", "user"], part: Part, delta: dict[str, Any] | None = None) -> Event:
        return Event(
            content=Content(role=role, parts=[part]),
            invocation_id=inv,
            author=AGENT_AUTHOR,
            actions=EventActions(state_delta=delta or {}),
            id=next_id(),
            timestamp=clock(),
        )

    for step_no in range(MAX_STEPS):
        request = PlanRequest(
            message=message, language=lang, state=state, steps=steps, tools=specs, history=_history(history)
        )
        if streaming and isinstance(planner, StreamingPlanner):
            step = PlanStep()
            async for item in planner.plan_stream(request):
                if isinstance(item, PlanStep):
                    step = item
                elif item:
                    said += item
                    yield text_event(item, invocation_id=inv, partial=True, ids=next_id, now=clock)
        else:
            step = await planner.plan(request)
        if step.done:
            note, covers = step.text, step.text_covers_changes
            break
        for call in step.calls:
            if calls_made >= MAX_CALLS:
                break
            calls_made += 1
            call_id = call.id or f"adk-{next_id() if ids else uuid.uuid4()}"
            yield event("model", Part(function_call=FunctionCall(id=call_id, name=call.name, args=call.args)))
            try:
                if call.name not in tools:
                    raise ToolError(f"unknown tool {call.name!r}; tools: {', '.join(tools)}")
                tool = tools[call.name]
                call_ctx = dataclasses.replace(ctx, version=draft_version)
                if tool.records_history:
                    outcome = tool.run(state, call.args, call_ctx)
                else:  # undo and redo may read earlier drafts from the database: off the event loop
                    outcome = await asyncio.to_thread(tool.run, state, call.args, call_ctx)
            except ToolError as err:
                failures.append((call.name, err))
                response: dict[str, Any] = {"error": err.message}
                delta: dict[str, Any] = {}
            else:
                results.append(outcome)
                response, delta = outcome.result, state_delta(state, outcome.state)
                if outcome.state.draft != state.draft:
                    # A new draft is committed under a number this turn does not learn; one that
                    # undo or redo brought back is the draft of the version it came from.
                    draft_version = outcome.restored
                state = outcome.state
            steps.append(
                StepRecord(
                    call=ToolCall(name=call.name, args=call.args, id=call_id),
                    response=response,
                    ok="error" not in response,
                    step=step_no,
                )
            )
            reply = FunctionResponse(id=call_id, name=call.name, response=response)
            yield event("user", Part(function_response=reply), delta)
        if calls_made >= MAX_CALLS:
            break
    text = _reply(lang, results, failures, note, covers, state, said)
    if streaming:
        for piece in _chunks(text[len(said) :]):
            yield text_event(piece, invocation_id=inv, partial=True, ids=next_id, now=clock)
    yield text_event(text, invocation_id=inv, ids=next_id, now=clock)
