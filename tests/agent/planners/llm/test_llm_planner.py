"""The LLM planner against scripted OpenAI-compatible endpoints (httpx.MockTransport; no network).

Each test scripts what the endpoint answers, runs whole turns through the runner, and checks what a
user sees (the draft, the events, the reply) and what the endpoint was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from agent.planners.llm.planner import LLMPlanner
from agent.planners.llm.schemas import ToolSchemas
from agent.planners.rules.planner import RulePlanner
from agent.state import SessionState
from agent.tools.registry import tool_specs
from renderer.schema.draft import TrackType

BASE = "http://llm.test:8000/v1"
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def completion(text: str | None = None, *calls: tuple[str, Any]) -> httpx.Response:
    """A chat completion: words, or tool calls given as (name, arguments: dict or raw string)."""
    tool_calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for i, (name, args) in enumerate(calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    reason = "tool_calls" if calls else "stop"
    return httpx.Response(200, json={"choices": [{"index": 0, "message": message, "finish_reason": reason}]})


def sse(*chunks: dict[str, Any]) -> httpx.Response:
    """A streamed completion: one `data:` line per delta, then [DONE]."""
    lines = [f"data: {json.dumps({'choices': [{'index': 0, 'delta': c}]})}\n\n" for c in chunks]
    body = "".join(lines) + "data: [DONE]\n\n"
    return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})


class Endpoint:
    """Answers requests in order from a script and keeps every request it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.answers, "the planner sent more requests than scripted"
        answer = self.answers.pop(0)
        return answer(request) if callable(answer) else answer

    async def sleep(self, seconds: float) -> None:  # recorded, not slept
        self.sleeps.append(seconds)

    def planner(self, **options: Any) -> LLMPlanner:
        options.setdefault("fallback", RulePlanner())
        return LLMPlanner(
            BASE, "test-model", transport=httpx.MockTransport(self.handle), sleep=self.sleep, **options
        )

    def body(self, i: int) -> dict[str, Any]:
        return json.loads(self.requests[i].content)

    def messages(self, i: int) -> list[dict[str, Any]]:
        return self.body(i)["messages"]


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def tool_errors(messages: list[dict[str, Any]]) -> list[str]:
    return [json.loads(m["content"]).get("error", "") for m in messages if m["role"] == "tool"]


def test_multi_step_tool_loop_edits_the_draft(photos_only: SessionState, turn: Callable[..., Any]) -> None:
    llm = Endpoint(
        completion(None, ("make_slideshow", {"media_ids": "all", "total_seconds": 20, "aspect": "9:16"})),
        completion(None, ("add_title", {"text": "Lake Trip"})),
        completion("I made a 20-second vertical slideshow titled Lake Trip."),
    )
    t = turn(photos_only, "make a 20 second video called Lake Trip", planner=llm.planner())
    assert t.draft.d == 20000 and (t.draft.m.width, t.draft.m.height) == (1080, 1920)
    assert len(t.draft.tracks(TrackType.VIDEO)[0].sg) == 10
    assert t.draft.tracks(TrackType.TEXT)[0].sg[0].m.text == "Lake Trip"
    assert t.tool_names == ["make_slideshow", "add_title"]
    roles = [e.content.role for e in t.events if e.content]
    assert roles == ["model", "user", "model", "user", "model"]
    lines = t.reply.splitlines()
    # The model's words replace the tools' summaries; the timeline line is always appended.
    assert lines == [
        "I made a 20-second vertical slideshow titled Lake Trip.",
        'Timeline (2 tracks): 1. Video: 10 photos (0-20s) 2. Title: "Lake Trip" (0-3s)',
    ]
    # Each step replays this turn's calls and their results to the model.
    assert len(llm.requests) == 3
    third = llm.messages(2)
    assert [m["role"] for m in third] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert third[1]["content"] == "make a 20 second video called Lake Trip"
    assert third[2]["tool_calls"][0]["function"]["name"] == "make_slideshow"
    assert third[3]["tool_call_id"] == third[2]["tool_calls"][0]["id"] == "call_0"
    assert "error" not in json.loads(third[3]["content"])
    assert third[4]["tool_calls"][0]["function"]["name"] == "add_title"
    # The model sees the timeline as it is when each step is planned.
    assert "\nTimeline (0 tracks): empty" in llm.messages(0)[0]["content"]
    assert "\nTimeline (1 track): 1. Video: 10 photos (0-20s)" in llm.messages(1)[0]["content"]


def test_malformed_arguments_go_back_to_the_model(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    llm = Endpoint(
        completion(None, ("make_slideshow", '{"total_seconds": 20')),  # cut-off JSON
        completion(None, ("make_slideshow", {"total_seconds": "twenty"})),  # wrong type
        completion(None, ("make_slideshow", {"total_seconds": 20})),
        completion("Done: a 20-second slideshow."),
    )
    t = turn(photos_only, "20 second slideshow please", planner=llm.planner())
    assert t.draft.d == 20000
    assert len(llm.requests) == 4
    # The bad JSON was answered by the planner itself, with the model's own text replayed.
    second = llm.messages(1)
    assert second[-2]["tool_calls"][0]["function"]["arguments"] == '{"total_seconds": 20'
    assert "not valid JSON" in tool_errors(second)[0]
    # The wrong type reached the runner, whose validation error went back as the tool result.
    third = llm.messages(2)
    assert [m["role"] for m in third] == ["system", "user", "assistant", "tool"]
    assert "total_seconds" in tool_errors(third)[0]
    assert "not valid JSON" not in json.dumps(third)  # the repaired exchange is not replayed
    assert t.tool_names == ["make_slideshow", "make_slideshow"]
    assert t.reply.splitlines()[0].startswith("Could not make_slideshow: invalid arguments")
    assert t.reply.splitlines()[1] == "Done: a 20-second slideshow."


def test_unknown_tool_name_is_corrected(photos_only: SessionState, turn: Callable[..., Any]) -> None:
    made = turn(photos_only, "make a slideshow")
    llm = Endpoint(
        completion(None, ("make_vertical", {})),
        completion(None, ("set_aspect", {"aspect": "1:1"})),
        completion("It is square now."),
    )
    t = turn(made.state, "square it", planner=llm.planner())
    assert (t.draft.m.width, t.draft.m.height) == (1080, 1080)
    error = tool_errors(llm.messages(1))[0]
    assert "unknown tool 'make_vertical'" in error and "set_aspect" in error
    assert t.tool_names == ["make_vertical", "set_aspect"]


def test_429_with_retry_after_then_success(photos_only: SessionState, turn: Callable[..., Any]) -> None:
    llm = Endpoint(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"error": {"message": "slow down"}}),
        completion(None, ("make_slideshow", {})),
        httpx.Response(503, text="overloaded"),
        completion("Made it."),
    )
    t = turn(photos_only, "make a slideshow", planner=llm.planner())
    assert llm.sleeps == [7.0, 0.5]  # Retry-After honoured; otherwise exponential backoff
    assert t.draft.tracks(TrackType.VIDEO)[0].sg
    assert t.reply.splitlines()[0] == "Made it."
    assert "built-in planner" not in t.reply


def test_repeated_500_falls_back_to_the_rule_planner(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    llm = Endpoint(*[httpx.Response(500, text="boom")] * 4)
    t = turn(photos_only, "make a 30 second slideshow", planner=llm.planner(max_retries=3))
    assert len(llm.requests) == 4 and llm.sleeps == [0.5, 1.0, 2.0]
    assert t.draft.d == 30000  # the rule planner did the work
    assert t.tool_names[0] == "make_slideshow"
    lines = t.reply.splitlines()
    assert lines[-2] == "(The language model was unreachable; used the built-in planner.)"
    assert lines[-1].startswith("Timeline (")


def test_connection_refused_rule_planner_answers_and_says_so(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    llm = Endpoint(refused)
    planner = llm.planner()
    t = turn(photos_only, "把这些照片做成视频", planner=planner)
    assert t.draft.tracks(TrackType.VIDEO)[0].sg
    assert "（无法连接语言模型，本次使用了内置规划器。）" in t.reply.splitlines()
    assert len(llm.requests) == 1 and llm.sleeps == []  # refused: no point waiting this turn
    # The next turn tries the model again.
    llm.answers = [completion(None, ("add_title", {"text": "夏天"})), completion("加好了标题。")]
    t = turn(t.state, "加标题 夏天", planner=planner)
    assert t.draft.tracks(TrackType.TEXT)[0].sg[0].m.text == "夏天"
    assert t.reply.splitlines()[0] == "加好了标题。"


def test_timeout_falls_back_and_a_question_still_gets_the_note(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    llm = Endpoint(slow)
    t = turn(photos_only, "hello", planner=llm.planner(timeout_seconds=5))
    assert t.state.draft is None and len(t.events) == 1
    assert "?" in t.reply  # the rule planner's question
    assert "(The language model was unreachable; used the built-in planner.)" in t.reply


def test_without_a_fallback_the_reply_says_the_model_is_down(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    t = turn(photos_only, "make a slideshow", planner=Endpoint(refused).planner(fallback=None))
    assert t.state.draft is None
    assert t.reply.splitlines()[0].startswith("The language model is unreachable right now")


def test_endpoint_lost_mid_turn_keeps_what_was_done(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    llm = Endpoint(completion(None, ("make_slideshow", {"total_seconds": 12})), refused)
    t = turn(photos_only, "make a 12 second slideshow", planner=llm.planner())
    assert t.draft.d == 12000 and t.tool_names == ["make_slideshow"]  # the rule planner did not redo it
    lines = t.reply.splitlines()
    assert "12 s" in lines[0]  # the tool's own summary, since the model could not write the reply
    assert lines[1] == "(The language model stopped answering during this turn; the changes above were kept.)"


def test_streaming_deltas_become_partial_events(photos_only: SessionState, turn: Callable[..., Any]) -> None:
    llm = Endpoint(
        sse(
            {"role": "assistant", "content": None},
            {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "make_slideshow"}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": '{"total_'}}]},
            {"tool_calls": [{"index": 0, "function": {"arguments": 'seconds": 15}'}}]},
        ),
        sse({"content": "Made "}, {"content": "a 15-second "}, {"content": "slideshow."}),
    )
    t = turn(photos_only, "15 second slideshow", planner=llm.planner(), streaming=True)
    assert t.draft.d == 15000
    assert all(llm.body(i)["stream"] is True for i in range(2))
    partial = [e for e in t.events if e.partial]
    assert [e.text for e in partial[:3]] == ["Made ", "a 15-second ", "slideshow."]
    assert "".join(e.text for e in partial) == t.reply
    assert t.reply.splitlines() == [
        "Made a 15-second slideshow.",
        "Timeline (1 track): 1. Video: 10 photos (0-15s)",
    ]
    assert t.events[-1].partial is None
    # Without streaming the same planner asks for a whole completion.
    llm.answers = [completion("Nothing to change.")]
    plain = turn(t.state, "thanks", planner=llm.planner())
    assert "stream" not in llm.body(2) and not any(e.partial for e in plain.events)


def test_request_carries_model_tools_schemas_and_key(
    photos_and_song: SessionState, turn: Callable[..., Any]
) -> None:
    llm = Endpoint(completion("Hi! What should I make?"), completion("Hello again."))
    planner = llm.planner(api_key="sk-local-123")
    history = turn(photos_and_song, "make a slideshow").events  # an earlier turn, replayed to the model
    t = turn(photos_and_song, "hi", planner=planner, history=history)
    assert t.reply.splitlines()[0] == "Hi! What should I make?"
    sent = llm.requests[0]
    assert str(sent.url) == f"{BASE}/chat/completions" and sent.method == "POST"
    assert sent.headers["authorization"] == "Bearer sk-local-123"
    body = llm.body(0)
    assert body["model"] == "test-model" and body["tool_choice"] == "auto"
    assert body["tools"] == ToolSchemas(tool_specs()).tools  # compact, in seconds
    spec = next(s for s in body["tools"] if s["function"]["name"] == "make_slideshow")
    assert spec["type"] == "function"
    assert spec["function"]["parameters"]["properties"]["total_seconds"]["type"] == "number"
    system, *rest = body["messages"]
    assert system["role"] == "system"
    assert "med03 | photo03.jpg | image | landscape 4032x3024" in system["content"]
    assert "med10 | song.mp3 | audio | 95 s" in system["content"]
    assert "Answer in English." in system["content"]
    assert [m["role"] for m in rest] == ["assistant", "user"]
    assert rest[0]["content"] == history[-1].text and rest[1]["content"] == "hi"
    # No key, no Authorization header; a Chinese session gets told to answer in Chinese.
    bare = Endpoint(completion("好的"))
    turn(photos_and_song, "你好", planner=bare.planner())
    assert "authorization" not in bare.requests[0].headers
    assert "简体中文" in bare.messages(0)[0]["content"]


def test_the_model_must_answer_in_words_after_enough_rounds(
    photos_only: SessionState, turn: Callable[..., Any]
) -> None:
    rounds = 3
    made = turn(photos_only, "make a slideshow")
    llm = Endpoint(*[completion(None, ("describe", {}))] * rounds, completion("It has ten photos."))
    t = turn(made.state, "what is in it?", planner=llm.planner(max_rounds=rounds))
    assert t.tool_names == ["describe"] * rounds
    assert "tools" not in llm.body(rounds) and "tools" in llm.body(rounds - 1)
    assert t.reply.splitlines()[0] == "It has ten photos."
