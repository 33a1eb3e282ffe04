"""What an LLM planner sends: the system prompt and the chat messages of one planning step.

The model sees the job and its limits, how to name a segment, the name lists the compact tool
schemas leave out, a few worked examples (edits scoped to what was named, a question answered
without a tool, a wish we cannot do refused with the nearest thing we can), the uploads with what
analysis found, the draft segment by segment (agent.planners.llm.context), the conversation so
far, this message, and this turn's tool calls with their results (one assistant message per
planner step, then one tool message per call). Calls and results are replayed as the model knows
them: in seconds, targets as strings (agent.planners.llm.schemas).
"""

from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from agent.language import Lang
from agent.planner import PlanRequest, StepRecord
from agent.planners.llm.context import builtin_music_line, draft_lines, upload_lines
from agent.planners.llm.schemas import TARGET_NOTE, ToolSchemas, seconds_view, shared_names
from agent.state import SessionState
from agent.summary import timeline_summary
from agent.tools.state_view import clip_srcs

MAX_HISTORY = 20  # earlier messages replayed; older ones cost tokens and rarely matter

_JOB = """You are the editing assistant inside a video editor. The user uploaded photos, video clips \
and maybe music, and talks to you to shape a short video. You change the draft only by calling tools; \
the app shows it and the user exports it from there.

Rules:
- Make every change with a tool call; never say you changed something you did not.
- Change only what the user named: "the cat pic" is one segment, "the last two" two; all segments \
only when they say so. Name segments with targets; uploads by media_id or file name, exactly.
- One message may ask several things: call tools for all of them (make the slideshow first).
- A question about the video ("how long is it?", "what song is that?"): answer from the state below \
in words, without calling a tool.
- Something we cannot do: say so plainly and offer the nearest thing we can. Limits: export is MP4 \
only, at most 1080x1920 (or 1920x1080); no filters, stickers, GIF or 4K; music is one \
song (built-in or uploaded).
- When a tool answers with an error, fix the arguments and call again, or tell the user why not.
- Ask one short question, naming the candidates, only when a request is truly ambiguous.
- Done: answer in one to three short sentences saying what changed. The app appends the timeline \
summary; do not repeat it.
- Times are in seconds everywhere."""

_EXAMPLES = """Examples (user -> what you do):
- "make the cat pic 6 secs" -> edit_segments {"targets": ["cat"], "seconds": 6}
- "slow down the last two" -> edit_segments {"targets": ["-2", "-1"], "factor": 1.5}
- "zoom in on the lake shot" -> edit_segments {"targets": ["lake"], "motion": "zoom_in"} (not set_motion: \
that changes every photo)
- "music quieter and start it at 0:40" -> set_music {"volume": 0.2, "start_seconds": 40}
- "fade out to black at the end" -> set_video_fades {"fade_out_seconds": 1.5}
- "add the new photos too" -> add_media {}
- "把第二张的字幕改成 生日快乐" -> edit_text {"kind": "caption", "target": "photo 2", "text": "生日快乐"}
- "how many photos?" -> no tool; reply "There are 8 photos and 1 clip."
- "export it in 4K" -> no tool; reply that exports go up to 1080x1920 MP4, which is what it will be."""

_LANGUAGE: dict[Lang, str] = {
    "en": "Answer in English.",
    "zh": "请用简体中文回答（Answer in simplified Chinese）。",
}


def system_prompt(state: SessionState, language: Lang) -> str:
    """The job, the uploads and the draft as they are when this step is planned."""
    return "\n".join(
        [
            _JOB,
            _LANGUAGE[language],
            "",
            TARGET_NOTE,
            shared_names(),
            builtin_music_line(),
            "",
            _EXAMPLES,
            "",
            "Uploads (media_id | file name | type | facts):",
            *upload_lines(state),
            "",
            *draft_lines(state),
            timeline_summary(state.draft, clip_srcs(state)),
        ]
    )


def assistant_calls(calls: list[dict[str, Any]], text: str | None = None) -> dict[str, Any]:
    """An assistant message asking for `calls` (OpenAI tool_calls entries)."""
    return {"role": "assistant", "content": text or None, "tool_calls": calls}


def call_entry(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_message(call_id: str, response: dict[str, Any]) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(response, ensure_ascii=False)}


def model_response(schemas: ToolSchemas, name: str, response: dict[str, Any]) -> dict[str, Any]:
    """A tool's response as the model reads it: seconds, its own field names in errors."""
    view: dict[str, Any] = seconds_view(response)
    if isinstance(view.get("error"), str):
        view["error"] = schemas.model_words(name, view["error"])
    return view


def _replay(steps: list[StepRecord], schemas: ToolSchemas) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for _, group in groupby(steps, key=lambda record: record.step):
        records = list(group)
        calls = [
            call_entry(
                r.call.id or "",
                r.call.name,
                json.dumps(schemas.to_model_args(r.call.name, r.call.args), ensure_ascii=False),
            )
            for r in records
        ]
        messages.append(assistant_calls(calls))
        messages += [
            tool_message(r.call.id or "", model_response(schemas, r.call.name, r.response)) for r in records
        ]
    return messages


def chat_messages(request: PlanRequest, schemas: ToolSchemas) -> list[dict[str, Any]]:
    """System prompt, earlier turns, this message, then this turn's calls and results."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(request.state, request.language)}
    ]
    for turn in request.history[-MAX_HISTORY:]:
        role = "user" if turn.get("role") == "user" else "assistant"
        messages.append({"role": role, "content": turn.get("text", "")})
    messages.append({"role": "user", "content": request.message})
    return messages + _replay(request.steps, schemas)
