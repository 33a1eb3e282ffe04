"""Session state as the agent sees it and the server stores it (api-contract.md, "state").

These are the typed shapes of what `GET /api/state/...` returns under `data.state` and of what
rides in an event's `actions.stateDelta`. The server persists them; the agent reads and edits them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from renderer.schema.draft import Draft

FileType = Literal["image", "video", "audio"]


class MediaFile(BaseModel):
    """One uploaded file, as the upload answer and `state.video_infos` list it."""

    model_config = ConfigDict(extra="allow")

    media_id: str
    filename: str
    file_type: FileType
    cdn_url: str
    duration: float | None = None  # seconds; None for still images
    width: int | None = None  # as displayed: EXIF orientation / rotation already applied
    height: int | None = None
    fps: float | None = None
    hash: str
    size: int | None = None
    has_audio: bool | None = None
    warnings: list[str] = Field(default_factory=list)

    @property
    def orientation(self) -> Literal["portrait", "landscape", "square"] | None:
        if not self.width or not self.height:
            return None
        if self.width == self.height:
            return "square"
        return "portrait" if self.height > self.width else "landscape"


class CanvasConfig(BaseModel):
    width: int = 1080
    height: int = 1920
    ratio: str = "9:16"


class GeneratedMedia(BaseModel):
    """Media the service made: built-in music used, renders, previews."""

    model_config = ConfigDict(extra="allow")

    type: Literal["music", "render", "preview"]
    url: str
    duration: float | None = None
    prompt: str | None = None
    created_at: str


HISTORY_LIMIT = 20  # turns one can undo


class HistoryEntry(BaseModel):
    """The draft as it was before one turn's changes (in `past`), or after them (in `future`).

    The draft is named by `version`, the committed state version that holds it, and loaded from
    there when undo or redo brings it back (agent.versions). It is carried whole in `draft` only
    where no committed version is known to hold it: a change undone within the turn that made it,
    tools run outside a session, and states stored before versions were named. Neither set: there
    was no timeline yet.
    """

    turn: str  # the invocation id of the turn that made the change ("" outside a turn)
    version: int | None = Field(None, ge=0)
    draft: Draft | None = None
    what: list[str] = Field(default_factory=list)  # the changes' summaries, English
    what_zh: list[str] = Field(default_factory=list)


class DraftHistory(BaseModel):
    """Undo and redo across turns: the session's own record of its earlier drafts.

    It rides in the session state (so it is versioned with it, and the agent stays pure): every
    turn that changes the draft pushes the draft it started from onto `past` once; undo moves the
    current draft onto `future` and restores the top of `past`; redo the reverse; a new change
    clears `future`. Both stacks are bounded (HISTORY_LIMIT), oldest dropped first. The public
    `state` answer leaves it out: it is the agent's bookkeeping, not part of the contract.
    """

    past: list[HistoryEntry] = Field(default_factory=list)
    future: list[HistoryEntry] = Field(default_factory=list)


class SessionState(BaseModel):
    """The whole state of one session; each committed change is a new version of it."""

    model_config = ConfigDict(extra="allow")

    draft: Draft | None = None
    video_infos: list[MediaFile] = Field(default_factory=list)
    canvas_config: CanvasConfig | None = None
    video_analyses: dict[str, dict[str, Any]] = Field(default_factory=dict)
    generated_media: list[GeneratedMedia] = Field(default_factory=list)
    history: DraftHistory | None = None  # undo/redo; absent until the first change

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        if self.draft is not None:
            data["draft"] = self.draft.to_json()
        return data
