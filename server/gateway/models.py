"""The bodies and answers of the other gateway's routes, in the field names the official CLI reads
(npm `nemovideo-tools` 0.1.8, `dist/index.js`). Answers ride in the usual envelope
(`{code, message, data}`): the CLI unwraps `data` whenever a body has `code`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.renders.links import RenderOutput

# ---- auth and billing ------------------------------------------------------------------------------


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    token: str | None = Field(
        None, max_length=256, description="the key to check; absent: the Authorization header's"
    )


class Verified(BaseModel):
    valid: Literal[True] = True
    user_id: str
    anonymous: bool
    expires_at: str = Field(description="ISO-8601 UTC; after it, get a new key (README, Clients)")


class GatewayBalance(BaseModel):
    available: int
    frozen: int = Field(description="held by running turns")
    total: int = Field(description="available + frozen")
    total_consumed: int = Field(description="spent by finished turns, all time")


class ToolUse(BaseModel):
    tool_key: str = Field(description="the agent tool's name")
    count: int


class ConversationUsage(BaseModel):
    conversation_id: str = Field(description="the turn's invocation id (ADK's, `e-<uuid>`)")
    project_id: str | None
    session_id: str | None
    user_message: str | None = Field(description="what the user said, as sent")
    user_message_hidden: bool = False
    tool_breakdown: list[ToolUse]


class CreditGrant(BaseModel):
    source: str = Field(description="`welcome`: the credits a new user starts with")


class UsageItem(BaseModel):
    kind: Literal["conversation", "grant"]
    amount_delta: int = Field(description="credits: negative spent, positive granted")
    created_at: str = Field(description="ISO-8601 UTC")
    conversation: ConversationUsage | None = None
    grant: CreditGrant | None = None


class UsagePage(BaseModel):
    items: list[UsageItem]
    total: int
    page_no: int
    page_size: int
    total_pages: int
    has_next: bool


# ---- projects (our tasks) --------------------------------------------------------------------------


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="allow")

    create_session: bool = Field(
        True, description="accepted for the CLI; a project always has its one session here"
    )
    name: str | None = Field(None, min_length=1, max_length=256, description="default `project`")
    language: str | None = Field(None, max_length=32, description="e.g. en, zh-CN; replies follow it")


class ProjectSession(BaseModel):
    session_id: str
    project_id: str
    created_at: str
    updated_at: str
    version: int = Field(description="the session state's latest version")


class Project(BaseModel):
    project_id: str = Field(description="our task_id")
    name: str = Field(description="our task_name")
    created_at: str
    updated_at: str


class ProjectCreated(Project):
    session: ProjectSession


class ProjectList(BaseModel):
    projects: list[Project]
    total: int
    page_no: int
    page_size: int


class ProjectSessions(BaseModel):
    sessions: list[ProjectSession]


class FrontendState(BaseModel):
    project_id: str
    session_id: str
    version: int
    project: dict[str, Any] = Field(
        description="`timeline_draft` (the draft, once the agent made one), `canvas_config`, "
        "`video_infos` (uploads), `generated_media` (renders, music); only keys with content, so "
        "an empty project is `{}`"
    )


# ---- renders ---------------------------------------------------------------------------------------


class ProjectDownload(BaseModel):
    project_id: str | None = Field(description="the project asked for (null when asked by render id)")
    render_id: str | None = Field(description="the newest finished render; null when there is none")
    output: RenderOutput | None = Field(description="`url` fetched without a token, `size` in bytes")


# ---- the WebSocket chat ----------------------------------------------------------------------------


class SocketMessage(BaseModel):
    """What a client sends on /ws/chat: `message` starts a turn, `ping` is answered with `pong`."""

    model_config = ConfigDict(extra="allow")

    type: str
    content: str | None = None
    metadata: dict[str, Any] | None = None
