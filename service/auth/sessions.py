"""Server-side sessions behind an opaque cookie.

The cookie holds 256 random bits; the database holds only their SHA-256. A resolved
session is cached in this process for `CACHE_TTL_SECONDS` (default 5 s), so a warm
session costs no database round-trip; that is also the bound on how long another replica
may keep honouring a session ended elsewhere. `last_seen_at` (the idle timeout) is written
at most once a minute per session, off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.crypto import hash_id, new_opaque_id
from service.db import SessionMaker, unit_of_work
from service.models import Session, User

log = logging.getLogger(__name__)

_TOUCH_EVERY = timedelta(seconds=60)
_MAX_CACHED = 100_000


@dataclass(frozen=True, slots=True)
class CurrentSession:
    session_id: int
    user_id: int
    looker_user_id: str
    display_name: str | None
    email: str | None
    expires_at: datetime
    idle_expires_at: datetime


@dataclass(slots=True)
class _Cached:
    session: CurrentSession
    cached_until: float
    last_seen_at: datetime


def now() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    def __init__(self, settings: Settings, db: SessionMaker) -> None:
        self._settings = settings
        self._db = db
        self._idle = timedelta(seconds=settings.session_idle_seconds)
        self._cache: dict[bytes, _Cached] = {}
        self._touching: set[asyncio.Task[None]] = set()

    def create_in(self, db: AsyncSession, user_id: int) -> tuple[str, datetime]:
        """Add a new session for a user to `db`'s transaction.

        Returns the cookie value (shown to nobody but the browser) and its expiry.
        """
        cookie = new_opaque_id()
        expires_at = now() + timedelta(seconds=self._settings.session_ttl_seconds)
        db.add(Session(id_hash=hash_id(cookie), user_id=user_id, expires_at=expires_at))
        return cookie, expires_at

    async def resolve(self, cookie: str) -> CurrentSession | None:
        """The live session a cookie names, or None (unknown, expired, idle, revoked)."""
        if len(cookie) > 128:  # a 256-bit id is 43 characters; refuse junk cheaply
            return None
        key = hash_id(cookie)
        moment = now()
        cached = self._cache.get(key)
        if cached is not None and cached.cached_until > time.monotonic():
            if moment >= cached.session.expires_at or moment >= cached.session.idle_expires_at:
                self._cache.pop(key, None)
                return None
            if moment - cached.last_seen_at >= _TOUCH_EVERY:
                cached.last_seen_at = moment
                self._touch_later(cached.session.session_id, moment)
            return cached.session
        session = await self._load(key, moment)
        if session is None:
            self._cache.pop(key, None)
            return None
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[key] = _Cached(
            session, time.monotonic() + self._settings.cache_ttl_seconds, moment)
        return session

    async def _load(self, key: bytes, moment: datetime) -> CurrentSession | None:
        async with unit_of_work(self._db) as db:
            row = (await db.execute(
                select(Session.id, Session.user_id, Session.expires_at, Session.last_seen_at,
                       User.looker_user_id, User.display_name, User.email)
                .join(User, User.id == Session.user_id)
                .where(Session.id_hash == key, Session.revoked_at.is_(None))
            )).one_or_none()
            if row is None or moment >= row.expires_at or moment - row.last_seen_at >= self._idle:
                return None
            if moment - row.last_seen_at >= _TOUCH_EVERY:
                await db.execute(update(Session).where(Session.id == row.id)
                                 .values(last_seen_at=moment))
                last_seen = moment
            else:
                last_seen = row.last_seen_at
        return CurrentSession(
            session_id=row.id, user_id=row.user_id, looker_user_id=row.looker_user_id,
            display_name=row.display_name, email=row.email, expires_at=row.expires_at,
            idle_expires_at=min(row.expires_at, last_seen + self._idle),
        )

    def _touch_later(self, session_id: int, moment: datetime) -> None:
        task = asyncio.get_running_loop().create_task(self._touch(session_id, moment))
        self._touching.add(task)
        task.add_done_callback(self._touching.discard)

    async def _touch(self, session_id: int, moment: datetime) -> None:
        try:
            async with unit_of_work(self._db) as db:
                await db.execute(update(Session).where(Session.id == session_id)
                                 .values(last_seen_at=moment))
        except Exception as exc:  # best effort: the next request tries again
            log.warning("could not record session activity: %s", type(exc).__name__)

    async def end(self, cookie: str) -> int | None:
        """Revoke the session a cookie names; return its user id."""
        key = hash_id(cookie)
        self._cache.pop(key, None)
        async with unit_of_work(self._db) as db:
            return (await db.execute(
                update(Session).where(Session.id_hash == key, Session.revoked_at.is_(None))
                .values(revoked_at=now()).returning(Session.user_id)
            )).scalar_one_or_none()

    async def end_all_for_user(self, user_id: int) -> None:
        """Revoke every session of a user (their Looker tokens are gone)."""
        for key, cached in list(self._cache.items()):
            if cached.session.user_id == user_id:
                self._cache.pop(key, None)
        async with unit_of_work(self._db) as db:
            await db.execute(update(Session).where(Session.user_id == user_id,
                                                   Session.revoked_at.is_(None))
                             .values(revoked_at=now()))
