"""Response helpers in Looker's shapes, serialized with orjson."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

from .data import DOC_URL

JSON = "application/json"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status, headers, JSON)


def raw_json(body: bytes, status: int = 200) -> Response:
    return Response(body, status, None, JSON)


def looker_error(status: int, message: str | None = None,
                 headers: dict[str, str] | None = None) -> Response:
    msg = message if message is not None else HTTPStatus(status).phrase
    return json_response({"message": msg, "documentation_url": DOC_URL}, status, headers)


def not_found() -> Response:
    return looker_error(404, "Not found")


def requires_auth() -> Response:
    return looker_error(401, "Requires authentication.")


def validation_error(errors: list[dict[str, str]], message: str = "Validation Failed") -> Response:
    for e in errors:
        e.setdefault("documentation_url", DOC_URL)
    return json_response({"message": message, "errors": errors, "documentation_url": DOC_URL}, 422)


def oauth_error(error: str, description: str, status: int = 400) -> Response:
    return json_response({"error": error, "error_description": description}, status, NO_STORE)
