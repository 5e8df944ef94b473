"""All SQL about `users`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from service.models import User


async def upsert_from_looker(db: AsyncSession, looker_user: dict[str, object]) -> int:
    """Insert or update the user Looker says this is; return our id."""
    values = {
        "display_name": _text(looker_user.get("display_name")),
        "email": _text(looker_user.get("email")),
        "updated_at": datetime.now(UTC),
    }
    statement = insert(User).values(looker_user_id=str(looker_user["id"]), **values)
    result = await db.execute(
        statement.on_conflict_do_update(index_elements=[User.looker_user_id], set_=values)
        .returning(User.id))
    return int(result.scalar_one())


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
