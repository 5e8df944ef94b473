"""The one shared, pooled client for Looker API 4.0 calls made on behalf of users.

`LookerClient.send()` returns an open `UpstreamResponse` (status < 500) whose body the
caller streams and then releases with `aclose()`; everything else becomes a `ProblemError`:

    Looker unreachable / connection broke   -> UpstreamUnavailable  502 upstream_unavailable
    no answer within LOOKER_TIMEOUT_SECONDS -> UpstreamTimeout      504 upstream_timeout
    5xx (after retries for GET/HEAD)        -> UpstreamError        502 upstream_error

GET and HEAD are retried (at most `LOOKER_RETRIES` times, exponential backoff with
jitter) on connect failures and 502/503/504; timeouts are not retried, since a second wait
would double the caller's worst case. 401 and 429 and other 4xx are returned for the
caller to handle. Nothing here logs or raises with a header, a body or a token.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Mapping
from types import TracebackType

from service.config import Settings
from service.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from service.logs import request_id_var
from service.looker.transport import (
    Backend,
    ConnectFailed,
    RawResponse,
    TimedOut,
    make_backend,
)
from service.metrics import Metrics

API_PREFIX = "/api/4.0/"
_IDEMPOTENT = frozenset({"GET", "HEAD"})
_RETRY_STATUSES = frozenset({502, 503, 504})
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 1.0


class UpstreamResponse:
    """An open Looker response. Iterate `iter_bytes()` or `read()`, then always `aclose()`."""

    __slots__ = ("_closed", "_raw", "headers", "status")

    def __init__(self, raw: RawResponse) -> None:
        self._raw = raw
        self._closed = False
        self.status = raw.status
        self.headers = raw.headers

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._raw.iter_raw():
                yield chunk
        except TimedOut as exc:
            raise UpstreamTimeout("Looker stopped sending the response") from exc
        except ConnectFailed as exc:
            raise UpstreamUnavailable("The connection to Looker broke") from exc

    async def read(self) -> bytes:
        try:
            return await self._raw.read()
        except TimedOut as exc:
            raise UpstreamTimeout("Looker stopped sending the response") from exc
        except ConnectFailed as exc:
            raise UpstreamUnavailable("The connection to Looker broke") from exc

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._raw.aclose()


class LookerClient:
    """Owns one connection pool for the process; enter it once (the lifespan does)."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._base = settings.looker_api_url.rstrip("/") + API_PREFIX
        self._backend: Backend = make_backend(settings)
        self._retries = settings.looker_retries

    async def __aenter__(self) -> LookerClient:
        await self._backend.open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._backend.close()

    @property
    def backend_name(self) -> str:
        return self._settings.looker_http_client

    def in_use(self) -> int:
        """Pooled connections currently checked out (0 once every response is released)."""
        return self._backend.checked_out()

    def url_for(self, path: str, query: str = "") -> str:
        """`path` must already be validated and percent-encoded (see service.api.paths)."""
        return self._base + path + ("?" + query if query else "")

    async def send(
        self, method: str, path: str, *, token: str, query: str = "",
        body: bytes | None = None, headers: Mapping[str, str] | None = None,
        kind: str = "api",
    ) -> UpstreamResponse:
        """Call `LOOKER_API_URL/api/4.0/{path}?{query}` with the user's bearer token."""
        url = self.url_for(path, query)
        outgoing = {"Accept-Encoding": "identity", **(headers or {}),
                    "Authorization": f"Bearer {token}"}
        request_id = request_id_var.get()
        if request_id:
            outgoing["X-Request-ID"] = request_id
        attempts = 1 + (self._retries if method in _IDEMPOTENT else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                raw = await self._backend.request(method, url, outgoing, body)
            except TimedOut as exc:
                self._count(kind, "timeout")
                raise UpstreamTimeout(
                    f"Looker did not answer within {self._settings.looker_timeout_seconds:g} s"
                ) from exc
            except ConnectFailed as exc:
                self._count(kind, "unavailable")
                if last:
                    raise UpstreamUnavailable("Looker could not be reached") from exc
                await self._backoff(attempt)
                continue
            self._count(kind, str(raw.status))
            if raw.status < 500:
                return UpstreamResponse(raw)
            await raw.aclose()
            if last or raw.status not in _RETRY_STATUSES:
                raise UpstreamError(f"Looker answered {raw.status}")
            await self._backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _count(self, kind: str, status: str) -> None:
        self._metrics.upstream.labels(kind, status).inc()

    @staticmethod
    async def _backoff(attempt: int) -> None:
        ceiling = min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2 ** (attempt + 1))
        await asyncio.sleep(random.uniform(ceiling / 2, ceiling))
