"""`Annotated` dependency aliases, so routes read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.auth.guard import require_same_site_call
from service.auth.sessions import CurrentSession
from service.errors import Unauthenticated
from service.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain `def` dependency in a thread pool, a hop per request
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_optional_session(request: Request, runtime: RuntimeDep) -> CurrentSession | None:
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    if not cookie:
        return None
    return await runtime.sessions.resolve(cookie)


OptionalSession = Annotated[CurrentSession | None, Depends(get_optional_session)]


async def get_session(session: OptionalSession) -> CurrentSession:
    if session is None:
        raise Unauthenticated("Sign in at /auth/login")
    return session


SignedIn = Annotated[CurrentSession, Depends(get_session)]


async def get_api_session(request: Request) -> CurrentSession:
    """Every /api/* call: Origin allowed, `X-CSRF: 1` present, then a valid session.

    One flat dependency (no sub-dependencies): FastAPI's solver costs per node, and this
    runs on every proxied call.
    """
    runtime: Runtime = request.app.state.runtime
    require_same_site_call(request, runtime.settings)
    cookie = request.cookies.get(runtime.settings.session_cookie_name)
    session = await runtime.sessions.resolve(cookie) if cookie else None
    if session is None:
        raise Unauthenticated("Sign in at /auth/login")
    return session


ApiSession = Annotated[CurrentSession, Depends(get_api_session)]
