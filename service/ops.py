"""Operational routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.responses import Response

from service import migrate
from service.errors import ServiceUnavailable

router = APIRouter(tags=["operations"])
METRICS_EXAMPLE = (
    '# TYPE bff_token_refreshes_total counter\n'
    'bff_token_refreshes_total{outcome="success",trigger="background"} 42.0\n'
    '# TYPE bff_tokens gauge\n'
    'bff_tokens{state="active"} 120.0\n'
)
log = logging.getLogger(__name__)


@router.get("/healthz", summary="Liveness: the process serves (no database touch)",
            description="Use as the liveness probe: it never touches the database, so a "
                        "database outage does not restart every replica.",
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its schema is at head",
    description="Use as the readiness probe: 503 `service_unavailable` (problem+json) while "
                "the database is down or `looker-bff migrate` has not run for this release.",
    responses={200: {"content": {"application/json": {"example": {"status": "ready"}}}},
               503: {"description": "database down or schema not at head"}},
)
async def readyz(request: Request) -> dict[str, str]:
    runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = await migrate.current_revision(runtime.engine)
    except Exception as exc:  # any database failure means "not ready"
        log.warning("readiness check failed: %s", type(exc).__name__)
        raise ServiceUnavailable("The database does not answer") from None
    head = migrate.head_revision()
    if current != head:
        raise ServiceUnavailable(f"Database schema is at {current}, expected {head}")
    return {"status": "ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            description="Prometheus text format: requests by route and status, latency, token "
                        "refreshes by outcome, tokens by state, due-token backlog, refresh lag "
                        "and upstream calls by status.",
            responses={200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}}})
async def metrics(request: Request) -> Response:
    runtime = request.app.state.runtime
    await runtime.tokens.update_state_gauge()
    return Response(generate_latest(request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)
