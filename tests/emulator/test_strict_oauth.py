"""Every strictness rule has a test here that a lenient authorization server would fail."""

from __future__ import annotations

import base64
from typing import Any

import httpx2
import pytest

from looker_emulator.testing import RunningEmulator

from .helpers import CLIENT, OTHER_CLIENT, OTHER_REDIRECT, REDIRECT, Flow, pkce

# --- /auth: errors that must NOT redirect -------------------------------------------------


@pytest.mark.parametrize("redirect_uri", [
    REDIRECT + "/",  # trailing slash
    REDIRECT + "?next=/",  # extra query
    REDIRECT.replace("127.0.0.1", "localhost"),
    REDIRECT.upper(),
    "https://evil.example/auth/callback",
    OTHER_REDIRECT,  # registered, but for another client
])
def test_unregistered_redirect_uri_gets_error_page_not_redirect(flow: Flow,
                                                                 redirect_uri: str) -> None:
    _verifier, challenge = pkce()
    with flow.browser() as b:
        r = b.get("/auth", params=flow.auth_params(challenge, redirect_uri=redirect_uri))
    assert r.status_code == 400 and "location" not in r.headers
    assert "text/html" in r.headers["content-type"]


def test_unknown_client_gets_error_page_not_redirect(flow: Flow) -> None:
    _verifier, challenge = pkce()
    with flow.browser() as b:
        r = b.get("/auth", params=flow.auth_params(challenge, client_id="nope"))
        r2 = b.get("/auth", params={k: v for k, v in flow.auth_params(challenge).items()
                                    if k != "client_id"})
    assert r.status_code == 400 and "location" not in r.headers
    assert r2.status_code == 400 and "location" not in r2.headers


def test_disabled_client_gets_error_page(emu: RunningEmulator, flow: Flow) -> None:
    assert emu.state is not None
    emu.state.clients[CLIENT].enabled = False
    _verifier, challenge = pkce()
    with flow.browser() as b:
        r = b.get("/auth", params=flow.auth_params(challenge))
    assert r.status_code == 400 and "location" not in r.headers


# --- /auth: errors reported to the (valid) redirect_uri -----------------------------------


@pytest.mark.parametrize(("change", "error"), [
    ({"code_challenge": None}, "invalid_request"),  # PKCE missing
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "unsupported_response_type"),
    ({"scope": "openid"}, "invalid_scope"),
    ({"scope": None}, "invalid_scope"),
])
def test_bad_authorize_requests_redirect_with_error(flow: Flow, change: dict[str, str | None],
                                                    error: str) -> None:
    _verifier, challenge = pkce()
    params = flow.auth_params(challenge)
    params.update(change)  # type: ignore[arg-type]
    params = {k: v for k, v in params.items() if v is not None}
    with flow.browser() as b:
        r = b.get("/auth", params=params)
    q = flow.redirect_query(r)
    assert r.headers["location"].startswith(REDIRECT + "?")
    assert q["error"] == error and q["state"] == params["state"] and "code" not in q


def test_plain_pkce_verifier_as_challenge_is_refused(flow: Flow) -> None:
    """A client that sends its verifier as the challenge (method plain) gets nothing."""
    verifier, _ = pkce()
    params = flow.auth_params(verifier[:43], code_challenge_method="plain")
    with flow.browser() as b:
        assert flow.redirect_query(b.get("/auth", params=params))["error"] == "invalid_request"


# --- token endpoint -----------------------------------------------------------------------


def _post(flow: Flow, **kw: Any) -> httpx2.Response:
    with flow.api() as c:
        return c.post("/api/token", **kw)


def test_basic_auth_is_refused(flow: Flow) -> None:
    code, verifier = flow.get_code()
    basic = base64.b64encode(f"{CLIENT}:".encode()).decode()
    r = _post(flow, headers={"Authorization": f"Basic {basic}"},
              json={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                    "client_id": CLIENT, "redirect_uri": REDIRECT})
    assert r.status_code == 401
    assert r.json()["message"] == "Failed Basic Authentication"
    assert "access_token" not in r.json()
    assert flow.exchange(code, verifier).status_code == 200  # code untouched by the attempt


def test_client_id_is_required_in_body(flow: Flow) -> None:
    code, verifier = flow.get_code()
    r = flow.exchange(code, verifier, client_id=None)  # type: ignore[arg-type]
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_unknown_client_is_invalid_client(flow: Flow) -> None:
    code, verifier = flow.get_code()
    r = flow.exchange(code, verifier, client_id="nope")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_code_is_bound_to_its_client(flow: Flow) -> None:
    code, verifier = flow.get_code()
    r = flow.exchange(code, verifier, client_id=OTHER_CLIENT, redirect_uri=OTHER_REDIRECT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_missing_verifier_is_refused(flow: Flow) -> None:
    code, _ = flow.get_code()
    r = flow.exchange(code, None)  # type: ignore[arg-type]
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_wrong_verifier_is_refused(flow: Flow) -> None:
    code, _verifier = flow.get_code()
    other, _ = pkce()
    r = flow.exchange(code, other)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_hex_digest_challenge_quirk_is_not_accepted(flow: Flow) -> None:
    """Looker's Python SDK hashes with hexdigest(); the challenge must be RFC 7636 base64url."""
    import hashlib
    verifier, _ = pkce()
    hex_challenge = hashlib.sha256(verifier.encode()).hexdigest()
    with flow.browser() as b:
        r = b.get("/auth", params=flow.auth_params(hex_challenge))
    assert flow.redirect_query(r)["error"] == "invalid_request"


def test_short_verifier_is_refused(flow: Flow) -> None:
    code, verifier = flow.get_code()
    r = flow.exchange(code, verifier[:42])
    assert r.status_code == 400 and r.json()["error"] in ("invalid_request", "invalid_grant")


def test_redirect_uri_must_match_at_token_time(flow: Flow) -> None:
    code, verifier = flow.get_code()
    for bad in (REDIRECT + "/", "http://127.0.0.1:8000/other"):
        r = flow.exchange(code, verifier, redirect_uri=bad)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = flow.exchange(code, verifier, redirect_uri=None)  # type: ignore[arg-type]
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_expired_code_is_refused(emu: RunningEmulator, flow: Flow) -> None:
    code, verifier = flow.get_code()
    emu.control.advance_clock(61)  # code_ttl is 60 s
    r = flow.exchange(code, verifier)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_replayed_code_is_refused_and_revokes_its_tokens(emu: RunningEmulator,
                                                         flow: Flow) -> None:
    code, verifier = flow.get_code()
    first = flow.exchange(code, verifier).json()
    assert flow.get(first["access_token"], "/user").status_code == 200
    again = flow.exchange(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert flow.get(first["access_token"], "/user").status_code == 401
    assert flow.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"
    assert emu.control.counters()["replayed_codes"] == 1


def test_unknown_code_and_grant_type(flow: Flow) -> None:
    verifier, _ = pkce()
    assert flow.exchange("made-up", verifier).json()["error"] == "invalid_grant"
    r = _post(flow, json={"grant_type": "password", "client_id": CLIENT})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = _post(flow, json={"client_id": CLIENT})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_malformed_bodies_are_invalid_request(flow: Flow) -> None:
    for kw in ({"content": b"grant_type=refresh_token&grant_type=authorization_code"
                           b"&client_id=looker-bff",
                "headers": {"content-type": "application/x-www-form-urlencoded"}},
               {"content": b"{not json", "headers": {"content-type": "application/json"}},
               {"content": b"[]", "headers": {"content-type": "application/json"}},
               {"content": b"x", "headers": {"content-type": "text/plain"}},
               {"json": {"grant_type": "refresh_token", "client_id": CLIENT,
                         "refresh_token": 12}}):
        r = _post(flow, **kw)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", kw


def test_refresh_rotation_and_reuse_detection_revokes_family(emu: RunningEmulator,
                                                             flow: Flow) -> None:
    tok = flow.tokens()
    second = flow.refresh(tok["refresh_token"]).json()
    third = flow.refresh(second["refresh_token"]).json()
    assert len({tok["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    # Replaying a rotated-out token: refused, and the whole family dies.
    r = flow.refresh(tok["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert flow.refresh(third["refresh_token"]).json()["error"] == "invalid_grant"
    for t in (tok, second, third):
        assert flow.get(t["access_token"], "/user").status_code == 401
    assert emu.control.counters()["reuse_detections"] == 1
    # Other families (another sign-in) are unaffected.
    other = flow.tokens(email="grace@example.com")
    assert flow.refresh(other["refresh_token"]).status_code == 200


def test_used_refresh_token_is_refused_even_right_after_rotation(flow: Flow) -> None:
    tok = flow.tokens()
    assert flow.refresh(tok["refresh_token"]).status_code == 200
    assert flow.refresh(tok["refresh_token"]).status_code == 400


def test_no_rotation_keeps_refresh_token(emu: RunningEmulator, flow: Flow) -> None:
    emu.control.patch_config(rotate_refresh_tokens=False)
    tok = flow.tokens()
    for _ in range(3):
        r = flow.refresh(tok["refresh_token"])
        assert r.status_code == 200
        assert r.json()["refresh_token"] is None
        assert flow.get(r.json()["access_token"], "/user").status_code == 200


def test_refresh_is_bound_to_client_and_redirect_uri(flow: Flow) -> None:
    tok = flow.tokens()
    r = flow.refresh(tok["refresh_token"], client_id=OTHER_CLIENT, redirect_uri=None)
    assert r.json()["error"] == "invalid_grant"
    r = flow.refresh(tok["refresh_token"], redirect_uri=REDIRECT + "/x")
    assert r.json()["error"] == "invalid_grant"
    r = flow.refresh(tok["refresh_token"], redirect_uri=None)  # optional, as in the SDKs
    assert r.status_code == 200
    r = flow.refresh(tok["refresh_token"], client_id=None)  # type: ignore[arg-type]
    assert r.json()["error"] in ("invalid_request", "invalid_grant")


def test_access_token_expires_and_refresh_renews(emu: RunningEmulator, flow: Flow) -> None:
    tok = flow.tokens()
    emu.control.advance_clock(3601)
    r = flow.get(tok["access_token"], "/user")
    assert r.status_code == 401 and r.json()["message"] == "Requires authentication."
    new = flow.refresh(tok["refresh_token"]).json()
    assert flow.get(new["access_token"], "/user").status_code == 200


def test_token_ttl_is_configurable(emu: RunningEmulator, flow: Flow) -> None:
    emu.control.patch_config(access_token_ttl=5)
    assert flow.tokens()["expires_in"] == 5


def test_forced_expiry_keeps_refresh_usable(emu: RunningEmulator, flow: Flow) -> None:
    tok = flow.tokens()
    assert emu.control.expire_tokens(access_token=tok["access_token"]) == 1
    assert flow.get(tok["access_token"], "/user").status_code == 401
    assert flow.refresh(tok["refresh_token"]).status_code == 200


def test_tokens_are_opaque_and_unique(flow: Flow) -> None:
    a, b = flow.tokens(), flow.tokens()
    values = {a["access_token"], a["refresh_token"], b["access_token"], b["refresh_token"]}
    assert len(values) == 4 and all(len(v) >= 32 and "." not in v for v in values)


async def test_parallel_refresh_with_one_rotating_token_kills_the_family(
        emu: RunningEmulator, flow: Flow) -> None:
    """The classic BFF bug: two requests refresh the same token at once. Looker-like strictness
    means the loser triggers reuse detection and the winner's fresh tokens die too."""
    import asyncio

    tok = flow.tokens()
    body = {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"],
            "client_id": CLIENT, "redirect_uri": REDIRECT}
    async with httpx2.AsyncClient(base_url=emu.api_url, verify=False) as c:
        results = await asyncio.gather(*(c.post("/api/token", json=body) for _ in range(2)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400]
    winner = next(r.json() for r in results if r.status_code == 200)
    assert flow.get(winner["access_token"], "/user").status_code == 401
    assert flow.refresh(winner["refresh_token"]).json()["error"] == "invalid_grant"
    assert emu.control.counters()["reuse_detections"] == 1
