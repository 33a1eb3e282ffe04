"""The credit ledger as the CLI's `credits history` reads it: one `conversation` item per chat
turn that was charged (a settled credit hold), newest first, and one `grant` item for the credits
the user started with. Turns refunded (failed, cut, refused) cost nothing and are not listed.

A hold does not name its turn, so the turn is found from the session's events: the first user
event stored after the hold (a turn holds its credits, then stores the user's words), and every
event of that invocation for the tools it called.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from agent.events import Event
from database.engine import read_session
from server import credits
from server.auth import iso_utc
from server.gateway.models import ConversationUsage, CreditGrant, ToolUse, UsageItem, UsagePage
from server.tables import ChatSession, CreditHold, SessionEvent, User

WELCOME = "welcome"


def usage_page(
    engine: Engine,
    user: User,
    *,
    page_no: int,
    page_size: int,
    since: datetime | None,
    until: datetime | None,
) -> UsagePage:
    offset = (page_no - 1) * page_size
    holds, charged = credits.settled_holds(
        engine, user.id, since=since, until=until, offset=offset, limit=page_size
    )
    items = [_conversation(engine, hold) for hold in holds]
    started = _aware(user.created_at)
    grant_listed = (since is None or started >= since) and (until is None or started < until)
    total = charged + (1 if grant_listed else 0)
    # The grant is the oldest item: it is on the page that reaches past the last charged turn.
    if grant_listed and offset <= charged < offset + page_size:
        items.append(_grant(engine, user))
    total_pages = max(1, math.ceil(total / page_size))
    return UsagePage(
        items=items,
        total=total,
        page_no=page_no,
        page_size=page_size,
        total_pages=total_pages,
        has_next=page_no < total_pages,
    )


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every time we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _grant(engine: Engine, user: User) -> UsageItem:
    balance = credits.balance(engine, user.id)
    # Everything the user was ever given: what is left, what is held, what was spent.
    granted = balance.total + credits.spent(engine, user.id)
    return UsageItem(
        kind="grant",
        amount_delta=granted,
        created_at=iso_utc(user.created_at),
        grant=CreditGrant(source=WELCOME),
    )


def _conversation(engine: Engine, hold: CreditHold) -> UsageItem:
    project_id: str | None = None
    invocation_id, said, tools = hold.id, None, Counter[str]()
    with read_session(engine) as db:
        session = db.get(ChatSession, hold.session_id) if hold.session_id else None
        if session is not None:
            project_id = session.task_id
            after_hold = db.exec(
                select(SessionEvent)
                .where(SessionEvent.session_id == session.id, col(SessionEvent.created_at) >= hold.created_at)
                .order_by(col(SessionEvent.id))
                .limit(1)
            ).first()
            user_event = Event.model_validate_json(after_hold.event_json) if after_hold is not None else None
            if user_event is not None and user_event.author == "user":
                invocation_id, said = user_event.invocation_id, user_event.text
                for row in db.exec(select(SessionEvent).where(SessionEvent.invocation_id == invocation_id)):
                    event = Event.model_validate_json(row.event_json)
                    for part in event.content.parts if event.content is not None else []:
                        if part.function_call is not None:
                            tools[part.function_call.name] += 1
    return UsageItem(
        kind="conversation",
        amount_delta=-hold.amount,
        created_at=iso_utc(hold.created_at),
        conversation=ConversationUsage(
            conversation_id=invocation_id,
            project_id=project_id,
            session_id=hold.session_id,
            user_message=said,
            tool_breakdown=[ToolUse(tool_key=name, count=n) for name, n in tools.most_common()],
        ),
    )
