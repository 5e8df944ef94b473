"""Database engine, sessions and the URL rules shared by the app, the CLI and Alembic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def async_url(url: str) -> str:
    """Accept postgresql:// (and postgres://) and use the asyncpg driver for it."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError("DATABASE_URL must start with postgresql:// or postgresql+asyncpg://")


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None
                  ) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        pool_pre_ping=True,  # survive a database restart without failing the next request
        pool_recycle=1800,
        hide_parameters=True,  # errors reach the log: keep ciphertexts and hashes out
    )


SessionMaker = async_sessionmaker[AsyncSession]


def session_maker(engine: AsyncEngine) -> SessionMaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(maker: SessionMaker) -> AsyncIterator[AsyncSession]:
    """One transaction: commit on success, roll back on any error."""
    async with maker() as session, session.begin():
        yield session
