"""All SQL about `looker_tokens`. Callers own the transaction (one unit of work each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import LookerToken, TokenState


def _due(now: datetime, ahead: timedelta):  # type: ignore[no-untyped-def]
    return (
        (LookerToken.state == TokenState.ACTIVE.value)
        & LookerToken.refresh_token_enc.is_not(None)
        & (LookerToken.expires_at <= now + ahead)
        & (LookerToken.next_attempt_at <= now)
    )


async def load(db: AsyncSession, user_id: int) -> LookerToken | None:
    return await db.get(LookerToken, user_id)


async def lock(db: AsyncSession, user_id: int) -> LookerToken | None:
    """Wait for and hold the user's row lock until the transaction ends."""
    return (await db.execute(
        select(LookerToken).where(LookerToken.user_id == user_id)
        .with_for_update().execution_options(populate_existing=True)
    )).scalar_one_or_none()


async def claim_if_due(db: AsyncSession, user_id: int, now: datetime,
                       ahead: timedelta) -> LookerToken | None:
    """Lock the row if it is still due and nobody else holds it (SKIP LOCKED)."""
    return (await db.execute(
        select(LookerToken).where(LookerToken.user_id == user_id, _due(now, ahead))
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)
    )).scalar_one_or_none()


async def due_user_ids(db: AsyncSession, now: datetime, ahead: timedelta,
                       limit: int, after: int = 0) -> Sequence[int]:
    return (await db.execute(
        select(LookerToken.user_id).where(_due(now, ahead), LookerToken.user_id > after)
        .order_by(LookerToken.user_id).limit(limit)
    )).scalars().all()


async def count_due(db: AsyncSession, now: datetime, ahead: timedelta) -> int:
    return int((await db.execute(
        select(func.count()).select_from(LookerToken).where(_due(now, ahead))
    )).scalar_one())


async def count_by_state(db: AsyncSession) -> dict[str, int]:
    rows = await db.execute(select(LookerToken.state, func.count()).group_by(LookerToken.state))
    return {state: int(count) for state, count in rows.all()}


async def upsert(db: AsyncSession, user_id: int, access_enc: bytes, refresh_enc: bytes | None,
                 expires_at: datetime, now: datetime) -> None:
    """Store a fresh token pair from a sign-in, replacing whatever the user had."""
    values = dict(access_token_enc=access_enc, refresh_token_enc=refresh_enc,
                  expires_at=expires_at, state=TokenState.ACTIVE.value, state_reason=None,
                  last_refreshed_at=now, consecutive_failures=0, next_attempt_at=now,
                  updated_at=now)
    statement = insert(LookerToken).values(user_id=user_id, **values)
    await db.execute(statement.on_conflict_do_update(
        index_elements=[LookerToken.user_id],
        set_={**values, "version": LookerToken.version + 1},
    ))


async def write_refreshed(db: AsyncSession, row: LookerToken, access_enc: bytes,
                          refresh_enc: bytes | None, expires_at: datetime,
                          now: datetime) -> int:
    """Store a renewed pair on the locked row; refuses if the row moved on (version)."""
    result = await db.execute(
        update(LookerToken)
        .where(LookerToken.user_id == row.user_id, LookerToken.version == row.version)
        .values(access_token_enc=access_enc,
                refresh_token_enc=refresh_enc if refresh_enc is not None
                else LookerToken.refresh_token_enc,
                expires_at=expires_at, last_refreshed_at=now, consecutive_failures=0,
                next_attempt_at=now, updated_at=now, version=LookerToken.version + 1)
        .returning(LookerToken.version)
    )
    version = result.scalar_one_or_none()
    if version is None:
        raise RuntimeError("token row changed under its lock")
    return int(version)


async def mark_reauth_required(db: AsyncSession, user_id: int, reason: str,
                               now: datetime, only_version: int | None = None) -> None:
    condition = LookerToken.user_id == user_id
    if only_version is not None:  # not if the row has moved on since
        condition = condition & (LookerToken.version == only_version)
    await db.execute(update(LookerToken).where(condition).values(
        state=TokenState.REAUTH_REQUIRED.value, state_reason=reason, updated_at=now,
        version=LookerToken.version + 1))


async def back_off(db: AsyncSession, user_id: int, next_attempt_at: datetime,
                   now: datetime) -> None:
    await db.execute(update(LookerToken).where(LookerToken.user_id == user_id).values(
        consecutive_failures=LookerToken.consecutive_failures + 1,
        next_attempt_at=next_attempt_at, updated_at=now))


async def delete_for_user(db: AsyncSession, user_id: int) -> None:
    await db.execute(delete(LookerToken).where(LookerToken.user_id == user_id))


async def all_encrypted(db: AsyncSession) -> Sequence[LookerToken]:
    return (await db.execute(select(LookerToken).with_for_update())).scalars().all()
