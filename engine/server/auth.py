"""Bearer-token check for every request, as plain ASGI middleware (runs before routing, so even an
unknown path says 401 to a caller without the token). Also records when the last request came,
for the idle exit."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]


def _unauthorized(message: str) -> tuple[dict[str, Any], dict[str, Any]]:
    body = json.dumps({"error": {"code": "unauthorized", "message": message}}).encode()
    start = {"type": "http.response.start", "status": 401,
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode()),
                         (b"www-authenticate", b'Bearer realm="neural-style"')]}
    return start, {"type": "http.response.body", "body": body}


class BearerAuth:
    def __init__(self, app: Callable, token: str, on_request: Callable[[], None] | None = None):
        self.app = app
        self._token = token.encode("utf-8")
        self._on_request = on_request or (lambda: None)

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._on_request()
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
                break
        scheme, _, secret = given.partition(b" ")
        # Constant-time compare: the token must not leak through response timing.
        if scheme.lower() != b"bearer" or not hmac.compare_digest(secret.strip(), self._token):
            message = ("Missing access token (Authorization: Bearer ...)." if not given else
                       "Wrong access token. The plug-in reads it from the engine's token file; "
                       "check that both use the same file (re-run install.py if unsure).")
            start, body = _unauthorized(message)
            await send(start)
            await send(body)
            return
        await self.app(scope, receive, send)
