"""The short-lived, signed login-transaction cookie, only on `/auth/*`.

Authlib needs `request.session`; Starlette's SessionMiddleware provides it. It is scoped
to the auth routes (the API hot path never pays for it) and is a separate cookie from the
session cookie: it holds only a random browser-binding id, for 10 minutes.
"""

from __future__ import annotations

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from service.auth.transactions import LOGIN_TTL_SECONDS
from service.config import Settings


class LoginCookieMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        assert settings.session_secret
        self.with_session = SessionMiddleware(
            app,
            secret_key=settings.session_secret,
            session_cookie=settings.login_cookie_name,
            max_age=LOGIN_TTL_SECONDS,
            path="/",
            same_site="lax",
            https_only=bool(settings.cookie_secure),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/auth/"):
            await self.with_session(scope, receive, send)
        else:
            await self.app(scope, receive, send)
