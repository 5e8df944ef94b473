"""Everything long-lived that the app holds, opened in order and closed in reverse."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx2
from sqlalchemy.ext.asyncio import AsyncEngine

from service import housekeeping, migrate
from service.api.allowlist import ProxyPolicy
from service.auth.oauth import LookerOAuth, build_oauth
from service.auth.sessions import SessionStore
from service.config import Settings
from service.crypto import TokenCipher
from service.db import SessionMaker, create_engine, session_maker
from service.embedded import start_embedded
from service.invalidation import InvalidationListener
from service.looker.client import LookerClient
from service.looker.transport import no_cookie_jar
from service.metrics import Metrics
from service.tokens.manager import TokenManager
from service.tokens.refresher import Refresher

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    metrics: Metrics
    engine: AsyncEngine
    db: SessionMaker
    cipher: TokenCipher
    oauth_http: httpx2.AsyncClient
    oauth: LookerOAuth
    looker: LookerClient
    sessions: SessionStore
    tokens: TokenManager
    proxy_policy: ProxyPolicy  # PROXY_ALLOW, parsed once


async def _database_url(settings: Settings, stack: AsyncExitStack) -> tuple[str, bool]:
    if settings.database_url:
        return settings.database_url, False
    url, server = await asyncio.to_thread(start_embedded, settings.data_dir)
    stack.push_async_callback(asyncio.to_thread, server.cleanup)
    log.info("using the embedded database", extra={"data_dir": str(settings.data_dir)})
    return url, True


@asynccontextmanager
async def open_runtime(settings: Settings, metrics: Metrics) -> AsyncIterator[Runtime]:
    async with AsyncExitStack() as stack:
        url, embedded = await _database_url(settings, stack)
        # room for every refresh in flight (each holds a connection across its token call)
        # on top of the requests' own
        engine = create_engine(url, pool_size=10,
                               max_overflow=10 + settings.refresher_concurrency)
        stack.push_async_callback(engine.dispose)
        if embedded:
            # The embedded database is a development convenience: keep it at head.
            await migrate.upgrade_async(engine)

        cipher = TokenCipher(settings.token_encryption_keys)
        db = session_maker(engine)
        # One TLS context for every OAuth call: building one costs ~40 ms of CPU.
        tls = ssl.create_default_context()
        oauth_http = await stack.enter_async_context(
            httpx2.AsyncClient(
                timeout=httpx2.Timeout(settings.looker_timeout_seconds, connect=5.0),
                limits=httpx2.Limits(max_connections=50, max_keepalive_connections=20),
                verify=tls,
                # shared by all users: no cookie jar, no proxies or .netrc from the environment
                cookies=no_cookie_jar(),
                trust_env=False,
            )
        )
        looker = await stack.enter_async_context(LookerClient(settings, metrics))
        oauth = build_oauth(settings, db, cipher, tls)
        sessions = SessionStore(settings, db)
        await stack.enter_async_context(sessions.running())
        tokens = TokenManager(settings, db, cipher, oauth_http, metrics)

        def invalidate(message: str) -> None:
            kind, _, value = message.partition(":")
            if kind == "u" and value.isdigit():
                sessions.forget_user(int(value))
                tokens.forget(int(value))

        def after_gap() -> None:
            sessions.invalidations_heard = listener.connected
            sessions.forget_all()

        listener = InvalidationListener(url, invalidate, after_gap)
        await stack.enter_async_context(listener.running())
        runtime = Runtime(settings, metrics, engine, db, cipher, oauth_http, oauth, looker,
                          sessions, tokens, ProxyPolicy(list(settings.proxy_allow)))
        await stack.enter_async_context(housekeeping.running(db))
        if settings.refresher_enabled:
            refresher = Refresher(settings, db, tokens, metrics)
            await stack.enter_async_context(refresher.running())
        yield runtime
