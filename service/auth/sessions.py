"""Server-side sessions behind an opaque cookie.

The cookie holds 256 random bits; the database holds only their SHA-256. A resolved
session is cached in this process for `CACHE_TTL_SECONDS` (default 600 s), so a warm
session costs no database round trip. Ending a session anywhere reaches every replica's
cache within milliseconds through LISTEN/NOTIFY (`service/invalidation.py`); only while
that channel is down does a replica fall back to trusting its cache for 5 s.

Concurrent requests that miss the cache for one cookie share one database load.
`last_seen_at` (for the idle timeout) is kept in memory and written for all sessions at
once every 30 s, off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from service.background import background
from service.config import Settings
from service.crypto import hash_id, new_opaque_id
from service.db import SessionMaker, unit_of_work
from service.invalidation import publish
from service.models import Session, User
from service.singleflight import SingleFlight

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(seconds=60)  # how fresh last_seen_at is kept
FLUSH_EVERY_SECONDS = 30.0
UNHEARD_TTL_SECONDS = 5.0  # cache trust while invalidations cannot be heard
_MAX_CACHED = 100_000
_WRITE_ACTIVITY = text(
    "UPDATE sessions AS s SET last_seen_at = v.seen "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:seen AS timestamptz[])) AS v(id, seen) "
    "WHERE s.id = v.id AND s.last_seen_at < v.seen")


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
        self._loading: SingleFlight[bytes, CurrentSession | None] = SingleFlight()
        self._seen: dict[int, datetime] = {}  # session id -> last activity, not yet written
        self.invalidations_heard = False  # set by the runtime while its listener is connected

    # -- sign-in ----------------------------------------------------------------------------

    def create_in(self, db: AsyncSession, user_id: int) -> tuple[str, datetime]:
        """Add a new session for a user to `db`'s transaction.

        Returns the cookie value (shown to nobody but the browser) and its expiry.
        """
        cookie = new_opaque_id()
        expires_at = now() + timedelta(seconds=self._settings.session_ttl_seconds)
        db.add(Session(id_hash=hash_id(cookie), user_id=user_id, expires_at=expires_at))
        return cookie, expires_at

    # -- every request ----------------------------------------------------------------------

    async def resolve(self, cookie: str) -> CurrentSession | None:
        """The live session a cookie names, or None (unknown, expired, idle, revoked)."""
        if len(cookie) > 128:  # a 256-bit id is 43 characters; refuse junk cheaply
            return None
        key = hash_id(cookie)
        moment = now()
        cached = self._cache.get(key)
        if cached is not None and cached.cached_until > time.monotonic():
            if moment >= cached.session.expires_at:
                self._cache.pop(key, None)
                return None
            # idle by this replica's view: the database may know of activity elsewhere
            if moment - cached.last_seen_at < self._idle:
                if moment - cached.last_seen_at >= TOUCH_EVERY:
                    self._touch(cached, moment)
                return cached.session
        return await self._loading.run(key, lambda: self._load_and_cache(key))

    def _touch(self, cached: _Cached, moment: datetime) -> None:
        cached.last_seen_at = moment
        cached.session = replace(cached.session, idle_expires_at=min(
            cached.session.expires_at, moment + self._idle))
        self._seen[cached.session.session_id] = moment

    async def _load_and_cache(self, key: bytes) -> CurrentSession | None:
        moment = now()
        async with unit_of_work(self._db) as db:
            row = (await db.execute(
                select(Session.id, Session.user_id, Session.expires_at, Session.last_seen_at,
                       User.looker_user_id, User.display_name, User.email)
                .join(User, User.id == Session.user_id)
                .where(Session.id_hash == key, Session.revoked_at.is_(None))
            )).one_or_none()
        last_seen = max(row.last_seen_at, self._seen.get(row.id, row.last_seen_at)) \
            if row is not None else None
        if row is None or last_seen is None or moment >= row.expires_at \
                or moment - last_seen >= self._idle:
            self._cache.pop(key, None)
            return None
        session = CurrentSession(
            session_id=row.id, user_id=row.user_id, looker_user_id=row.looker_user_id,
            display_name=row.display_name, email=row.email, expires_at=row.expires_at,
            idle_expires_at=min(row.expires_at, last_seen + self._idle),
        )
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        ttl = self._settings.cache_ttl_seconds if self.invalidations_heard \
            else min(self._settings.cache_ttl_seconds, UNHEARD_TTL_SECONDS)
        cached = _Cached(session, time.monotonic() + ttl, last_seen)
        self._cache[key] = cached
        if moment - last_seen >= TOUCH_EVERY:
            self._touch(cached, moment)
        return cached.session

    # -- last_seen_at, written in bulk --------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with background(self._flush_forever(), "session-activity"):
            yield
        await self.flush_activity()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECONDS)
            await self.flush_activity()

    async def flush_activity(self) -> None:
        """Write the sessions' recorded activity: one statement for all of them."""
        if not self._seen:
            return
        seen, self._seen = self._seen, {}
        try:
            async with unit_of_work(self._db) as db:
                await db.execute(_WRITE_ACTIVITY, {"ids": list(seen),
                                                   "seen": list(seen.values())})
        except Exception as exc:  # the database may be restarting: keep it for next time
            log.warning("could not record session activity: %s", type(exc).__name__)
            for session_id, moment in seen.items():
                self._seen.setdefault(session_id, moment)

    # -- ending sessions ----------------------------------------------------------------------

    async def end_all_for_user(self, user_id: int) -> None:
        """Revoke every session of a user (their Looker tokens are gone), on all replicas."""
        self.forget_user(user_id)
        async with unit_of_work(self._db) as db:
            await db.execute(update(Session).where(Session.user_id == user_id,
                                                   Session.revoked_at.is_(None))
                             .values(revoked_at=now()))
            await publish(db, f"u:{user_id}")

    def forget_user(self, user_id: int) -> None:
        for key, cached in list(self._cache.items()):
            if cached.session.user_id == user_id:
                self._cache.pop(key, None)

    def forget_all(self) -> None:
        self._cache.clear()
