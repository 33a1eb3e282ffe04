"""A planner backed by any OpenAI-compatible chat-completions endpoint with tool calling.

One planning step is one `POST {base_url}/chat/completions` (vLLM, Ollama, llama.cpp server, ...):
the tools are the registry's schemas made compact and put in seconds (`agent.planners.llm.schemas`,
which also turns the model's arguments back into the tools'), the messages come from
`agent.planners.llm.prompt`. Arguments that are not a JSON object go straight back to the model as
the tool's result so it can send the call again (at most `max_repairs` times per step; after that
the turn ends with a plain reply and nothing changed); arguments of the wrong type and unknown tool
names are caught by the runner, which returns the error to us on the next step. A reply without
tool calls is the model's answer (a question answered from the prompt): the draft is unchanged.

Servers differ in how they send calls, and all of these are read: arguments as a JSON string
(OpenAI) or as an object (Ollama), calls without an id or with `content: null` (vLLM), and calls
written into the content text (llama.cpp and models without a tool-call template): a JSON object
or list `{"name": ..., "arguments": ...}`, bare, in a ``` fence or in <tool_call> tags.

429 and 5xx are retried with backoff, honouring Retry-After. When the endpoint cannot be used
(connection refused, timeouts, errors after the retries), the fallback planner answers this turn
and the reply says so; the next turn tries the endpoint again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from agent.language import Lang
from agent.planner import MAX_STEPS, Planner, PlanRequest, PlanStep, ToolCall
from agent.planners.llm.prompt import assistant_calls, call_entry, chat_messages, tool_message
from agent.planners.llm.schemas import ToolSchemas

log = logging.getLogger("nemo.agent.llm")

FALLBACK_ID_PREFIX = "adk-rule-"  # ids of calls the fallback planned: later steps of the turn stay with it
MAX_RETRY_AFTER_S = 30.0  # a server that asks for a longer wait is treated as down for this turn

NOTES: dict[str, dict[Lang, str]] = {
    "fallback": {
        "en": "(The language model was unreachable; used the built-in planner.)",
        "zh": "（无法连接语言模型，本次使用了内置规划器。）",
    },
    "down": {
        "en": "The language model is unreachable right now, so nothing was changed. Please try again soon.",
        "zh": "暂时无法连接语言模型，没有做任何修改。请稍后再试。",
    },
    "malformed": {
        "en": "The language model kept sending a change I could not read ({problem}), "
        "so nothing was changed. Please try saying it another way.",
        "zh": "语言模型发来的修改无法读取（{problem}），所以没有做任何修改。请换个说法再试一次。",
    },
    "interrupted": {
        "en": "(The language model stopped answering during this turn; the changes above were kept.)",
        "zh": "（本轮中途无法连接语言模型，上面的修改已保留。）",
    },
}


class LLMUnavailable(Exception):
    """The endpoint cannot answer this step (down, refusing, or answering nonsense)."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class _Call:
    id: str
    name: str = ""
    arguments: Any = ""  # a JSON string (some servers send an object)


@dataclass
class _Reply:
    """One completion: its words and the calls it asks for."""

    text: str = ""
    calls: list[_Call] = field(default_factory=list)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _arguments(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The call's arguments as a dict, or the problem to tell the model."""
    if isinstance(raw, dict):
        return raw, None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, None
    try:
        value = json.loads(raw)
        if isinstance(value, str) and value.strip().startswith("{"):  # encoded twice (some servers)
            value = json.loads(value)
    except (TypeError, ValueError) as exc:
        return None, f"arguments are not valid JSON ({exc}); send the call again with a JSON object"
    if not isinstance(value, dict):
        return None, "arguments must be a JSON object with the tool's parameters; send the call again"
    return value, None


def _repair_messages(reply: _Reply, problems: dict[str, str]) -> list[dict[str, Any]]:
    """The model's malformed calls replayed as it sent them, each answered with what was wrong."""
    entries = [
        call_entry(c.id, c.name, c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments))
        for c in reply.calls
    ]
    skipped = "not run: another call in this message was malformed; send all the calls again"
    return [
        assistant_calls(entries, reply.text),
        *(tool_message(c.id, {"error": problems.get(c.id, skipped)}) for c in reply.calls),
    ]


_FENCED = re.compile(r"^```[a-z_]*\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)
_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
# Content that may still turn out to be a call written as text: held back while streaming.
_CALL_OPENINGS = ("{", "[", "`", "<tool_call>")


def _may_be_call(text: str) -> bool:
    """Streamed words so far could still be a call written as text (so they are not shown yet)."""
    start = text.lstrip()
    return not start or start.startswith(_CALL_OPENINGS) or "<tool_call>".startswith(start)


def _calls_in_text(text: str, names: set[str]) -> list[_Call]:
    """Tool calls a server left in the content (llama.cpp without a tool template, some fine-tunes):
    the whole content is one JSON call or a list of them, bare, fenced or in <tool_call> tags.
    Anything else is words for the user, so a call must name an offered tool or carry arguments."""
    body = text.strip()
    chunks = _TAGGED.findall(body)
    if not chunks:
        fenced = _FENCED.match(body)
        chunks = [fenced.group(1) if fenced else body]
    calls: list[_Call] = []
    for chunk in chunks:
        try:
            value = json.loads(chunk)
        except ValueError:
            return []
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, dict):
                return []
            fn = item["function"] if isinstance(item.get("function"), dict) else item
            name = fn.get("name")
            has_args = "arguments" in fn or "parameters" in fn
            if not isinstance(name, str) or not (name in names or has_args):
                return []
            args = fn.get("arguments", fn.get("parameters"))
            calls.append(_Call(f"call_{len(calls)}_{uuid.uuid4().hex[:8]}", name, args))
    return calls


def _reply_from_message(message: Any) -> _Reply:
    if not isinstance(message, dict):
        raise _Retryable("the completion has no message")
    calls = []
    for i, entry in enumerate(message.get("tool_calls") or []):
        fn = entry.get("function") or {}
        calls.append(
            _Call(
                entry.get("id") or f"call_{i}_{uuid.uuid4().hex[:8]}",
                fn.get("name") or "",
                fn.get("arguments"),
            )
        )
    return _Reply(message.get("content") or "", calls)


class LLMPlanner:
    """Planner (and StreamingPlanner) over an OpenAI-compatible endpoint; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout_seconds: float = 60,
        transport: httpx.AsyncBaseTransport | None = None,
        fallback: Planner | None = None,
        max_retries: int = 3,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        backoff_seconds: float = 0.5,
        max_repairs: int = 2,
        max_rounds: int = MAX_STEPS - 1,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = httpx.Timeout(timeout_seconds)
        self.transport = transport
        self.fallback = fallback
        self.max_retries = max_retries
        self.sleep = sleep
        self.backoff_seconds = backoff_seconds
        self.max_repairs = max_repairs
        self.max_rounds = max_rounds  # after this many rounds of calls the model must answer in words

    async def plan(self, request: PlanRequest) -> PlanStep:
        step = PlanStep()
        async for item in self._step(request, stream=False):  # yields no deltas when not streaming
            if isinstance(item, PlanStep):
                step = item
        return step

    def plan_stream(self, request: PlanRequest) -> AsyncIterator[str | PlanStep]:
        return self._step(request, stream=True)

    async def _step(self, request: PlanRequest, *, stream: bool) -> AsyncIterator[str | PlanStep]:
        """Text deltas (when streaming), then one PlanStep."""
        if any((r.call.id or "").startswith(FALLBACK_ID_PREFIX) for r in request.steps):
            yield await self._fallback(request)
            return
        schemas = ToolSchemas(request.tools)
        messages = chat_messages(request, schemas)
        rounds = len({r.step for r in request.steps})
        tools = schemas.tools if rounds < self.max_rounds else []
        names = {t["function"]["name"] for t in tools}
        said = False
        problems: dict[str, str] = {}
        try:
            async with self._client() as client:
                for _ in range(self.max_repairs + 1):
                    reply = _Reply()
                    held = ""  # words that may be a call written as text, not yet shown
                    async for item in self._complete(client, messages, tools, stream=stream):
                        if isinstance(item, _Reply):
                            reply = item
                        elif not said and tools and _may_be_call(held + item):
                            held += item
                        elif held + item:
                            said = True
                            yield held + item
                            held = ""
                    if tools and not reply.calls:
                        reply.calls = _calls_in_text(reply.text, names)
                        if reply.calls:
                            reply.text = ""
                    if not reply.calls or not tools:
                        if held:
                            said = True
                            yield held
                        text = "" if stream else reply.text
                        yield PlanStep(text=text or None, text_covers_changes=bool(reply.text))
                        return
                    calls, problems = self._read_calls(reply, schemas)
                    if not problems:
                        yield PlanStep(calls=calls)
                        return
                    messages = [*messages, *_repair_messages(reply, problems)]
            # The model is there but cannot write this call: say so; the rule planner must not
            # guess in its place, and nothing changes.
            problem = next(iter(problems.values()), "no readable call").split(";")[0]
            log.warning("LLM %s: still malformed tool calls after %d corrections", self.url, self.max_repairs)
            yield PlanStep(text=NOTES["malformed"][request.language].format(problem=problem))
        except LLMUnavailable as exc:
            log.warning("LLM endpoint %s unusable: %s", self.url, exc)
            if said or request.steps:  # part of the turn is done: keep it and say the model went away
                yield PlanStep(text=NOTES["interrupted"][request.language])
            else:
                yield await self._fallback(request)

    @staticmethod
    def _read_calls(reply: _Reply, schemas: ToolSchemas) -> tuple[list[ToolCall], dict[str, str]]:
        """The calls as the tools take them (seconds to milliseconds, target strings to Targets),
        or what was wrong with each malformed one."""
        calls, problems = [], {}
        for c in reply.calls:
            args, problem = _arguments(c.arguments)
            if not c.name:
                problem = "the call has no tool name"
            if problem or args is None:
                problems[c.id] = problem or "arguments missing"
            else:
                calls.append(ToolCall(name=c.name, args=schemas.to_tool_args(c.name, args), id=c.id))
        return calls, problems

    async def _fallback(self, request: PlanRequest) -> PlanStep:
        """This step by the fallback planner; its calls are marked so the turn stays with it."""
        lang = request.language
        if self.fallback is None:
            return PlanStep(text=NOTES["down"][lang])
        step = await self.fallback.plan(request)
        if step.calls:
            calls = [c.model_copy(update={"id": f"{FALLBACK_ID_PREFIX}{uuid.uuid4()}"}) for c in step.calls]
            return step.model_copy(update={"calls": calls})
        text = "\n".join(t for t in (step.text, NOTES["fallback"][lang]) if t)
        return step.model_copy(update={"text": text})

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        if self.transport is not None:  # the caller owns the transport: do not close it
            yield httpx.AsyncClient(transport=self.transport, timeout=self.timeout, headers=headers)
            return
        async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:
            yield client

    async def _complete(
        self,
        client: httpx.AsyncClient,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        stream: bool,
    ) -> AsyncIterator[str | _Reply]:
        """One completion, retried on 429/5xx: text deltas (streaming), then the whole _Reply."""
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        if tools:
            body |= {"tools": tools, "tool_choice": "auto"}
        if stream:
            body["stream"] = True
        for attempt in range(self.max_retries + 1):
            started = False
            try:
                async with client.stream("POST", self.url, json=body) as response:
                    await self._check(response)
                    # Some servers ignore "stream": true (llama.cpp with tools, proxies in front of
                    # a model) and answer with one JSON completion: read it whole, show its text.
                    as_json = "json" in response.headers.get("content-type", "")
                    if stream and as_json:
                        await response.aread()
                        whole = _read_json(response)
                        if whole.text and not whole.calls:
                            yield whole.text
                        yield whole
                    elif stream:
                        async for item in _read_sse(response):
                            started = started or isinstance(item, str)
                            yield item
                    else:
                        await response.aread()
                        yield _read_json(response)
                return
            except httpx.TimeoutException as exc:
                raise LLMUnavailable(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise LLMUnavailable(f"unreachable ({exc})") from exc
            except _Retryable as exc:
                if started or attempt == self.max_retries:
                    raise LLMUnavailable(f"{exc} (attempt {attempt + 1})") from exc
                delay = exc.retry_after if exc.retry_after is not None else self.backoff_seconds * 2**attempt
                if delay > MAX_RETRY_AFTER_S:
                    raise LLMUnavailable(f"{exc}; asked to wait {delay:g} s") from exc
                await self.sleep(delay)
        raise LLMUnavailable("no attempts")  # max_retries < 0

    @staticmethod
    async def _check(response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        await response.aread()
        reason = f"HTTP {response.status_code}: {response.text[:200]}"
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(reason, _retry_after(response.headers.get("retry-after")))
        raise LLMUnavailable(reason)  # 4xx: a wrong model name or key; retrying will not help


def _read_json(response: httpx.Response) -> _Reply:
    try:
        data = response.json()
        message = data["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _Retryable(f"not a chat completion: {response.text[:200]}") from exc
    return _reply_from_message(message)


async def _read_sse(response: httpx.Response) -> AsyncIterator[str | _Reply]:
    """Server-sent chunks: content deltas as they come, tool-call pieces joined by index."""
    text: list[str] = []
    calls: dict[int, _Call] = {}
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        try:
            choices = json.loads(payload).get("choices") or []
        except (ValueError, AttributeError) as exc:
            raise _Retryable(f"not a chat completion chunk: {payload[:200]}") from exc
        delta = (choices[0].get("delta") or {}) if choices else {}
        if delta.get("content"):
            text.append(delta["content"])
            yield delta["content"]
        for piece in delta.get("tool_calls") or []:
            call = calls.setdefault(piece.get("index", len(calls)), _Call(id=""))
            call.id = piece.get("id") or call.id
            fn = piece.get("function") or {}
            name = fn.get("name") or ""
            if name != call.name:  # OpenAI sends the name once; some servers repeat it in every piece
                call.name += name
            if isinstance(fn.get("arguments"), dict):
                call.arguments = fn["arguments"]
            elif fn.get("arguments"):
                call.arguments += fn["arguments"]
    for i, call in calls.items():
        call.id = call.id or f"call_{i}_{uuid.uuid4().hex[:8]}"
    yield _Reply("".join(text), [calls[i] for i in sorted(calls)])
