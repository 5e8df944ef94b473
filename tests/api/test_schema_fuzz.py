"""Schemathesis against our own OpenAPI spec, signed in: no 5xx, no response off-spec."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.asyncio

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
MAX_EXAMPLES = 12


async def test_the_api_answers_within_its_spec(bff: Any,
                                               signed_in: httpx2.AsyncClient) -> None:
    schema = schemathesis.openapi.from_url(f"{bff.url}/openapi.json")
    cookie = bff.settings.session_cookie_name
    session = requests.Session()
    session.headers["X-CSRF"] = "1"
    session.cookies.set(cookie, signed_in.cookies[cookie])
    operations = [result.ok() for result in schema.get_all_operations()]
    api = [op for op in operations if op.path.startswith("/api/")]
    assert len(api) >= 8
    statuses: dict[int, int] = {}
    # The service and the emulator run in other threads: blocking calls here are fine.
    for operation in api:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case: schemathesis.Case) -> None:
            response = case.call_and_validate(base_url=bff.url, session=session,
                                              checks=CHECKS, timeout=30)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        conforms()
    session.close()
    print(f"\nschemathesis statuses: {dict(sorted(statuses.items()))}")
    assert statuses.get(200), "no case ever reached Looker: the run tested nothing"
