"""API 4.0 subset: shapes checked against Looker.4.0.oas.json, formats, errors, logout, login."""

from __future__ import annotations

import csv
import io

import orjson
import pytest

from looker_emulator.data import BIG_LOOK_ID, DOC_URL, ONE_MB_LOOK_ID
from looker_emulator.testing import RunningEmulator

from .helpers import CLIENT, Flow, SpecChecker


@pytest.fixture
def token(emu: RunningEmulator) -> str:
    return str(emu.control.mint_tokens(1, CLIENT)["access_token"])


def test_current_user_and_user_by_id_match_schema(flow: Flow, token: str,
        spec: SpecChecker) -> None:
    me = flow.get(token, "/user").json()
    spec.check("User", me)
    assert me["id"] == "1" and me["email"] == "ada@example.com"
    grace = flow.get(token, "/users/2").json()
    spec.check("User", grace)
    assert grace["display_name"] == "Grace Hopper"
    assert flow.get(token, "/user", params={"fields": "id,email"}).json() == {
        "id": "1", "email": "ada@example.com"}


def test_looks_and_dashboards_match_schema(flow: Flow, token: str, spec: SpecChecker) -> None:
    looks = flow.get(token, "/looks").json()
    spec.check("Look", looks, many=True)
    assert {ONE_MB_LOOK_ID, BIG_LOOK_ID} <= {lk["id"] for lk in looks}
    look = flow.get(token, "/looks/1").json()
    spec.check("LookWithQuery", look)
    assert look["query"]["id"] == look["query_id"]
    spec.check("Look", flow.get(token, "/looks/search", params={"title": "%"}).json(), many=True)
    dashes = flow.get(token, "/dashboards").json()
    spec.check("DashboardBase", dashes, many=True)
    dash = flow.get(token, "/dashboards/1").json()
    spec.check("Dashboard", dash)
    assert dash["dashboard_elements"][0]["look"]["id"] == "1"
    spec.check("Dashboard", flow.get(token, "/dashboards/search").json(), many=True)


def test_search_limit_offset_fields_title(flow: Flow, token: str) -> None:
    everything = flow.get(token, "/looks/search", params={"sorts": "id"}).json()
    page = flow.get(token, "/looks/search",
                    params={"sorts": "id", "limit": 3, "offset": 2, "fields": "id,title"}).json()
    assert page == [{"id": lk["id"], "title": lk["title"]} for lk in everything[2:5]]
    hits = flow.get(token, "/looks/search", params={"title": "orders%", "fields": "title"}).json()
    assert hits and all(h["title"].lower().startswith("orders") for h in hits)
    assert flow.get(token, "/looks/search", params={"title": "Orders by Day"}).json()[0][
        "title"] == "Orders by Day"
    assert flow.get(token, "/looks/search", params={"title": "Orders"}).json() == []
    r = flow.get(token, "/looks/search", params={"limit": "ten"})
    assert r.status_code == 400
    d = flow.get(token, "/dashboards/search", params={"title": "%sales%", "fields": "id"}).json()
    assert d == [{"id": "2"}]
    nested = flow.get(token, "/looks/1", params={"fields": "id,folder(name)"}).json()
    assert nested == {"id": "1", "folder": {"name": "Sales"}}


def test_run_look_formats(flow: Flow, token: str) -> None:
    rows = flow.get(token, "/looks/1/run/json").json()
    assert len(rows) == 500 and set(rows[0]) == {"order_items.created_date", "order_items.count"}
    bi = flow.get(token, "/looks/1/run/json_bi", params={"limit": 5}).json()
    assert len(bi["rows"]) == 5 and bi["metadata"]["fields"]["measures"]
    r = flow.get(token, "/looks/1/run/csv", params={"limit": 5})
    assert r.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["Order Items Created Date", "Order Items Count"] and len(table) == 6
    txt = flow.get(token, "/looks/1/run/txt", params={"limit": 2}).text.splitlines()
    assert len(txt) == 3 and "\t" in txt[0]
    for fmt, ctype in (("json_detail", "application/json"), ("html", "text/html"),
                       ("md", "text/markdown"), ("sql", "text/plain"), ("png", "image/png"),
                       ("jpg", "image/jpeg")):
        r = flow.get(token, f"/looks/2/run/{fmt}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype), fmt
    assert flow.get(token, "/looks/2/run/png").content.startswith(b"\x89PNG")


def test_unknown_and_unsupported_formats_are_400(flow: Flow, token: str, spec: SpecChecker) -> None:
    r = flow.get(token, "/looks/1/run/pdf")
    assert r.status_code == 400
    spec.check("Error", r.json())
    assert flow.get(token, "/looks/1/run/xlsx").status_code == 400


def test_missing_look_is_looker_404(flow: Flow, token: str, spec: SpecChecker) -> None:
    for path in ("/looks/999", "/looks/999/run/json", "/dashboards/999", "/users/999",
                 "/queries/1/run/json", "/no/such/route"):
        r = flow.get(token, path)
        assert r.status_code == 404, path
        assert r.json() == {"message": "Not found", "documentation_url": DOC_URL}
        spec.check("Error", r.json())


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "token nope", "Bearer"])
def test_requires_authentication(flow: Flow, header: str | None, spec: SpecChecker) -> None:
    with flow.api() as c:
        r = c.get("/api/4.0/looks", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.json() == {"message": "Requires authentication.", "documentation_url": DOC_URL}
    spec.check("Error", r.json())


def test_inline_query_runs_and_validates(flow: Flow, token: str, spec: SpecChecker) -> None:
    body = {"model": "thelook", "view": "order_items", "limit": "7",
            "fields": ["users.state", "order_items.count"], "sorts": ["order_items.count desc"]}
    with flow.api() as c:
        auth = {"Authorization": f"Bearer {token}"}
        r = c.post("/api/4.0/queries/run/json", json=body, headers=auth)
        assert r.status_code == 200 and len(r.json()) == 7
        r = c.post("/api/4.0/queries/run/csv", json=body, headers=auth)
        assert r.text.splitlines()[0] == "Users State,Order Items Count"
        bad = c.post("/api/4.0/queries/run/json", headers=auth,
                     json={"fields": ["not a field"], "limit": "lots"})
        assert bad.status_code == 422
        spec.check("ValidationError", bad.json())
        fields = {e["field"] for e in bad.json()["errors"]}
        assert {"model", "view", "fields", "limit"} <= fields
        assert c.post("/api/4.0/queries/run/json", headers=auth,
                      json={**body, "model": "nope"}).status_code == 404
        assert c.post("/api/4.0/queries/run/json", headers=auth,
                      content=b"{oops").status_code == 400
        created = c.post("/api/4.0/queries", json=body, headers=auth).json()
        spec.check("Query", created)
        r = c.get(f"/api/4.0/queries/{created['id']}/run/json", headers=auth)
        assert r.status_code == 200 and len(r.json()) == 7
    look = flow.get(token, "/looks/3").json()
    assert len(flow.get(token, f"/queries/{look['query_id']}/run/json").json()) == 25


def test_versions_is_public_and_matches_schema(emu: RunningEmulator, flow: Flow,
        spec: SpecChecker) -> None:
    with flow.api() as c:
        for path in ("/api/4.0/versions", "/api/versions"):
            v = c.get(path).json()
            spec.check("ApiVersion", v)
            assert v["api_server_url"] == emu.api_url and v["web_server_url"] == emu.web_url
            assert v["current_version"]["version"] == "4.0"


@pytest.mark.parametrize("path", ["/api/logout", "/api/4.0/logout"])
def test_logout_revokes_access_and_refresh(flow: Flow, path: str) -> None:
    tok = flow.tokens()
    with flow.api() as c:
        r = c.delete(path, headers={"Authorization": f"Bearer {tok['access_token']}"})
        assert r.status_code == 204
        again = c.delete(path, headers={"Authorization": f"Bearer {tok['access_token']}"})
        assert again.status_code == 401
    assert flow.get(tok["access_token"], "/user").status_code == 401
    assert flow.refresh(tok["refresh_token"]).json()["error"] == "invalid_grant"


def test_api3_login_gives_token_without_refresh(emu: RunningEmulator, flow: Flow,
        spec: SpecChecker) -> None:
    cred = emu.config.api3_credentials[0]
    with flow.api() as c:
        r = c.post("/api/4.0/login", data={"client_id": cred.client_id,
                                           "client_secret": cred.client_secret})
        assert r.status_code == 200
        tok = r.json()
        spec.check("AccessToken", tok)
        assert tok["refresh_token"] is None and tok["token_type"] == "Bearer"
        bad = c.post("/api/4.0/login", data={"client_id": cred.client_id,
                                             "client_secret": "wrong"})
        assert bad.status_code == 404
    assert flow.get(tok["access_token"], "/user").json()["id"] == str(cred.user_id)


def test_one_megabyte_look(flow: Flow, token: str) -> None:
    body = flow.get(token, f"/looks/{ONE_MB_LOOK_ID}/run/json").content
    assert 900_000 < len(body) < 1_200_000
    assert isinstance(orjson.loads(body), list)


def test_big_look_is_streamed_at_configured_size(emu: RunningEmulator, flow: Flow,
                                                 token: str) -> None:
    assert emu.config.big_look_bytes == 50 * 1024 * 1024  # the default
    emu.control.patch_config(big_look_bytes=3_000_000)
    with flow.api() as c:
        auth = {"Authorization": f"Bearer {token}"}
        with c.stream("GET", f"/api/4.0/looks/{BIG_LOOK_ID}/run/json", headers=auth) as r:
            assert r.status_code == 200 and "content-length" not in r.headers  # chunked
            chunks = [chunk for chunk in r.iter_raw()]
        body = b"".join(chunks)
        assert len(body) == 3_000_000 and len(chunks) > 1
        assert len(orjson.loads(body)) > 10_000
        r = c.get(f"/api/4.0/looks/{BIG_LOOK_ID}/run/csv", headers=auth)
        assert 2_990_000 < len(r.content) <= 3_000_000
        assert r.text.count("\n") > 10_000


def test_last_request_headers_are_recorded(emu: RunningEmulator, flow: Flow, token: str) -> None:
    with flow.api() as c:
        c.get("/api/4.0/looks", headers={"Authorization": f"Bearer {token}",
                                         "X-Forwarded-For": "10.1.2.3"})
    assert emu.state is not None
    assert emu.state.last_api_headers["x-forwarded-for"] == "10.1.2.3"
    assert emu.control.last_headers()["api"]["authorization"] == f"Bearer {token}"


def test_api_call_counters(emu: RunningEmulator, flow: Flow, token: str) -> None:
    flow.get(token, "/looks")
    flow.get(token, "/looks/1")
    flow.get(None, "/user")
    c = emu.control.counters()
    assert c["api_calls"] == 3 and c["api_calls_by_family"] == {"looks": 2, "user": 1}
    assert c["api_unauthorized"] == 1
    emu.control.reset_counters()
    assert emu.control.counters()["api_calls"] == 0
