"""Guards in front of the app: request size and time limits, the Host and Origin checks, and the
HTTP server settings that bound what one connection can hold.

The Host check defeats DNS rebinding: a page on evil.example that re-points its name at 127.0.0.1 can
reach a loopback server, but its requests still carry ``Host: evil.example``. The Origin check stops
a page on another site from making the browser call the API at all (a cross-site GET needs no CORS
permission to spend this machine's CPU). Slow clients (slowloris: headers or a body sent a byte at a
time) are cut off with 408 after ``HEADER_SECONDS`` / ``BODY_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import urlsplit

from paramscope.web.security import MAX_BODY_BYTES, MAX_URL_BYTES

HEADER_SECONDS = 10.0  # from connecting (or the previous answer) to the end of the request's headers
BODY_SECONDS = 10.0  # between two pieces of a request body
KEEP_ALIVE_SECONDS = 5  # an idle kept-alive connection
MAX_CONNECTIONS = 512  # open at once; more are answered 503 (file descriptors are finite)
MAX_HEADER_BYTES = MAX_URL_BYTES + 16 * 1024  # request line + headers, as h11 buffers them

Scope = dict[str, Any]


class TooLarge(Exception):
    pass


class TooSlow(Exception):
    pass


async def _answer(send, status: int, message: str, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body was not read: the connection cannot carry another request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SizeLimit:
    """414 for a URL longer than MAX_URL_BYTES; 413 for a body longer than MAX_BODY_BYTES, declared or
    streamed (a chunked body has no Content-Length to check in advance); 408 for a body that stalls
    ``body_seconds`` between pieces."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES, body_seconds: float = BODY_SECONDS) -> None:
        self.app, self.limit, self.body_seconds = app, limit, body_seconds

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b"")) \
                > MAX_URL_BYTES:
            return await _answer(send, 414, "request URL too long")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await _answer(send, 413, f"request body over {self.limit} bytes", close=True)
        seen, complete, started, answered = 0, False, False, False

        async def refuse(status: int, message: str) -> None:
            # Answered here, not by raising through the app: FastAPI turns an error while it reads the
            # body into its own 400.
            nonlocal answered
            if not started and not answered:
                answered = True
                await _answer(send, status, message, close=True)

        async def limited():
            nonlocal seen, complete
            if complete:  # the body is in: what remains is waiting for a disconnect, untimed
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_seconds)
            except TimeoutError:
                await refuse(408, f"request body stalled for {self.body_seconds:g} s")
                raise TooSlow from None
            seen += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if seen > self.limit:
                await refuse(413, f"request body over {self.limit} bytes")
                raise TooLarge
            return message

        async def tracking(message):
            nonlocal started
            if answered:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(TooLarge, TooSlow):  # already answered
            await self.app(scope, limited, tracking)


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


class ResponseHeaders:
    """Adds ``headers`` to every answer (plain ASGI: Starlette's ``@app.middleware`` costs a task and a
    stream per request, which a server answering hundreds of 429s a second notices)."""

    def __init__(self, app, headers: tuple[tuple[str, str], ...]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers]

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def adding(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self.headers]}
            await send(message)

        await self.app(scope, receive, adding)


class SameOrigin:
    """403 for a request a page of another origin made the browser send: ``Sec-Fetch-Site`` other than
    ``same-origin`` / ``none`` (typed in the address bar), or an ``Origin`` that is not this server's.
    Following a link to the page itself stays allowed (it only shows the page)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] == "http":
            problem = cross_site(scope)
            if problem:
                return await _answer(send, 403, problem)
        await self.app(scope, receive, send)


def cross_site(scope: Scope) -> str | None:
    headers = dict(scope["headers"])
    site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
    if site and site not in ("same-origin", "none"):
        navigating = headers.get(b"sec-fetch-mode", b"") == b"navigate" and scope["method"] == "GET"
        if not (navigating and scope["path"] == "/"):
            return f"cross-site request refused (Sec-Fetch-Site: {site}): use the page this server serves"
    origin = headers.get(b"origin")
    if origin is not None:
        host = headers.get(b"host", b"").decode("latin-1").lower()
        text = origin.decode("latin-1").lower()
        if text == "null" or urlsplit(text).netloc != host:
            return f"cross-origin request refused (Origin: {text[:100]}): use the page this server serves"
    return None


def server_config(app: Any, host: str, port: int, **overrides: Any) -> Any:
    """uvicorn's settings for `serve`: a header deadline (``SlowHeaders``), bounded header size and
    connection count, a short keep-alive."""
    import uvicorn

    settings: dict[str, Any] = dict(host=host, port=port, log_level="warning", http=slow_headers_protocol(),
                                    h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                                    timeout_keep_alive=KEEP_ALIVE_SECONDS, limit_concurrency=MAX_CONNECTIONS,
                                    server_header=False)
    settings.update(overrides)
    return uvicorn.Config(app, **settings)


def _raw_answer(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
            "\r\nconnection: close\r\n\r\n").encode() + body


def slow_headers_protocol(header_seconds: float = HEADER_SECONDS) -> type:
    """uvicorn's h11 protocol, plus: 408 when a request's headers are not complete ``header_seconds``
    after the connection opened or after the previous answer (uvicorn waits for them forever), and
    its protocol errors as the API's JSON."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class SlowHeaders(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(header_seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm()  # between requests or inside a request's headers: the clock runs
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # the keep-alive timeout covers the idle wait; data arriving re-arms the header clock

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _too_slow(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if self.cycle is not None and not self.cycle.response_complete:
                return  # an answer is being computed; its own deadline applies
            self.transport.write(_raw_answer(408, "Request Timeout",
                                             f"request headers not received within {header_seconds:g} s"))
            self.transport.close()

        def send_400_response(self, msg: str) -> None:
            if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                self.transport.write(_raw_answer(400, "Bad Request", f"{msg} (malformed, or headers over "
                                                                     f"{MAX_HEADER_BYTES} bytes)"))
            self.transport.close()

    return SlowHeaders
