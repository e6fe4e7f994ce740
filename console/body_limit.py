"""Refuse request bodies over a limit before Django reads them.

Django's ASGI handler reads the whole body (spooling it to disk) before any view runs, so
a view's own size check comes too late to protect the server. This wrapper answers 413
as soon as the declared length, or the bytes received so far, pass the limit.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from notifications.envelope import MAX_BODY_BYTES

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

INGEST_LIMIT = MAX_BODY_BYTES
OTHER_LIMIT = 4 * 1024 * 1024


class _TooLarge(Exception):
    pass


def limit_for(path: str) -> int:
    return INGEST_LIMIT if path.startswith("/ingest/") else OTHER_LIMIT


async def _answer(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope.get("path", ""))
        too_large = f"The body is larger than {limit // 1024} KiB."
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "Content-Length must be a number of bytes.")
                return
            if int(declared) > limit:
                await _answer(send, 413, too_large)
                return
        received = 0
        started = False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _answer(send, 413, too_large)
