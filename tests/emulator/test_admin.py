"""OAuth client app administration and the token invalidation it must cause at once."""

from __future__ import annotations

from typing import Any

import httpx2

from looker_emulator.testing import RunningEmulator

from .helpers import CLIENT, REDIRECT, Flow, SpecChecker, pkce

APPS = "/api/4.0/oauth_client_apps"


def _admin(emu: RunningEmulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.control.mint_tokens(1)['access_token']}"}


def _call(flow: Flow, method: str, path: str, headers: dict[str, str],
          **kw: Any) -> httpx2.Response:
    with flow.api() as c:
        return c.request(method, path, headers=headers, **kw)


def test_register_get_list_patch_delete(emu: RunningEmulator, flow: Flow,
        spec: SpecChecker) -> None:
    h = _admin(emu)
    body: dict[str, Any] = {"redirect_uri": "https://spa.example/cb", "display_name": "SPA",
            "description": "demo", "enabled": True}
    r = _call(flow, "POST", f"{APPS}/spa-app", h, json=body)
    assert r.status_code == 200
    spec.check("OauthClientApp", r.json())
    assert r.json()["client_guid"] == "spa-app" and r.json()["redirect_uri"] == body["redirect_uri"]
    assert _call(flow, "POST", f"{APPS}/spa-app", h, json=body).status_code == 409
    listed = _call(flow, "GET", APPS, h).json()
    spec.check("OauthClientApp", listed, many=True)
    assert {a["client_guid"] for a in listed} >= {"spa-app", CLIENT}
    # The new client works for /auth right away.
    _verifier, challenge = pkce()
    with flow.browser() as b:
        r = b.get("/auth", params=flow.auth_params(challenge, "spa-app", body["redirect_uri"]))
    assert r.status_code == 200
    r = _call(flow, "PATCH", f"{APPS}/spa-app", h, json={"display_name": "Renamed"})
    assert r.json()["display_name"] == "Renamed"
    assert _call(flow, "DELETE", f"{APPS}/spa-app", h).status_code == 204
    assert _call(flow, "GET", f"{APPS}/spa-app", h).status_code == 404


def test_register_validation(emu: RunningEmulator, flow: Flow, spec: SpecChecker) -> None:
    r = _call(flow, "POST", f"{APPS}/x", _admin(emu), json={"redirect_uri": "not a url"})
    assert r.status_code == 422
    spec.check("ValidationError", r.json())
    assert {e["field"] for e in r.json()["errors"]} >= {"redirect_uri"}
    r = _call(flow, "POST", f"{APPS}/x", _admin(emu), json={"redirect_uri": "https://a.b/c"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "display_name"


def test_non_admin_cannot_see_client_apps(emu: RunningEmulator, flow: Flow) -> None:
    h = {"Authorization": f"Bearer {emu.control.mint_tokens(2)['access_token']}"}
    assert _call(flow, "GET", APPS, h).status_code == 404
    assert _call(flow, "GET", f"{APPS}/{CLIENT}", h).status_code == 404
    assert _call(flow, "DELETE", f"{APPS}/{CLIENT}/tokens", h).status_code == 404


def test_disabling_client_kills_tokens_and_codes_at_once(emu: RunningEmulator,
                                                         flow: Flow) -> None:
    tok = flow.tokens()
    pending_code, verifier = flow.get_code()
    r = _call(flow, "PATCH", f"{APPS}/{CLIENT}", _admin(emu), json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert flow.get(tok["access_token"], "/user").status_code == 401
    assert flow.refresh(tok["refresh_token"]).status_code in (400, 401)
    assert flow.exchange(pending_code, verifier).status_code in (400, 401)
    # Re-enabling does not resurrect the old tokens.
    _call(flow, "PATCH", f"{APPS}/{CLIENT}", _admin(emu), json={"enabled": True})
    assert flow.get(tok["access_token"], "/user").status_code == 401
    assert flow.refresh(tok["refresh_token"]).json()["error"] == "invalid_grant"
    assert flow.get(flow.tokens()["access_token"], "/user").status_code == 200


def test_invalidate_tokens_of_all_users(emu: RunningEmulator, flow: Flow) -> None:
    ada, grace = flow.tokens(), flow.tokens(email="grace@example.com")
    r = _call(flow, "DELETE", f"{APPS}/{CLIENT}/tokens", _admin(emu))
    assert r.status_code == 204
    for t in (ada, grace):
        assert flow.get(t["access_token"], "/user").status_code == 401
        assert flow.refresh(t["refresh_token"]).json()["error"] == "invalid_grant"


def test_deactivate_one_user_kills_only_their_tokens(emu: RunningEmulator, flow: Flow) -> None:
    ada, grace = flow.tokens(), flow.tokens(email="grace@example.com")
    r = _call(flow, "DELETE", f"{APPS}/{CLIENT}/users/2", _admin(emu))
    assert r.status_code == 204
    assert flow.get(grace["access_token"], "/user").status_code == 401
    assert flow.refresh(grace["refresh_token"]).json()["error"] == "invalid_grant"
    assert flow.get(ada["access_token"], "/user").status_code == 200
    # Grace has to approve the app again.
    _verifier, challenge = pkce()
    with flow.browser() as b:
        r = flow.sign_in(b, flow.auth_params(challenge), "grace@example.com", "grace-password")
    assert r.status_code == 200 and "/auth/decision" in r.text
    assert REDIRECT
