"""Faults and counters through the control API."""

from __future__ import annotations

import time

import httpx2
import pytest

from looker_emulator.testing import RunningEmulator

from .helpers import CLIENT, Flow, SpecChecker


def test_added_latency_per_family(emu: RunningEmulator, flow: Flow) -> None:
    tok = emu.control.mint_tokens(1, CLIENT)["access_token"]
    emu.control.set_fault("api", latency_ms=150)
    t0 = time.perf_counter()
    assert flow.get(tok, "/user").status_code == 200
    assert time.perf_counter() - t0 >= 0.15
    t0 = time.perf_counter()
    with flow.api() as c:
        c.get("/api/4.0/versions")  # also "api"
        assert time.perf_counter() - t0 >= 0.15
        t0 = time.perf_counter()
        c.post("/api/token", json={})  # "token": unaffected
    assert time.perf_counter() - t0 < 0.15


def test_token_endpoint_fails_for_next_n_calls(emu: RunningEmulator, flow: Flow) -> None:
    tok = flow.tokens()
    emu.control.set_fault("token", status=503, count=2)
    assert flow.refresh(tok["refresh_token"]).status_code == 503
    r = flow.refresh(tok["refresh_token"])
    assert r.status_code == 503 and "access_token" not in r.json()
    # The refresh token was never consumed by the failed calls.
    assert flow.refresh(tok["refresh_token"]).status_code == 200
    assert emu.control.faults() == {}
    assert emu.control.counters()["faults_injected"] == 2


def test_429_with_retry_after_until_cleared(emu: RunningEmulator, flow: Flow,
        spec: SpecChecker) -> None:
    tok = emu.control.mint_tokens(1, CLIENT)["access_token"]
    emu.control.set_fault("api", status=429, retry_after=2)
    for _ in range(3):
        r = flow.get(tok, "/looks")
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        spec.check("Error", r.json())
    emu.control.clear_faults("api")
    assert flow.get(tok, "/looks").status_code == 200


def test_token_endpoint_down(emu: RunningEmulator, flow: Flow) -> None:
    emu.control.set_fault("token", down=True)
    with flow.api() as c:
        r = c.post("/api/token", json={"grant_type": "refresh_token"})
    assert r.status_code == 503 and r.headers["connection"] == "close"
    emu.control.clear_faults()
    assert emu.control.faults() == {}


def test_failure_rate(emu: RunningEmulator, flow: Flow) -> None:
    tok = emu.control.mint_tokens(1, CLIENT)["access_token"]
    emu.control.set_fault("all", status=500, rate=0.0)
    assert all(flow.get(tok, "/user").status_code == 200 for _ in range(5))
    emu.control.set_fault("all", status=500, rate=1.0)
    assert flow.get(tok, "/user").status_code == 500
    with flow.browser() as b:
        assert b.get("/login").status_code == 500  # "all" covers the web host too


def test_bad_fault_requests_are_rejected(emu: RunningEmulator) -> None:
    with pytest.raises(RuntimeError):
        emu.control.set_fault("nope", status=500)
    with pytest.raises(RuntimeError):
        emu.control.set_fault("api", status=500, rate=2)
    with pytest.raises(RuntimeError):
        emu.control.set_fault("api", bogus=True)


def test_revoke_all_tokens_of_a_user(emu: RunningEmulator, flow: Flow) -> None:
    a, b = flow.tokens(), flow.tokens()
    g = flow.tokens(email="grace@example.com")
    assert emu.control.revoke_tokens(user_id=1) == 2
    for t in (a, b):
        assert flow.get(t["access_token"], "/user").status_code == 401
        assert flow.refresh(t["refresh_token"]).status_code == 400
    assert flow.get(g["access_token"], "/user").status_code == 200


def test_expire_all_access_tokens_of_a_user(emu: RunningEmulator, flow: Flow) -> None:
    t = emu.control.mint_tokens(1, CLIENT, expires_in=600)
    assert t["expires_in"] == 600
    assert emu.control.expire_tokens(user_id=1) == 1
    assert flow.get(t["access_token"], "/user").status_code == 401
    assert flow.refresh(t["refresh_token"]).status_code == 200


def test_counters_shape_and_reset(emu: RunningEmulator, flow: Flow) -> None:
    tok = flow.tokens()
    flow.refresh(tok["refresh_token"])
    flow.refresh(tok["refresh_token"])  # reuse
    c = emu.control.counters()
    assert c["token_grants"] == {"authorization_code": 1, "refresh_token": 1, "api3_login": 0,
                                 "minted": 0}
    assert c["reuse_detections"] == 1 and c["token_errors"]["invalid_grant"] == 1
    emu.control.reset_counters()
    assert emu.control.counters()["token_grants"]["authorization_code"] == 0


def test_control_api_works_on_raw_http(emu: RunningEmulator) -> None:
    with httpx2.Client(base_url=emu.api_url, verify=False) as c:
        r = c.post("/_emulator/tokens", json={"user_id": 3, "client_id": CLIENT})
        assert r.status_code == 200 and r.json()["refresh_token"]
        assert c.post("/_emulator/tokens", json={"user_id": 99}).status_code == 400
        assert c.get("/_emulator/state").json()["families"] == 1
        cfg = c.get("/_emulator/config").json()
        assert "password" not in cfg["users"][0]
