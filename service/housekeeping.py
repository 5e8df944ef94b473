"""Periodic clean-up of rows nobody can use any more.

Ended sessions (expired or revoked) are kept for a day, for the audit trail, then
deleted; abandoned login transactions go once expired. Every replica runs this; the
deletes are idempotent, so they need no coordination.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_

from service.background import background
from service.db import SessionMaker, unit_of_work
from service.models import LoginTransaction, Session

log = logging.getLogger(__name__)

EVERY_SECONDS = 600
KEEP_ENDED = timedelta(days=1)


async def purge_once(db_maker: SessionMaker) -> tuple[int, int]:
    """Delete long-ended sessions and expired login transactions; return the counts."""
    now = datetime.now(UTC)
    async with unit_of_work(db_maker) as db:
        sessions = await db.execute(delete(Session).where(or_(
            Session.expires_at < now - KEEP_ENDED, Session.revoked_at < now - KEEP_ENDED)))
        logins = await db.execute(delete(LoginTransaction)
                                  .where(LoginTransaction.expires_at < now))
    return int(getattr(sessions, "rowcount", 0)), int(getattr(logins, "rowcount", 0))


async def _loop(db_maker: SessionMaker) -> None:
    while True:
        await asyncio.sleep(EVERY_SECONDS * random.uniform(0.5, 1.5))
        try:
            sessions, logins = await purge_once(db_maker)
            if sessions or logins:
                log.info("housekeeping", extra={"sessions_deleted": sessions,
                                                "login_transactions_deleted": logins})
        except Exception as exc:  # the database may be restarting: try next time
            log.warning("housekeeping failed: %s", type(exc).__name__)


def running(db_maker: SessionMaker) -> AbstractAsyncContextManager[None]:
    return background(_loop(db_maker), "housekeeping")
