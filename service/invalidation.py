"""Cross-replica cache invalidation over PostgreSQL LISTEN/NOTIFY.

A replica that ends a session or a user's sign-in publishes a message in the same
transaction (`pg_notify` is delivered on commit, and only then); every replica, itself
included, listens on one dedicated connection and drops the matching cache entries within
milliseconds. While the listener is not connected (start-up, a database restart) a
replica cannot hear about ends elsewhere, so it trusts its caches for a few seconds only;
after every (re)connection it clears them, since messages may have been missed.

Messages: `u:<user id>`: every session and the tokens of that user are gone (sign-out).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from service.background import background
from service.db import async_url

log = logging.getLogger(__name__)

CHANNEL = "bff_invalidate"


async def publish(db: AsyncSession, message: str) -> None:
    """Announce an invalidation; delivered to every replica when `db` commits."""
    await db.execute(text("SELECT pg_notify(:channel, :message)"),
                     {"channel": CHANNEL, "message": message})


class InvalidationListener:
    def __init__(self, database_url: str, on_message: Callable[[str], None],
                 on_gap: Callable[[], None]) -> None:
        self._dsn = async_url(database_url).replace("postgresql+asyncpg://", "postgresql://", 1)
        self._on_message = on_message
        self._on_gap = on_gap
        self.connected = False

    def running(self) -> AbstractAsyncContextManager[None]:
        return background(self._listen_forever(), "cache-invalidation")

    def _deliver(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._on_message(payload)

    async def _listen_forever(self) -> None:
        delay = 0.5
        while True:
            try:
                connection = await asyncpg.connect(self._dsn, timeout=10)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("cache invalidation listener cannot connect: %s",
                            type(exc).__name__)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            try:
                await self._listen_on(connection)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError,
                    TimeoutError) as exc:
                log.warning("cache invalidation listener lost its connection: %s",
                            type(exc).__name__)
            finally:
                self.connected = False
                self._on_gap()
                with suppress(Exception):
                    await connection.close(timeout=2)

    async def _listen_on(self, connection: Any) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(CHANNEL, self._deliver)
        self.connected = True
        self._on_gap()  # messages sent while we were not listening are lost
        while not lost.is_set():
            # a query now and then notices a dead server the OS has not reported
            with suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), timeout=15)
            if not lost.is_set():
                await connection.fetchval("SELECT 1", timeout=5)
