"""Token lifecycle: on-demand renewal, the background refresher, failures and crashes.

The emulator rotates refresh tokens and detects reuse, as the strictest Looker would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from service.db import session_maker
from service.metrics import Metrics
from service.tokens.manager import TokenManager
from service.tokens.refresher import Refresher
from tests.conftest import (
    CLIENT_ID,
    TEST_KEY,
    RunningService,
    free_port,
    register_redirect_uri,
    service_settings,
    sign_in,
)
from tests.seeding import seed_users


def grants(emulator: Any) -> int:
    return int(emulator.control.counters()["token_grants"]["refresh_token"])


async def expire_in_db(engine: AsyncEngine) -> None:
    async with engine.begin() as db:
        await db.execute(text("UPDATE looker_tokens SET expires_at = now() - interval '1 second'"))


async def token_row(engine: AsyncEngine) -> Any:
    async with engine.connect() as db:
        return (await db.execute(text(
            "SELECT state, state_reason, version, consecutive_failures, next_attempt_at, "
            "expires_at FROM looker_tokens"))).one()


@pytest.mark.parametrize("how", ["expired_in_db", "rejected_by_looker"])
async def test_fifty_concurrent_requests_on_an_expired_token_make_one_grant(
        signed_in: httpx2.AsyncClient, emulator: Any, engine: AsyncEngine, how: str) -> None:
    assert (await signed_in.get("/api/me")).status_code == 200  # warm the caches
    if how == "expired_in_db":
        await expire_in_db(engine)
        signed_in_bff_forgets = True
    else:
        signed_in_bff_forgets = False
    emulator.control.expire_tokens(user_id=1)  # Looker refuses the old access token too
    before = grants(emulator)
    version = (await token_row(engine)).version
    if signed_in_bff_forgets:
        # the DB says expired, but the service's cache still holds the lease: the 401 path
        # then takes over; either way exactly one grant must happen
        pass
    responses = await asyncio.gather(*(signed_in.get("/api/me") for _ in range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert grants(emulator) - before == 1
    assert emulator.control.counters()["reuse_detections"] == 0
    assert (await token_row(engine)).version == version + 1


async def test_refresh_token_revoked_at_looker_means_reauth_then_login_recovers(
        signed_in: httpx2.AsyncClient, emulator: Any) -> None:
    assert (await signed_in.get("/api/me")).status_code == 200
    emulator.control.revoke_tokens(user_id=1)
    response = await signed_in.get("/api/me")
    assert response.status_code == 401
    assert response.json()["code"] == "reauth_required"
    session = (await signed_in.get("/auth/session")).json()
    assert session["looker"]["state"] == "reauth_required"
    assert session["looker"]["reason"] == "invalid_grant"
    again = await signed_in.get("/api/me")
    assert again.json()["code"] == "reauth_required"  # no retry storm: stays refused
    await sign_in(signed_in)
    assert (await signed_in.get("/api/me")).status_code == 200
    assert (await signed_in.get("/auth/session")).json()["looker"]["state"] == "active"


def refresher_for(bff: RunningService, engine: AsyncEngine,
                  http: httpx2.AsyncClient) -> tuple[Refresher, Metrics]:
    """A refresher in the test's own loop, on the same database and settings as `bff`."""
    metrics = Metrics()
    db = session_maker(engine)
    tokens = TokenManager(bff.settings, db, bff_cipher(bff), http, metrics)
    return Refresher(bff.settings, db, tokens, metrics), metrics


def bff_cipher(bff: RunningService) -> Any:
    from service.crypto import TokenCipher

    return TokenCipher(bff.settings.token_encryption_keys)


async def test_token_endpoint_failing_backs_off_then_recovers(
        signed_in: httpx2.AsyncClient, bff: RunningService, emulator: Any,
        engine: AsyncEngine) -> None:
    async with engine.begin() as db:  # due soon, but still valid
        await db.execute(text("UPDATE looker_tokens SET expires_at = now() + interval '60 s'"))
    async with httpx2.AsyncClient(timeout=5) as http:
        refresher, metrics = refresher_for(bff, engine, http)
        emulator.control.set_fault("token", status=503)
        report = await refresher.refresh_due_tokens()
        assert report.failed == 1
        first = await token_row(engine)
        assert first.consecutive_failures == 1 and first.state == "active"
        assert first.next_attempt_at > datetime.now(UTC)
        # backing off: the next scan leaves it alone, and requests keep using the valid token
        assert (await refresher.refresh_due_tokens()).due == 0
        assert (await signed_in.get("/api/me")).status_code == 200

        emulator.control.set_fault("token", status=429, retry_after=120)
        async with engine.begin() as db:
            await db.execute(text("UPDATE looker_tokens SET next_attempt_at = now()"))
        await refresher.refresh_due_tokens()
        second = await token_row(engine)
        assert second.consecutive_failures == 2
        assert second.next_attempt_at >= datetime.now(UTC) + timedelta(seconds=115)

        emulator.control.clear_faults()
        async with engine.begin() as db:
            await db.execute(text("UPDATE looker_tokens SET next_attempt_at = now()"))
        report = await refresher.refresh_due_tokens()
        assert report.refreshed == 1
        done = await token_row(engine)
        assert done.consecutive_failures == 0 and done.version == first.version + 1
        assert done.expires_at > datetime.now(UTC) + timedelta(minutes=30)
    assert (await signed_in.get("/api/me")).status_code == 200
    samples = {s.labels["outcome"]: s.value for m in metrics.registry.collect()
               for s in m.samples if s.name == "bff_token_refreshes_total"}
    assert samples == {"failed": 2.0, "success": 1.0}


async def test_refresh_without_a_new_refresh_token_keeps_the_old_one(
        signed_in: httpx2.AsyncClient, bff: RunningService, emulator: Any,
        engine: AsyncEngine) -> None:
    emulator.control.patch_config(rotate_refresh_tokens=False)
    try:
        async with engine.connect() as db:
            before = (await db.execute(text("SELECT refresh_token_enc FROM looker_tokens"))
                      ).scalar_one()
        await expire_in_db(engine)
        async with httpx2.AsyncClient(timeout=5) as http:
            refresher, _ = refresher_for(bff, engine, http)
            assert (await refresher.refresh_due_tokens()).refreshed == 1
            await expire_in_db(engine)
            assert (await refresher.refresh_due_tokens()).refreshed == 1
        async with engine.connect() as db:
            after = (await db.execute(text("SELECT refresh_token_enc FROM looker_tokens"))
                     ).scalar_one()
        assert after == before
    finally:
        emulator.control.patch_config(rotate_refresh_tokens=True)


def serve_process(emulator: Any, database_url: str, port: int, public_port: int | None = None,
                  **env: str) -> subprocess.Popen[bytes]:
    """`looker-bff serve` as its own OS process. Replicas share `public_port` (one
    PUBLIC_URL behind a load balancer), hence one redirect URI."""
    public_port = public_port or port
    register_redirect_uri(emulator, f"http://127.0.0.1:{public_port}/auth/callback")
    settings = service_settings(emulator, public_port, database_url=database_url)
    values = {
        "ENVIRONMENT": "development", "LOOKER_BASE_URL": settings.looker_base_url,
        "LOOKER_API_URL": settings.looker_api_url, "LOOKER_CLIENT_ID": CLIENT_ID,
        "PUBLIC_URL": settings.public_url, "DATABASE_URL": database_url,
        "SESSION_SECRET": settings.session_secret or "", "TOKEN_ENCRYPTION_KEYS": TEST_KEY,
        "LOG_LEVEL": "warning", **env,
    }
    clean = {k: v for k, v in os.environ.items() if k.lower() not in type(settings).model_fields}
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--port", str(port)],
        env={**clean, **values})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx2.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("service process did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def refreshes_reported(port: int) -> int:
    """Successful background refreshes in a process's /metrics."""
    text_ = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text_.splitlines()
               if line.startswith("bff_token_refreshes_total{")
               and 'outcome="success"' in line and 'trigger="background"' in line)


async def wait_until(condition: Callable[[], Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def test_two_processes_refresh_each_due_token_exactly_once(
        emulator: Any, engine: AsyncEngine, database_url: str) -> None:
    ports = [free_port(), free_port()]
    redirect = f"http://127.0.0.1:{ports[0]}/auth/callback"
    register_redirect_uri(emulator, redirect)
    await seed_users(engine, emulator, [TEST_KEY], 200, client_id=CLIENT_ID,
                     redirect_uri=redirect, expires_in_db=3600)  # not due yet
    before = grants(emulator)
    env = {"REFRESH_INTERVAL_SECONDS": "0.5", "REFRESHER_ENABLED": "true",
           "REFRESHER_CONCURRENCY": "8"}
    processes = [serve_process(emulator, database_url, port, public_port=ports[0], **env)
                 for port in ports]
    # a slow token endpoint makes the two processes' batches overlap for certain
    emulator.control.set_fault("token", latency_ms=40)
    async with engine.begin() as db:  # all 200 due at once, both processes running
        await db.execute(text("UPDATE looker_tokens SET expires_at = now() + interval '60 s'"))
    try:
        async def all_refreshed() -> bool:
            async with engine.connect() as db:
                return (await db.execute(text(
                    "SELECT count(*) FROM looker_tokens WHERE version = 2"))).scalar_one() == 200

        await wait_until(all_refreshed, 60)
        await asyncio.sleep(2)  # a few more cycles: nothing is refreshed twice
        per_process = [refreshes_reported(port) for port in ports]
    finally:
        for process in processes:
            stop(process)
    async with engine.connect() as db:
        versions = (await db.execute(text(
            "SELECT version, count(*) FROM looker_tokens GROUP BY version"))).all()
        states = (await db.execute(text(
            "SELECT DISTINCT state || coalesce(state_reason, '') FROM looker_tokens"))).scalars()
        assert list(states) == ["active"]
    assert [tuple(v) for v in versions] == [(2, 200)]
    assert grants(emulator) - before == 200
    assert emulator.control.counters()["reuse_detections"] == 0
    assert sum(per_process) == 200 and min(per_process) > 0, per_process  # both took part


async def test_process_killed_mid_refresh_leaves_a_row_the_next_run_recovers(
        emulator: Any, engine: AsyncEngine, database_url: str, bff: RunningService) -> None:
    port = free_port()
    redirect = f"{bff.url}/auth/callback"
    await seed_users(engine, emulator, [TEST_KEY], 1, client_id=CLIENT_ID,
                     redirect_uri=redirect, expires_in_db=60)
    # Looker stalls, then fails: the process dies while it holds the row lock
    emulator.control.set_fault("token", latency_ms=30_000, status=503)
    process = serve_process(emulator, database_url, port,
                            public_port=int(bff.url.rsplit(":", 1)[1]),
                            REFRESH_INTERVAL_SECONDS="0.3", REFRESHER_ENABLED="true")
    try:
        async def lock_held() -> bool:
            async with engine.connect() as db:
                return bool((await db.execute(text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE c.relname = 'looker_tokens' AND l.mode = 'RowShareLock'"
                ))).scalar_one())

        await wait_until(lock_held, 20)
    finally:
        process.kill()
        process.wait(10)
    emulator.control.clear_faults()
    row = await token_row(engine)
    assert (row.state, row.version, row.consecutive_failures) == ("active", 1, 0)
    async with httpx2.AsyncClient(timeout=5) as http:
        refresher, _ = refresher_for(bff, engine, http)
        async def refreshed() -> bool:
            return (await refresher.refresh_due_tokens()).refreshed == 1
        await wait_until(refreshed, 20)  # the dead backend's lock goes within moments
    assert (await token_row(engine)).version == 2


def live_code_grants(emulator: Any) -> set[str]:
    """Looker grants (token families) from sign-ins that are still alive."""
    return {f.id for f in emulator.state.families.values()
            if not f.revoked and f.kind == "authorization_code"}


async def test_logout_with_an_expired_token_still_revokes_the_grant_at_looker(
        signed_in: httpx2.AsyncClient, emulator: Any, engine: AsyncEngine) -> None:
    newest = max((f for f in emulator.state.families.values() if f.id in
                  live_code_grants(emulator)), key=lambda f: f.created_at)
    ours = {newest.id}  # the signed_in fixture's grant
    emulator.control.expire_tokens(user_id=1)
    await expire_in_db(engine)
    assert (await signed_in.post("/auth/logout")).status_code == 204
    assert not ours & live_code_grants(emulator)


async def test_a_new_sign_in_revokes_the_grant_it_replaces(
        bff: RunningService, emulator: Any) -> None:
    async with httpx2.AsyncClient(base_url=bff.url, headers={"X-CSRF": "1"}) as client:
        before = live_code_grants(emulator)
        await sign_in(client)
        first = live_code_grants(emulator) - before
        await sign_in(client)
        second = live_code_grants(emulator) - before
        assert len(first) == 1 and len(second) == 1 and first != second
        assert (await client.get("/api/me")).status_code == 200
        await client.post("/auth/logout")


async def test_undecryptable_tokens_mean_reauth_and_logout_still_works(
        signed_in: httpx2.AsyncClient, engine: AsyncEngine) -> None:
    from cryptography.fernet import Fernet

    foreign = Fernet(Fernet.generate_key())
    async with engine.begin() as db:
        await db.execute(text("UPDATE looker_tokens SET access_token_enc = :a, "
                              "refresh_token_enc = :r, expires_at = now() - interval '1 s'"),
                         {"a": foreign.encrypt(b"x"), "r": foreign.encrypt(b"y")})
    response = await signed_in.get("/api/me")
    assert response.status_code == 401 and response.json()["code"] == "reauth_required"
    row = await token_row(engine)
    assert (row.state, row.state_reason) == ("reauth_required", "undecryptable")
    assert (await signed_in.post("/auth/logout")).status_code == 204
    assert (await signed_in.get("/auth/session")).status_code == 401


async def test_a_token_looker_rejects_right_after_renewal_stops_further_grants(
        signed_in: httpx2.AsyncClient, emulator: Any, engine: AsyncEngine) -> None:
    before = grants(emulator)
    emulator.control.set_fault("api", status=401)
    first = await signed_in.get("/api/me")
    second = await signed_in.get("/api/me")
    assert first.json()["code"] == second.json()["code"] == "reauth_required"
    assert grants(emulator) - before == 1  # renewed once, then no grant per request
    row = await token_row(engine)
    assert (row.state, row.state_reason) == ("reauth_required", "token_rejected")


@pytest.mark.parametrize(("status", "body", "expected"), [
    (200, {"access_token": "a", "expires_in": 60}, "Granted"),
    (200, {"message": "Not found"}, "Failed"),
    (400, {"error": "invalid_grant"}, "Refused"),
    (401, {"error": "invalid_client"}, "Refused"),
    (401, {"message": "Requires authentication."}, "Refused"),
    (400, None, "Failed"),            # a proxy's HTML page: sign no one out
    (403, None, "Failed"),
    (404, {"message": "Not found"}, "Failed"),
    (400, {"error": "slow_down"}, "Failed"),
])
def test_token_responses_are_classified_so_only_a_real_refusal_signs_out(
        status: int, body: Any, expected: str) -> None:
    from service.tokens.grant import parse_token_response

    assert type(parse_token_response(status, body)).__name__ == expected
