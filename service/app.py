"""The application factory and its lifespan, which owns every long-lived resource."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service import __version__
from service.auth.login_cookie import LoginCookieMiddleware
from service.config import Settings
from service.errors import install_error_handlers
from service.metrics import Metrics
from service.middleware import RequestContextMiddleware
from service.runtime import open_runtime

DESCRIPTION = """\
A backend-for-frontend that lets a single-page app use Looker on behalf of its signed-in
users. The browser holds only an opaque, HttpOnly session cookie; Looker's access and
refresh tokens stay encrypted on the server.

* Sign in: navigate to `/auth/login?return_to=/somewhere`.
* Call `/api/*` with the cookie (`credentials: 'include'`) and the header `X-CSRF: 1`.
* On `401` with `code: reauth_required` or `unauthenticated`, send the user to `/auth/login`.

Every error is `application/problem+json` with a stable `code`.
"""


def create_app(settings: Settings) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            app.state.runtime = await stack.enter_async_context(open_runtime(settings, metrics))
            # Everything built so far lives as long as the process: keep it out of the
            # garbage collector's generations, which otherwise rescan it again and again.
            gc.collect()
            gc.freeze()
            yield

    app = FastAPI(
        title="looker-bff",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)

    from service.api.routes import router as api_router
    from service.auth.routes import router as auth_router
    from service.ops import router as ops_router

    app.include_router(ops_router)
    app.include_router(auth_router)
    app.include_router(api_router)

    # Added innermost first; CORS, outermost, answers preflights before anything else runs.
    app.add_middleware(LoginCookieMiddleware, settings=settings)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=sorted(settings.allowed_origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["X-CSRF", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID", "Retry-After", "Content-Disposition"],
        max_age=600,
    )
    return app
