"""JSON bodies sent as `application/x-www-form-urlencoded` are read as JSON.

`curl -d '{"task_name": "x"}'` without `-H 'Content-Type: application/json'` labels the JSON as a
form, and skills written with plain `curl -d` do exactly that. No route of ours takes a form
(uploads are multipart), so a "form" whose body opens with `{` or `[` is JSON mislabelled: the
label is corrected before routing. Anything else keeps its label (and is refused as before).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM = b"application/x-www-form-urlencoded"
WHITESPACE = b" \t\r\n"


def _is_form(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower() == FORM)
    return False


class FormEncodedJsonMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_form(scope):
            await self.app(scope, receive, send)
            return
        # Read only up to the body's first non-blank byte (usually the first message), keep it
        # for the app, and hand the rest through untouched: nothing large is buffered.
        held: list[Message] = []
        first_byte = b""
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break
            first_byte = message.get("body", b"").lstrip(WHITESPACE)[:1]
            if first_byte or not message.get("more_body", False):
                break
        if first_byte in (b"{", b"["):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}

        async def replay() -> Message:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)
