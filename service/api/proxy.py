"""`/api/looker/{path}`: the generic pass-through to `LOOKER_API_URL/api/4.0/{path}`.

Refused with 403 `proxy_forbidden` unless the raw path is safe (`paths.py`) and
`PROXY_ALLOW` permits the method and path (`allowlist.py`). The upstream URL is built only
from the validated segments and a re-checked query string; only allowlisted headers and,
for POST/PUT/PATCH, a body of at most `PROXY_MAX_BODY_BYTES` travel on.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from service.api import openapi as doc
from service.api.bodylimit import BodyLimitRoute
from service.api.headers import request_headers
from service.api.paths import segments_of
from service.api.streaming import relay
from service.api.upstream import call_looker
from service.deps import ApiSession, RuntimeDep
from service.errors import ProxyForbidden, UnsupportedMediaType

router = APIRouter(route_class=BodyLimitRoute)

PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# RFC 3986 query characters: such a query string is passed on byte for byte.
_SAFE_QUERY = re.compile(rb"[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*")

def safe_query(raw: bytes) -> str:
    if _SAFE_QUERY.fullmatch(raw):
        return raw.decode("ascii")
    # Anything else (spaces, quotes, brackets, non-ASCII) is parsed and re-encoded.
    return urlencode(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


async def read_body(request: Request) -> bytes:
    """The request body; `BodyLimitRoute` cuts it off at PROXY_MAX_BODY_BYTES."""
    chunks = [chunk async for chunk in request.stream()]
    return b"".join(chunks)


async def proxy(path: str, session: ApiSession, runtime: RuntimeDep,
                request: Request) -> Response:
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    segments = segments_of(raw_path.split(b"?", 1)[0])
    method = request.method
    if segments is None:
        raise ProxyForbidden("This path is not a valid Looker API path")
    if not runtime.proxy_policy.allows(method, segments):
        raise ProxyForbidden(f"PROXY_ALLOW does not permit {method} {'/'.join(segments)}")
    body = await read_body(request) if method in _WITH_BODY else None
    if body and not request.headers.get("content-type", "").startswith("application/json"):
        # JSON only: a form body could smuggle a method override or another encoding
        raise UnsupportedMediaType("The pass-through forwards JSON bodies only")
    return await relay(await call_looker(
        runtime, session, method, "/".join(segments),
        query=safe_query(scope.get("query_string", b"")), body=body,
        headers=request_headers(scope["headers"]), kind="proxy"))


# One route per method, so each OpenAPI operation gets its own id.
for _method in PROXY_METHODS:
    router.add_api_route(
        "/looker/{path:path}", proxy, methods=[_method], response_model=None,
        operation_id=f"looker_proxy_{_method.lower()}",
        summary=f"{_method} any Looker API 4.0 path that PROXY_ALLOW permits",
        description=(
            "Forwards to `LOOKER_API_URL/api/4.0/{path}` with the user's token: query string "
            "and JSON body pass, the browser's cookies and `Authorization` never do. Calls "
            "that `PROXY_ALLOW` does not permit, and paths with `..`, encoded slashes or "
            "backslashes, empty segments or control characters, get 403 `proxy_forbidden`. "
            "Looker's answer (status, body, content headers) passes through; large bodies "
            "stream."
        ),
        responses={
            200: {"description": "Looker's answer, unchanged",
                  "content": {"application/json": {"example": doc.LOOK_EXAMPLE}}},
            **doc.error_responses(body=_method in _WITH_BODY),
        },
    )
