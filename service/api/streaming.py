"""Relay a Looker response to the browser without buffering large bodies.

Small bodies of known length are read at once and sent as one plain `Response` (cheapest
for the many small JSON calls). Everything else goes through `UpstreamStream`, which sends
chunks as they arrive and releases the upstream connection in a `finally`, whatever
happens: normal end, a Looker error mid-body, or the browser going away. Starlette's
`StreamingResponse` would skip a `background=` cleanup in the last two cases and leak the
pooled connection, and uvicorn silently drops sends after a disconnect, so we also watch
`receive()` for `http.disconnect` and stop reading Looker as soon as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from service.api.headers import response_headers
from service.errors import ProblemError
from service.looker.client import UpstreamResponse

log = logging.getLogger(__name__)

BUFFER_AT_MOST = 256 * 1024


async def relay(upstream: UpstreamResponse) -> Response:
    """Looker's answer as ours: status, allowlisted headers and body, unchanged."""
    headers = response_headers(upstream.headers)
    length = upstream.header("content-length")
    if length is not None and length.isdigit() and int(length) <= BUFFER_AT_MOST:
        try:
            body = await upstream.read()
        finally:
            await upstream.aclose()
        response = Response(body, status_code=upstream.status)
        response.raw_headers.extend(headers)
        return response
    return UpstreamStream(upstream, headers, length)


class UpstreamStream(Response):
    def __init__(self, upstream: UpstreamResponse, headers: list[tuple[bytes, bytes]],
                 length: str | None) -> None:
        self.status_code = upstream.status
        self.background = None
        self._upstream = upstream
        # The body is relayed byte for byte, so Looker's length stays true (and lets the
        # browser show progress); without one the server sends it chunked.
        if length is not None and length.isdigit():
            headers = [*headers, (b"content-length", length.encode())]
        self.raw_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        disconnected = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(_watch(receive, disconnected))
        try:
            chunks = self._upstream.iter_bytes()
            # Read the first chunk before committing to a status, so a failure there is
            # still answered with a proper problem+json.
            first = await anext(chunks, b"")
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            if first:
                await send({"type": "http.response.body", "body": first, "more_body": True})
            try:
                async for chunk in chunks:
                    if disconnected.is_set():
                        return
                    await send({"type": "http.response.body", "body": chunk,
                                "more_body": True})
            except ProblemError as exc:
                # Headers are gone already: end the connection without the final chunk so
                # the browser sees a truncated body, not a complete one.
                log.warning("upstream stream aborted: %s", exc.code)
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            await self._upstream.aclose()


async def _watch(receive: Receive, disconnected: asyncio.Event) -> None:
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass
    disconnected.set()
