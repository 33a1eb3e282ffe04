"""The LLM planner over real HTTP against recorded OpenAI-compatible responses (loopback.py), one
server dialect at a time: OpenAI, Ollama (arguments as an object), vLLM (no call id, content null),
llama.cpp (the call written into the content, fenced or in <tool_call> tags), a model that answers
in words, and malformed calls. Each test runs whole turns through the runner and checks what the
user gets (the draft, the reply) and what the model was sent (compact schemas in seconds, the
per-segment state, the upload analysis)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.planners.llm.planner import LLMPlanner
from agent.planners.llm.schemas import ToolSchemas, parse_target
from agent.planners.rules.planner import RulePlanner
from agent.state import MediaFile, SessionState
from agent.tools.base import ToolContext
from agent.tools.registry import registry, tool_specs
from renderer.schema.draft import Draft, TrackType
from tests.agent.planners.llm.loopback import LoopbackLLM, Recorded

NAMES = ["cat.jpg", "lake.jpg", "birthday cake.jpg", "dog.jpg", "beach.jpg"]
SCHEMA_BUDGET_CHARS = 8000
BEFORE_CHARS = 29_707  # the registry's schemas as they were sent before compacting (httpx's JSON)


def _completion(model: str, message: dict[str, Any], reason: str, **extra: Any) -> Recorded:
    return Recorded(
        {
            "id": "chatcmpl-7f3a",
            "object": "chat.completion",
            "created": 1764851000,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": reason, **extra}],
            "usage": {"prompt_tokens": 2900, "completion_tokens": 31, "total_tokens": 2931},
        }
    )


def openai_call(name: str, args: dict[str, Any] | str, call_id: str = "call_Qx81") -> Recorded:
    arguments = args if isinstance(args, str) else json.dumps(args)
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return _completion(
        "gpt-4o-mini", {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
    )


def ollama_call(name: str, args: dict[str, Any]) -> Recorded:
    """Ollama: the arguments arrive as a JSON object, content "" rather than null."""
    call = {
        "id": "call_x1rk2b",
        "index": 0,
        "type": "function",
        "function": {"name": name, "arguments": args},
    }
    message = {"role": "assistant", "content": "", "tool_calls": [call]}
    return _completion("qwen2.5:7b-instruct", message, "tool_calls")


def vllm_call(name: str, args: dict[str, Any]) -> Recorded:
    """vLLM (some parsers): no call id, content null, reasoning_content beside it."""
    call = {"type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    message = {"role": "assistant", "content": None, "reasoning_content": None, "tool_calls": [call]}
    return _completion("Qwen/Qwen2.5-7B-Instruct", message, "tool_calls", stop_reason=None)


def llamacpp_text(content: str) -> Recorded:
    """llama.cpp without a tool-call template: whatever the model wrote, in content."""
    return _completion("llama-3.2-3b-instruct-q4_k_m.gguf", {"role": "assistant", "content": content}, "stop")


def words(text: str) -> Recorded:
    return _completion("gpt-4o-mini", {"role": "assistant", "content": text, "refusal": None}, "stop")


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackLLM]]:
    started: list[LoopbackLLM] = []

    def start(*answers: Recorded) -> LoopbackLLM:
        started.append(LoopbackLLM(*answers))
        return started[-1]

    yield start
    for llm in started:
        llm.close()


def planner_for(llm: LoopbackLLM) -> LLMPlanner:
    return LLMPlanner(llm.base_url, "test-model", fallback=RulePlanner(), timeout_seconds=10)


@pytest.fixture
def named(make_media: Callable[..., MediaFile], turn: Callable[..., Any]) -> SessionState:
    """Five named photos, a clip and a song, made into a slideshow with music, a caption on the
    lake photo and a title (the tools run directly: real code, no model)."""
    photos = [make_media(i, name=name) for i, name in enumerate(NAMES)]
    clip = make_media(5, "video", 1920, 1080, 4.0, "surf clip.mp4")
    song = make_media(6, "audio", None, None, 95.0, "summer song.mp3")
    state = SessionState(
        video_infos=[*photos, clip, song],
        video_analyses={
            "med00": {
                "file_type": "image",
                "orientation": "portrait",
                "dominant_colors": ["#d08040", "#202020"],
            },
            "med06": {"file_type": "audio", "bpm": 92.0, "beat_offset_ms": 120},
        },
    )
    tools, ctx = registry(), ToolContext(now=lambda: 1764851000.0)
    state = turn(state, "make a slideshow").state
    for name, args in [
        (
            "set_music",
            {"source": "med06", "volume": 0.3, "fade_in_ms": 1500, "start_seconds": 40, "delay_seconds": 2},
        ),
        ("add_caption", {"text": "by the lake", "target": {"name": "lake"}}),
        ("add_title", {"text": "Summer"}),
        ("edit_segments", {"targets": [{"kind": "photo", "index": 4}], "motion": "pan_left"}),
    ]:
        state = tools[name].run(state, args, ctx).state
    return state


def _segment(draft: Draft, name_word: str, state: SessionState) -> Any:
    srcs = {f.cdn_url for f in state.video_infos if name_word in f.filename}
    return next(s for s in draft.tracks(TrackType.VIDEO)[0].sg if s.src in srcs)


def _no_milliseconds(body: dict[str, Any]) -> bool:
    """Nothing the model was sent names a field in milliseconds."""
    return re.search(r"_ms\b", json.dumps(body, ensure_ascii=False)) is None


def test_tool_schemas_are_compact_and_in_seconds() -> None:
    schemas = ToolSchemas(tool_specs())
    print(f"tool schemas on the wire: {BEFORE_CHARS} chars before, {schemas.chars()} now")
    assert schemas.chars() < SCHEMA_BUDGET_CHARS
    text = json.dumps(schemas.tools)
    assert "$ref" not in text and "$defs" not in text and '"title":' not in text and "_ms" not in text
    music = next(t for t in schemas.tools if t["function"]["name"] == "set_music")["function"]["parameters"]
    assert music["properties"]["fade_in_seconds"]["type"] == "number"
    assert schemas.to_tool_args("set_music", {"fade_in_seconds": 1.5, "volume": 0.2}) == {
        "fade_in_ms": 1500,
        "volume": 0.2,
    }
    assert schemas.to_model_args("set_music", {"fade_out_ms": 2500}) == {"fade_out_seconds": 2.5}
    assert [parse_target(t) for t in ["photo 3", "clip -1", "2", "cat", "photos #2"]] == [
        {"kind": "photo", "index": 3},
        {"kind": "clip", "index": -1},
        {"kind": "any", "index": 2},
        {"name": "cat"},
        {"kind": "photo", "index": 2},
    ]
    edit = schemas.to_tool_args("edit_segments", {"targets": ["cat", "photo -1"], "seconds": 6})
    assert edit["targets"] == [{"name": "cat"}, {"kind": "photo", "index": -1}]


def test_ollama_object_arguments_edit_only_the_named_photo(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    llm = loopback(
        ollama_call("edit_segments", {"targets": ["cat"], "seconds": 6}), words("The cat photo shows 6 s.")
    )
    before = named.draft
    assert before is not None
    t = turn(named, "make the cat pic 6 secs", planner=planner_for(llm))
    assert _segment(t.draft, "cat", t.state).d == 6000
    for word in ("lake", "dog", "beach"):  # the others keep their time
        assert _segment(t.draft, word, t.state).d == _segment(before, word, named).d
    assert t.reply.splitlines()[0] == "The cat photo shows 6 s."
    assert llm.paths == ["/v1/chat/completions"] * 2
    first = llm.requests[0]
    assert first["tools"] == ToolSchemas(tool_specs()).tools and first["tool_choice"] == "auto"
    assert all(_no_milliseconds(body) for body in llm.requests)
    replayed = llm.messages(1)[-2]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(replayed) == {"targets": ["cat"], "seconds": 6}  # as the model wrote it


def test_the_model_sees_every_segment_the_music_and_the_upload_analysis(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    """A question is answered in words from the prompt: no tool call, the draft unchanged."""
    llm = loopback(words("It is about 14 seconds long, with 5 photos and a clip."))
    t = turn(named, "how long is it?", planner=planner_for(llm))
    assert t.state.draft == named.draft and t.tool_names == []
    assert t.reply.splitlines()[0] == "It is about 14 seconds long, with 5 photos and a clip."
    system = llm.messages(0)[0]["content"]
    lines = system.splitlines()
    lake = next(line for line in lines if line.startswith("2. lake.jpg (photo)"))
    assert "in: crossfade 0.5 s" in lake and 'caption "by the lake"' in lake and "fit " in lake
    assert "motion pan_left" in next(line for line in lines if line.startswith("4. dog.jpg"))
    assert "surf clip.mp4 (clip)" in system and "sound 100%" in system
    music = next(line for line in lines if line.startswith("Music:"))
    for part in (
        '"summer song.mp3", volume 0.3',
        "fade in 1.5 s",
        "starts 0:40 into the song",
        "comes in at 2 s",
    ):
        assert part in music
    assert 'Title: "Summer"' in system
    assert "med00 | cat.jpg | image | portrait 1080x1920, colours #d08040 #202020 | on timeline" in system
    assert "med06 | summer song.mp3 | audio | 95 s, 92 bpm" in system
    assert "Examples (user -> what you do):" in system and "transition names: none, crossfade" in system
    assert _no_milliseconds(llm.requests[0])


def test_vllm_calls_without_id_and_null_content_work_in_seconds(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    llm = loopback(
        vllm_call("set_music", {"volume": 0.1, "fade_out_seconds": 2.5, "start_seconds": 12}),
        words("The music is quieter now and starts at 0:12."),
    )
    t = turn(named, "music way quieter, from 0:12, and a longer fade out", planner=planner_for(llm))
    music = t.draft.tracks(TrackType.AUDIO)[0].sg[0]
    assert (music.m.vol, music.m.fade_out, music.ss) == (0.1, 2500, 12000)
    second = llm.messages(1)
    call, result = second[-2]["tool_calls"][0], second[-1]
    assert call["id"] and result["tool_call_id"] == call["id"]  # an id made up for the call
    assert json.loads(call["function"]["arguments"])["fade_out_seconds"] == 2.5  # replayed as sent
    response = json.loads(result["content"])
    assert response["start_seconds"] == 12 and "duration_seconds" in response
    assert all(_no_milliseconds(body) for body in llm.requests)


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"name": "set_video_fades", "arguments": {"fade_out_seconds": 1.5}}\n```',
        '<tool_call>\n{"name": "set_video_fades", "arguments": {"fade_out_seconds": 1.5}}\n</tool_call>',
        (
            '[{"type": "function", "function": {"name": "set_video_fades", '
            '"parameters": {"fade_out_seconds": 1.5}}}]'
        ),
    ],
    ids=["fenced", "tagged", "bare_list"],
)
def test_llamacpp_calls_written_in_the_content_are_run(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM], content: str
) -> None:
    llm = loopback(llamacpp_text(content), words("It now fades out to black."))
    t = turn(named, "fade out to black at the end", planner=planner_for(llm))
    assert t.draft.m.fade_out == 1500 and t.tool_names == ["set_video_fades"]
    assert "fade_out" not in t.reply and "{" not in t.reply  # the call is not shown as words
    assert t.reply.splitlines()[0] == "It now fades out to black."


def test_a_streamed_call_in_the_content_is_never_shown_to_the_user(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    def chunk(text: str) -> dict[str, Any]:
        return {
            "id": "chatcmpl-9",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}}],
        }

    tagged = [  # the opening tag itself split across chunks, as a tokenizer may send it
        "\n<tool",
        '_call>{"name": "set_video_fades", ',
        '"arguments": {"fade_in_seconds": 1}}',
        "</tool_call>",
    ]
    llm = loopback(
        Recorded(chunks=[chunk(piece) for piece in tagged]),
        Recorded(chunks=[chunk(" "), chunk("It fades in "), chunk("from black now.")]),
    )
    t = turn(named, "fade in from black", planner=planner_for(llm), streaming=True)
    assert t.draft.m.fade_in == 1000
    partial = [e.text for e in t.events if e.partial]
    assert "tool_call" not in "".join(partial)
    # words are streamed as they come, not held to the end: only the blank first chunk waited
    assert partial[:2] == [" It fades in ", "from black now."]


def test_text_that_only_looks_like_json_is_the_answer(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    llm = loopback(llamacpp_text('{"length": "14 s"} is how long it is.'))
    t = turn(named, "how long?", planner=planner_for(llm))
    assert t.state.draft == named.draft and t.tool_names == []
    assert t.reply.splitlines()[0] == '{"length": "14 s"} is how long it is.'


def test_bad_json_every_time_ends_with_a_plain_reply_and_no_change(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    cut_off = '{"targets": ["cat"], "seconds": 6'
    llm = loopback(*[openai_call("edit_segments", cut_off)] * 3)
    t = turn(named, "cat pic 6 secs", planner=planner_for(llm))
    assert t.state.draft == named.draft and t.tool_names == []
    assert len(llm.requests) == 3  # the call and two corrections asked for
    assert "not valid JSON" in json.loads(llm.messages(1)[-1]["content"])["error"]
    first = t.reply.splitlines()[0]
    assert first.startswith(
        "The language model kept sending a change I could not read (arguments are not valid JSON"
    )
    assert "nothing was changed" in first and "built-in planner" not in t.reply  # the rules did not guess
    # In Chinese the same, in Chinese
    llm = loopback(*[openai_call("edit_segments", cut_off)] * 3)
    zh = turn(named, "猫那张 6 秒", planner=planner_for(llm))
    assert zh.state.draft == named.draft
    assert zh.reply.splitlines()[0].startswith("语言模型发来的修改无法读取")


def test_unknown_tool_and_invalid_arguments_change_nothing_and_say_why(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    llm = loopback(
        openai_call("apply_filter", {"name": "sepia"}),
        openai_call("edit_segments", {"targets": ["cat"], "seconds": "six"}, call_id="call_2"),
        words("Sorry, I can't add filters; I can change the photos' motion or fit instead."),
    )
    t = turn(named, "make it sepia and the cat one six", planner=planner_for(llm))
    assert t.state.draft == named.draft
    assert t.tool_names == ["apply_filter", "edit_segments"]
    unknown = json.loads(llm.messages(1)[-1]["content"])["error"]
    invalid = json.loads(llm.messages(2)[-1]["content"])["error"]
    assert "unknown tool 'apply_filter'" in unknown
    assert "invalid arguments for edit_segments" in invalid and "seconds" in invalid
    lines = t.reply.splitlines()
    assert lines[0].startswith("Could not apply_filter: unknown tool 'apply_filter'")
    assert lines[1].startswith("Could not edit_segments: invalid arguments")
    assert lines[2] == "Sorry, I can't add filters; I can change the photos' motion or fit instead."


def test_a_chinese_request_by_name_word_over_openai(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    llm = loopback(
        openai_call("edit_text", {"kind": "caption", "target": "lake", "text": "湖边"}),
        words("已把湖那张的字幕改成「湖边」。"),
    )
    t = turn(named, "把湖那张的字幕改成 湖边", planner=planner_for(llm))
    captions = next(tr for tr in t.draft.tracks(TrackType.TEXT) if tr.m.name == "Captions")
    assert [s.m.text for s in captions.sg] == ["湖边"]
    assert "简体中文" in llm.messages(0)[0]["content"]
    assert t.reply.splitlines()[0] == "已把湖那张的字幕改成「湖边」。"


def test_a_server_that_ignores_stream_true_still_reaches_the_user(
    named: SessionState, turn: Callable[..., Any], loopback: Callable[..., LoopbackLLM]
) -> None:
    # Asked to stream, it answers with one JSON completion (llama.cpp with tools, some proxies).
    llm = loopback(words("It is 14 seconds long."), vllm_call("set_video_fades", {"fade_in_seconds": 1}))
    t = turn(named, "how long is it?", planner=planner_for(llm), streaming=True)
    assert llm.requests[0]["stream"] is True
    assert t.state.draft == named.draft
    assert t.reply.splitlines()[0] == "It is 14 seconds long."
    t = turn(t.state, "fade in from black", planner=planner_for(llm), streaming=True)
    assert t.draft.m.fade_in == 1000
