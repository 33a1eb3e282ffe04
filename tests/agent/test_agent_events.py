"""Event JSON as ADK clients parse it: camelCase, no nulls, `actions` always complete."""

from __future__ import annotations

import json
import re

from agent.events import (
    Content,
    Event,
    FunctionCall,
    FunctionResponse,
    Part,
    error_event,
    new_event_id,
    text_event,
)

_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _keys(value: object, skip: frozenset[str] = frozenset({"stateDelta", "args", "response"})) -> set[str]:
    """Every key of the event JSON, not descending into payloads that carry our own snake_case data."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(key)
            if key not in skip:
                found |= _keys(inner, skip)
    elif isinstance(value, list):
        for inner in value:
            found |= _keys(inner, skip)
    return found


def test_text_event_matches_the_contract_example() -> None:
    event = text_event("Done.", invocation_id="e-1", ids=lambda: "AbC12345", now=lambda: 1774000000.12)
    assert json.loads(event.to_sse_json()) == {
        "content": {"role": "model", "parts": [{"text": "Done."}]},
        "invocationId": "e-1",
        "author": "nemo_agent",
        "actions": {"stateDelta": {}, "artifactDelta": {}, "requestedAuthConfigs": {}},
        "id": "AbC12345",
        "timestamp": 1774000000.12,
    }


def test_function_events_are_camel_case_and_keep_payload_keys() -> None:
    call = Event(
        content=Content(
            role="model",
            parts=[Part(function_call=FunctionCall(id="adk-1", name="set_aspect", args={"aspect": "9:16"}))],
        ),
        invocation_id="e-2",
        author="nemo_agent",
    )
    reply = Event(
        content=Content(
            role="user",
            parts=[
                Part(
                    function_response=FunctionResponse(
                        id="adk-1", name="set_aspect", response={"duration_ms": 1}
                    )
                )
            ],
        ),
        invocation_id="e-2",
        author="nemo_agent",
    )
    reply.actions.state_delta["canvas_config"] = {"width": 1080, "height": 1920, "ratio": "9:16"}
    for event in (call, reply):
        data = json.loads(event.to_sse_json())
        assert all(_CAMEL.match(k) for k in _keys(data)), _keys(data)
        assert "null" not in event.to_sse_json()
        assert set(data["actions"]) == {"stateDelta", "artifactDelta", "requestedAuthConfigs"}
    assert json.loads(call.to_sse_json())["content"]["parts"][0]["functionCall"]["args"] == {"aspect": "9:16"}
    data = json.loads(reply.to_sse_json())
    assert data["content"]["parts"][0]["functionResponse"]["response"] == {"duration_ms": 1}
    assert data["actions"]["stateDelta"]["canvas_config"]["ratio"] == "9:16"


def test_event_ids_are_eight_alphanumerics_and_parse_back() -> None:
    assert all(re.fullmatch(r"[A-Za-z0-9]{8}", new_event_id()) for _ in range(50))
    event = text_event("你好", invocation_id="e-3", partial=True)
    wire = event.to_sse_json()
    assert "你好" in wire and json.loads(wire)["partial"] is True
    assert Event.model_validate_json(wire) == event  # camelCase in, same event out


def test_error_event_is_the_final_system_event() -> None:
    data = json.loads(error_event("the render queue is full", code="5000", invocation_id="e-4").to_sse_json())
    assert data["author"] == "system"
    assert data["content"]["parts"][0]["text"] == "Error: the render queue is full"
    assert data["errorCode"] == "5000" and data["errorMessage"] == "the render queue is full"
    assert data["actions"] == {"stateDelta": {}, "artifactDelta": {}, "requestedAuthConfigs": {}}
