"""Schema migrations, health, readiness, the error shape and the exported OpenAPI spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from service import migrate
from service.cli import openapi_json
from service.db import create_engine
from service.models import Base

ROOT = Path(__file__).resolve().parents[2]


def _tables_and_indexes(connection: Any) -> tuple[set[str], set[str]]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    indexes = {ix["name"] for t in tables for ix in inspector.get_indexes(t)}
    return tables, indexes


async def test_migrations_upgrade_to_the_models_and_downgrade_to_nothing(
        make_database: Callable[[], str]) -> None:
    engine = create_engine(make_database(), pool_size=1)
    try:
        await migrate.upgrade_async(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        async with engine.connect() as connection:
            tables, indexes = await connection.run_sync(_tables_and_indexes)
        assert tables == set(Base.metadata.tables)
        assert {"ix_looker_tokens_due", "ix_sessions_expires_at"} <= indexes
        await migrate.downgrade_async(engine, "base")
        async with engine.connect() as connection:
            tables, _ = await connection.run_sync(_tables_and_indexes)
        assert tables == set()
        await migrate.upgrade_async(engine)  # and back up again
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


def test_migration_files_are_date_stamped() -> None:
    names = [p.name for p in (ROOT / "migrations" / "versions").glob("*.py")]
    assert names and all(name[:8].isdigit() and name[8] == "_" for name in names)


async def test_healthz_and_readyz_answer_on_a_migrated_database(bff: Any) -> None:
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert health.headers["x-request-id"]


async def test_readyz_is_503_problem_when_the_schema_is_behind(
        make_bff: Any, make_database: Callable[[], str]) -> None:
    bff = make_bff(database_url=make_database())  # an empty, unmigrated database
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    body = ready.json()
    assert body["code"] == "service_unavailable" and body["status"] == 503
    assert set(body) >= {"type", "title", "status", "detail", "code"}


async def test_unexpected_errors_are_500_without_internals(
        make_bff: Any, make_database: Callable[[], str]) -> None:
    bff = make_bff(database_url=make_database())  # tables missing: every query fails
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        response = await client.get("/auth/session", headers={"Cookie": "session=" + "a" * 43})
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "internal_error"
    text = response.text.lower()
    for leak in ("select", "sessions", "traceback", "asyncpg", "sqlalchemy"):
        assert leak not in text


async def test_request_id_is_kept_when_sane_and_replaced_when_not(bff: Any) -> None:
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        replaced = await client.get("/healthz", headers={"X-Request-ID": "bad;id" * 40})
    assert kept.headers["x-request-id"] == "abc-123"
    assert replaced.headers["x-request-id"] != "bad id"


async def test_unknown_route_is_a_problem_not_found(bff: Any) -> None:
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        response = await client.get("/nope")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_exported_openapi_is_current() -> None:
    exported = (ROOT / "openapi" / "openapi.json").read_text()
    assert exported == openapi_json(), "run `looker-bff export-openapi` and commit the result"


async def test_metrics_expose_the_contract_series(bff: Any, engine: AsyncEngine) -> None:
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        await client.get("/healthz")
        response = await client.get("/metrics")
    assert response.status_code == 200
    for series in ("bff_http_requests_total", "bff_http_request_duration_seconds",
                   "bff_token_refreshes_total", "bff_tokens", "bff_upstream_requests_total",
                   "bff_tokens_due"):
        assert series in response.text
    assert 'route="/healthz"' in response.text


def _raw_request(url: str, head: bytes) -> bytes:
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_oversized_request_head_is_refused_before_it_is_parsed(bff: Any) -> None:
    # 70 KiB of one header, never finished: the server must answer without waiting
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (70 * 1024)
    answer = _raw_request(bff.url, huge)
    assert answer.startswith(b"HTTP/1.1 400")
    normal = _raw_request(bff.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ok: "
                          + b"a" * 8000 + b"\r\nConnection: close\r\n\r\n")
    assert normal.startswith(b"HTTP/1.1 200")


async def test_metric_labels_come_from_a_fixed_set(bff: Any) -> None:
    async with httpx2.AsyncClient(base_url=bff.url) as client:
        await client.request("PROPFIND", "/healthz")
        await client.get(f"/no/such/{'x' * 20}")
        text = (await client.get("/metrics")).text
    assert 'method="OTHER"' in text and "PROPFIND" not in text
    assert "x" * 20 not in text
