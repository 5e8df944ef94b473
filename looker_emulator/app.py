"""ASGI app factory: web host and/or API host routes, fault/counter middleware, control API."""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Literal

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from . import control, oauth, web
from .api import Api
from .config import EmulatorConfig
from .data import DOC_URL
from .responses import not_found
from .state import EmulatorState

Role = Literal["both", "web", "api"]
_JSON_FAMILIES = ("token", "api", "login", "logout")


def route_family(path: str) -> str | None:
    """Fault/counter family of a path; None for the control API."""
    if path.startswith("/api/"):
        if path == "/api/token":
            return "token"
        if path in ("/api/logout", "/api/4.0/logout"):
            return "logout"
        if path.startswith("/api/4.0/login"):
            return "login"
        return "api"
    if path.startswith("/_emulator"):
        return None
    return "auth"


def _api_segment(path: str) -> str:
    rest = path[9:] if path.startswith("/api/4.0/") else path[5:]
    return rest.split("/", 1)[0] or "root"


class EmulatorMiddleware:
    """Records headers and counters, then injects configured faults before routing.

    Pure ASGI (not BaseHTTPMiddleware) so streaming responses pass through untouched.
    """

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.st = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        family = route_family(path)
        if family is None:
            await self.app(scope, receive, send)
            return
        st = self.st
        st.last_headers[family] = scope["headers"]
        if family == "api":
            st.counters["api_calls"] += 1
            st.count_in("api_calls_by_family", _api_segment(path))
        d = st.faults.decide(family)
        if d.latency_s:
            await asyncio.sleep(d.latency_s)
        if d.down or d.status is not None:
            st.count("faults_injected")
            await _fault_response(send, family, 503 if d.down else d.status or 503,
                                  d.retry_after, close=d.down)
            return
        await self.app(scope, receive, send)


async def _fault_response(send: Send, family: str, status: int, retry_after: int | None,
                          close: bool) -> None:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if family in _JSON_FAMILIES:
        payload: dict[str, str] = {"message": phrase, "documentation_url": DOC_URL}
        if family == "token":
            payload["error"] = "temporarily_unavailable" if status >= 500 else "slow_down"
            payload["error_description"] = phrase
        body, ctype = orjson.dumps(payload), b"application/json"
    else:
        body, ctype = f"<h1>{status} {phrase}</h1>".encode(), b"text/html; charset=utf-8"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if request.url.path.startswith("/api/"):
        # Looker answers unknown paths and wrong methods alike with its JSON 404.
        return not_found() if status in (404, 405) else Response(status_code=status)
    if status == 405:
        return web.page("Method not allowed", "<p>Method not allowed.</p>", 405)
    return web.page("Not found", "<p>Not found.</p>", 404)


def _web_routes() -> list[BaseRoute]:
    return [
        Route("/", web.home, methods=["GET"]),
        Route("/auth", web.authorize, methods=["GET"]),
        Route("/auth/decision", web.decision, methods=["POST"]),
        Route("/login", web.login_page, methods=["GET"]),
        Route("/login", web.login_submit, methods=["POST"]),
        Route("/logout", web.web_logout, methods=["POST"]),
    ]


def _api_routes(api: Api) -> list[BaseRoute]:
    a = api.authed
    v = "/api/4.0"
    return [
        Route("/api/token", oauth.token, methods=["POST"]),
        Route("/api/logout", oauth.logout, methods=["DELETE"]),
        Route(f"{v}/logout", oauth.logout, methods=["DELETE"]),
        Route(f"{v}/login", oauth.api3_login, methods=["POST"]),
        Route("/api/versions", api.versions, methods=["GET"]),
        Route(f"{v}/versions", api.versions, methods=["GET"]),
        Route(f"{v}/user", a(api.me), methods=["GET"]),
        Route(f"{v}/users/{{user_id}}", a(api.user), methods=["GET"]),
        Route(f"{v}/looks", a(api.all_looks), methods=["GET"]),
        Route(f"{v}/looks/search", a(api.search_looks), methods=["GET"]),
        Route(f"{v}/looks/{{look_id}}", a(api.look), methods=["GET"]),
        Route(f"{v}/looks/{{look_id}}/run/{{result_format}}", a(api.run_look), methods=["GET"]),
        Route(f"{v}/dashboards", a(api.all_dashboards), methods=["GET"]),
        Route(f"{v}/dashboards/search", a(api.search_dashboards), methods=["GET"]),
        Route(f"{v}/dashboards/{{dashboard_id}}", a(api.dashboard), methods=["GET"]),
        Route(f"{v}/queries", a(api.create_query), methods=["POST"]),
        Route(f"{v}/queries/run/{{result_format}}", a(api.run_inline), methods=["POST"]),
        Route(f"{v}/queries/{{query_id}}", a(api.get_query), methods=["GET"]),
        Route(f"{v}/queries/{{query_id}}/run/{{result_format}}", a(api.run_query),
              methods=["GET"]),
        Route(f"{v}/oauth_client_apps", a(api.client_apps), methods=["GET"]),
        Route(f"{v}/oauth_client_apps/{{client_guid}}", a(api.client_app),
              methods=["GET", "POST", "PATCH", "DELETE"]),
        Route(f"{v}/oauth_client_apps/{{client_guid}}/tokens", a(api.invalidate_tokens),
              methods=["DELETE"]),
        Route(f"{v}/oauth_client_apps/{{client_guid}}/users/{{user_id}}", a(api.app_user),
              methods=["POST", "DELETE"]),
    ]


def create_app(config: EmulatorConfig | None = None, role: Role = "both",
               state: EmulatorState | None = None) -> Starlette:
    """Build the emulator app. Pass the same `state` to a "web" and an "api" app to emulate
    a two-port instance (the runners in testing.py and cli.py do that)."""
    if role not in ("both", "web", "api"):
        raise ValueError(f"role must be both, web or api, not {role!r}")
    if state is None:
        state = EmulatorState.from_config(config or EmulatorConfig.default())
    routes: list[BaseRoute] = []
    if role in ("both", "web"):
        routes += _web_routes()
    if role in ("both", "api"):
        routes += _api_routes(Api(state))
    routes += control.ROUTES
    app = Starlette(
        routes=routes,
        middleware=[Middleware(EmulatorMiddleware, state=state)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.emulator = state
    return app


class PortDispatch:
    """Two-port instance on one server: requests arriving on `api_port` reach the API app,
    every other port the web app, so web routes 404 on the API port and vice versa."""

    def __init__(self, web_app: Starlette, api_app: Starlette, api_port: int) -> None:
        self.web_app, self.api_app, self.api_port = web_app, api_app, api_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.api_app if server and server[1] == self.api_port else self.web_app
        await app(scope, receive, send)


def create_two_port_app(config: EmulatorConfig | None, api_port: int,
                        state: EmulatorState | None = None) -> tuple[PortDispatch, EmulatorState]:
    if state is None:
        state = EmulatorState.from_config(config or EmulatorConfig.default())
    web_app = create_app(role="web", state=state)
    api_app = create_app(role="api", state=state)
    return PortDispatch(web_app, api_app, api_port), state
