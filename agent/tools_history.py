"""Undo and redo across turns, over the draft history the session state carries (agent.state)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.state import HISTORY_LIMIT, DraftHistory, HistoryEntry, SessionState
from agent.state_view import commit, result
from agent.tools import ToolContext, ToolResult, tool


class StepsArgs(BaseModel):
    steps: int = Field(1, ge=1, le=HISTORY_LIMIT, description="how many turns of changes to take back")


def _restore(state: SessionState, entry: HistoryEntry, history: DraftHistory) -> SessionState:
    if entry.draft is None:  # back to before the first timeline: the canvas stays as it was
        return state.model_copy(update={"draft": None, "history": history})
    return commit(state, entry.draft, history=history)


def _what(entries: list[HistoryEntry], zh: bool) -> str:
    lines = [line for e in entries for line in (e.what_zh if zh else e.what)]
    lines = [line.rstrip("。.") for line in lines]
    return ("；" if zh else "; ").join(lines)


def _move(
    state: SessionState, steps: int, *, back: bool, turn: str
) -> tuple[SessionState, list[HistoryEntry]]:
    """Move `steps` entries from one stack to the other; returns the new state and the entries moved."""
    history = state.history or DraftHistory()
    source = list(history.past if back else history.future)
    target = list(history.future if back else history.past)
    moved: list[HistoryEntry] = []
    current = state
    for _ in range(min(steps, len(source))):
        entry = source.pop()
        # What we leave goes on the other stack, labelled with the changes it holds.
        target.append(HistoryEntry(turn=turn, draft=current.draft, what=entry.what, what_zh=entry.what_zh))
        moved.append(entry)
        past, future = (source, target) if back else (target, source)
        current = _restore(
            current, entry, DraftHistory(past=past[-HISTORY_LIMIT:], future=future[-HISTORY_LIMIT:])
        )
    return current, moved


@tool("undo", "Take back the last turn's changes (or several turns).", StepsArgs, records_history=False)
def undo(state: SessionState, args: StepsArgs, ctx: ToolContext) -> ToolResult:
    new, moved = _move(state, args.steps, back=True, turn=ctx.turn)
    if not moved:
        return result(state, "There is nothing to undo yet.", "还没有可以撤销的修改。", changed=False)
    n = len(moved)
    return result(
        new,
        f"Undid {'the last change' if n == 1 else f'the last {n} changes'}: {_what(moved, False)}.",
        f"已撤销{'上一步' if n == 1 else f'最近 {n} 步'}修改：{_what(moved, True)}。",
        undone=n,
    )


@tool("redo", "Put back changes that undo took back.", StepsArgs, records_history=False)
def redo(state: SessionState, args: StepsArgs, ctx: ToolContext) -> ToolResult:
    new, moved = _move(state, args.steps, back=False, turn=ctx.turn)
    if not moved:
        return result(state, "There is nothing to redo.", "没有可以重做的修改。", changed=False)
    n = len(moved)
    return result(
        new,
        f"Redid {'the change' if n == 1 else f'{n} changes'}: {_what(moved, False)}.",
        f"已恢复{'上一步' if n == 1 else f' {n} 步'}修改：{_what(moved, True)}。",
        redone=n,
    )
