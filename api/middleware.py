"""ASGI guards around the whole app: the token before the body, a bounded body, safe headers.

FastAPI reads and parses a request body before the route's dependencies run, so a token check
in a dependency comes after a 50 MB body has been read and parsed. This middleware answers
first: a body larger than `security.max_body_bytes` is a 413 from its Content-Length (or as soon
as a chunked body passes the limit), and a request with a body but no valid token is a 401
before one byte of the body is read. Every response says `X-Content-Type-Options: nosniff`; JSON
responses also `Cache-Control: no-store` (they carry camera and incident data).
"""

from __future__ import annotations

import json

import anyio
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import authenticate

_BODY_METHODS = {b"POST", b"PUT", b"PATCH", b"DELETE"}


class RequestGuard:
    def __init__(self, app: ASGIApp, state) -> None:
        self.app = app
        self.state = state  # the FastAPI app's state: settings, sessions, limiters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_safe_headers(send)
        if scope["method"].encode() in _BODY_METHODS or _declares_body(scope):
            try:
                receive = await self._guard_body(scope, receive)
            except HTTPException as refused:
                await _answer(send, refused)
                return
        await self.app(scope, receive, send)

    async def _guard_body(self, scope: Scope, receive: Receive) -> Receive:
        limit = self.state.settings.security.max_body_bytes
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise HTTPException(413, f"request body larger than {limit} bytes")
        client = scope["client"][0] if scope.get("client") else "?"
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        await anyio.to_thread.run_sync(
            authenticate, self.state.sessions, self.state.auth_failures, client, authorization
        )
        return await _bounded(receive, limit)


def _declares_body(scope: Scope) -> bool:
    headers = dict(scope.get("headers") or [])
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


async def _bounded(receive: Receive, limit: int) -> Receive:
    """Read the whole body (at most `limit` bytes, else 413) and replay it to the app."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_safe_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            names = {name.lower() for name, _ in headers}
            if b"x-content-type-options" not in names:
                headers.append((b"x-content-type-options", b"nosniff"))
            content_type = dict(headers).get(b"content-type", b"")
            if content_type.startswith(b"application/json") and b"cache-control" not in names:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


async def _answer(send: Send, error: HTTPException) -> None:
    body = json.dumps({"detail": error.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (error.headers or {}).items()]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
