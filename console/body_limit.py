"""The caps on request bodies, by path, and an ASGI wrapper that holds them.

Under daphne the server itself refuses a body over its path's cap, before reading it
(console/server.py): Twisted reads a whole body, spooling it to a temporary file, before
any ASGI app runs, so this wrapper would come too late there. It holds the same caps for
the app run by another ASGI server (uvicorn, in bench/live_bench.py) or called directly
(tests): it answers 413 as soon as the declared length, or the bytes received so far,
pass the cap.
"""

import json
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from racks.intake.envelope import MAX_BODY_BYTES

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

INGEST_LIMIT = MAX_BODY_BYTES
OTHER_LIMIT = 4 * 1024 * 1024
# Paths with a cap of their own, by prefix, the first that matches wins; every other path
# gets OTHER_LIMIT. A path that really needs a larger body (a source upload, say) gets
# its own line here, and the reverse proxy in front its own location (README).
PATH_LIMITS: tuple[tuple[str, int], ...] = (("/ingest/", INGEST_LIMIT),)


# A build's source tarball (API and dashboard): SOURCE_UPLOAD_MAX_BYTES, read when asked.
SOURCE_UPLOAD_PREFIXES = ("/api/v1/uploads/", "/uploads/")


def limit_for(path: str) -> int:
    """The most bytes of body a request to `path` may send."""
    if path.startswith(SOURCE_UPLOAD_PREFIXES):
        return settings.SOURCE_UPLOAD_MAX_BYTES
    for prefix, limit in PATH_LIMITS:
        if path.startswith(prefix):
            return limit
    return OTHER_LIMIT


def too_large(limit: int) -> str:
    """What a 413 says, in its JSON {"error": ...}."""
    return f"The body is larger than {limit // 1024} KiB."


class _TooLarge(Exception):
    pass


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
        refusal = too_large(limit)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "Content-Length must be a number of bytes.")
                return
            if int(declared) > limit:
                await _answer(send, 413, refusal)
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
                await _answer(send, 413, refusal)
