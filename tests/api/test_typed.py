"""Each typed route, end to end: SPA -> service -> emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from service.api.schemas import Dashboard, DashboardSummary, Look, User

pytestmark = pytest.mark.asyncio


async def test_me_is_the_looker_user_at_the_top_level(signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.get("/api/me")
    assert response.status_code == 200, response.text
    user = User.model_validate_json(response.content)
    assert user.email == "ada@example.com"
    assert user.display_name == "Ada Lovelace"
    assert response.json()["id"] == user.id


async def test_me_forwards_fields(signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.get("/api/me", params={"fields": "id,email"})
    assert response.status_code == 200
    assert set(response.json()) == {"id", "email"}


async def test_looks_list_and_one_look_with_its_query(signed_in: httpx2.AsyncClient) -> None:
    looks = (await signed_in.get("/api/looks")).json()
    assert looks and all(Look.model_validate(look).id for look in looks)
    response = await signed_in.get(f"/api/looks/{looks[0]['id']}")
    assert response.status_code == 200
    look = Look.model_validate_json(response.content)
    assert look.query is not None and look.query.model


async def test_dashboards_list_and_one_dashboard(signed_in: httpx2.AsyncClient) -> None:
    dashboards = (await signed_in.get("/api/dashboards")).json()
    assert dashboards and all(DashboardSummary.model_validate(d).id for d in dashboards)
    response = await signed_in.get(f"/api/dashboards/{dashboards[0]['id']}")
    assert response.status_code == 200
    assert Dashboard.model_validate_json(response.content).title


@pytest.mark.parametrize(("fmt", "media_type"), [
    ("json", "application/json"), ("csv", "text/csv"), ("txt", "text/plain"),
    ("png", "image/png"),
])
async def test_run_look_in_each_format(signed_in: httpx2.AsyncClient, fmt: str,
                                       media_type: str) -> None:
    response = await signed_in.get(f"/api/looks/1/run/{fmt}", params={"limit": 3})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(media_type)
    if fmt == "json":
        assert len(response.json()) == 3


async def test_run_options_are_forwarded(signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.get("/api/looks/1/run/json",
                                   params={"limit": 2, "apply_formatting": "true"})
    assert response.status_code == 200
    assert len(response.json()) == 2


async def test_unknown_result_format_is_a_validation_error(
        signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.get("/api/looks/1/run/exe")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"


async def test_run_inline_query(signed_in: httpx2.AsyncClient) -> None:
    query: dict[str, Any] = {"model": "thelook", "view": "order_items",
                             "fields": ["order_items.created_date", "order_items.count"],
                             "limit": "5"}
    response = await signed_in.post("/api/queries/run/json", json=query)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert len(rows) == 5 and "order_items.count" in rows[0]


async def test_inline_query_without_model_is_a_validation_error(
        signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.post("/api/queries/run/json", json={"view": "order_items"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_lookers_own_404_passes_through(signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.get("/api/looks/999999")
    assert response.status_code == 404
    body = response.json()
    assert "message" in body and "documentation_url" in body


async def test_lookers_own_422_passes_through(signed_in: httpx2.AsyncClient) -> None:
    response = await signed_in.post("/api/queries/run/json",
                                    json={"model": "nope", "view": "order_items",
                                          "fields": ["x.y"]})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/json")
    assert "message" in response.json()


async def test_api_calls_need_a_session_and_the_csrf_header(
        bff: Any, signed_in: httpx2.AsyncClient) -> None:
    async with httpx2.AsyncClient(base_url=bff.url) as anonymous:
        assert (await anonymous.get("/api/me", headers={"X-CSRF": "1"})).status_code == 401
    response = await signed_in.get("/api/me", headers={"X-CSRF": ""})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_required"
