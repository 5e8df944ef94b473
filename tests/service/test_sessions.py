"""Session caching across replicas, and activity written in bulk."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.auth.sessions import SessionStore
from service.db import session_maker
from tests.conftest import sign_in


async def wait_listening(*services: Any) -> None:
    deadline = time.monotonic() + 10
    while not all(s.runtime.sessions.invalidations_heard for s in services):
        assert time.monotonic() < deadline, "invalidation listeners did not connect"
        await asyncio.sleep(0.05)


async def test_logout_on_one_replica_ends_the_session_cached_on_another(make_bff: Any) -> None:
    a, b = make_bff(), make_bff()  # default CACHE_TTL_SECONDS: a minute of caching
    await wait_listening(a, b)
    async with httpx2.AsyncClient(base_url=a.url, headers={"X-CSRF": "1"}) as on_a, \
            httpx2.AsyncClient(base_url=b.url) as on_b:
        await sign_in(on_a)
        cookie = {"Cookie": f"session={on_a.cookies['session']}"}
        assert (await on_b.get("/auth/session", headers=cookie)).status_code == 200  # cached
        assert (await on_a.post("/auth/logout")).status_code == 204
        started = time.monotonic()
        while (await on_b.get("/auth/session", headers=cookie)).status_code != 401:
            assert time.monotonic() - started < 3, "replica b kept the ended session"
            await asyncio.sleep(0.02)


async def _one_session(engine: AsyncEngine, last_seen: datetime) -> tuple[int, str]:
    from service.crypto import hash_id, new_opaque_id

    cookie = new_opaque_id()
    async with engine.begin() as db:
        await db.execute(text("INSERT INTO users (id, looker_user_id) VALUES (700, 's')"))
        session_id = (await db.execute(text(
            "INSERT INTO sessions (id_hash, user_id, expires_at, last_seen_at) "
            "VALUES (:h, 700, now() + interval '8 hours', :seen) RETURNING id"),
            {"h": hash_id(cookie), "seen": last_seen})).scalar_one()
    return session_id, cookie


async def test_activity_is_written_in_bulk_and_keeps_a_session_from_idling(
        bff: Any, engine: AsyncEngine) -> None:
    store = SessionStore(bff.settings, session_maker(engine))
    long_ago = datetime.now(UTC) - timedelta(seconds=bff.settings.session_idle_seconds + 5)
    session_id, cookie = await _one_session(engine, long_ago)
    assert await store.resolve(cookie) is None  # idle by the database's record

    recent = datetime.now(UTC) - timedelta(seconds=5)
    store._seen[session_id] = recent  # activity this replica saw but has not written yet
    assert await store.resolve(cookie) is not None
    await store.flush_activity()
    async with engine.connect() as db:
        written = (await db.execute(text("SELECT last_seen_at FROM sessions WHERE id = :i"),
                                    {"i": session_id})).scalar_one()
    assert written == recent
    assert store._seen == {}


async def test_concurrent_misses_for_one_cookie_share_one_load(
        bff: Any, engine: AsyncEngine) -> None:
    store = SessionStore(bff.settings, session_maker(engine))
    _, cookie = await _one_session(engine, datetime.now(UTC))
    loads = 0
    original = store._load_and_cache

    async def counting(key: bytes) -> Any:
        nonlocal loads
        loads += 1
        return await original(key)

    store._load_and_cache = counting  # type: ignore[method-assign]
    results = await asyncio.gather(*(store.resolve(cookie) for _ in range(20)))
    assert all(r is not None for r in results)
    assert loads == 1
