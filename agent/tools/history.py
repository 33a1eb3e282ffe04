"""Undo and redo across turns, over the draft history the session state carries (agent.state)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.state import HISTORY_LIMIT, DraftHistory, HistoryEntry, SessionState
from agent.tools.base import ToolContext, ToolError, ToolResult, history_entry, tool
from agent.tools.state_view import commit, result
from renderer.schema.draft import Draft


class StepsArgs(BaseModel):
    steps: int = Field(1, ge=1, le=HISTORY_LIMIT, description="how many turns of changes to take back")


def _draft(entry: HistoryEntry, ctx: ToolContext) -> Draft | None:
    """The draft `entry` brings back: its own, or the one of the committed version it names."""
    if entry.version is None:
        return entry.draft
    if ctx.drafts is None:
        raise ToolError(
            "earlier versions of this session cannot be read here, so there is nothing to go back to",
            "这里读不到这个会话的早先版本，无法撤销或重做。",
        )
    try:
        return ctx.drafts(entry.version)
    except LookupError:
        raise ToolError(
            f"version {entry.version} of this session is no longer stored, so it cannot be brought back",
            f"这个会话的版本 {entry.version} 已不再保存，无法恢复。",
        ) from None


def _restore(state: SessionState, draft: Draft | None, history: DraftHistory) -> SessionState:
    if draft is None:  # back to before the first timeline: the canvas stays as it was
        return state.model_copy(update={"draft": None, "history": history})
    return commit(state, draft, history=history)


def _what(entries: list[HistoryEntry], zh: bool) -> str:
    lines = [line for e in entries for line in (e.what_zh if zh else e.what)]
    lines = [line.rstrip("。.") for line in lines]
    return ("；" if zh else "; ").join(lines)


def _move(
    state: SessionState, steps: int, *, back: bool, ctx: ToolContext
) -> tuple[SessionState, list[HistoryEntry], int | None]:
    """Move `steps` entries from one stack to the other.

    Returns the new state, the entries moved, and the committed version whose draft the new state
    has (None: not a committed one).
    """
    history = state.history or DraftHistory()
    source = list(history.past if back else history.future)
    target = list(history.future if back else history.past)
    moved: list[HistoryEntry] = []
    current, version = state, ctx.version
    for _ in range(min(steps, len(source))):
        entry = source.pop()
        draft = _draft(entry, ctx)
        # What we leave goes on the other stack, labelled with the changes it holds.
        target.append(history_entry(ctx.turn, current.draft, version, entry.what, entry.what_zh))
        moved.append(entry)
        past, future = (source, target) if back else (target, source)
        current = _restore(
            current, draft, DraftHistory(past=past[-HISTORY_LIMIT:], future=future[-HISTORY_LIMIT:])
        )
        version = entry.version
    return current, moved, version


@tool("undo", "Take back the last turn's changes (or several turns).", StepsArgs, records_history=False)
def undo(state: SessionState, args: StepsArgs, ctx: ToolContext) -> ToolResult:
    new, moved, version = _move(state, args.steps, back=True, ctx=ctx)
    if not moved:
        return result(state, "There is nothing to undo yet.", "还没有可以撤销的修改。", changed=False)
    n = len(moved)
    return result(
        new,
        f"Undid {'the last change' if n == 1 else f'the last {n} changes'}: {_what(moved, False)}.",
        f"已撤销{'上一步' if n == 1 else f'最近 {n} 步'}修改：{_what(moved, True)}。",
        undone=n,
    ).model_copy(update={"restored": version})


@tool("redo", "Put back changes that undo took back.", StepsArgs, records_history=False)
def redo(state: SessionState, args: StepsArgs, ctx: ToolContext) -> ToolResult:
    new, moved, version = _move(state, args.steps, back=False, ctx=ctx)
    if not moved:
        return result(state, "There is nothing to redo.", "没有可以重做的修改。", changed=False)
    n = len(moved)
    return result(
        new,
        f"Redid {'the change' if n == 1 else f'{n} changes'}: {_what(moved, False)}.",
        f"已恢复{'上一步' if n == 1 else f' {n} 步'}修改：{_what(moved, True)}。",
        redone=n,
    ).model_copy(update={"restored": version})
