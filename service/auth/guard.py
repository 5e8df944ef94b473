"""CSRF and Origin checks for every state-changing or data-reading SPA call.

The session cookie is SameSite=Lax, and a cross-site page cannot set a custom header
without a CORS preflight, which only SPA_ORIGINS pass; so requiring `X-CSRF: 1` plus an
allowed `Origin` (when the browser sends one) stops cross-site request forgery.
"""

from __future__ import annotations

from starlette.requests import Request

from service.config import Settings
from service.errors import CsrfRequired, OriginForbidden


def require_same_site_call(request: Request, settings: Settings) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in settings.allowed_origins:
        raise OriginForbidden(f"Origin {origin!r} is not allowed")
    if request.headers.get("x-csrf") != "1":
        raise CsrfRequired("Send the header X-CSRF: 1 with every call")
