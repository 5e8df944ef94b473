"""Long-ended sessions and abandoned login transactions are deleted; live ones stay."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import session_maker
from service.housekeeping import purge_once


async def test_purge_deletes_only_what_nobody_can_use(engine: AsyncEngine) -> None:
    async with engine.begin() as db:
        await db.execute(text("INSERT INTO users (id, looker_user_id) VALUES (900, 'hk')"))
        await db.execute(text(
            "INSERT INTO sessions (id_hash, user_id, expires_at, revoked_at) VALUES "
            "('\\x01', 900, now() - interval '2 days', NULL),"
            "('\\x02', 900, now() + interval '1 hour', now() - interval '3 days'),"
            "('\\x03', 900, now() + interval '1 hour', NULL),"
            "('\\x04', 900, now() - interval '1 hour', NULL)"))
        await db.execute(text(
            "INSERT INTO login_transactions (state_hash, data_enc, expires_at) VALUES "
            "('\\x01', '\\x00', now() - interval '1 minute'),"
            "('\\x02', '\\x00', now() + interval '5 minutes')"))
    assert await purge_once(session_maker(engine)) == (2, 1)
    async with engine.connect() as db:
        kept = (await db.execute(text("SELECT id_hash FROM sessions ORDER BY id_hash"))
                ).scalars().all()
        pending = (await db.execute(text("SELECT count(*) FROM login_transactions"))
                   ).scalar_one()
    assert kept == [b"\x03", b"\x04"]
    assert pending == 1
