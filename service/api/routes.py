"""Every `/api` route: the typed Looker calls and the allowlisted pass-through.

All of them need a signed-in session, `X-CSRF: 1` and an allowed Origin (`ApiSession`),
and all read request bodies within `PROXY_MAX_BODY_BYTES` (`BodyLimitRoute`).
"""

from __future__ import annotations

from fastapi import APIRouter

from service.api import proxy, typed
from service.api.bodylimit import BodyLimitRoute

router = APIRouter(prefix="/api", tags=["looker"], route_class=BodyLimitRoute)
router.include_router(typed.router)
router.include_router(proxy.router)
