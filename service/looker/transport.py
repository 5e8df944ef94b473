"""Two interchangeable HTTP backends behind one small interface.

aiohttp is the default (issue 8: measured faster as a proxy client); httpx2 stays selectable
(`LOOKER_HTTP_CLIENT=httpx2`) so the benchmark can compare them in one run.

Both are configured the same way on purpose:
* no cookie jar: a shared client must never carry one user's Looker cookies to another user;
* no transparent decompression: bytes stream through as Looker sent them, and the caller
  always sets `Accept-Encoding` itself (the browser's value or `identity`), so a
  `Content-Encoding` passed on to the browser is one the browser asked for;
* no environment proxies/netrc: nothing outside `Settings` shapes an upstream call.

Exceptions are translated into `ConnectFailed` / `TimedOut` here so `client.py` handles
one vocabulary whichever backend runs.
"""

from __future__ import annotations

import abc
import http.cookiejar
import io
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import httpx2
import yarl

from service.config import Settings


class TransportError(Exception):
    """Base of the two failures a caller can act on. Messages never carry a token."""


class ConnectFailed(TransportError):
    """The request did not reach Looker, or the connection broke before an answer."""


class TimedOut(TransportError):
    """Looker did not answer (or stopped sending) within the timeout."""


class RawResponse(abc.ABC):
    """An open upstream response; `aclose()` must always run (it releases the connection)."""

    status: int
    headers: list[tuple[str, str]]

    @abc.abstractmethod
    def iter_raw(self) -> AsyncIterator[bytes]: ...

    @abc.abstractmethod
    async def read(self) -> bytes: ...

    @abc.abstractmethod
    async def aclose(self) -> None: ...


class Backend(abc.ABC):
    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def request(self, method: str, url: str, headers: Mapping[str, str],
                      body: bytes | None) -> RawResponse: ...

    @abc.abstractmethod
    def checked_out(self) -> int:
        """Connections currently lent to a request (0 when every response was released)."""


# -- aiohttp ----------------------------------------------------------------------------

COALESCE_BYTES = 256 * 1024


class _AiohttpResponse(RawResponse):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = [(k, v) for k, v in response.headers.items()]

    async def iter_raw(self) -> AsyncIterator[bytes]:
        content = self._response.content
        try:
            while chunk := await content.readany():
                # Coalesce what has already arrived (never waiting for more): one send of
                # 256 KiB costs far less than sixty of 4 KiB on the way to the browser.
                if len(chunk) < COALESCE_BYTES:
                    parts, size = [chunk], len(chunk)
                    while size < COALESCE_BYTES and (more := content.read_nowait(
                            COALESCE_BYTES - size)):
                        parts.append(more)
                        size += len(more)
                    chunk = b"".join(parts) if len(parts) > 1 else chunk
                yield chunk
        except TimeoutError as exc:
            raise TimedOut("Looker stopped sending") from exc
        except aiohttp.ClientError as exc:
            raise ConnectFailed(f"Looker connection broke: {type(exc).__name__}") from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_raw()])

    async def aclose(self) -> None:
        # release() keeps a fully read connection for reuse; a partly read one is closed
        # (its remaining bytes would corrupt the next request on it).
        if self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()


class AiohttpBackend(Backend):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._connector: aiohttp.TCPConnector | None = None

    async def open(self) -> None:
        s = self._settings
        self._connector = aiohttp.TCPConnector(
            limit=s.looker_max_connections,
            limit_per_host=s.looker_max_connections,
            keepalive_timeout=s.looker_keepalive_seconds,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            # connect covers waiting for a pooled connection too; sock_read bounds both the
            # wait for the answer and every gap while streaming, with no cap on a long body.
            timeout=aiohttp.ClientTimeout(
                total=None, connect=s.looker_timeout_seconds,
                sock_connect=min(s.looker_timeout_seconds, 10.0),
                sock_read=s.looker_timeout_seconds),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, url: str, headers: Mapping[str, str],
                      body: bytes | None) -> RawResponse:
        assert self._session is not None, "LookerClient used outside `async with`"
        # aiohttp warns about (and writes in one go) raw bytes over 1 MiB; a fresh BytesIO
        # per attempt keeps a resend after a token renewal possible.
        data = io.BytesIO(body) if body is not None and len(body) > 1 << 20 else body
        try:
            response = await self._session.request(
                method, yarl.URL(url, encoded=True), headers=headers, data=data,
                allow_redirects=False)
        except TimeoutError as exc:  # aiohttp's timeouts subclass TimeoutError
            raise TimedOut("Looker did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise ConnectFailed(f"Looker could not be reached: {type(exc).__name__}") from exc
        return _AiohttpResponse(response)

    def checked_out(self) -> int:
        acquired: Any = getattr(self._connector, "_acquired", ())
        return len(acquired)


# -- httpx2 -----------------------------------------------------------------------------


def no_cookie_jar() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class _HttpxResponse(RawResponse):
    def __init__(self, response: httpx2.Response, on_close: Any) -> None:
        self._response = response
        self._on_close = on_close
        self._closed = False
        self.status = response.status_code
        self.headers = [(k, v) for k, v in response.headers.multi_items()]

    async def iter_raw(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():
                yield chunk
        except httpx2.TimeoutException as exc:
            raise TimedOut("Looker stopped sending") from exc
        except httpx2.TransportError as exc:
            raise ConnectFailed(f"Looker connection broke: {type(exc).__name__}") from exc

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_raw()])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._on_close()
            await self._response.aclose()


class Httpx2Backend(Backend):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: httpx2.AsyncClient | None = None
        self._open_responses = 0

    async def open(self) -> None:
        s = self._settings
        self._client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(s.looker_timeout_seconds,
                                   connect=min(s.looker_timeout_seconds, 10.0)),
            limits=httpx2.Limits(max_connections=s.looker_max_connections,
                                 max_keepalive_connections=s.looker_max_connections,
                                 keepalive_expiry=s.looker_keepalive_seconds),
            cookies=no_cookie_jar(),
            trust_env=False,
            follow_redirects=False,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def request(self, method: str, url: str, headers: Mapping[str, str],
                      body: bytes | None) -> RawResponse:
        assert self._client is not None, "LookerClient used outside `async with`"
        request = self._client.build_request(method, url, headers=headers, content=body)
        try:
            response = await self._client.send(request, stream=True)
        except httpx2.TimeoutException as exc:
            raise TimedOut("Looker did not answer in time") from exc
        except httpx2.TransportError as exc:
            raise ConnectFailed(f"Looker could not be reached: {type(exc).__name__}") from exc
        self._open_responses += 1
        return _HttpxResponse(response, self._released)

    def _released(self) -> None:
        self._open_responses -= 1

    def checked_out(self) -> int:
        return self._open_responses


def make_backend(settings: Settings) -> Backend:
    if settings.looker_http_client == "httpx2":
        return Httpx2Backend(settings)
    return AiohttpBackend(settings)
