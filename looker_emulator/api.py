"""API 4.0 subset: users, looks, dashboards, queries and their runs, versions, OAuth client apps."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from . import data
from .data import API_FULL_VERSION, BIG_LOOK_ID, LOOKER_RELEASE, Content, apply_fields, parse_fields
from .oauth import bearer
from .responses import (
    json_response,
    looker_error,
    not_found,
    raw_json,
    requires_auth,
    validation_error,
)
from .results import (
    ALL_FORMATS,
    CONTENT_TYPES,
    STREAMED,
    SUPPORTED,
    ResultCache,
    row_count,
    stream_big,
)
from .state import AccessTokenRec, ClientApp, EmulatorState

Handler = Callable[[Request, EmulatorState, AccessTokenRec], Awaitable[Response]]
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")


class Api:
    """Handlers close over the static content and the result cache built once per app."""

    def __init__(self, st: EmulatorState) -> None:
        self.st = st
        self.content = Content(st.users)
        self.cache = ResultCache()
        self.next_query_id = 5000
        # Serialized list bodies: the hot, parameterless paths cost one dict lookup.
        self.looks_body = orjson.dumps(list(self.content.looks.values()))
        self.dash_list = [self.content.dashboard_base(d) for d in self.content.dashboards.values()]
        self.dash_list_body = orjson.dumps(self.dash_list)
        # Warm the 1 MB look so the first benchmark request is not an outlier.
        one_mb = self.content.queries[data.query_id_for_look(data.ONE_MB_LOOK_ID)]
        self.cache.get(one_mb, "json", row_count(one_mb, None))

    # -- helpers ---------------------------------------------------------------------------
    def authed(self, fn: Handler) -> Callable[[Request], Awaitable[Response]]:
        st = self.st

        async def endpoint(request: Request) -> Response:
            rec = bearer(st, request)
            if rec is None:
                st.count("api_unauthorized")
                return requires_auth()
            return await fn(request, st, rec)

        return endpoint

    def api_url(self, request: Request) -> str:
        return self.st.api_url or str(request.base_url).rstrip("/")

    @staticmethod
    def fields(request: Request) -> dict[str, Any] | None:
        spec = request.query_params.get("fields")
        return parse_fields(spec) if spec else None

    # -- users -----------------------------------------------------------------------------
    def _user_body(self, request: Request, uid: int) -> Response:
        spec = self.fields(request)
        user = self.st.users.get(uid)
        if user is None:
            return not_found()
        if spec is None:
            body = self.st.user_cache.get(uid)
            if body is None:
                body = orjson.dumps(data.user_json(user, self.api_url(request),
                                                   self.st.config.api3_credentials))
                self.st.user_cache[uid] = body
            return raw_json(body)
        obj = data.user_json(user, self.api_url(request), self.st.config.api3_credentials)
        return json_response(apply_fields(obj, spec))

    async def me(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        return self._user_body(request, rec.family.user_id)

    async def user(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        raw = request.path_params["user_id"]
        if not raw.isdigit():
            return not_found()
        return self._user_body(request, int(raw))

    # -- looks and dashboards --------------------------------------------------------------
    async def all_looks(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        spec = self.fields(request)
        if spec is None:
            return raw_json(self.looks_body)
        return json_response(apply_fields(list(self.content.looks.values()), spec))

    async def look(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        look = self.content.look_with_query(request.path_params["look_id"])
        if look is None:
            return not_found()
        return json_response(apply_fields(look, self.fields(request)))

    async def search_looks(self, request: Request, st: EmulatorState,
                           rec: AccessTokenRec) -> Response:
        return _search(request, list(self.content.looks.values()),
                       ("id", "title", "description", "folder_id", "user_id", "query_id"))

    async def all_dashboards(self, request: Request, st: EmulatorState,
                             rec: AccessTokenRec) -> Response:
        spec = self.fields(request)
        if spec is None:
            return raw_json(self.dash_list_body)
        return json_response(apply_fields(self.dash_list, spec))

    async def dashboard(self, request: Request, st: EmulatorState,
                        rec: AccessTokenRec) -> Response:
        d = self.content.dashboards.get(request.path_params["dashboard_id"])
        if d is None:
            return not_found()
        return json_response(apply_fields(data.dashboard_public(d), self.fields(request)))

    async def search_dashboards(self, request: Request, st: EmulatorState,
                                rec: AccessTokenRec) -> Response:
        items = [data.dashboard_public(d) for d in self.content.dashboards.values()]
        return _search(request, items,
                       ("id", "slug", "title", "description", "folder_id", "user_id"))

    # -- running ---------------------------------------------------------------------------
    def _run(self, request: Request, q: dict[str, Any], big: bool = False) -> Response:
        fmt = request.path_params["result_format"]
        if fmt not in ALL_FORMATS:
            return looker_error(400, f"Unsupported result format: {fmt}")
        if fmt not in SUPPORTED:
            return looker_error(400, f"Result format {fmt} is not supported by the emulator")
        raw_limit = request.query_params.get("limit")
        limit: int | None = None
        if raw_limit is not None:
            try:
                limit = int(raw_limit)
            except ValueError:
                return looker_error(400, "limit must be an integer")
        if big and limit is None and fmt in STREAMED:
            return StreamingResponse(stream_big(q["fields"], fmt, self.st.config.big_look_bytes),
                                     media_type=CONTENT_TYPES[fmt])
        body = self.cache.get(q, fmt, row_count(q, limit))
        return Response(body, 200, None, CONTENT_TYPES[fmt])

    async def run_look(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        lid = request.path_params["look_id"]
        look = self.content.looks.get(lid)
        if look is None:
            return not_found()
        return self._run(request, self.content.queries[look["query_id"]], big=lid == BIG_LOOK_ID)

    def _query(self, qid: str) -> dict[str, Any] | None:
        return self.content.queries.get(qid) or self.st.created_queries.get(qid)

    async def run_query(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        q = self._query(request.path_params["query_id"])
        if q is None:
            return not_found()
        big = q["id"] == data.query_id_for_look(BIG_LOOK_ID)
        return self._run(request, q, big=big)

    async def get_query(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        q = self._query(request.path_params["query_id"])
        if q is None:
            return not_found()
        return json_response(apply_fields(q, self.fields(request)))

    async def _query_body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return looker_error(400, "Request body is not valid JSON")
        if not isinstance(body, dict):
            return looker_error(400, "Request body must be a JSON object")
        errors = validate_query(body)
        if errors:
            return validation_error(errors)
        if body["model"] not in data.KNOWN_MODELS or \
                body["view"] not in data.KNOWN_MODELS[body["model"]]:
            return not_found()
        limit = body.get("limit")
        return data.make_query(None, body["model"], body["view"], body.get("fields") or [],
                               body.get("sorts"), None if limit is None else str(limit),
                               body.get("filters"))

    async def run_inline(self, request: Request, st: EmulatorState,
                         rec: AccessTokenRec) -> Response:
        q = await self._query_body(request)
        return q if isinstance(q, Response) else self._run(request, q)

    async def create_query(self, request: Request, st: EmulatorState,
                           rec: AccessTokenRec) -> Response:
        q = await self._query_body(request)
        if isinstance(q, Response):
            return q
        self.next_query_id += 1
        q["id"] = str(self.next_query_id)
        st.created_queries[q["id"]] = q
        return json_response(apply_fields(q, self.fields(request)))

    # -- versions (public, no token needed as in Looker) ------------------------------------
    async def versions(self, request: Request) -> Response:
        api = self.api_url(request)
        web = self.st.web_url or api
        element = {"version": "4.0", "full_version": API_FULL_VERSION, "status": "current",
                   "swagger_url": f"{api}/api/4.0/swagger.json"}
        body = {"looker_release_version": LOOKER_RELEASE, "current_version": element,
                "supported_versions": [element], "api_server_url": api, "web_server_url": web}
        return json_response(apply_fields(body, self.fields(request)))

    # -- OAuth client apps (admin only) ------------------------------------------------------
    def _is_admin(self, rec: AccessTokenRec) -> bool:
        user = self.st.users.get(rec.family.user_id)
        return bool(user and user.is_admin)

    def _client_json(self, c: ClientApp) -> dict[str, Any]:
        users = [data.user_public(self.st.users[u]) for u, cid in sorted(self.st.approvals)
                 if cid == c.client_guid and u in self.st.users]
        tib = datetime.fromtimestamp(c.tokens_invalid_before or 0, UTC)
        return {"can": {"show": True, "index": True, "update": True, "destroy": True},
                "client_guid": c.client_guid, "redirect_uri": c.redirect_uris[0],
                "redirect_uris": list(c.redirect_uris), "display_name": c.display_name,
                "description": c.description, "enabled": c.enabled, "group_id": c.group_id,
                "tokens_invalid_before": tib.isoformat(timespec="milliseconds"),
                "activated_users": users}

    async def client_apps(self, request: Request, st: EmulatorState,
                          rec: AccessTokenRec) -> Response:
        if not self._is_admin(rec):
            return not_found()
        apps = [self._client_json(c) for c in st.clients.values()]
        return json_response(apply_fields(apps, self.fields(request)))

    async def client_app(self, request: Request, st: EmulatorState,
                         rec: AccessTokenRec) -> Response:
        if not self._is_admin(rec):
            return not_found()  # Looker hides what you may not see
        guid = request.path_params["client_guid"]
        client = st.clients.get(guid)
        method = request.method
        if method == "POST":
            if client is not None:
                return looker_error(409, "An OAuth client app with this client_guid exists")
            return await self._register(request, guid)
        if client is None:
            return not_found()
        if method == "GET":
            return json_response(apply_fields(self._client_json(client), self.fields(request)))
        if method == "PATCH":
            return await self._update(request, client)
        del st.clients[guid]  # DELETE
        st.invalidate_client_tokens(guid)
        st.approvals = {a for a in st.approvals if a[1] != guid}
        return Response(status_code=204)

    async def _client_body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return looker_error(400, "Request body is not valid JSON")
        if not isinstance(body, dict):
            return looker_error(400, "Request body must be a JSON object")
        errors = []
        for key in ("redirect_uri", "display_name", "description", "group_id"):
            if key in body and body[key] is not None and not isinstance(body[key], str):
                errors.append({"field": key, "code": "invalid", "message": "must be a string"})
        if "enabled" in body and not isinstance(body["enabled"], bool):
            errors.append({"field": "enabled", "code": "invalid", "message": "must be a boolean"})
        uris = body.get("redirect_uris")
        if uris is not None and (not isinstance(uris, list)
                                 or not all(isinstance(u, str) for u in uris)):
            errors.append({"field": "redirect_uris", "code": "invalid",
                           "message": "must be a list of strings"})
        for uri in [body.get("redirect_uri")] + (uris if isinstance(uris, list) else []):
            if isinstance(uri, str) and not re.match(r"https?://[^/\s]+", uri):
                errors.append({"field": "redirect_uri", "code": "invalid",
                               "message": "must be an absolute http(s) URL"})
        return validation_error(errors) if errors else body

    async def _register(self, request: Request, guid: str) -> Response:
        body = await self._client_body(request)
        if isinstance(body, Response):
            return body
        uris = list(body.get("redirect_uris") or [])
        if body.get("redirect_uri"):
            uris.insert(0, body["redirect_uri"])
        errors = []
        if not uris:
            errors.append({"field": "redirect_uri", "code": "missing",
                           "message": "This field is required."})
        if not body.get("display_name"):
            errors.append({"field": "display_name", "code": "missing",
                           "message": "This field is required."})
        if errors:
            return validation_error(errors)
        client = ClientApp(guid, list(dict.fromkeys(uris)), body["display_name"],
                           body.get("description") or "", body.get("enabled", True),
                           body.get("group_id"))
        self.st.clients[guid] = client
        return json_response(apply_fields(self._client_json(client), self.fields(request)))

    async def _update(self, request: Request, client: ClientApp) -> Response:
        body = await self._client_body(request)
        if isinstance(body, Response):
            return body
        uris = list(body.get("redirect_uris") or [])
        if body.get("redirect_uri"):
            uris.insert(0, body["redirect_uri"])
        if uris:
            client.redirect_uris = list(dict.fromkeys(uris))
        for key in ("display_name", "description", "group_id"):
            if key in body:
                setattr(client, key, body[key])
        if "enabled" in body:
            if client.enabled and not body["enabled"]:
                # Disabling invalidates every token and code of the app at once.
                self.st.invalidate_client_tokens(client.client_guid)
            client.enabled = body["enabled"]
        return json_response(apply_fields(self._client_json(client), self.fields(request)))

    async def invalidate_tokens(self, request: Request, st: EmulatorState,
                                rec: AccessTokenRec) -> Response:
        if not self._is_admin(rec):
            return not_found()
        guid = request.path_params["client_guid"]
        if guid not in st.clients:
            return not_found()
        st.invalidate_client_tokens(guid)
        return Response(status_code=204)

    async def app_user(self, request: Request, st: EmulatorState, rec: AccessTokenRec) -> Response:
        if not self._is_admin(rec):
            return not_found()
        guid, raw_uid = request.path_params["client_guid"], request.path_params["user_id"]
        if guid not in st.clients or not raw_uid.isdigit() or int(raw_uid) not in st.users:
            return not_found()
        uid = int(raw_uid)
        if request.method == "POST":
            st.approvals.add((uid, guid))
            return Response(status_code=204)
        st.approvals.discard((uid, guid))
        st.invalidate_client_tokens(guid, uid)
        return Response(status_code=204)


def validate_query(body: dict[str, Any]) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for key in ("model", "view"):
        val = body.get(key)
        if val is None or val == "":
            errors.append({"field": key, "code": "missing", "message": "This field is required."})
        elif not isinstance(val, str):
            errors.append({"field": key, "code": "invalid", "message": "must be a string"})
    fields = body.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            errors.append({"field": "fields", "code": "invalid",
                           "message": "must be a list of strings"})
        else:
            for f in fields:
                if not FIELD_RE.fullmatch(f):
                    errors.append({"field": "fields", "code": "invalid",
                                   "message": f"{f!r} is not a view.field name"})
    sorts = body.get("sorts")
    if sorts is not None and (not isinstance(sorts, list)
                              or not all(isinstance(s, str) for s in sorts)):
        errors.append({"field": "sorts", "code": "invalid", "message": "must be a list of strings"})
    filters = body.get("filters")
    if filters is not None and (not isinstance(filters, dict)
                                or not all(isinstance(v, str) for v in filters.values())):
        errors.append({"field": "filters", "code": "invalid",
                       "message": "must be an object of strings"})
    limit = body.get("limit")
    if limit is not None and not (isinstance(limit, int) and not isinstance(limit, bool)):
        if not (isinstance(limit, str) and re.fullmatch(r"-?\d+", limit)):
            errors.append({"field": "limit", "code": "invalid", "message": "must be an integer"})
    return errors


def _pattern(value: str) -> re.Pattern[str]:
    # Looker search: case-insensitive, "%" is a wildcard, otherwise an exact match.
    return re.compile(".*".join(re.escape(p) for p in value.split("%")), re.IGNORECASE)


def _search(request: Request, items: list[dict[str, Any]], keys: tuple[str, ...]) -> Response:
    qp = request.query_params
    ints: dict[str, int | None] = {}
    for key in ("limit", "offset", "page", "per_page"):
        raw = qp.get(key)
        if raw is None:
            ints[key] = None
            continue
        try:
            ints[key] = int(raw)
        except ValueError:
            return looker_error(400, f"{key} must be an integer")
        if ints[key] < 0:  # type: ignore[operator]
            return looker_error(400, f"{key} must not be negative")
    criteria = [(k, _pattern(qp[k])) for k in keys if qp.get(k) not in (None, "")]
    filter_or = qp.get("filter_or", "false").lower() == "true"

    def match(item: dict[str, Any]) -> bool:
        hits = (bool(p.fullmatch(str(item.get(k) or ""))) for k, p in criteria)
        return any(hits) if filter_or else all(hits)

    out = [i for i in items if match(i)] if criteria else list(items)
    for part in reversed([s.strip() for s in qp.get("sorts", "").split(",") if s.strip()]):
        name, _, direction = part.partition(" ")
        out.sort(key=lambda i: _sort_key(i.get(name)), reverse=direction.lower() == "desc")
    per_page, page = ints["per_page"], ints["page"]
    offset, limit = ints["offset"] or 0, ints["limit"]
    if per_page is not None and page is not None:
        offset, limit = per_page * max(page - 1, 0), per_page
    out = out[offset:] if limit is None else out[offset:offset + limit]
    spec = parse_fields(qp["fields"]) if qp.get("fields") else None
    return json_response(apply_fields(out, spec))


def _sort_key(v: Any) -> tuple[int, Any]:
    if v is None:
        return (0, "")
    if isinstance(v, str) and v.isdigit():
        return (1, int(v))
    return (2, str(v).lower()) if isinstance(v, str) else (1, v)
