"""Large results stream through with bounded memory, and connections are always released."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx2
import psutil
import pytest

pytestmark = pytest.mark.asyncio

BIG_LOOK = "101"  # the emulator streams LookerEmulator.big_look_bytes (50 MB here) for it
MB = 1024 * 1024


class PeakRss:
    """Samples this process's RSS (service and emulator run in it, in threads)."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self.baseline = self._process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


async def wait_released(bff: Any) -> int:
    """Checked-out upstream connections once the service settles (polled: it runs in
    another thread), at most 5 s later."""
    for _ in range(250):
        if not bff.runtime.looker.in_use():
            break
        await asyncio.sleep(0.02)
    return int(bff.runtime.looker.in_use())


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_a_50_mb_result_streams_with_bounded_memory(
        signed_in: httpx2.AsyncClient, bff: Any, emulator: Any, fmt: str) -> None:
    expected = emulator.config.big_look_bytes
    received = 0
    with PeakRss() as rss:
        async with signed_in.stream("GET", f"/api/looks/{BIG_LOOK}/run/{fmt}") as response:
            assert response.status_code == 200
            async for chunk in response.aiter_raw():
                received += len(chunk)
    print(f"\n50 MB {fmt} stream: RSS growth {rss.growth_mb:.1f} MB")
    assert received >= expected * 0.95
    # Buffering the body anywhere (emulator, service or client) would cost >= 50 MB.
    assert rss.growth_mb < 25
    assert await wait_released(bff) == 0


async def test_a_browser_leaving_mid_stream_releases_the_connection(
        signed_in: httpx2.AsyncClient, bff: Any) -> None:
    async with signed_in.stream("GET", f"/api/looks/{BIG_LOOK}/run/csv") as response:
        assert response.status_code == 200
        received = 0
        async for chunk in response.aiter_raw():
            received += len(chunk)
            if received > 2 * MB:
                break
        assert bff.runtime.looker.in_use() >= 1  # the stream holds its connection...
    # ...and gives it back once the browser is gone, without reading the other 48 MB.
    assert await wait_released(bff) == 0


@pytest.mark.parametrize("backend", ["aiohttp", "httpx2"])
async def test_many_abandoned_streams_do_not_exhaust_the_pool(
        bff: Any, signed_in: httpx2.AsyncClient, make_bff: Any, backend: str) -> None:
    small_pool = make_bff(looker_max_connections=2, looker_http_client=backend,
                          looker_timeout_seconds=3)
    cookie = bff.settings.session_cookie_name
    async with httpx2.AsyncClient(base_url=small_pool.url, headers={"X-CSRF": "1"},
                                  cookies={cookie: signed_in.cookies[cookie]},
                                  timeout=10) as client:
        for _ in range(6):
            async with client.stream("GET", f"/api/looks/{BIG_LOOK}/run/csv") as response:
                assert response.status_code == 200
                async for _chunk in response.aiter_raw():
                    break
        assert await wait_released(small_pool) == 0
        assert (await client.get("/api/me")).status_code == 200


async def test_small_results_are_sent_in_one_piece(signed_in: httpx2.AsyncClient,
                                                   bff: Any) -> None:
    response = await signed_in.get("/api/looks/1/run/json", params={"limit": 10})
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert bff.runtime.looker.in_use() == 0
