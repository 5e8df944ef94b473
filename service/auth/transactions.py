"""Pending logins, kept server side and keyed by a hash of their `state`.

Authlib stores a login's PKCE verifier and redirect URI through its framework
integration. Its Starlette integration keeps only the latest login per browser (since
1.3.2 a second tab's login deletes the first's), so we store each login in Postgres under
its own state, encrypted, and bind it to the browser with a random id in a short-lived
signed cookie. Reading a transaction deletes it (`DELETE … RETURNING`): a replayed
callback finds nothing.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from authlib.integrations.starlette_client import OAuth
from authlib.integrations.starlette_client.integration import StarletteIntegration
from sqlalchemy import delete

from service.crypto import InvalidToken, TokenCipher, hash_id
from service.db import SessionMaker, unit_of_work
from service.models import LoginTransaction

LOGIN_TTL_SECONDS = 600
BINDING_KEY = "binding"


class LoginTransactionStore:
    def __init__(self, db: SessionMaker, cipher: TokenCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def put(self, state: str, data: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        async with unit_of_work(self._db) as db:
            # housekeeping on the (rare) login path keeps the table small
            await db.execute(delete(LoginTransaction).where(LoginTransaction.expires_at < now))
            db.add(LoginTransaction(
                state_hash=hash_id(state), data_enc=self._cipher.encrypt(orjson.dumps(data)
                                                                         .decode()),
                expires_at=now + timedelta(seconds=LOGIN_TTL_SECONDS)))

    async def take(self, state: str) -> dict[str, Any] | None:
        """Return and delete the transaction, or None if unknown, used or expired."""
        async with unit_of_work(self._db) as db:
            row = (await db.execute(
                delete(LoginTransaction).where(LoginTransaction.state_hash == hash_id(state))
                .returning(LoginTransaction.data_enc, LoginTransaction.expires_at)
            )).one_or_none()
        if row is None or row.expires_at < datetime.now(UTC):
            return None
        try:
            data: dict[str, Any] = orjson.loads(self._cipher.decrypt(row.data_enc))
        except (InvalidToken, ValueError):
            return None
        return data


class BrowserBoundIntegration(StarletteIntegration):  # type: ignore[misc]
    """Authlib's state hooks, backed by LoginTransactionStore (passed in as `cache`)."""

    cache: LoginTransactionStore

    async def set_state_data(self, session: dict[str, Any] | None, state: str,
                             data: Any) -> None:
        assert session is not None, "the login-transaction middleware is missing"
        binding = session.get(BINDING_KEY)
        if not isinstance(binding, str):
            binding = secrets.token_urlsafe(24)
            session[BINDING_KEY] = binding
        await self.cache.put(state, {"data": data, "binding": binding})

    async def get_state_data(self, session: dict[str, Any] | None,
                             state: str) -> dict[str, Any] | None:
        if not state or len(state) > 256:
            return None
        stored = await self.cache.take(state)
        binding = (session or {}).get(BINDING_KEY)
        if stored is None or not isinstance(binding, str) or not hmac.compare_digest(
                str(stored.get("binding", "")), binding):
            return None
        data = stored.get("data")
        return data if isinstance(data, dict) else None

    async def clear_state_data(self, session: dict[str, Any] | None, state: str) -> None:
        return None  # take() already deleted it


class BrowserBoundOAuth(OAuth):  # type: ignore[misc]
    framework_integration_cls = BrowserBoundIntegration
