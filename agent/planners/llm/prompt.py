"""What an LLM planner sends: the system prompt and the chat messages of one planning step.

The model sees the job, the user's uploads (media_id, filename, type, shape, length), the canvas
and timeline as they are now, the conversation so far, this message, and the tool calls of this
turn with their results (one assistant message per planner step, then one tool message per call).
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from agent.language import Lang
from agent.planner import PlanRequest, StepRecord
from agent.state import MediaFile, SessionState
from agent.summary import timeline_summary
from agent.tools.state_view import clip_srcs
from renderer.schema.draft import TrackType

MAX_HISTORY = 20  # earlier messages replayed; older ones cost tokens and rarely matter
MAX_SEGMENTS = 60  # video segments listed one by one

_JOB = """You are the editing assistant inside a video editor. The user uploaded photos, video clips \
and maybe music, and talks to you to shape a short video. You edit the timeline draft only by calling \
the tools; the app shows the draft and the user exports it from there.

Rules:
- Make every change with a tool call; never say you changed something you did not change with a tool.
- Refer to uploads by the media_id (or filename) listed below, exactly; never invent one.
- One message may ask for several changes: call the tools for all of them, in a sensible order \
(make the slideshow first, then titles and music).
- When a tool answers with an error, correct the arguments and call it again, or tell the user why \
it cannot be done.
- When a request is ambiguous or refers to something that is not there, ask one short question \
instead of guessing.
- To export, the user's app sends the draft to the render service; you cannot render. Just say the \
draft is ready.
- When you are done, answer in one to three short sentences saying what changed. Do not repeat the \
timeline summary: the app appends it to your answer."""

_LANGUAGE: dict[Lang, str] = {
    "en": "Answer in English.",
    "zh": "请用简体中文回答（Answer in simplified Chinese）。",
}


def _upload_line(f: MediaFile) -> str:
    shape: str = f.orientation or "unknown shape"
    if f.width and f.height:
        shape = f"{shape} {f.width}x{f.height}"
    length = f"{f.duration:g} s" if f.duration else "-"
    if f.file_type == "audio":
        shape = "-"
    return f"- {f.media_id} | {f.filename} | {f.file_type} | {shape} | {length}"


def _segment_lines(state: SessionState) -> list[str]:
    draft = state.draft
    video = draft.tracks(TrackType.VIDEO) if draft else []
    if not video:
        return []
    names = {f.cdn_url: f.filename for f in state.video_infos}
    segs = video[0].sg
    lines = [
        f"{i}. {names.get(s.src or '', s.src or '?')} ({s.st / 1000:g}-{s.end / 1000:g} s)"
        for i, s in enumerate(segs[:MAX_SEGMENTS], start=1)
    ]
    if len(segs) > MAX_SEGMENTS:
        lines.append(f"... and {len(segs) - MAX_SEGMENTS} more")
    return ["Video segments in order:", *lines]


def system_prompt(state: SessionState, language: Lang) -> str:
    """The job, the uploads and the timeline as they are when this step is planned."""
    uploads = [_upload_line(f) for f in state.video_infos] or ["(nothing uploaded yet)"]
    parts = [
        _JOB,
        _LANGUAGE[language],
        "",
        "Uploads (media_id | filename | type | shape | length):",
        *uploads,
    ]
    draft = state.draft
    if draft is not None:
        parts.append(f"Canvas: {draft.m.width}x{draft.m.height}.")
    parts.append(timeline_summary(draft, clip_srcs(state)))
    parts += _segment_lines(state)
    return "\n".join(parts)


def assistant_calls(calls: list[dict[str, Any]], text: str | None = None) -> dict[str, Any]:
    """An assistant message asking for `calls` (OpenAI tool_calls entries)."""
    return {"role": "assistant", "content": text or None, "tool_calls": calls}


def call_entry(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_message(call_id: str, response: dict[str, Any]) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(response, ensure_ascii=False)}


def _replay(steps: list[StepRecord]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for _, group in groupby(steps, key=lambda record: record.step):
        records = list(group)
        calls = [
            call_entry(r.call.id or "", r.call.name, json.dumps(r.call.args, ensure_ascii=False))
            for r in records
        ]
        messages.append(assistant_calls(calls))
        messages += [tool_message(r.call.id or "", r.response) for r in records]
    return messages


def chat_messages(request: PlanRequest) -> list[dict[str, Any]]:
    """System prompt, earlier turns, this message, then this turn's calls and results."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(request.state, request.language)}
    ]
    for turn in request.history[-MAX_HISTORY:]:
        role = "user" if turn.get("role") == "user" else "assistant"
        messages.append({"role": role, "content": turn.get("text", "")})
    messages.append({"role": "user", "content": request.message})
    return messages + _replay(request.steps)
