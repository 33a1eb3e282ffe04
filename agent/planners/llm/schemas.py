"""The tools as the model sees them: compact JSON schemas, in seconds, converted back at the boundary.

The registry's pydantic schemas are written for validation and for people (titles, `anyOf` with
null for every optional field, `$defs` repeated in every tool that takes a Target): sent as they
are they cost about 30k characters a request, most of it repeated. What the model is sent here:

- no titles, no `default: null`, an optional field as its own type (absent = not given);
- numeric bounds and lengths dropped: the tool validates them and its error names the bound;
- a Target (which segment) is a plain string, "photo 3", "clip -1", "2" or a file name or word
  of it, described once in the system prompt (`TARGET_NOTE`) instead of an object schema in
  twenty places; `to_tool_args` parses it back into the tool's Target object. Any other `$ref`
  is inlined, so the schemas work on servers that ignore `$defs` (Ollama);
- descriptions cut to what the name and type do not say (`TERSE`, by tool and field; a tool or
  field not in it keeps the registry's words), defaults dropped (the words name the useful ones);
- the long name lists (transitions, motions, text positions) said once in the system prompt
  (`shared_names`) instead of as an `enum` in every field that takes one;
- every duration in seconds: a `*_ms` integer field is shown as a `*_seconds` number; `to_tool_args`
  turns the model's seconds back into the tool's milliseconds, `to_model_args` and
  `seconds_view` turn calls and results the other way, so the model never sees milliseconds.

The schemas are derived from the runner's specs each time (not hand-written), so a tool added or
changed in the registry reaches the model without an edit here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from renderer.schema.draft import MOTIONS, TEXT_POSITIONS, TRANSITIONS

MS_SUFFIX, S_SUFFIX = "_ms", "_seconds"  # the registry names most durations `*_seconds` already
_DROPPED_KEYS = frozenset(
    {"title", "default", "exclusiveMinimum", "exclusiveMaximum", "minimum", "maximum", "minLength",
     "maxLength", "minItems"}
)  # fmt: skip
SHARED_NAMES: dict[str, tuple[str, ...]] = {
    "transition": (*TRANSITIONS,),
    "motion": ("auto", *MOTIONS),
    "position": (*TEXT_POSITIONS,),
}

# What each tool and field is, in as few words as a model needs: (tool description, {field: words}).
# A field given "" has no description (its name and type say it all).
TERSE: dict[str, tuple[str, dict[str, str]]] = {
    "make_slideshow": (
        "Uploads on the video track (replaces it)",
        {
            "media_ids": "in order; omit: all uploads",
            "seconds_per_photo": "",
            "total_seconds": "photos share it",
            "transition": "",
            "transition_seconds": "",
            "motion": "",
            "fit": "",
            "aspect": "",
        },
    ),
    "set_duration": ("", {"total_seconds": "", "keep": "targets keeping their time"}),
    "set_seconds_per_photo": (
        "",
        {"seconds": "", "factor": "instead: × own time", "target": "omit: every photo"},
    ),
    "set_aspect": ("", {"aspect": ""}),
    "set_transition": (
        "Every segment",
        {"kind": "", "duration_seconds": "", "keep_length": "default true"},
    ),
    "set_motion": ("", {"kind": ""}),
    "set_fit": ("Every photo", {"mode": "blur: bars blurred"}),
    "remove_segment": ("Remove one segment", {"target": ""}),
    "move_segment": (
        "",
        {"target": "", "position": "1-based, -1 end", "after": "", "before": ""},
    ),
    "swap_segments": ("", {"first": "", "second": ""}),
    "replace_segment": (
        "Another upload in its place",
        {"target": "", "media": "an upload, or 'new'"},
    ),
    "reorder_segments": ("", {"order": "", "positions": "old positions in new order"}),
    "duplicate_segment": ("", {"target": ""}),
    "trim_segment": (
        "A clip's part, or a photo's time",
        {"target": "", "seconds": "", "start_seconds": "in the clip", "end_seconds": "in the clip"},
    ),
    "add_media": (
        "Add uploads to the timeline",
        {"media": "omit: all not on timeline", "position": "1-based; omit: end"},
    ),
    "set_clip_volume": (
        "",
        {"target": "omit: every clip", "volume": "0 mute, 1 own level"},
    ),
    "edit_segments": (
        "Only these segments; transition: into each",
        {
            "targets": "",
            "seconds": "",
            "add_seconds": "instead: +longer/-shorter",
            "factor": "instead: × own time",
            "full_clip": "clips: play whole",
            "motion": "",
            "fit": "",
            "transition": "",
            "transition_seconds": "",
        },
    ),
    "remove_segments": ("", {"targets": "", "keep": "true: keep only them"}),
    "shuffle_segments": ("", {}),
    "set_video_fades": (
        "From/to black; 0 removes",
        {"fade_in_seconds": "", "fade_out_seconds": ""},
    ),
    "add_title": (
        "Replaces the title",
        {
            "text": "",
            "start_seconds": "",
            "duration_seconds": "",
            "position": "",
            "size": "of height, 0.08",
            "color": "#RRGGBB",
            "anim": "none|fade|slide_up|typewriter",
        },
    ),
    "set_title": ("Change the title's words", {"text": ""}),
    "remove_title": ("Remove the title", {}),
    "set_music": (
        "Omitted fields stay",
        {
            "source": "builtin:<name> or an audio upload",
            "volume": "0-1",
            "fade_in_seconds": "",
            "fade_out_seconds": "",
            "loop": "",
            "start_seconds": "in the song",
            "delay_seconds": "on the video",
        },
    ),
    "remove_music": ("", {}),
    "describe": ("Describe the timeline (no change)", {}),
    "look_at": ("The picture at t s: brightness, colours", {"t": ""}),
    "add_caption": (
        "On a segment, or at a time",
        {
            "text": "",
            "target": "",
            "start_seconds": "no target: when",
            "duration_seconds": "",
            "position": "",
        },
    ),
    "add_end_card": ("", {"text": "", "seconds": "", "position": ""}),
    "edit_text": (
        "",
        {"kind": "", "number": "", "target": "", "text": ""},
    ),
    "move_text": (
        "",
        {"kind": "", "number": "", "target": "", "position": ""},
    ),
    "remove_text": (
        "captions: one or all",
        {"kind": "", "number": "", "target": ""},
    ),
    "cut_to_beat": ("", {"beats_per_segment": "omit: keep the pace"}),
    "undo": ("", {"steps": "turns"}),
    "redo": ("", {"steps": "turns"}),
}


_SHARED_KEY = "x-shared"  # marks a field whose name list the prompt carries; never sent


# Fields the model is not shown (rarely wanted; the tool's default applies; another tool sets them).
HIDDEN_FIELDS: dict[str, frozenset[str]] = {
    "make_slideshow": frozenset({"transition", "transition_seconds", "motion", "fit"}),  # set_* after
    "set_transition": frozenset({"keep_length"}),
    "add_title": frozenset({"anim", "start_seconds"}),
    "shuffle_segments": frozenset({"seed"}),
}

# Tools the model is not shown: another tool it sees does the same, or the prompt already says it.
HIDDEN: dict[str, str] = {
    "describe": "the system prompt lists the whole timeline",
    "set_title": "edit_text with kind title",
    "remove_title": "remove_text with kind title",
    "remove_segment": "remove_segments with one target",
}


def shared_names() -> str:
    """The name lists the schemas leave out, for the system prompt."""
    return "\n".join(f"{kind} names: {', '.join(names)}" for kind, names in SHARED_NAMES.items())


TARGET_DEF = "Target"  # the registry's model of "which segment" (agent.tools.segment_refs)
TARGET_NOTE = (
    'A target (which video segment) is a string: "photo 3" (3rd photo), "clip -1" (last clip), '
    '"2" (2nd segment of any kind), or a file name, a word of it, or a media_id.'
)
_TARGET_TEXT = re.compile(r"^(?:(photo|clip|any|segment|item)s?\s*)?#?\s*(-?\d+)$", re.IGNORECASE)
_TARGET_SCHEMA = {"type": "string"}


def parse_target(value: Any) -> Any:
    """A model's target string as the tool's Target object; anything else is passed on as it is
    (an object the model built itself is validated by the tool)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    found = _TARGET_TEXT.match(text)
    if found is None:
        return {"name": text}
    kind = (found.group(1) or "any").lower()
    return {"kind": kind if kind in ("photo", "clip") else "any", "index": int(found.group(2))}


def _target_fields(params: dict[str, Any]) -> dict[str, bool]:
    """{field: is a list} for the top-level fields that take Targets."""
    ref = f"#/$defs/{TARGET_DEF}"
    fields: dict[str, bool] = {}
    for name, prop in params.get("properties", {}).items():
        options = [prop, *prop.get("anyOf", [])] if isinstance(prop, dict) else []
        for option in options:
            if option.get("$ref") == ref:
                fields[name] = False
            elif isinstance(option.get("items"), dict) and option["items"].get("$ref") == ref:
                fields[name] = True
    return fields


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """The node with a `$ref` replaced by its definition (a Target by a plain string)."""
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    name = ref.rsplit("/", 1)[-1]
    base = _TARGET_SCHEMA if name == TARGET_DEF else defs.get(name, {})
    return {**base, **{k: v for k, v in node.items() if k != "$ref"}}


def _compact(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_compact(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = _resolve(node, defs)
    options = node.get("anyOf")
    if isinstance(options, list):
        # null, and a constant that is the default ('all', 'new'), are what omitting the field says
        kept = [
            o
            for o in options
            if o != {"type": "null"} and not ("const" in o and o["const"] == node.get("default"))
        ]
        if len(kept) == 1:  # Optional[X]: X itself, absent when not given
            outer = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**_resolve(kept[0], defs), **{k: v for k, v in outer.items() if k == "description"}}
    enum = node.get("enum")
    if isinstance(enum, list):
        for kind, names in SHARED_NAMES.items():
            if set(enum) <= set(names) and len(enum) > 4:  # a long list: said once in the prompt
                node = {k: v for k, v in node.items() if k != "enum"}
                node[_SHARED_KEY] = f"a {kind} name"
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or key == "$defs":
            continue
        if key == "properties":  # field names, not schema keywords
            out[key] = {name: _compact(prop, defs) for name, prop in value.items()}
        else:
            out[key] = _compact(value, defs)
    return out


def _in_seconds(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The top-level `*_ms` fields renamed `*_seconds` as numbers; returns {seconds name: ms name}."""
    renamed: dict[str, str] = {}
    props: dict[str, Any] = {}
    for name, prop in params.get("properties", {}).items():
        if name.endswith(MS_SUFFIX) and isinstance(prop, dict) and prop.get("type") == "integer":
            seconds = name[: -len(MS_SUFFIX)] + S_SUFFIX
            renamed[seconds] = name
            prop = {**prop, "type": "number"}
            prop["description"] = "; ".join(p for p in (prop.get("description"), "seconds") if p)
            name = seconds
        props[name] = prop
    out = {**params, "properties": props}
    if "required" in params:
        back = {v: k for k, v in renamed.items()}
        out["required"] = [back.get(r, r) for r in params["required"]]
    return out, renamed


def _terse(name: str, description: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The tool's TERSE words, where it has them, in place of the registry's."""
    tool_words, fields = TERSE.get(name, (description, {}))
    hidden = HIDDEN_FIELDS.get(name, frozenset())
    props: dict[str, Any] = {}
    for field, prop in params.get("properties", {}).items():
        if field in hidden:
            continue
        if isinstance(prop, dict):
            words = str(fields.get(field, prop.get("description") or ""))
            if prop.get(_SHARED_KEY) == f"a {field} name":  # `transition`: its name says which list
                prop = {k: v for k, v in prop.items() if k != _SHARED_KEY}
            props[field] = _described(prop, words)
        else:
            props[field] = prop
    return tool_words, {**params, "properties": props}


def _described(node: dict[str, Any], words: str) -> dict[str, Any]:
    """`node` described by `words` (after its shared-name note), the note's marker gone at any depth."""
    shared = node.get(_SHARED_KEY, "")
    out = {
        k: _described(v, v.get("description", "")) if isinstance(v, dict) and k == "items" else v
        for k, v in node.items()
        if k not in ("description", _SHARED_KEY)
    }
    text = "; ".join(p for p in (shared, words) if p)
    if text:
        out["description"] = text
    return out


class ToolSchemas:
    """The compact tools for one request, and the conversions between the model's seconds and
    the tools' milliseconds (by tool name)."""

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        self.tools: list[dict[str, Any]] = []
        self._to_ms: dict[str, dict[str, str]] = {}
        self._targets: dict[str, dict[str, bool]] = {}
        for spec in specs:
            fn = spec.get("function", {})
            if fn.get("name") in HIDDEN:
                continue
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            self._targets[fn.get("name", "")] = _target_fields(params)
            compact = _compact(params, params.get("$defs", {}))
            compact, renamed = _in_seconds(compact)
            if not compact.get("properties"):
                compact = {"type": "object", "properties": {}}
            name = fn.get("name", "")
            self._to_ms[name] = renamed
            description, compact = _terse(name, fn.get("description", ""), compact)
            function: dict[str, Any] = {"name": name, "description": description, "parameters": compact}
            if not description:  # the name says it all
                del function["description"]
            self.tools.append({"type": "function", "function": function})

    def chars(self) -> int:
        """Characters of the `tools` list as it goes on the wire (httpx's compact JSON)."""
        return len(json.dumps(self.tools, ensure_ascii=False, separators=(",", ":")))

    def to_tool_args(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """The model's arguments as the tool takes them (seconds fields back to milliseconds)."""
        renamed = self._to_ms.get(name, {})
        targets = self._targets.get(name, {})
        out: dict[str, Any] = {}
        for key, value in args.items():
            if key in renamed and isinstance(value, int | float) and not isinstance(value, bool):
                out[renamed[key]] = round(value * 1000)
            elif key in targets:
                many = targets[key] and isinstance(value, list)
                out[key] = [parse_target(v) for v in value] if many else parse_target(value)
            else:
                out[key] = value
        return out

    def to_model_args(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """A call the runner recorded, as the model sent it (milliseconds back to seconds)."""
        back = {ms: s for s, ms in self._to_ms.get(name, {}).items()}
        targets = self._targets.get(name, {})
        out: dict[str, Any] = {}
        for key, value in args.items():
            if key in back and isinstance(value, int | float):
                out[back[key]] = value / 1000
            elif key in targets:
                out[key] = [target_text(v) for v in value] if isinstance(value, list) else target_text(value)
            else:
                out[key] = value
        return out

    def model_words(self, name: str, text: str) -> str:
        """A tool's message with its milliseconds field names as the model knows them."""
        for seconds, ms in self._to_ms.get(name, {}).items():
            text = re.sub(rf"\b{re.escape(ms)}\b", seconds, text)
        return text


def target_text(value: Any) -> Any:
    """A Target object as the string the model writes (inverse of parse_target)."""
    if not isinstance(value, dict):
        return value
    if value.get("name"):
        return str(value["name"])
    if value.get("index") is not None:
        kind = value.get("kind") or "any"
        return f"{kind} {value['index']}" if kind in ("photo", "clip") else str(value["index"])
    return value


def seconds_view(value: Any) -> Any:
    """A tool result (or analysis) with every `*_ms` key as `*_s` in seconds, at any depth."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(MS_SUFFIX):
                out[key[: -len(MS_SUFFIX)] + S_SUFFIX] = _seconds(item)
            else:
                out[key] = seconds_view(item)
        return out
    if isinstance(value, list):
        return [seconds_view(item) for item in value]
    return value


def _seconds(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return round(value / 1000, 3)
    if isinstance(value, list):
        return [_seconds(item) for item in value]
    return value
