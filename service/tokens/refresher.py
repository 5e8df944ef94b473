"""The background refresher: renews tokens before they expire, once, across replicas.

Every REFRESH_INTERVAL_SECONDS (±20 % jitter, so replicas drift apart) it lists due
tokens (active, expiring within REFRESH_AHEAD_SECONDS, `next_attempt_at` passed) in
batches, and refreshes each with bounded concurrency in its own transaction:
`SELECT … FOR UPDATE SKIP LOCKED` re-checks that the row is still due and claims it, the
token call runs while the lock is held, and the new token commits before the lock is
released. A row another replica (or a request) holds is skipped; one it has just
refreshed is no longer due. A process killed mid-call loses its transaction: the row
keeps its old token and is due again on the next scan.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta

from service.config import Settings
from service.db import SessionMaker, unit_of_work
from service.metrics import Metrics
from service.tokens import repository as repo
from service.tokens.grant import Granted, Refused
from service.tokens.manager import TokenManager, utcnow

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    due: int = 0
    refreshed: int = 0
    refused: int = 0
    failed: int = 0
    skipped: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)


class Refresher:
    def __init__(self, settings: Settings, db: SessionMaker, tokens: TokenManager,
                 metrics: Metrics) -> None:
        self._settings = settings
        self._db = db
        self._tokens = tokens
        self._metrics = metrics
        self._ahead = timedelta(seconds=settings.refresh_ahead_seconds)
        self._stopping = asyncio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(self._run(), name="token-refresher")
        try:
            yield
        finally:
            # Let the batch in flight finish (each refresh is its own transaction); give up
            # after a bound, which rolls back whatever had not committed.
            self._stopping.set()
            try:
                await asyncio.wait_for(task, timeout=self._settings.looker_timeout_seconds)
            except TimeoutError:
                log.warning("refresher abandoned its batch at shutdown")
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        interval = self._settings.refresh_interval_seconds
        # Start at a random point of the interval so replicas do not scan in lockstep.
        if await self._sleep(random.uniform(0, interval)):
            return
        while not self._stopping.is_set():
            try:
                await self.refresh_due_tokens()
            except Exception as exc:  # the database restarting must not kill the loop
                log.warning("refresher scan failed: %s", type(exc).__name__)
            if await self._sleep(interval * random.uniform(0.8, 1.2)):
                return

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; True when it is time to stop."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    async def refresh_due_tokens(self) -> BatchReport:
        """One scan: refresh every token that is due now. Returns what happened."""
        report = BatchReport()
        started = time.perf_counter()
        async with unit_of_work(self._db) as db:
            report.due = await repo.count_due(db, utcnow(), self._ahead)
        self._metrics.due_backlog.set(report.due)
        gate = asyncio.Semaphore(self._settings.refresher_concurrency)
        after = 0
        while not self._stopping.is_set():
            async with unit_of_work(self._db) as db:
                batch = await repo.due_user_ids(db, utcnow(), self._ahead,
                                                self._settings.refresher_batch_size, after)
            if not batch:
                break
            after = batch[-1]
            await asyncio.gather(*(self._refresh_one(user_id, gate, report)
                                   for user_id in batch))
        if report.due or report.outcomes:
            log.info("refresher batch", extra={
                "due": report.due, "refreshed": report.refreshed, "refused": report.refused,
                "failed": report.failed, "skipped": report.skipped,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        return report

    async def _refresh_one(self, user_id: int, gate: asyncio.Semaphore,
                           report: BatchReport) -> None:
        async with gate:
            if self._stopping.is_set():
                return
            try:
                async with unit_of_work(self._db) as db:
                    row = await repo.claim_if_due(db, user_id, utcnow(), self._ahead)
                    if row is None:  # another replica holds it, or it was just renewed
                        report.skipped += 1
                        report.outcomes[user_id] = "skipped"
                        return
                    outcome = await self._tokens.refresh_locked(db, row, "background")
                self._tokens.forget(user_id)
            except Exception as exc:
                report.failed += 1
                report.outcomes[user_id] = "error"
                log.warning("refresh of one token failed: %s", type(exc).__name__,
                            extra={"user_id": user_id})
                return
            if isinstance(outcome, Granted):
                report.refreshed += 1
                report.outcomes[user_id] = "refreshed"
            elif isinstance(outcome, Refused):
                report.refused += 1
                report.outcomes[user_id] = "refused"
            else:
                report.failed += 1
                report.outcomes[user_id] = "failed"
