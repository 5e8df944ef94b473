"""Leases of valid access tokens, and renewal that happens once however many ask.

Exclusion is two-layered. In this process, concurrent requests for one user share one
renewal task (single flight). Across processes and replicas, a renewal holds the user's
`looker_tokens` row lock (`SELECT … FOR UPDATE`) from before it reads the refresh token
until after it has written the new one, so the lock cannot lapse during the token call.
After taking the lock it re-reads the row: if the version moved on, someone else renewed
and their token is used without a second grant.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy.ext.asyncio import AsyncSession

from service.config import Settings
from service.crypto import InvalidToken, TokenCipher
from service.db import SessionMaker, unit_of_work
from service.errors import ReauthRequired, UpstreamUnavailable
from service.metrics import Metrics
from service.models import LookerToken, TokenState
from service.singleflight import SingleFlight
from service.tokens import repository as repo
from service.tokens.grant import (
    Failed,
    Granted,
    Outcome,
    Refused,
    refresh_grant,
    revoke_grant,
)
from service.tokens.lease import TokenLease

log = logging.getLogger(__name__)

# A token this close to expiry is treated as expired: it could die in flight.
EXPIRY_SKEW = timedelta(seconds=10)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff_delay(failures: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than Retry-After."""
    delay = random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** failures))
    return max(delay, retry_after or 0.0, 1.0)


def _usable(row: LookerToken | None) -> LookerToken:
    """The row, if its tokens may be used or renewed; else the user must sign in again."""
    if row is None:
        raise ReauthRequired("No Looker tokens for this user: sign in again")
    if row.state != TokenState.ACTIVE.value:
        raise ReauthRequired(f"Looker tokens are {row.state}: sign in again")
    return row


class TokenManager:
    def __init__(self, settings: Settings, db: SessionMaker, cipher: TokenCipher,
                 http: httpx2.AsyncClient, metrics: Metrics) -> None:
        self._settings = settings
        self._db = db
        self._cipher = cipher
        self._http = http
        self._metrics = metrics
        self._cache: dict[int, TokenLease] = {}
        self._renewing: SingleFlight[int, TokenLease] = SingleFlight()
        self._loading: SingleFlight[int, TokenLease] = SingleFlight()
        self._gauge_counted_at = -1e9

    # -- leases -------------------------------------------------------------------------

    async def lease(self, user_id: int) -> TokenLease:
        """A valid access token for the user, renewed first if it has expired."""
        cached = self._cache.get(user_id)
        if cached is not None and cached.expires_at - EXPIRY_SKEW > utcnow():
            return cached
        # concurrent misses for one user share one load (a dashboard opens 20 calls at once)
        return await self._loading.run(user_id, lambda: self._load(user_id))

    async def _load(self, user_id: int) -> TokenLease:
        async with unit_of_work(self._db) as db:
            row = _usable(await repo.load(db, user_id))
            current = await self._lease_of(db, row)
        if current is None:
            raise ReauthRequired("The stored Looker tokens cannot be used: sign in again")
        if current.expires_at - EXPIRY_SKEW > utcnow():
            self._cache[user_id] = current
            return current
        return await self.renew(user_id, current, trigger="expired")

    async def renew(self, user_id: int, rejected: TokenLease, *,
                    trigger: str = "rejected") -> TokenLease:
        """Renew after `rejected` expired or was refused by Looker; once for all callers."""
        return await self._renewing.run(
            user_id, lambda: self._renew_exclusively(user_id, rejected.version, trigger))

    def forget(self, user_id: int) -> None:
        self._cache.pop(user_id, None)

    # -- renewal under the row lock -------------------------------------------------------

    async def _renew_exclusively(self, user_id: int, seen_version: int,
                                 trigger: str) -> TokenLease:
        self._cache.pop(user_id, None)
        failure: Exception | None = None
        async with unit_of_work(self._db) as db:
            row = _usable(await repo.lock(db, user_id))
            now = utcnow()
            if row.version != seen_version and row.expires_at - EXPIRY_SKEW > now:
                renewed = await self._lease_of(db, row)  # renewed elsewhere
                if renewed is None:
                    failure = ReauthRequired("The stored Looker tokens cannot be used")
                else:
                    lease = renewed
            elif row.consecutive_failures and row.next_attempt_at > now:
                wait = max(1, int((row.next_attempt_at - now).total_seconds()))
                raise UpstreamUnavailable("Looker's token endpoint is failing; retrying later",
                                          headers={"Retry-After": str(wait)})
            else:
                outcome = await self.refresh_locked(db, row, trigger)
                if isinstance(outcome, Refused):
                    failure = ReauthRequired("Looker refused to renew the session: sign in again")
                elif not isinstance(outcome, Granted):
                    failure = UpstreamUnavailable("Could not renew the Looker token; try again")
                else:
                    lease = TokenLease(user_id, outcome.access_token, row.version, row.expires_at)
        # raised after the commit: the outcome (reauth_required, backoff) must be kept
        if failure is not None:
            raise failure
        self._cache[user_id] = lease
        return lease

    async def refresh_locked(self, db: AsyncSession, row: LookerToken, trigger: str) -> Outcome:
        """Refresh the locked row's token and record the outcome on it.

        Shared by on-demand renewal and the background refresher. On success `row` holds
        the new ciphertexts and version when this returns.
        """
        if row.refresh_token_enc is None:
            outcome: Outcome = Refused("no_refresh_token")
        elif (refresh_token := await self._decrypt(row.refresh_token_enc)) is None:
            outcome = Refused("undecryptable")
        else:
            outcome = await refresh_grant(self._http, self._settings, refresh_token)
        now = utcnow()
        if isinstance(outcome, Granted):
            access_enc, refresh_enc = await asyncio.to_thread(self._encrypt_pair, outcome)
            expires_at = now + timedelta(seconds=outcome.expires_in)
            due_at = row.expires_at - timedelta(seconds=self._settings.refresh_ahead_seconds)
            self._metrics.refresh_lag.observe(max(0.0, (now - due_at).total_seconds()))
            row.version = await repo.write_refreshed(db, row, access_enc, refresh_enc,
                                                     expires_at, now)
            row.access_token_enc = access_enc
            if refresh_enc is not None:
                row.refresh_token_enc = refresh_enc
            row.expires_at = expires_at
            self._metrics.refreshes.labels(trigger, "success").inc()
        elif isinstance(outcome, Refused):
            await repo.mark_reauth_required(db, row.user_id, outcome.reason, now)
            self._cache.pop(row.user_id, None)
            self._metrics.refreshes.labels(trigger, "refused").inc()
            log.info("refresh refused; user must sign in again",
                     extra={"user_id": row.user_id, "reason": outcome.reason})
        else:
            assert isinstance(outcome, Failed)
            delay = backoff_delay(row.consecutive_failures, outcome.retry_after)
            await repo.back_off(db, row.user_id, now + timedelta(seconds=delay), now)
            self._metrics.refreshes.labels(trigger, "failed").inc()
            log.warning("refresh failed; backing off",
                        extra={"user_id": row.user_id, "reason": outcome.reason,
                               "retry_in_s": round(delay, 1)})
        return outcome

    # -- sign-in and sign-out -------------------------------------------------------------

    async def store_signed_in(self, db: AsyncSession, user_id: int, granted: Granted) -> None:
        """Store a new sign-in's tokens; the grant they replace is revoked at Looker."""
        previous = await repo.lock(db, user_id)
        if previous is not None:
            await self._revoke_grant(previous)
        access_enc, refresh_enc = await asyncio.to_thread(self._encrypt_pair, granted)
        now = utcnow()
        await repo.upsert(db, user_id, access_enc, refresh_enc,
                          now + timedelta(seconds=granted.expires_in), now)
        self._cache.pop(user_id, None)

    async def revoke_and_delete(self, user_id: int) -> None:
        """Sign-out: revoke the user's grant at Looker (best effort), delete the tokens.

        Under the row lock, so a refresh in flight finishes first and its new pair is the
        one revoked.
        """
        self._cache.pop(user_id, None)
        async with unit_of_work(self._db) as db:
            row = await repo.lock(db, user_id)
            if row is None:
                return
            await self._revoke_grant(row)
            await repo.delete_for_user(db, user_id)
        self._cache.pop(user_id, None)

    async def mark_rejected(self, user_id: int, rejected: TokenLease) -> None:
        """Looker refused a token we had just renewed: stop renewing until a new sign-in."""
        self._cache.pop(user_id, None)
        async with unit_of_work(self._db) as db:
            await repo.mark_reauth_required(db, user_id, "token_rejected", utcnow(),
                                            only_version=rejected.version)

    async def _revoke_grant(self, row: LookerToken) -> None:
        """`DELETE /api/logout` with a live access token of the row, renewing an expired one
        first (Looker revokes by access token only). Nothing is written to the row."""
        access_token = None
        if row.expires_at - EXPIRY_SKEW > utcnow():
            access_token = await self._decrypt(row.access_token_enc)
        elif row.state == TokenState.ACTIVE.value:
            refresh_token = await self._decrypt(row.refresh_token_enc)
            if refresh_token is not None:
                outcome = await refresh_grant(self._http, self._settings, refresh_token)
                if isinstance(outcome, Granted):
                    access_token = outcome.access_token
        if access_token is not None:
            await revoke_grant(self._http, self._settings, access_token)

    async def update_state_gauge(self) -> None:
        """Tokens by state, counted at most every 15 s however often /metrics is read."""
        if time.monotonic() - self._gauge_counted_at < 15:
            return
        self._gauge_counted_at = time.monotonic()
        async with unit_of_work(self._db) as db:
            counts = await repo.count_by_state(db)
        for state in TokenState:
            self._metrics.tokens_by_state.labels(state.value).set(counts.get(state.value, 0))

    # -- helpers (run in a thread: Fernet is CPU work) --------------------------------------

    async def _decrypt(self, ciphertext: bytes | None) -> str | None:
        """None for a missing value or one no key of TOKEN_ENCRYPTION_KEYS opens."""
        if ciphertext is None:
            return None
        try:
            return await asyncio.to_thread(self._cipher.decrypt, ciphertext)
        except InvalidToken:
            return None

    async def _lease_of(self, db: AsyncSession, row: LookerToken) -> TokenLease | None:
        """The row as a lease; an undecryptable row is marked reauth_required (committed
        by the caller's unit of work) and gives None."""
        access_token = await self._decrypt(row.access_token_enc)
        if access_token is None:
            log.error("a stored token cannot be decrypted: was a key removed from "
                      "TOKEN_ENCRYPTION_KEYS before `looker-bff rotate-keys`?",
                      extra={"user_id": row.user_id})
            await repo.mark_reauth_required(db, row.user_id, "undecryptable", utcnow())
            return None
        return TokenLease(row.user_id, access_token, row.version, row.expires_at)

    def _encrypt_pair(self, granted: Granted) -> tuple[bytes, bytes | None]:
        refresh = granted.refresh_token
        return (self._cipher.encrypt(granted.access_token),
                self._cipher.encrypt(refresh) if refresh else None)
