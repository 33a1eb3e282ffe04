"""ADK-shaped events: what `/run_sse` streams, one `data:` line each (api-contract.md, /run_sse).

The field names follow Google ADK 1.x `Event` as its `api_server` serialises it: camelCase on the
wire, None fields dropped, `actions` always present with its three dicts (strict ADK clients index
into them without checking).
"""

from __future__ import annotations

import json
import secrets
import string
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

AGENT_AUTHOR = "nemo_agent"
SYSTEM_AUTHOR = "system"
_ALNUM = string.ascii_letters + string.digits


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class FunctionCall(_Wire):
    id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class FunctionResponse(_Wire):
    id: str
    name: str
    response: dict[str, Any] = Field(default_factory=dict)


class Part(_Wire):
    text: str | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None


class Content(_Wire):
    role: Literal["model", "user"]
    parts: list[Part]


class EventActions(_Wire):
    # Values are plain JSON (the draft as Draft.to_json()): the server stores them as they are.
    state_delta: dict[str, Any] = Field(default_factory=dict)
    artifact_delta: dict[str, Any] = Field(default_factory=dict)
    requested_auth_configs: dict[str, Any] = Field(default_factory=dict)


def new_event_id() -> str:
    """ADK's event id: 8 random alphanumerics."""
    return "".join(secrets.choice(_ALNUM) for _ in range(8))


def new_invocation_id() -> str:
    return f"e-{uuid.uuid4()}"


class Event(_Wire):
    content: Content | None = None
    invocation_id: str
    author: str
    actions: EventActions = Field(default_factory=EventActions)
    id: str = Field(default_factory=new_event_id)
    timestamp: float = Field(default_factory=time.time)
    partial: bool | None = None
    turn_complete: bool | None = None
    error_code: str | None = None
    error_message: str | None = None

    def to_wire(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        # exclude_none must not reach inside the actions (a stateDelta value may be null on purpose)
        data["actions"] = self.actions.model_dump(mode="json", by_alias=True)
        return data

    def to_sse_json(self) -> str:
        """The JSON of one `data:` line: compact, UTF-8 text kept as is (Chinese replies stay readable)."""
        return json.dumps(self.to_wire(), ensure_ascii=False, separators=(",", ":"))

    @property
    def text(self) -> str:
        """The event's text parts joined (empty for tool events)."""
        if self.content is None:
            return ""
        return "".join(part.text or "" for part in self.content.parts)

    @property
    def state_delta(self) -> dict[str, Any]:
        return self.actions.state_delta


def text_event(
    text: str,
    *,
    invocation_id: str,
    author: str = AGENT_AUTHOR,
    partial: bool | None = None,
    ids: Callable[[], str] | None = None,
    now: Callable[[], float] | None = None,
) -> Event:
    return Event(
        content=Content(role="model", parts=[Part(text=text)]),
        invocation_id=invocation_id,
        author=author,
        partial=partial,
        id=(ids or new_event_id)(),
        timestamp=(now or time.time)(),
    )


def error_event(
    message: str,
    *,
    code: str | int = "5000",
    invocation_id: str | None = None,
    ids: Callable[[], str] | None = None,
    now: Callable[[], float] | None = None,
) -> Event:
    """The one final event of a stream that failed after it started (api-contract.md, /run_sse)."""
    return Event(
        content=Content(role="model", parts=[Part(text=f"Error: {message}")]),
        invocation_id=invocation_id or new_invocation_id(),
        author=SYSTEM_AUTHOR,
        error_code=str(code),
        error_message=message,
        id=(ids or new_event_id)(),
        timestamp=(now or time.time)(),
    )
