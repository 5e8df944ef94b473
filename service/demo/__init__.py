"""The demo SPA: static files (`static/`), served by `looker-bff dev` or on their own origin.

Two ways to serve it:

* `mount_demo(app)` mounts the page at `/` of the service itself (same origin, what
  `looker-bff dev` does). Routes registered before the mount keep winning, so call it last.
* `demo_app(bff_url)` is a separate app that serves the page from its own origin and points
  it at the BFF at `bff_url`, as a SPA hosted elsewhere would be (that origin must then be
  listed in the BFF's `SPA_ORIGINS`). `python -m service.demo` runs it.

Either way the static responses carry a strict Content-Security-Policy: scripts and styles
from this origin only, fetches to this origin and the BFF, no framing.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"


def content_security_policy(bff_origin: str | None = None) -> str:
    connect = "'self'" + (f" {bff_origin}" if bff_origin else "")
    return "; ".join((
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        f"connect-src {connect}",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ))


def _security_headers(bff_origin: str | None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(bff_origin),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # The page is tiny; always revalidate so a new version shows at once.
        "Cache-Control": "no-cache",
    }


class DemoStaticFiles(StaticFiles):
    """StaticFiles that adds the security headers to every answer."""

    def __init__(self, *, bff_origin: str | None = None) -> None:
        super().__init__(directory=STATIC_DIR, html=True)
        self._headers = _security_headers(bff_origin)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self._headers)
        return response


def mount_demo(app: FastAPI) -> None:
    """Serves the demo page at `/` of `app`, on the same origin as the API."""
    app.mount("/", DemoStaticFiles(), name="demo")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def demo_app(bff_url: str) -> Starlette:
    """The demo page on its own origin, calling the BFF at `bff_url` cross-origin."""
    bff_origin = _origin(bff_url)
    config_js = f"window.LOOKER_BFF_URL = {json.dumps(bff_origin)};\n"
    headers = _security_headers(bff_origin)

    async def config(_: Request) -> Response:
        return Response(config_js, media_type="text/javascript", headers=headers)

    return Starlette(routes=[
        Route("/config.js", config),
        Mount("/", DemoStaticFiles(bff_origin=bff_origin), name="demo"),
    ])
