"""No token, cookie value or secret ever reaches a log record."""

from __future__ import annotations

import logging
from typing import Any

import httpx2
import pytest

from service.logs import JsonFormatter
from tests.conftest import RunningService, sign_in


async def test_a_whole_session_logs_no_secret(
        make_bff: Any, emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    bff: RunningService = make_bff()
    caplog.set_level(logging.DEBUG)
    async with httpx2.AsyncClient(base_url=bff.url, headers={"X-CSRF": "1"}) as client:
        await sign_in(client, return_to="/x?token=query-secret")
        cookie = client.cookies["session"]
        assert (await client.get("/api/me")).status_code == 200
        emulator.control.expire_tokens(user_id=1)
        assert (await client.get("/api/me")).status_code == 200  # renewed on the way
        await client.get("/api/looker/looks?secret=query-secret")
        secrets = {cookie, "query-secret", bff.settings.session_secret or "",
                   *bff.settings.token_encryption_keys}
        for record in emulator.state.access_tokens.values():
            secrets.add(record.token)
            if record.refresh_token:
                secrets.add(record.refresh_token)
        assert (await client.post("/auth/logout")).status_code == 204
    formatter = JsonFormatter()
    # httpx2's own request lines come from this test's client too; the service holds those
    # loggers at WARNING (service.logs.configure_logging)
    lines = [formatter.format(record) for record in caplog.records
             if not record.name.startswith(("httpx2", "httpcore2"))]
    assert any('"path": "/api/me"' in line or '"path":"/api/me"' in line for line in lines)
    for line in lines:
        for secret in secrets:
            assert secret not in line
