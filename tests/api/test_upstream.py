"""Each upstream failure mapped as CONTRACT.md says, and the token renewed at most once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.asyncio


def api_calls(emulator: Any) -> int:
    return int(emulator.state.counters["api_calls"])


@pytest.fixture
async def other_bff_client(bff: Any, signed_in: httpx2.AsyncClient
                           ) -> AsyncIterator[Any]:
    """A client for another instance (own settings), signed in through the shared database."""
    cookie = bff.settings.session_cookie_name
    clients: list[httpx2.AsyncClient] = []

    def client_for(service: Any) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(base_url=service.url, headers={"X-CSRF": "1"},
                                    cookies={cookie: signed_in.cookies[cookie]}, timeout=30)
        clients.append(client)
        return client

    yield client_for
    for client in clients:
        await client.aclose()


async def test_a_transient_5xx_on_a_get_is_retried(signed_in: httpx2.AsyncClient,
                                                   emulator: Any) -> None:
    emulator.control.set_fault("api", status=503, count=2)
    before = api_calls(emulator)
    response = await signed_in.get("/api/me")
    assert response.status_code == 200
    assert api_calls(emulator) == before + 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_lasting_5xx_is_upstream_error(signed_in: httpx2.AsyncClient, emulator: Any,
                                               status: int) -> None:
    emulator.control.set_fault("api", status=status)
    response = await signed_in.get("/api/looks")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "upstream_error"


async def test_a_post_is_not_retried(signed_in: httpx2.AsyncClient, emulator: Any) -> None:
    emulator.control.set_fault("api", status=503, count=1)
    before = api_calls(emulator)
    response = await signed_in.post("/api/queries/run/json",
                                    json={"model": "thelook", "view": "order_items",
                                          "fields": ["order_items.count"]})
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_error"
    assert api_calls(emulator) == before + 1


async def test_a_429_passes_through_with_retry_after(signed_in: httpx2.AsyncClient,
                                                     emulator: Any) -> None:
    emulator.control.set_fault("api", status=429, retry_after=7)
    before = api_calls(emulator)
    response = await signed_in.get("/api/looker/looks")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert "message" in response.json()
    assert api_calls(emulator) == before + 1


async def test_looker_out_of_time_is_upstream_timeout(make_bff: Any, emulator: Any,
                                                      other_bff_client: Any) -> None:
    impatient = make_bff(looker_timeout_seconds=0.3)
    emulator.control.set_fault("api", latency_ms=1500)
    response = await other_bff_client(impatient).get("/api/me")
    assert response.status_code == 504
    assert response.json()["code"] == "upstream_timeout"


async def test_looker_unreachable_is_upstream_unavailable(make_bff: Any,
                                                          other_bff_client: Any) -> None:
    nowhere = make_bff(looker_api_url=f"http://127.0.0.1:{free_port()}")
    response = await other_bff_client(nowhere).get("/api/me")
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_unavailable"
    assert nowhere.runtime.looker.in_use() == 0


async def test_an_expired_token_is_renewed_transparently(signed_in: httpx2.AsyncClient,
                                                         emulator: Any) -> None:
    assert (await signed_in.get("/api/me")).status_code == 200
    assert emulator.control.expire_tokens(user_id=1) >= 1
    response = await signed_in.get("/api/me")
    assert response.status_code == 200, response.text
    assert emulator.state.counters["token_grants"]["refresh_token"] == 1


async def test_a_refused_refresh_means_reauth_required(signed_in: httpx2.AsyncClient,
                                                       emulator: Any) -> None:
    assert (await signed_in.get("/api/me")).status_code == 200
    emulator.control.revoke_tokens(user_id=1)
    response = await signed_in.get("/api/looker/looks")
    assert response.status_code == 401
    assert response.json()["code"] == "reauth_required"


@pytest.mark.parametrize("backend", ["aiohttp", "httpx2"])
async def test_both_http_backends_relay_the_same_answers(make_bff: Any, emulator: Any,
                                                         other_bff_client: Any,
                                                         backend: str) -> None:
    client = other_bff_client(make_bff(looker_http_client=backend))
    assert (await client.get("/api/me")).json()["email"] == "ada@example.com"
    run = await client.get("/api/looks/1/run/csv", params={"limit": 2})
    assert run.status_code == 200 and run.headers["content-type"].startswith("text/csv")
    emulator.control.set_fault("api", status=503, count=1)
    assert (await client.get("/api/looks")).status_code == 200
    emulator.control.set_fault("api", status=429, retry_after=3)
    limited = await client.get("/api/looks")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
