"""`PROXY_MAX_BODY_BYTES` for every /api route, enforced while the body streams in.

A declared `Content-Length` over the limit is refused before reading anything; a body
that turns out longer (chunked, or a lying header) is cut off at the limit. FastAPI turns
most errors raised while it reads a body into 400, but lets `HTTPException` through, so
the limit is raised as one (413) and the problem handler gives it the
`payload_too_large` shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The request body is over {limit} bytes")


def limited_receive(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def receive_within_limit() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit)
        return message

    return receive_within_limit


class BodyLimitRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_within_limit(request: Request) -> Response:
            if request.method in _NO_BODY:  # never read: nothing to limit, nothing to wrap
                return await handler(request)
            limit: int = request.app.state.settings.proxy_max_body_bytes
            declared = request.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                raise _too_large(limit)
            scope: Any = request.scope
            return await handler(Request(scope, limited_receive(request.receive, limit)))

        return handle_within_limit
