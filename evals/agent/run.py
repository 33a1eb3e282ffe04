"""Run FORMAT.md cases through the real runner, tools and rule planner, in-process (no HTTP)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent.events import Event, text_event
from agent.planner import Planner, PlanRequest, PlanStep
from agent.runner import apply_state_delta, run_turn
from agent.state import SessionState
from agent.versions import StateVersions
from evals.agent import checks
from evals.agent.scenarios import build
from evals.agent.view import view


@dataclass
class Case:
    family: str
    kind: str
    lang: str
    register: str
    scenario: str
    say: str
    expect: list[dict[str, Any]]
    before: list[str] = field(default_factory=list)
    note: str | None = None
    number: int = 0


class TimedPlanner:
    """The planner under test, with the time its plan() calls take (ms, summed per turn)."""

    def __init__(self, inner: Planner) -> None:
        self.inner = inner
        self.ms = 0.0

    async def plan(self, request: PlanRequest) -> PlanStep:
        t0 = time.perf_counter()
        try:
            return await self.inner.plan(request)
        finally:
            self.ms += (time.perf_counter() - t0) * 1000


@dataclass
class Result:
    case: Case
    ok: bool
    failures: list[str]
    destructive: list[str]
    fallback: bool
    reply: str
    ms: float  # the `say` turn only
    calls: list[str] = field(default_factory=list)
    turn_ms: list[float] = field(default_factory=list)  # every turn of the case, `before` ones too
    plan_ms: list[float] = field(default_factory=list)  # the planner's share of each turn


def load(folders: list[Path]) -> list[Case]:
    cases: list[Case] = []
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            for n, raw in enumerate(data.get("cases") or [], start=1):
                cases.append(
                    Case(
                        family=data["family"],
                        kind=data["kind"],
                        lang=data["lang"],
                        register=raw.get("register") or data["register"],  # a mixed family sets it per case
                        scenario=raw.get("scenario") or data.get("scenario") or "made",
                        say=str(raw["say"]),
                        expect=list(raw.get("expect") or []),
                        before=[str(b) for b in raw.get("before") or []],
                        note=raw.get("note"),
                        number=n,
                    )
                )
    return cases


_SCENARIO_CACHE: dict[str, SessionState] = {}


def scenario(name: str) -> SessionState:
    if name not in _SCENARIO_CACHE:
        _SCENARIO_CACHE[name] = build(name)
    return _SCENARIO_CACHE[name]


def _turn(
    state: SessionState, message: str, planner: TimedPlanner, versions: StateVersions, history: list[Event]
) -> tuple[SessionState, list[Event], float]:
    planner.ms = 0.0
    latest, number = versions.latest
    number = number if latest == state else versions.commit(state)

    async def collect() -> list[Event]:
        return [
            e
            async for e in run_turn(
                state,
                message,
                planner=planner,
                version=number,
                drafts=versions,
                now=lambda: 1_780_000_000.0,
                history=list(history),
            )
        ]

    t0 = time.perf_counter()
    events = asyncio.run(collect())
    ms = (time.perf_counter() - t0) * 1000
    for event in events:
        if event.actions.state_delta:
            state = apply_state_delta(state, event.actions.state_delta)
            versions.commit(state)
    return state, events, ms


def run_case(case: Case, make_planner: Callable[[], Planner]) -> Result:
    """One case, scored; a turn that raises is a failed case (the user saw an error), not a stop."""
    try:
        return _run_case(case, make_planner)
    except Exception as exc:  # any crash is the planner's failure on this case
        why = f"crashed: {type(exc).__name__}: {exc}"
        return Result(case, ok=False, failures=[why], destructive=[], fallback=False, reply="", ms=0.0)


def _run_case(case: Case, make_planner: Callable[[], Planner]) -> Result:
    planner = TimedPlanner(make_planner())
    plan_ms: list[float] = []
    state = scenario(case.scenario)
    versions = StateVersions(state)
    turn_ms: list[float] = []
    history: list[Event] = []  # as the server passes it: the user's words and the agent's events
    for message in case.before:
        said = text_event(message, invocation_id="e-user", author="user")
        state, events, ms = _turn(state, message, planner, versions, history)
        history += [said, *events]
        turn_ms.append(ms)
        plan_ms.append(planner.ms)
    before = view(state)
    after_state, events, ms = _turn(state, case.say, planner, versions, history)
    plan_ms.append(planner.ms)
    after = view(after_state)
    reply = events[-1].text if events else ""
    calls = [p.function_call.name for e in events if e.content for p in e.content.parts if p.function_call]
    stems = [f.filename.rsplit(".", 1)[0] for f in after_state.video_infos]
    failures: list[str] = []
    wants_refuse = any(c.get("refuse") for c in case.expect)
    wants_clarify = any(c.get("clarify") for c in case.expect)
    for check in case.expect:
        if "seg" in check:
            failures += checks.check_seg(check, before, after)
        elif "reply" in check:
            failures += checks.check_reply(check["reply"], reply)
        elif "refuse" in check or "clarify" in check:
            continue
        else:
            failures += checks.check_whole(check, before, after)
    destructive: list[str] = []
    if wants_refuse or wants_clarify:
        if before.json != after.json:
            destructive.append("changed the draft instead of " + ("refusing" if wants_refuse else "asking"))
        if wants_refuse and (checks.is_fallback(reply) or not checks.is_refusal(reply)):
            failures.append("not an honest refusal")
        if wants_clarify and not checks.is_question(reply):
            failures.append("not a question")
    else:
        destructive += checks.scope(case.expect, before, after)
    fallback = checks.is_fallback(reply)
    if fallback and not wants_clarify:
        failures.append("the generic fallback")
    if not checks.reply_language_ok(reply, case.lang, stems):
        failures.append(f"reply not in {case.lang}")
    return Result(
        case=case,
        ok=not failures and not destructive,
        failures=failures,
        destructive=destructive,
        fallback=fallback and not wants_clarify,
        reply=reply,
        ms=ms,
        calls=calls,
        turn_ms=[*turn_ms, ms],
        plan_ms=plan_ms,
    )
