"""The chat socket's protocol as data, for openapi.yaml's `x-websockets` (OpenAPI has no WebSocket
operations). chat_socket.py is the implementation; this says what a client may rely on."""

from __future__ import annotations

from typing import Any

from server.gateway.models import SocketMessage

_SERVER_MESSAGES: dict[str, str] = {
    "session_ready": "`session_id`, `project_id`: the socket is checked; send a `message`",
    "pong": "the answer to a `ping`",
    "tool_start": "`tool`, `tool_call_id`, `args`: the agent calls one of its tools",
    "tool_end": "`tool`, `tool_call_id`: that tool answered",
    "text": "`text`: what the agent says (a turn ends with a summary and a one-line timeline)",
    "chunk": "`text`: part of a text (not sent by this server today: turns are not streamed)",
    "state_update": "`keys`: the session state keys a step changed (`draft`, `video_infos`, ...)",
    "heartbeat": "`ts` (unix seconds): sent while a turn is quiet, every `heartbeat_seconds`",
    "error": "`code` (the error table's), `error` (what to do), `data` (`bind_url` with 2001)",
    "done": "`session_id`, `ok`: the turn of the last `message` is over (exactly one per message)",
}


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


SOCKET_DOC: dict[str, Any] = {
    "/ws/chat": {
        "summary": "Chat turns over a WebSocket (the official CLI's `create` and `chat`)",
        "description": (
            "Same turn as POST /run_sse: credits held and settled, one turn per session at a time, "
            "the time cap, every event stored. The socket is accepted, then checked: no or a bad "
            "key closes it with 4001, no `session_id` with 4002, another user's or an unknown "
            "session sends `error` 1002 and closes with 1008. A socket that drops loses nothing: "
            "the turn runs to its end, and a client that reconnects and sends nothing for a "
            "second receives that turn's messages from the first, `done` included (for 120 s "
            "after the turn ended)."
        ),
        "parameters": [
            _query("token", "the key (`nmv_usr_...`)"),
            _query("session_id", "the project's session (GET /projects/{id}/sessions)"),
        ],
        "client_messages": {
            "schema": SocketMessage.model_json_schema(),
            "types": {
                "message": "`content`: run one turn with these words (`metadata` is accepted)",
                "ping": "answered with `pong`",
            },
        },
        "server_messages": _SERVER_MESSAGES,
        "close_codes": {
            "4001": "the key is missing, unknown or expired",
            "4002": "no session_id",
            "1008": "refused (after an `error` message)",
            "1000": "`idle`: no `message` for `stream_cap_seconds`",
        },
    }
}
