"""Users with sessions and tokens put straight into the database (no OAuth dance each)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.crypto import TokenCipher, hash_id, new_opaque_id
from service.models import LookerToken, Session, User


async def seed_users(engine: AsyncEngine, emulator: Any, keys: list[str], count: int, *,
                     client_id: str, redirect_uri: str, expires_in_db: float = 3600,
                     looker_user_id: int = 1) -> list[tuple[int, str]]:
    """Create `count` users, each with a Looker token pair of its own and a session.

    Returns (user id, session cookie) pairs. Tokens are minted by the emulator for one
    of its seeded users, one token family per BFF user, bound to `redirect_uri`.
    """
    cipher = TokenCipher(keys)
    now = datetime.now(UTC)
    users, tokens, sessions, cookies = [], [], [], []
    async with engine.begin() as db:
        first = (await db.execute(text("SELECT coalesce(max(id), 0) FROM users"))).scalar_one()
    for offset in range(1, count + 1):
        user_id = first + offset
        pair = emulator.control.mint_tokens(user_id=looker_user_id, client_id=client_id,
                                            redirect_uri=redirect_uri)
        cookie = new_opaque_id()
        users.append({"id": user_id, "looker_user_id": f"seed-{user_id}",
                      "display_name": f"User {user_id}", "email": f"u{user_id}@example.com"})
        tokens.append({
            "user_id": user_id,
            "access_token_enc": cipher.encrypt(pair["access_token"]),
            "refresh_token_enc": cipher.encrypt(pair["refresh_token"]),
            "expires_at": now + timedelta(seconds=expires_in_db),
        })
        sessions.append({"id_hash": hash_id(cookie), "user_id": user_id,
                         "expires_at": now + timedelta(hours=8)})
        cookies.append((user_id, cookie))
    async with engine.begin() as db:
        await db.execute(insert(User), users)
        await db.execute(insert(LookerToken), tokens)
        await db.execute(insert(Session), sessions)
        await db.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), "
                              "(SELECT max(id) FROM users))"))
    return cookies
