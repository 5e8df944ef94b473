"""OpenAPI documentation shared by the /api routes: examples and the error responses.

Every status a route can answer is listed with its media types, so clients (and the
schemathesis run in tests/api) can rely on the spec: our own errors are
`application/problem+json`; Looker's 4xx answers pass through as `application/json`.
"""

from __future__ import annotations

from typing import Any

from service.api.schemas import RESULT_MEDIA_TYPES, LookerError, Problem

# Inlined rather than $ref'd: a router cannot add to the app's component schemas.
_PROBLEM = {"application/problem+json": {"schema": Problem.model_json_schema()}}
_LOOKER = {"application/json": {"schema": LookerError.model_json_schema()}}
_EITHER = {**_PROBLEM, **_LOOKER}

Responses = dict[int | str, dict[str, Any]]


def _error(description: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": content}


def error_responses(*, body: bool = False) -> Responses:
    responses: Responses = {
        400: _error("Looker refused the request (its body passed through)", _LOOKER),
        401: _error("`unauthenticated` (no session) or `reauth_required` (sign in again)",
                    _PROBLEM),
        403: _error("`csrf_required`, `origin_forbidden`, `proxy_forbidden`, or Looker's "
                    "own 403", _EITHER),
        404: _error("Not found (Looker also answers 404 for no permission)", _EITHER),
        422: _error("`validation_error`, or Looker's own 422 with `errors`", _EITHER),
        429: _error("Looker's rate limit; honour `Retry-After` (seconds)", _EITHER),
        502: _error("`upstream_error` (Looker answered 5xx) or `upstream_unavailable`",
                    _PROBLEM),
        504: _error("`upstream_timeout`: Looker did not answer in time", _PROBLEM),
    }
    if body:
        responses[413] = _error("`payload_too_large`: body over PROXY_MAX_BODY_BYTES",
                                _PROBLEM)
    return responses


def json_example(description: str, example: Any) -> Responses:
    return {200: {"description": description,
                  "content": {"application/json": {"example": example}}}}


def result_responses() -> Responses:
    """A query result in any of Looker's formats, streamed as Looker sends it."""
    content: dict[str, Any] = {}
    for media_type in dict.fromkeys(RESULT_MEDIA_TYPES.values()):
        binary = media_type.startswith(("image/", "application/vnd"))
        content[media_type] = {"schema": {"type": "string", "format": "binary"} if binary
                               else {}}
    text_examples = {
        "application/json": RUN_EXAMPLE,
        "text/csv": "Order Items Created Date,Order Items Count\n2024-01-01,8\n",
        "text/plain": "Order Items Created Date\tOrder Items Count\n2024-01-01\t8\n",
        "text/markdown": "| Created Date | Count |\n| --- | --- |\n| 2024-01-01 | 8 |\n",
        "text/html": "<table><tr><th>Created Date</th><th>Count</th></tr>"
                     "<tr><td>2024-01-01</td><td>8</td></tr></table>",
    }
    for media_type, example in text_examples.items():
        if media_type in content:
            content[media_type]["example"] = example
    return {200: {"description": "The result, in the requested format", "content": content}}


USER_EXAMPLE = {
    "id": "2", "display_name": "Grace Hopper", "email": "grace@example.com",
    "first_name": "Grace", "last_name": "Hopper", "locale": "en", "is_disabled": False,
    "home_folder_id": "1", "personal_folder_id": "12", "role_ids": ["2"], "group_ids": ["1"],
}
LOOK_EXAMPLE = {
    "id": "1", "title": "Orders by Day", "description": "Daily order volume",
    "user_id": "1", "folder_id": "5", "folder": {"id": "5", "name": "Sales", "parent_id": "1"},
    "model": {"id": "thelook", "label": "The Look"}, "query_id": "1", "public": False,
}
QUERY_EXAMPLE = {
    "id": "1", "model": "thelook", "view": "order_items",
    "fields": ["order_items.created_date", "order_items.count"],
    "sorts": ["order_items.created_date desc"], "limit": "500",
}
DASHBOARD_EXAMPLE = {
    "id": "1", "title": "Sales Overview", "description": "Orders and revenue",
    "folder": {"id": "5", "name": "Sales", "parent_id": "1"}, "hidden": False,
    "dashboard_elements": [{"id": "1", "dashboard_id": "1", "title": "Orders by Day",
                            "type": "vis", "look_id": "1", "query_id": "1"}],
}
RUN_EXAMPLE = [{"order_items.created_date": "2024-01-01", "order_items.count": 8}]
