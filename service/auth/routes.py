"""`/auth/login`, `/auth/callback`, `/auth/session`, `/auth/logout` (CONTRACT.md)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx2
from authlib.integrations.base_client import OAuthError
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import RedirectResponse, Response

from service.auth import users
from service.auth.guard import require_same_site_call
from service.auth.return_to import safe_return_to
from service.db import unit_of_work
from service.deps import OptionalSession, RuntimeDep, SignedIn
from service.errors import is_database_unavailable
from service.models import TokenState
from service.tokens import repository as token_repo
from service.tokens.grant import Granted, parse_token_response

router = APIRouter(prefix="/auth", tags=["auth"])
log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class LoginFailed(Exception):
    """A login that cannot complete; `code` goes to the SPA as `?login_error=`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


def _with_login_error(return_to: str, code: str) -> str:
    parts = urlsplit(return_to)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"login_error": code})))


@router.get(
    "/login",
    summary="Start signing in with Looker",
    description="Redirects (302) to Looker's `/auth` with a fresh `state` and a PKCE S256 "
                "challenge. `return_to` is a path on this service or a URL on one of "
                "`SPA_ORIGINS`; anything else becomes `/`. Several tabs may sign in at once.",
    status_code=302,
    response_class=Response,
    responses={302: {"description": "to Looker's sign-in page",
                     "headers": {"Location": {"schema": {"type": "string"}}}}},
)
async def login(request: Request, runtime: RuntimeDep,
                return_to: str | None = Query(None, examples=["/dashboards/7"])) -> Response:
    target = safe_return_to(return_to, runtime.settings)
    redirect_uri = runtime.settings.redirect_uri
    oauth = runtime.oauth
    authorization = await oauth.create_authorization_url(redirect_uri)
    data = {k: v for k, v in authorization.items() if k != "url"}
    try:
        await oauth.save_authorize_data(request, redirect_uri=redirect_uri, return_to=target,
                                        **data)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        # a browser navigation: answer with a page the SPA understands, not a JSON body
        return _redirect(_with_login_error(target, "service_unavailable"))
    return _redirect(authorization["url"])


@router.get(
    "/callback",
    summary="Looker redirects here after sign-in",
    description="Verifies `state` (single use, bound to this browser) and PKCE, exchanges the "
                "code, stores the tokens encrypted, sets the session cookie and redirects to "
                "`return_to`. On any failure nothing is stored and the redirect carries "
                "`?login_error=` one of `access_denied`, `invalid_state`, `exchange_failed`, "
                "`looker_unavailable`, `service_unavailable`.",
    status_code=302,
    response_class=Response,
    responses={302: {"description": "back to the SPA",
                     "headers": {"Location": {"schema": {"type": "string"}}}}},
)
async def callback(request: Request, runtime: RuntimeDep, state: str | None = None,
                   code: str | None = None, error: str | None = None) -> Response:
    try:
        return await _complete_login(request, runtime, state, code, error)
    except Exception as exc:
        if not is_database_unavailable(exc):
            raise
        log.warning("login failed: database unavailable")
        return _redirect(_with_login_error("/", "service_unavailable"))


async def _complete_login(request: Request, runtime: Any, state: str | None, code: str | None,
                          error: str | None) -> Response:
    transaction = await runtime.oauth.framework.get_state_data(request.session, state or "")
    if transaction is None:
        return _redirect(_with_login_error("/", "invalid_state"))
    return_to = str(transaction.get("return_to") or "/")
    try:
        if error:
            raise LoginFailed("access_denied" if error == "access_denied" else "exchange_failed")
        if not code:
            raise LoginFailed("exchange_failed")
        granted = await _exchange(runtime, code, transaction)
        looker_user = await _looker_user(runtime.oauth_http, runtime.settings.looker_api_url,
                                         granted.access_token)
    except LoginFailed as failure:
        log.info("login failed", extra={"login_error": failure.code})
        return _redirect(_with_login_error(return_to, failure.code))

    async with unit_of_work(runtime.db) as db:
        user_id = await users.upsert_from_looker(db, looker_user)
        await runtime.tokens.store_signed_in(db, user_id, granted)
        cookie, expires_at = runtime.sessions.create_in(db, user_id)
    response = _redirect(return_to)
    _set_session_cookie(response, runtime, cookie, expires_at)
    log.info("login succeeded", extra={"user_id": user_id})
    return response


async def _exchange(runtime: Any, code: str, transaction: dict[str, Any]) -> Granted:
    try:
        token = await runtime.oauth.fetch_access_token(
            code=code,
            code_verifier=transaction.get("code_verifier"),
            redirect_uri=transaction.get("redirect_uri"),
        )
    except (httpx2.TimeoutException, httpx2.TransportError):
        raise LoginFailed("looker_unavailable") from None
    except OAuthError:
        raise LoginFailed("exchange_failed") from None
    except Exception as exc:  # Authlib on a non-JSON answer, a 5xx, ...
        log.warning("token exchange failed: %s", type(exc).__name__)
        raise LoginFailed("exchange_failed") from None
    # Authlib hands back any JSON object as a "token": Looker's {"message": ...} included.
    outcome = parse_token_response(200, dict(token) if isinstance(token, dict) else None)
    if not isinstance(outcome, Granted):
        raise LoginFailed("exchange_failed")
    return outcome


async def _looker_user(http: httpx2.AsyncClient, api_url: str,
                       access_token: str) -> dict[str, Any]:
    try:
        response = await http.get(f"{api_url}/api/4.0/user",
                                  headers={"Authorization": f"Bearer {access_token}"})
    except (httpx2.TimeoutException, httpx2.TransportError):
        raise LoginFailed("looker_unavailable") from None
    if response.status_code >= 500:
        raise LoginFailed("looker_unavailable")
    try:
        body = response.json() if response.status_code == 200 else None
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("id") in (None, ""):
        raise LoginFailed("exchange_failed")
    return body


def _set_session_cookie(response: Response, runtime: Any, value: str,
                        expires_at: datetime) -> None:
    settings = runtime.settings
    response.set_cookie(
        settings.session_cookie_name, value, max_age=settings.session_ttl_seconds,
        expires=expires_at, path="/", secure=bool(settings.cookie_secure), httponly=True,
        samesite="lax",
    )


class SessionUser(BaseModel):
    id: str = Field(description="Looker user id", examples=["1"])
    display_name: str | None = Field(None, examples=["Ada Lovelace"])
    email: str | None = Field(None, examples=["ada@example.com"])


class SessionInfo(BaseModel):
    expires_at: datetime = Field(description="absolute end of this session")
    idle_expires_at: datetime = Field(description="end of this session if left unused")


class LookerAccess(BaseModel):
    state: str = Field(description="`active`, or `reauth_required` when Looker refused to "
                                   "renew the tokens: send the user to /auth/login",
                       examples=["active"])
    reason: str | None = Field(None, description="why Looker access ended, when it did")


class SessionView(BaseModel):
    user: SessionUser
    session: SessionInfo
    looker: LookerAccess


@router.get(
    "/session",
    summary="Who is signed in",
    description="The SPA's first call on page load: 200 with the user and session, or 401 "
                "`unauthenticated` (show a sign-in link). `looker.state` is `reauth_required` "
                "when Looker refused to renew the user's tokens.",
    response_model=SessionView,
    responses={
        200: {"content": {"application/json": {"example": {
            "user": {"id": "1", "display_name": "Ada Lovelace", "email": "ada@example.com"},
            "session": {"expires_at": "2026-12-03T18:00:00Z",
                        "idle_expires_at": "2026-12-03T11:00:00Z"},
            "looker": {"state": "active", "reason": None}}}}},
        401: {"description": "not signed in (`unauthenticated`)",
              "content": {"application/problem+json": {}}}},
)
async def session(current: SignedIn, runtime: RuntimeDep, response: Response) -> SessionView:
    response.headers.update(NO_STORE)
    async with unit_of_work(runtime.db) as db:
        row = await token_repo.load(db, current.user_id)
    access = (LookerAccess(state=row.state, reason=row.state_reason) if row is not None
              else LookerAccess(state=TokenState.REAUTH_REQUIRED.value, reason="no_tokens"))
    return SessionView(
        user=SessionUser(id=current.looker_user_id, display_name=current.display_name,
                         email=current.email),
        session=SessionInfo(expires_at=current.expires_at,
                            idle_expires_at=current.idle_expires_at),
        looker=access,
    )


@router.post(
    "/logout",
    summary="Sign out everywhere",
    description="Needs `X-CSRF: 1`. Revokes the user's tokens at Looker (`DELETE "
                "/api/logout`), deletes them, ends every session of the user (their Looker "
                "tokens are shared by all their browsers) and clears the cookie. Works when "
                "Looker is down: the local sign-out still happens.",
    status_code=204,
    response_class=Response,
    responses={403: {"description": "`csrf_required` or `origin_forbidden`"}},
)
async def logout(request: Request, runtime: RuntimeDep, current: OptionalSession) -> Response:
    require_same_site_call(request, runtime.settings)
    if current is not None:
        await runtime.tokens.revoke_and_delete(current.user_id)
        await runtime.sessions.end_all_for_user(current.user_id)
        log.info("logout", extra={"user_id": current.user_id})
    response = Response(status_code=204, headers=NO_STORE)
    response.delete_cookie(runtime.settings.session_cookie_name, path="/",
                           secure=bool(runtime.settings.cookie_secure), httponly=True,
                           samesite="lax")
    return response
