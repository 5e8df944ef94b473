"""Sign-in, sessions and sign-out over real HTTP against the emulator and Postgres."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import RunningService, free_port, sign_in


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def client_for(bff: RunningService, **kwargs: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(base_url=bff.url, timeout=30, **kwargs)


async def start_login(client: httpx2.AsyncClient, return_to: str = "/") -> str:
    """Begin a login; return the emulator's redirect back to our callback."""
    to_looker = await client.get("/auth/login", params={"return_to": return_to})
    assert to_looker.status_code == 302
    at_looker = await client.get(to_looker.headers["location"])
    assert at_looker.status_code == 302
    return at_looker.headers["location"]


async def test_login_redirects_to_looker_with_pkce_s256_and_a_random_state(
        bff: RunningService, emulator: Any) -> None:
    async with client_for(bff) as client:
        first = await client.get("/auth/login")
        second = await client.get("/auth/login")
    location = first.headers["location"]
    assert location.startswith(f"{emulator.web_url}/auth?")
    params = query_of(location)
    assert params["response_type"] == "code"
    assert params["client_id"] == bff.settings.looker_client_id
    assert params["redirect_uri"] == f"{bff.url}/auth/callback"
    assert params["scope"] == "cors_api"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["state"] != query_of(second.headers["location"])["state"]
    assert first.headers["cache-control"] == "no-store"
    assert first.headers["referrer-policy"] == "no-referrer"


async def test_full_login_sets_hardened_cookie_and_session_shows_the_user(
        bff: RunningService) -> None:
    async with client_for(bff) as client:
        callback = await sign_in(client, return_to="/reports?tab=2")
        assert callback.headers["location"] == "/reports?tab=2"
        cookie = callback.headers["set-cookie"]
        assert cookie.startswith("session=")
        for attribute in ("HttpOnly", "Path=/", "SameSite=lax"):
            assert attribute.lower() in cookie.lower()
        assert "domain" not in cookie.lower()
        value = client.cookies.get("session")
        assert value is not None and len(value) >= 43
        session = await client.get("/auth/session")
    assert session.status_code == 200
    body = session.json()
    assert body["user"] == {"id": "1", "display_name": "Ada Lovelace",
                            "email": "ada@example.com"}
    assert body["looker"]["state"] == "active"
    assert datetime.fromisoformat(body["session"]["expires_at"]) > datetime.now(UTC)


async def test_each_login_issues_a_new_session_id(bff: RunningService) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        first = client.cookies.get("session")
        await sign_in(client)
        assert client.cookies.get("session") != first


@pytest.mark.parametrize("state", ["forged-state-value", "", "x" * 300])
async def test_forged_or_missing_state_is_refused_and_stores_nothing(
        bff: RunningService, engine: AsyncEngine, state: str) -> None:
    async with client_for(bff) as client:
        callback_url = await start_login(client)
        code = query_of(callback_url)["code"]
        response = await client.get("/auth/callback", params={"code": code, "state": state})
    assert response.status_code == 302
    assert response.headers["location"] == "/?login_error=invalid_state"
    assert "set-cookie" not in response.headers or "session=" not in response.headers["set-cookie"]
    async with engine.connect() as db:
        assert (await db.execute(text("SELECT count(*) FROM sessions"))).scalar_one() == 0


async def test_replayed_callback_is_refused(bff: RunningService) -> None:
    async with client_for(bff) as client:
        callback_url = await start_login(client, "/here")
        first = await client.get(callback_url)
        assert first.headers["location"] == "/here"
        replay = await client.get(callback_url)
    assert replay.headers["location"] == "/?login_error=invalid_state"


async def test_callback_from_another_browser_is_refused(bff: RunningService) -> None:
    async with client_for(bff) as victim, client_for(bff) as attacker:
        callback_url = await start_login(victim)
        response = await attacker.get(callback_url)
    assert response.headers["location"] == "/?login_error=invalid_state"


async def test_replayed_code_fails_and_looker_revokes_what_it_issued(
        bff: RunningService, emulator: Any) -> None:
    async with client_for(bff, headers={"X-CSRF": "1"}) as client:
        first = query_of(await start_login(client, "/one"))
        ok = await client.get("/auth/callback", params=first)
        assert ok.headers["location"] == "/one"
        second_state = query_of(await start_login(client, "/two"))["state"]
        replay = await client.get("/auth/callback",
                                  params={"code": first["code"], "state": second_state})
        assert replay.headers["location"] == "/two?login_error=exchange_failed"
        assert emulator.control.counters()["replayed_codes"] >= 1
        # the code's tokens died at Looker: the first session now needs a new sign-in
        me = await client.get("/api/me")
    assert me.status_code == 401
    assert me.json()["code"] == "reauth_required"


async def test_pkce_mismatch_fails_the_exchange(bff: RunningService) -> None:
    async with client_for(bff) as client:
        tab_a = query_of(await start_login(client, "/a"))
        tab_b = query_of(await start_login(client, "/b"))
        # a's code with b's transaction: b's verifier does not match a's challenge
        response = await client.get("/auth/callback",
                                    params={"code": tab_a["code"], "state": tab_b["state"]})
    assert response.headers["location"] == "/b?login_error=exchange_failed"


async def test_two_tabs_logging_in_at_once_both_succeed(bff: RunningService) -> None:
    async with client_for(bff) as client:
        tab_a = await start_login(client, "/a")
        tab_b = await start_login(client, "/b")
        done_b = await client.get(tab_b)
        done_a = await client.get(tab_a)
    assert done_a.headers["location"] == "/a"
    assert done_b.headers["location"] == "/b"


async def test_looker_access_denied_comes_back_as_login_error(bff: RunningService) -> None:
    async with client_for(bff) as client:
        state = query_of(await start_login(client, "/x?y=1"))["state"]
        response = await client.get("/auth/callback",
                                    params={"error": "access_denied", "state": state})
    assert response.headers["location"] == "/x?y=1&login_error=access_denied"


async def test_token_endpoint_down_is_looker_unavailable(
        make_bff: Any, emulator: Any) -> None:
    closed_port = free_port()
    bff = make_bff(looker_api_url=f"http://127.0.0.1:{closed_port}")
    async with client_for(bff) as client:
        callback_url = await start_login(client, "/p")
        response = await client.get(callback_url)
    assert response.headers["location"] == "/p?login_error=looker_unavailable"


@pytest.mark.parametrize("status", [500, 503])
async def test_token_endpoint_errors_fail_the_login_cleanly(
        bff: RunningService, emulator: Any, engine: AsyncEngine, status: int) -> None:
    async with client_for(bff) as client:
        callback_url = await start_login(client, "/p")
        emulator.control.set_fault("token", status=status)
        response = await client.get(callback_url)
    assert response.status_code == 302
    assert response.headers["location"] in ("/p?login_error=exchange_failed",
                                             "/p?login_error=looker_unavailable")
    async with engine.connect() as db:
        assert (await db.execute(text("SELECT count(*) FROM looker_tokens"))).scalar_one() == 0


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example/", "/\\evil.example", "http:evil.example",
    "/%2F%2Fevil.example", "/%5Cevil.example", "%2F%2Fevil.example", "/%252F%252Fevil.example",
    "javascript:alert(1)", "https://127.0.0.1@evil.example/", "/ok\r\nSet-Cookie: x=1",
    "/.//evil.example", "/a/..//evil.example", "/%2e/%2Fevil.example",
    "/%2525252F%2525252Fevil.example",
])
async def test_open_redirect_shapes_are_replaced_by_root(bff: RunningService,
                                                         target: str) -> None:
    async with client_for(bff) as client:
        callback = await sign_in(client, return_to=target)
    assert callback.headers["location"] == "/"


async def test_absolute_return_to_on_an_spa_origin_is_kept(make_bff: Any) -> None:
    bff = make_bff(spa_origins=["https://spa.example"])
    async with client_for(bff) as client:
        callback = await sign_in(client, return_to="https://spa.example/app#x")
    assert callback.headers["location"] == "https://spa.example/app#x"


@pytest.mark.parametrize("cookie", ["", "garbage", "A" * 43, "A" * 5000, "é"])
async def test_unknown_or_malformed_cookie_is_unauthenticated(bff: RunningService,
                                                              cookie: str) -> None:
    async with client_for(bff) as client:
        response = await client.get("/auth/session",
                                       headers={"Cookie": f"session={cookie}".encode()})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthenticated"


async def test_tampered_cookie_is_unauthenticated(bff: RunningService) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        value = client.cookies["session"]
        tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
        client.cookies.clear()
        response = await client.get("/auth/session", headers={"Cookie": f"session={tampered}"})
    assert response.status_code == 401


async def test_expired_and_idle_sessions_end(make_bff: Any, engine: AsyncEngine) -> None:
    bff = make_bff(cache_ttl_seconds=0)
    async with client_for(bff) as client:
        await sign_in(client)
        assert (await client.get("/auth/session")).status_code == 200
        async with engine.begin() as db:
            await db.execute(text("UPDATE sessions SET last_seen_at = now() - interval '2 hours'"))
        assert (await client.get("/auth/session")).status_code == 401
        await sign_in(client)
        async with engine.begin() as db:
            await db.execute(text("UPDATE sessions SET expires_at = now() - interval '1 second'"))
        assert (await client.get("/auth/session")).status_code == 401


async def test_cross_origin_or_headerless_logout_is_refused(bff: RunningService) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        no_header = await client.post("/auth/logout")
        evil = await client.post("/auth/logout",
                                 headers={"X-CSRF": "1", "Origin": "https://evil.example"})
        still = await client.get("/auth/session")
    assert no_header.status_code == 403 and no_header.json()["code"] == "csrf_required"
    assert evil.status_code == 403 and evil.json()["code"] == "origin_forbidden"
    assert still.status_code == 200


async def test_api_calls_need_the_csrf_header_and_an_allowed_origin(bff: RunningService) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        bare = await client.get("/api/me")
        evil = await client.get("/api/me", headers={"X-CSRF": "1", "Origin": "https://evil.example"})
        good = await client.get("/api/me", headers={"X-CSRF": "1", "Origin": bff.url})
    assert bare.status_code == 403 and bare.json()["code"] == "csrf_required"
    assert evil.status_code == 403 and evil.json()["code"] == "origin_forbidden"
    assert good.status_code == 200


async def test_cors_allows_credentials_for_spa_origins_only(make_bff: Any) -> None:
    bff = make_bff(spa_origins=["https://spa.example"])
    preflight = {"Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "x-csrf"}
    async with client_for(bff) as client:
        ok = await client.options("/api/me", headers={"Origin": "https://spa.example",
                                                      **preflight})
        evil = await client.options("/api/me", headers={"Origin": "https://evil.example",
                                                        **preflight})
    assert ok.headers["access-control-allow-origin"] == "https://spa.example"
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in evil.headers


async def test_logout_revokes_at_looker_and_ends_the_session(
        bff: RunningService, emulator: Any, engine: AsyncEngine) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        assert (await client.get("/auth/session")).status_code == 200
        before = emulator.control.counters()["logouts"]
        response = await client.post("/auth/logout", headers={"X-CSRF": "1"})
        assert response.status_code == 204
        assert "session=" in response.headers["set-cookie"]
        assert emulator.control.counters()["logouts"] == before + 1
        after = await client.get("/auth/session")
    assert after.status_code == 401
    async with engine.connect() as db:
        assert (await db.execute(text("SELECT count(*) FROM looker_tokens"))).scalar_one() == 0


async def test_logout_when_looker_is_down_still_ends_the_session(make_bff: Any) -> None:
    bff = make_bff()
    async with client_for(bff) as client:
        await sign_in(client)
        cookie = client.cookies["session"]
        bff.runtime.settings  # noqa: B018 (the instance is running)
        down = make_bff(looker_api_url=f"http://127.0.0.1:{free_port()}")
        async with client_for(down) as other:
            response = await other.post("/auth/logout", headers={"X-CSRF": "1",
                                                                 "Cookie": f"session={cookie}"})
            assert response.status_code == 204
            assert (await other.get("/auth/session",
                                    headers={"Cookie": f"session={cookie}"})).status_code == 401


async def test_logout_signs_the_user_out_of_every_browser(make_bff: Any) -> None:
    bff = make_bff(cache_ttl_seconds=0)
    async with client_for(bff) as laptop, client_for(bff) as phone:
        await sign_in(laptop)
        await sign_in(phone)
        await laptop.post("/auth/logout", headers={"X-CSRF": "1"})
        assert (await phone.get("/auth/session")).status_code == 401


async def test_no_table_holds_a_token_or_cookie_in_plaintext(
        bff: RunningService, emulator: Any, engine: AsyncEngine) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        cookie = client.cookies["session"]
        await start_login(client)  # a pending transaction too
    secrets = {cookie}
    for record in emulator.state.access_tokens.values():
        secrets.add(record.token)
        if record.refresh_token:
            secrets.add(record.refresh_token)
    async with engine.connect() as db:
        dump = ""
        for table in ("users", "sessions", "looker_tokens", "login_transactions"):
            rows = (await db.execute(text(f"SELECT t::text FROM {table} t"))).scalars().all()
            assert rows, table
            dump += "\n".join(rows)
    binary = dump.encode()
    for secret in secrets:
        assert secret not in dump
        assert secret.encode().hex() not in binary.decode()


async def test_key_rotation_keeps_sessions_working(
        make_bff: Any, engine: AsyncEngine, database_url: str) -> None:
    from service.config import Settings
    from service.tokens.rotation import rotate_all
    from tests.conftest import TEST_KEY

    bff = make_bff()
    async with client_for(bff, headers={"X-CSRF": "1"}) as client:
        await sign_in(client)
        async with engine.connect() as db:
            before = (await db.execute(text("SELECT access_token_enc FROM looker_tokens"))
                      ).scalar_one()
        new_key = Fernet.generate_key().decode()
        keys = [new_key, TEST_KEY]
        settings = Settings(_env_file=None, environment="development",  # type: ignore[call-arg]
                            looker_base_url="http://x", looker_client_id="x",
                            database_url=database_url, session_secret="s" * 32,
                            token_encryption_keys=keys)
        assert await rotate_all(settings) == 1
        async with engine.connect() as db:
            after = (await db.execute(text("SELECT access_token_enc FROM looker_tokens"))
                     ).scalar_one()
        assert after != before
        Fernet(new_key.encode()).decrypt(after)  # now under the new first key
        rotated = make_bff(token_encryption_keys=keys, cache_ttl_seconds=0)
        response = await client.get(f"{rotated.url}/api/me",
                                    headers={"Cookie": f"session={client.cookies['session']}"})
    assert response.status_code == 200
    assert response.json()["email"] == "ada@example.com"


async def test_session_is_cached_and_last_seen_is_not_written_per_request(
        bff: RunningService, engine: AsyncEngine) -> None:
    async with client_for(bff) as client:
        await sign_in(client)
        await client.get("/auth/session")
        async with engine.connect() as db:
            seen = (await db.execute(text("SELECT last_seen_at FROM sessions"))).scalar_one()
        await asyncio.gather(*(client.get("/auth/session") for _ in range(10)))
        async with engine.connect() as db:
            again = (await db.execute(text("SELECT last_seen_at FROM sessions"))).scalar_one()
    assert again == seen
    assert datetime.now(UTC) - seen < timedelta(minutes=1)
