"""Every tool a planner may call, listed by hand (no registration by import side effect).

The order is the order an LLM planner sees them in: making and shaping the video first, then
segments, layers, text, the beat and history.
"""

from __future__ import annotations

from typing import Any

from agent.tools import beats, history, layers, layout, look, segment_edits, segments, text
from agent.tools.base import Tool

TOOLS: tuple[Tool, ...] = (
    layout.make_slideshow,
    layout.set_duration,
    layout.set_seconds_per_photo,
    layout.set_aspect,
    layout.set_transition,
    layout.set_motion,
    layout.set_fit,
    segments.remove_segment,
    segments.move_segment,
    segments.swap_segments,
    segments.replace_segment,
    segments.reorder_segments,
    segments.duplicate_segment,
    segments.trim_segment,
    segments.add_media,
    segments.set_clip_volume,
    segment_edits.edit_segments,
    segment_edits.remove_segments,
    segment_edits.shuffle_segments,
    segment_edits.set_video_fades,
    layers.add_title,
    layers.set_title,
    layers.remove_title,
    layers.set_music,
    layers.remove_music,
    layers.describe,
    look.look_at,
    text.add_caption,
    text.add_end_card,
    text.edit_text,
    text.move_text,
    text.remove_text,
    beats.cut_to_beat,
    history.undo,
    history.redo,
)
_BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}
assert len(_BY_NAME) == len(TOOLS), "two tools share a name"


def registry() -> dict[str, Tool]:
    """Every tool, by name."""
    return dict(_BY_NAME)


def tool_specs() -> list[dict[str, Any]]:
    return [t.schema() for t in TOOLS]
