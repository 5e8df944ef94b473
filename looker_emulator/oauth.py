"""API host auth routes: POST /api/token, POST /api/4.0/login, DELETE /api/logout."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .data import DOC_URL
from .responses import NO_STORE, json_response, looker_error, oauth_error, requires_auth
from .state import AccessTokenRec, EmulatorState

# RFC 7636 4.1: 43-128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
VERIFIER_RE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _state(request: Request) -> EmulatorState:
    st: EmulatorState = request.app.state.emulator
    return st


class BadBody(Exception):
    pass


async def read_params(request: Request) -> dict[str, str]:
    """JSON or form body as a flat str dict. Repeated or non-string parameters are refused."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if ctype == "application/json":
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError as exc:
            raise BadBody("Body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise BadBody("Body must be a JSON object.")
        out: dict[str, str] = {}
        for k, v in data.items():
            if v is None:
                continue
            if not isinstance(v, str):
                raise BadBody(f"Parameter {k} must be a string.")
            out[k] = v
        return out
    if ctype == "application/x-www-form-urlencoded" or (not ctype and not body):
        pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        out = {}
        for k, v in pairs:
            if k in out:  # RFC 6749 3.2: parameters MUST NOT be repeated
                raise BadBody(f"Parameter {k} is repeated.")
            out[k] = v
        return out
    raise BadBody("Content-Type must be application/json or application/x-www-form-urlencoded.")


def _fail(st: EmulatorState, error: str, desc: str, status: int = 400) -> Response:
    st.count_in("token_errors", error)
    return oauth_error(error, desc, status)


async def token(request: Request) -> Response:
    st = _state(request)
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        # Looker has no client secrets; it refuses Basic auth on the token endpoint.
        st.count_in("token_errors", "invalid_client")
        return json_response({"error": "invalid_client",
                              "error_description": "Failed Basic Authentication",
                              "message": "Failed Basic Authentication",
                              "documentation_url": DOC_URL}, 401, NO_STORE)
    try:
        p = await read_params(request)
    except BadBody as exc:
        return _fail(st, "invalid_request", str(exc))
    client_id = p.get("client_id")
    if not client_id:
        return _fail(st, "invalid_request", "client_id is required in the request body.")
    client = st.clients.get(client_id)
    if client is None or not client.enabled:
        return _fail(st, "invalid_client", "Unknown or disabled client.", 401)
    grant_type = p.get("grant_type")
    if not grant_type:
        return _fail(st, "invalid_request", "grant_type is required.")
    if grant_type == "authorization_code":
        return _code_grant(st, p, client_id)
    if grant_type == "refresh_token":
        return _refresh_grant(st, p, client_id)
    return _fail(st, "unsupported_grant_type", f"Unsupported grant_type {grant_type!r}.")


def _code_grant(st: EmulatorState, p: dict[str, str], client_id: str) -> Response:
    code, verifier, redirect_uri = p.get("code"), p.get("code_verifier"), p.get("redirect_uri")
    if not code:
        return _fail(st, "invalid_request", "code is required.")
    if not redirect_uri:
        return _fail(st, "invalid_request", "redirect_uri is required.")
    if not verifier:
        return _fail(st, "invalid_request", "code_verifier is required (PKCE).")
    rec = st.codes.get(code)
    if rec is None:
        return _fail(st, "invalid_grant", "Invalid authorization code.")
    if rec.used:
        # RFC 6749 4.1.2: a code used twice revokes what it issued.
        rec.family.revoked = True
        st.count("replayed_codes")
        return _fail(st, "invalid_grant", "Authorization code already used.")
    if rec.client_id != client_id:
        return _fail(st, "invalid_grant", "Authorization code was issued to another client.")
    if rec.family.revoked:
        return _fail(st, "invalid_grant", "Authorization code has been revoked.")
    if rec.expires_at <= st.now():
        return _fail(st, "invalid_grant", "Authorization code expired.")
    if redirect_uri != rec.redirect_uri:
        return _fail(st, "invalid_grant", "redirect_uri does not match the authorization request.")
    if not VERIFIER_RE.fullmatch(verifier):
        return _fail(st, "invalid_request", "code_verifier must be 43-128 unreserved characters.")
    if not hmac.compare_digest(s256(verifier), rec.challenge):
        return _fail(st, "invalid_grant", "PKCE verification failed.")
    rec.used = True
    st.count_in("token_grants", "authorization_code")
    return json_response(st.issue_tokens(rec.family), 200, NO_STORE)


def _refresh_grant(st: EmulatorState, p: dict[str, str], client_id: str) -> Response:
    rt = p.get("refresh_token")
    if not rt:
        return _fail(st, "invalid_request", "refresh_token is required.")
    rec = st.refresh_tokens.get(rt)
    if rec is None:
        return _fail(st, "invalid_grant", "Invalid refresh token.")
    fam = rec.family
    if fam.client_id != client_id:
        return _fail(st, "invalid_grant", "Refresh token was issued to another client.")
    if rec.used:
        # Reuse of a rotated-out token: assume theft, kill the whole family.
        fam.revoked = True
        st.count("reuse_detections")
        return _fail(st, "invalid_grant", "Refresh token already used.")
    if fam.revoked:
        return _fail(st, "invalid_grant", "Refresh token has been revoked.")
    redirect_uri = p.get("redirect_uri")
    if redirect_uri is not None and redirect_uri != fam.redirect_uri:
        return _fail(st, "invalid_grant", "redirect_uri does not match the authorization.")
    st.count_in("token_grants", "refresh_token")
    if st.config.rotate_refresh_tokens:
        rec.used = True
        return json_response(st.issue_tokens(fam), 200, NO_STORE)
    body = st.issue_tokens(fam, with_refresh=False)
    st.access_tokens[body["access_token"]].refresh_token = rt
    return json_response(body, 200, NO_STORE)


async def api3_login(request: Request) -> Response:
    st = _state(request)
    params: dict[str, Any] = dict(request.query_params)
    try:
        params.update(await read_params(request))
    except BadBody:
        return looker_error(400, "Bad request")
    cid, secret = params.get("client_id", ""), params.get("client_secret", "")
    for cred in st.config.api3_credentials:
        if hmac.compare_digest(cred.client_id.encode(), str(cid).encode()) and \
                hmac.compare_digest(cred.client_secret.encode(), str(secret).encode()):
            if cred.user_id not in st.users:
                break
            fam = st.new_family(cred.user_id, None, None, "api3_login")
            st.count_in("token_grants", "api3_login")
            return json_response(st.issue_tokens(fam, with_refresh=False), 200, NO_STORE)
    return looker_error(404, "Not found")  # what Looker answers to bad API credentials


def bearer(st: EmulatorState, request: Request) -> AccessTokenRec | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, tok = header.partition(" ")
    # Looker accepts both "Bearer x" and the older "token x".
    if scheme.lower() not in ("bearer", "token") or not tok:
        return None
    return st.check_access(tok.strip())


async def logout(request: Request) -> Response:
    st = _state(request)
    rec = bearer(st, request)
    if rec is None:
        return requires_auth()
    # Kill the access token and its refresh token (= the family it descends from).
    rec.revoked = True
    rec.family.revoked = True
    st.count("logouts")
    return Response(status_code=204)
