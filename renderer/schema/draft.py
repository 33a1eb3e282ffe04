"""The timeline draft: the one definition of the schema clients, agent and renderer share.

Pure pydantic, no torch and no PyAV, so `import renderer.schema.draft` stays cheap (the server and the
agent import it). See api-contract.md, "The draft". Every model keeps unknown keys
(`extra="allow"`) so a client's round-trip never loses data; `Draft.to_json()` writes them back.
All times are integer milliseconds.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SIDE = 1920
MAX_DURATION_MS = 3 * 60 * 60 * 1000  # three hours: far past any slideshow, well short of abuse

# Names the renderer registers an implementation for (a renderer test checks each is present).
FIT_MODES = ("cover", "contain", "blur")
MOTIONS = (
    "none",
    "zoom_in",
    "zoom_out",
    "pan_left",
    "pan_right",
    "pan_up",
    "pan_down",
)
TRANSITIONS = (
    "none",
    "crossfade",
    "dissolve",
    "fade_black",
    "fade_white",
    "wipe_left",
    "wipe_right",
    "wipe_up",
    "wipe_down",
    "slide_left",
    "slide_right",
    "slide_up",
    "slide_down",
    "push_left",
    "push_right",
    "zoom",
    "circle",
    "blur",
)
TEXT_POSITIONS = ("top", "center", "bottom", "top_left", "top_right", "bottom_left", "bottom_right")
TEXT_ANIMS = ("none", "fade", "slide_up", "typewriter")

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


class _Open(BaseModel):
    """Base of every draft model: unknown keys are kept and written back."""

    # No NaN or infinity in any float of a draft: NaN passes every `<`/`>` check (a NaN box sailed
    # through `w <= 0` and crashed the render on each attempt).
    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)


def _check_colour(value: str | None) -> str | None:
    if value is not None and not _HEX_COLOUR.match(value):
        raise ValueError(f"colour must be #RRGGBB or #RRGGBBAA, got {value!r}")
    return value


class TrackType(IntEnum):
    VIDEO = 0
    AUDIO = 1
    TEXT = 7


class Transition(_Open):
    """The transition *into* a segment; the segment starts `d` ms before the previous one ends."""

    type: str = "crossfade"
    d: int = Field(500, ge=0, le=10_000)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in TRANSITIONS:
            raise ValueError(f"unknown transition {value!r}; known: {', '.join(TRANSITIONS)}")
        return value


class SegmentMeta(_Open):
    name: str | None = None
    # visual segments
    fit: str | None = None
    motion: str | None = None
    focus: tuple[float, float] | None = None
    tr: Transition | None = None
    box: tuple[float, float, float, float] | None = None
    opacity: float | None = Field(None, ge=0.0, le=1.0)
    # audio (music segments, and the sound of video clips)
    vol: float | None = Field(None, ge=0.0, le=4.0)
    fade_in: int | None = Field(None, ge=0)
    fade_out: int | None = Field(None, ge=0)
    loop: bool | None = None
    # text segments
    text: str | None = Field(None, max_length=2000)
    pos: str | None = None
    size: float | None = Field(None, gt=0.0, le=0.5)
    color: str | None = None
    anim: str | None = None
    box_color: str | None = None  # a background box behind the text ("#RRGGBBAA"); none by default

    @field_validator("fit")
    @classmethod
    def _fit(cls, value: str | None) -> str | None:
        if value is not None and value not in FIT_MODES:
            raise ValueError(f"unknown fit {value!r}; known: {', '.join(FIT_MODES)}")
        return value

    @field_validator("motion")
    @classmethod
    def _motion(cls, value: str | None) -> str | None:
        if value is not None and value not in MOTIONS:
            raise ValueError(f"unknown motion {value!r}; known: {', '.join(MOTIONS)}")
        return value

    @field_validator("pos")
    @classmethod
    def _pos(cls, value: str | None) -> str | None:
        if value is not None and value not in TEXT_POSITIONS:
            raise ValueError(f"unknown text position {value!r}; known: {', '.join(TEXT_POSITIONS)}")
        return value

    @field_validator("anim")
    @classmethod
    def _anim(cls, value: str | None) -> str | None:
        if value is not None and value not in TEXT_ANIMS:
            raise ValueError(f"unknown text animation {value!r}; known: {', '.join(TEXT_ANIMS)}")
        return value

    @field_validator("color", "box_color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        return _check_colour(value)

    @field_validator("focus")
    @classmethod
    def _focus(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(0.0 <= v <= 1.0 for v in value):
            raise ValueError("focus is [x, y] relative to the photo, each within 0..1")
        return value

    @field_validator("box")
    @classmethod
    def _box(
        cls, value: tuple[float, float, float, float] | None
    ) -> tuple[float, float, float, float] | None:
        if value is not None:
            x, y, w, h = value
            if w <= 0 or h <= 0 or not (-1 <= x <= 2 and -1 <= y <= 2) or w > 4 or h > 4:
                raise ValueError("box is [x, y, w, h] relative to the canvas, with w and h > 0")
        return value


class Segment(_Open):
    id: str = Field(..., min_length=1, max_length=128)
    src: str | None = Field(None, max_length=4096)
    st: int = Field(..., ge=0, le=MAX_DURATION_MS)
    d: int = Field(..., gt=0, le=MAX_DURATION_MS)
    ss: int = Field(0, ge=0, le=MAX_DURATION_MS)  # where in the source the segment starts
    m: SegmentMeta = Field(default_factory=SegmentMeta)

    @property
    def end(self) -> int:
        return self.st + self.d


class TrackMeta(_Open):
    name: str | None = None


class Track(_Open):
    id: str = Field(..., min_length=1, max_length=128)
    tt: TrackType
    m: TrackMeta = Field(default_factory=TrackMeta)
    sg: list[Segment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _segments_fit_their_track(self) -> Track:
        for i, seg in enumerate(self.sg):
            if self.tt in (TrackType.VIDEO, TrackType.AUDIO) and not seg.src:
                raise ValueError(f"sg[{i}] ({seg.id}): a video or audio segment needs src")
            if self.tt == TrackType.TEXT and not (seg.m.text or "").strip():
                raise ValueError(f"sg[{i}] ({seg.id}): a text segment needs m.text")
        return self


class DraftMeta(_Open):
    title: str | None = None
    width: int = Field(1080, ge=16, le=MAX_SIDE)
    height: int = Field(1920, ge=16, le=MAX_SIDE)
    fps: int = Field(30, ge=1, le=60)
    bg: str = "#000000"
    # the whole video fades in from black over its first `fade_in` ms, out to black over its last
    fade_in: int | None = Field(None, ge=0, le=10_000)
    fade_out: int | None = Field(None, ge=0, le=10_000)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError(f"must be even for yuv420p, got {value}")
        return value

    @field_validator("bg")
    @classmethod
    def _bg(cls, value: str) -> str:
        return _check_colour(value) or "#000000"


class Draft(_Open):
    d: int = Field(..., ge=0, le=MAX_DURATION_MS)
    m: DraftMeta = Field(default_factory=DraftMeta)
    t: list[Track] = Field(default_factory=list)

    def tracks(self, tt: TrackType) -> list[Track]:
        return [track for track in self.t if track.tt == tt]

    def sources(self) -> set[str]:
        """Every `src` the draft names (video and audio segments)."""
        return {seg.src for track in self.t for seg in track.sg if seg.src}

    def to_json(self) -> dict[str, Any]:
        """The wire form: short keys, unknown keys kept, unset optionals left out."""
        return self.model_dump(mode="json", exclude_none=True)


def empty_draft(width: int = 1080, height: int = 1920, fps: int = 30) -> Draft:
    return Draft(d=0, m=DraftMeta(width=width, height=height, fps=fps), t=[])


AspectName = Literal["9:16", "16:9", "1:1", "4:5"]
ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "9:16": (1080, 1920),
    "16:9": (1920, 1080),
    "1:1": (1080, 1080),
    "4:5": (1080, 1350),
}
