"""ASGI guards in front of the app: request size limits and the Host header check.

The Host check defeats DNS rebinding: a page on evil.example that re-points its name at 127.0.0.1 can
reach a loopback server, but its requests still carry ``Host: evil.example``.
"""

from __future__ import annotations

import json
from typing import Any

from paramscope.web.security import MAX_BODY_BYTES, MAX_URL_BYTES

Scope = dict[str, Any]


class TooLarge(Exception):
    pass


async def _answer(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class SizeLimit:
    """414 for a URL longer than MAX_URL_BYTES; 413 for a body longer than MAX_BODY_BYTES, declared or
    streamed (a chunked body has no Content-Length to check in advance)."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b"")) \
                > MAX_URL_BYTES:
            return await _answer(send, 414, "request URL too long")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _answer(send, 413, f"request body over {self.limit} bytes")
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge
            return message

        started = False

        async def tracking(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except TooLarge:
            if not started:
                await _answer(send, 413, f"request body over {self.limit} bytes")


class HostCheck:
    """400 unless the Host header names one of ``allowed_hosts`` (any port); "*" allows every host."""

    def __init__(self, app, allowed_hosts: tuple[str, ...]) -> None:
        self.app, self.allowed = app, allowed_hosts

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] == "http" and "*" not in self.allowed:
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name not in self.allowed:
                return await _answer(send, 400, f"unexpected Host header {host!r}")
        await self.app(scope, receive, send)
