"""Shared fixtures: a real PostgreSQL, the Looker emulator and the service over real HTTP.

The database is the embedded PostgreSQL by default; TEST_DATABASE_URL points the tests at
another server instead. Either way a fresh database is created for the run and dropped
afterwards, and every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx2
import pytest
import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from looker_emulator.config import EmulatorConfig
from looker_emulator.testing import running_emulator
from service import migrate
from service.app import create_app
from service.config import Settings
from service.db import async_url, create_engine
from service.http_protocol import BoundedHttpToolsProtocol

CLIENT_ID = "looker-bff-test"
TABLES = ("login_transactions", "looker_tokens", "sessions", "users")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _plain(url: str) -> str:
    return async_url(url).replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin_async(url: str, statement: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _admin(url: str, statement: str) -> None:
    """Run one statement from sync code, also when an event loop runs in this thread."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _admin_async(url, statement)).result()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A PostgreSQL server to create test databases on."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    from service.embedded import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="bff-pg-") as data_dir, \
            embedded_postgres(Path(data_dir)) as url:
        yield url


@pytest.fixture(scope="session")
def make_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Create fresh, empty databases on the test server; all dropped at the end."""
    created: list[str] = []

    def make() -> str:
        name = f"bff_test_{secrets.token_hex(4)}"
        _admin(server_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return _with_database(async_url(server_url), name)

    yield make
    for name in created:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    """The run's database, migrated to head."""
    url = make_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The test's own connection pool, for arranging and asserting."""
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
async def _empty_tables(request: pytest.FixtureRequest) -> None:
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    config = EmulatorConfig.default(CLIENT_ID, "http://127.0.0.1:1/auth/callback",
                                    auto_login_user="ada@example.com", auto_approve=True,
                                    big_look_bytes=50 * 1024 * 1024)
    with running_emulator(config) as running:
        yield running


@pytest.fixture(autouse=True)
def _reset_emulator(request: pytest.FixtureRequest) -> None:
    if "emulator" in request.fixturenames:
        emulator = request.getfixturevalue("emulator")
        emulator.control.clear_faults()
        emulator.control.reset_counters()


def register_redirect_uri(emulator: Any, uri: str) -> None:
    for client in emulator.state.clients.values():
        if client.client_guid == CLIENT_ID and uri not in client.redirect_uris:
            client.redirect_uris.append(uri)


TEST_KEY = Fernet.generate_key().decode()


def service_settings(emulator: Any, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        "looker_base_url": emulator.web_url,
        "looker_api_url": emulator.api_url,
        "looker_client_id": CLIENT_ID,
        "public_url": f"http://127.0.0.1:{port}",
        "session_secret": "test-session-secret-" + "x" * 32,
        "token_encryption_keys": [TEST_KEY],
        "refresher_enabled": False,
        "looker_timeout_seconds": 5,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningService:
    url: str
    settings: Settings
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def start_service(settings: Settings, port: int, *, serve_demo: bool = False) -> RunningService:
    """Run the service under uvicorn on a real port, in a thread with its own loop."""
    app = create_app(settings)
    if serve_demo:
        from service.demo import mount_demo

        mount_demo(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                            access_log=False, lifespan="on", http=BoundedHttpToolsProtocol)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"bff-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the service did not start")
        time.sleep(0.02)
    return RunningService(f"http://127.0.0.1:{port}", settings, app, server, thread)


@pytest.fixture(scope="session")
def make_bff(emulator: Any, database_url: str) -> Iterator[Callable[..., RunningService]]:
    """Start a service instance with settings overrides; stopped at the end of the run."""
    with ExitStack() as stack:
        def make(serve_demo: bool = False, **overrides: Any) -> RunningService:
            port = free_port()
            register_redirect_uri(emulator, f"http://127.0.0.1:{port}/auth/callback")
            settings = service_settings(emulator, port, **{"database_url": database_url,
                                                           **overrides})
            service = start_service(settings, port, serve_demo=serve_demo)
            stack.callback(service.stop)
            return service

        yield make


@pytest.fixture(scope="session")
def bff(make_bff: Callable[..., RunningService]) -> RunningService:
    return make_bff()


async def sign_in(client: httpx2.AsyncClient, return_to: str = "/") -> httpx2.Response:
    """A real login through the emulator (pre-signed-in user, pre-approved client)."""
    response = await client.get("/auth/login", params={"return_to": return_to})
    assert response.status_code == 302, response.text
    at_looker = await client.get(response.headers["location"])
    assert at_looker.status_code == 302, at_looker.text
    callback = await client.get(at_looker.headers["location"])
    assert callback.status_code == 302, callback.text
    return callback


@pytest.fixture
async def signed_in(bff: RunningService, engine: AsyncEngine) -> AsyncIterator[httpx2.AsyncClient]:
    """A browser-like client with a session cookie and the X-CSRF header."""
    async with httpx2.AsyncClient(base_url=bff.url, headers={"X-CSRF": "1"},
                                  timeout=30) as client:
        callback = await sign_in(client)
        assert "login_error" not in callback.headers["location"]
        yield client
