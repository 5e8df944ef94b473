"""One error hierarchy, one RFC 9457 problem+json shape.

    ProblemError                 any error the service itself answers with
    ├── Unauthenticated          401 unauthenticated
    ├── ReauthRequired           401 reauth_required
    ├── CsrfRequired             403 csrf_required
    ├── OriginForbidden          403 origin_forbidden
    ├── ProxyForbidden           403 proxy_forbidden
    ├── NotFound                 404 not_found
    ├── PayloadTooLarge          413 payload_too_large
    ├── UnsupportedMediaType     415 unsupported_media_type
    ├── RateLimited              429 rate_limited
    ├── UpstreamError            502 upstream_error        (Looker answered 5xx)
    ├── UpstreamUnavailable      502 upstream_unavailable  (Looker could not be reached)
    ├── UpstreamTimeout          504 upstream_timeout
    └── ServiceUnavailable       503 service_unavailable   (database down, not ready)

A database that is down or restarting (connection refused, connection lost) is 503
`service_unavailable` with `Retry-After`, not a 500.

Request validation errors become 422 `validation_error`; anything unexpected becomes
500 `internal_error` with nothing of the exception in the body (it goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://looker-bff.dev/problems/"


class ProblemError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}


class Unauthenticated(ProblemError):
    status, code, title = 401, "unauthenticated", "Not signed in"


class ReauthRequired(ProblemError):
    status, code, title = 401, "reauth_required", "Sign in again"


class CsrfRequired(ProblemError):
    status, code, title = 403, "csrf_required", "The X-CSRF: 1 header is required"


class OriginForbidden(ProblemError):
    status, code, title = 403, "origin_forbidden", "Origin not allowed"


class ProxyForbidden(ProblemError):
    status, code, title = 403, "proxy_forbidden", "This Looker API call is not allowed"


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class PayloadTooLarge(ProblemError):
    status, code, title = 413, "payload_too_large", "Request body too large"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported_media_type", "Send the body as application/json"


class RateLimited(ProblemError):
    status, code, title = 429, "rate_limited", "Too many requests"


class UpstreamError(ProblemError):
    status, code, title = 502, "upstream_error", "Looker answered with an error"


class UpstreamUnavailable(ProblemError):
    status, code, title = 502, "upstream_unavailable", "Looker could not be reached"


class UpstreamTimeout(ProblemError):
    status, code, title = 504, "upstream_timeout", "Looker did not answer in time"


class ServiceUnavailable(ProblemError):
    status, code, title = 503, "service_unavailable", "Service not ready"


PROBLEM_CODES = {
    cls.code: cls
    for cls in (ProblemError, Unauthenticated, ReauthRequired, CsrfRequired, OriginForbidden,
                ProxyForbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, RateLimited,
                UpstreamError, UpstreamUnavailable, UpstreamTimeout, ServiceUnavailable)
}


def problem_response(
    status: int, code: str, title: str, detail: str, headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if extra:
        body.update(extra)
    return Response(
        orjson.dumps(body), status_code=status, headers=headers,
        media_type="application/problem+json",
    )


def to_response(exc: ProblemError) -> Response:
    return problem_response(exc.status, exc.code, exc.title, exc.detail, exc.headers)


async def _problem_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return to_response(exc)


async def _validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    return problem_response(422, "validation_error", "Invalid request",
                            "The request did not validate", extra={"errors": errors})


_HTTP_CODES = {401: Unauthenticated, 404: NotFound, 413: PayloadTooLarge, 429: RateLimited}


async def _http_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cls = _HTTP_CODES.get(exc.status_code)
    if cls is not None:
        return problem_response(cls.status, cls.code, cls.title, cls.title, exc.headers)
    if exc.status_code == 405:
        return problem_response(405, "method_not_allowed", "Method not allowed",
                                "Method not allowed", exc.headers)
    if exc.status_code < 500:
        return problem_response(exc.status_code, "validation_error", "Invalid request",
                                str(exc.detail), exc.headers)
    return problem_response(500, "internal_error", "Internal error", "Internal error")


def is_database_unavailable(exc: BaseException) -> bool:
    """A database that is down or restarting (not a bug in a query)."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        return exc.orig is not None and is_database_unavailable(exc.orig)
    return isinstance(exc, OSError | asyncpg.exceptions.CannotConnectNowError
                      | asyncpg.exceptions.ConnectionDoesNotExistError
                      | asyncpg.exceptions.AdminShutdownError)


def _internal_error(request: Request, exc: BaseException) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path,
              exc_info=(type(exc), exc, exc.__traceback__))
    return problem_response(500, "internal_error", "Internal error",
                            "An unexpected error occurred; it has been logged")


async def _database_handler(request: Request, exc: Exception) -> Response:
    """Database and OS errors, answered inside the app (no re-raise to the server)."""
    if not is_database_unavailable(exc):
        return _internal_error(request, exc)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path,
                type(exc).__name__)
    return problem_response(503, "service_unavailable", "Service unavailable",
                            "The database is unavailable; try again shortly",
                            {"Retry-After": "5"})


async def _unexpected_handler(request: Request, exc: Exception) -> Response:
    return _internal_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    for database_error in (DBAPIError, OSError, asyncpg.exceptions.PostgresError):
        app.add_exception_handler(database_error, _database_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
