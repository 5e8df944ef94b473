"""`looker-bff rotate-keys`: re-encrypt every stored secret under the first key."""

from __future__ import annotations

from contextlib import AsyncExitStack

from sqlalchemy import select

from service.config import Settings
from service.crypto import TokenCipher
from service.db import create_engine, session_maker, unit_of_work
from service.embedded import embedded_postgres
from service.models import LoginTransaction
from service.tokens import repository as repo


async def rotate_all(settings: Settings) -> int:
    cipher = TokenCipher(settings.token_encryption_keys)
    async with AsyncExitStack() as stack:
        url = settings.database_url or stack.enter_context(embedded_postgres(settings.data_dir))
        engine = create_engine(url, pool_size=1)
        stack.push_async_callback(engine.dispose)
        async with unit_of_work(session_maker(engine)) as db:
            rows = await repo.all_encrypted(db)
            for row in rows:
                row.access_token_enc = cipher.rotate(row.access_token_enc)
                if row.refresh_token_enc is not None:
                    row.refresh_token_enc = cipher.rotate(row.refresh_token_enc)
            pending = (await db.execute(select(LoginTransaction).with_for_update())).scalars()
            for transaction in pending:
                transaction.data_enc = cipher.rotate(transaction.data_enc)
        return len(rows)
