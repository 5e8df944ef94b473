"""The OAuth flow end to end over real HTTP: sign-in form, approval, code, tokens, API, logout."""

from __future__ import annotations

import httpx2
import pytest

from looker_emulator.testing import RunningEmulator, running_emulator

from .helpers import CLIENT, REDIRECT, Flow, SpecChecker, hidden_fields, make_config, pkce


def test_interactive_flow_end_to_end(emu: RunningEmulator, flow: Flow, spec: SpecChecker) -> None:
    verifier, challenge = pkce()
    params = flow.auth_params(challenge)
    with flow.browser() as b:
        r = b.get("/auth", params=params)
        assert r.status_code == 200
        assert 'name="email"' in r.text and 'name="password"' in r.text
        approval = flow.sign_in(b, params)
        assert "Allow" in approval.text and "Looker BFF" in approval.text
        q = flow.redirect_query(flow.decide(b, approval))
        assert approval.status_code == 200
    assert set(q) == {"code", "state"} and q["state"] == params["state"]
    assert emu.state is not None and emu.state.counters["approvals"] == 1

    r = flow.exchange(q["code"], verifier)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    tok = r.json()
    spec.check("AccessToken", tok)
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 3600
    assert tok["access_token"] and tok["refresh_token"]

    me = flow.get(tok["access_token"], "/user")
    assert me.status_code == 200 and me.json()["email"] == "ada@example.com"

    r = flow.refresh(tok["refresh_token"])
    assert r.status_code == 200
    new = r.json()
    assert new["refresh_token"] not in (None, tok["refresh_token"])
    assert flow.get(new["access_token"], "/user").status_code == 200

    with flow.api() as c:
        r = c.delete("/api/logout", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert r.status_code == 204
    assert flow.get(new["access_token"], "/user").status_code == 401
    assert flow.refresh(new["refresh_token"]).json()["error"] == "invalid_grant"
    counters = emu.control.counters()
    assert counters["token_grants"]["authorization_code"] == 1
    assert counters["token_grants"]["refresh_token"] == 1 and counters["logouts"] == 1


def test_approval_is_remembered_per_user_and_client(flow: Flow) -> None:
    flow.get_code()
    _verifier, challenge = pkce()
    with flow.browser() as b:
        resp = flow.sign_in(b, flow.auth_params(challenge))
    assert resp.status_code == 302 and "code=" in resp.headers["location"]
    # Another user meets the app for the first time: approval page again.
    with flow.browser() as b:
        resp = flow.sign_in(b, flow.auth_params(challenge), "grace@example.com",
                            "grace-password")
    assert resp.status_code == 200 and "/auth/decision" in resp.text


def test_session_cookie_skips_sign_in(flow: Flow) -> None:
    _verifier, challenge = pkce()
    with flow.browser() as b:
        flow.decide(b, flow.sign_in(b, flow.auth_params(challenge)))
        again = b.get("/auth", params=flow.auth_params(challenge))
    assert again.status_code == 302 and "code=" in again.headers["location"]


def test_deny_redirects_access_denied(flow: Flow) -> None:
    _verifier, challenge = pkce()
    params = flow.auth_params(challenge)
    with flow.browser() as b:
        q = flow.redirect_query(flow.decide(b, flow.sign_in(b, params), "deny"))
    assert q["error"] == "access_denied" and q["state"] == params["state"]
    assert "code" not in q


def test_wrong_password_gives_no_session(flow: Flow) -> None:
    _verifier, challenge = pkce()
    with flow.browser() as b:
        r = b.get("/auth", params=flow.auth_params(challenge))
        form = hidden_fields(r.text)
        r = b.post("/login", data={**form, "email": "ada@example.com", "password": "nope"})
        assert r.status_code == 200 and "Invalid email or password" in r.text
        assert "looker_emulator_session" not in b.cookies


def test_login_without_csrf_token_is_refused(flow: Flow) -> None:
    with flow.browser() as b:
        r = b.post("/login", data={"email": "ada@example.com", "password": "ada-password",
                                   "next": "/"})
    assert r.status_code == 403


def test_decision_needs_session_csrf(flow: Flow) -> None:
    _verifier, challenge = pkce()
    with flow.browser() as b:
        approval = flow.sign_in(b, flow.auth_params(challenge))
        form = hidden_fields(approval.text)
        form["csrf_token"] = "forged"
        r = b.post("/auth/decision", data={**form, "decision": "allow"})
    assert r.status_code == 403 and "location" not in r.headers


def test_login_next_is_not_an_open_redirect(flow: Flow) -> None:
    with flow.browser() as b:
        form = hidden_fields(b.get("/login", params={"next": "https://evil.example/"}).text)
        assert form["next"] == "/"
        form["next"] = "https://evil.example/"
        r = b.post("/login", data={**form, "email": "ada@example.com",
                                   "password": "ada-password"})
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_form_bodies_work_for_exchange_and_refresh(flow: Flow) -> None:
    code, verifier = flow.get_code()
    r = flow.exchange(code, verifier, form=True)
    assert r.status_code == 200, r.text
    r2 = flow.refresh(r.json()["refresh_token"], form=True)
    assert r2.status_code == 200 and r2.json()["access_token"]


def test_non_interactive_auto_login_and_approve() -> None:
    cfg = make_config(auto_login_user="grace@example.com", auto_approve=True)
    with running_emulator(cfg) as emu:
        flow = Flow(emu)
        verifier, challenge = pkce()
        with flow.browser() as b:
            r = b.get("/auth", params=flow.auth_params(challenge))
        code = flow.redirect_query(r)["code"]
        tok = flow.exchange(code, verifier).json()
        assert flow.get(tok["access_token"], "/user").json()["email"] == "grace@example.com"


def test_auto_login_without_auto_approve_still_shows_approval() -> None:
    with running_emulator(make_config(auto_login_user="ada@example.com")) as emu:
        flow = Flow(emu)
        verifier, challenge = pkce()
        with flow.browser() as b:
            r = b.get("/auth", params=flow.auth_params(challenge))
            assert r.status_code == 200 and "/auth/decision" in r.text
            q = flow.redirect_query(flow.decide(b, r))
        assert flow.exchange(q["code"], verifier).status_code == 200


def test_two_port_mode_separates_hosts() -> None:
    with running_emulator(make_config(), two_ports=True) as emu:
        assert emu.web_url != emu.api_url
        with httpx2.Client(verify=False) as c:
            assert c.get(f"{emu.api_url}/auth").status_code == 404
            assert c.get(f"{emu.api_url}/login").status_code == 404
            assert c.post(f"{emu.web_url}/api/token", json={}).status_code == 404
            assert c.get(f"{emu.web_url}/api/4.0/versions").status_code == 404
            v = c.get(f"{emu.api_url}/api/4.0/versions").json()
        assert v["web_server_url"] == emu.web_url and v["api_server_url"] == emu.api_url
        tok = Flow(emu).tokens()
        assert Flow(emu).get(tok["access_token"], "/user").status_code == 200


@pytest.mark.asyncio
async def test_async_client_against_running_emulator(emu: RunningEmulator) -> None:
    tok = emu.control.mint_tokens(2, CLIENT)
    async with httpx2.AsyncClient(base_url=emu.api_url, verify=False) as c:
        r = await c.get("/api/4.0/user", headers={"Authorization": f"token {tok['access_token']}"})
    assert r.status_code == 200 and r.json()["id"] == "2"
    assert REDIRECT  # the minted pair belongs to the configured client
