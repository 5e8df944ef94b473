"""Control API under /_emulator/ (JSON): faults, counters, token minting/expiry, clock, reset.

Not part of Looker. Unauthenticated on purpose: the emulator is a local test double.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import FAMILIES, Fault
from .responses import json_response
from .state import EmulatorState


def _state(request: Request) -> EmulatorState:
    st: EmulatorState = request.app.state.emulator
    return st


class ControlError(Exception):
    pass


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ControlError("body must be JSON") from exc
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _bad(msg: str) -> Response:
    return json_response({"error": msg}, 400)


async def health(request: Request) -> Response:
    st = _state(request)
    return json_response({"ok": True, "web_url": st.web_url, "api_url": st.api_url})


async def counters(request: Request) -> Response:
    return json_response(_state(request).counters)


async def reset_counters(request: Request) -> Response:
    _state(request).reset_counters()
    return json_response({"ok": True})


async def reset(request: Request) -> Response:
    _state(request).reset()
    return json_response({"ok": True})


async def summary(request: Request) -> Response:
    return json_response(_state(request).summary())


async def faults(request: Request) -> Response:
    st = _state(request)
    if request.method == "GET":
        return json_response(st.faults.to_dict())
    if request.method == "DELETE":
        st.faults.clear()
        return json_response({"ok": True})
    try:
        body = await _body(request)
        family = body.pop("family", "all")
        fault = Fault(**body)
        st.faults.set(family, fault)
    except (ControlError, TypeError, ValueError) as exc:
        return _bad(f"{exc}; families: {', '.join(FAMILIES)}")
    return json_response(st.faults.to_dict())


async def clear_fault(request: Request) -> Response:
    st = _state(request)
    st.faults.clear(request.path_params["family"])
    return json_response(st.faults.to_dict())


async def mint(request: Request) -> Response:
    st = _state(request)
    try:
        body = await _body(request)
    except ControlError as exc:
        return _bad(str(exc))
    uid = body.get("user_id")
    client_id = body.get("client_id")
    expires_in = body.get("expires_in")
    if not isinstance(uid, int) or uid not in st.users:
        return _bad("user_id must be the id of a seeded user")
    if client_id is not None and client_id not in st.clients:
        return _bad("unknown client_id")
    if expires_in is not None and not isinstance(expires_in, int):
        return _bad("expires_in must be an integer")
    redirect_uri = body.get("redirect_uri")
    if redirect_uri is not None and not isinstance(redirect_uri, str):
        return _bad("redirect_uri must be a string")
    try:
        return json_response(st.mint(uid, client_id, expires_in, redirect_uri=redirect_uri))
    except ValueError as exc:
        return _bad(str(exc))


async def expire(request: Request) -> Response:
    st = _state(request)
    try:
        body = await _body(request)
    except ControlError as exc:
        return _bad(str(exc))
    token, uid = body.get("access_token"), body.get("user_id")
    if token is None and uid is None:
        return _bad("give access_token or user_id")
    return json_response({"expired": st.expire_access_tokens(token=token, user_id=uid)})


async def revoke(request: Request) -> Response:
    """Revoke families by user_id, client_id, access_token or refresh_token."""
    st = _state(request)
    try:
        body = await _body(request)
    except ControlError as exc:
        return _bad(str(exc))
    n = 0
    if "access_token" in body:
        rec = st.access_tokens.get(body["access_token"])
        n += st.revoke_families(family_id=rec.family.id) if rec else 0
    if "refresh_token" in body:
        rrec = st.refresh_tokens.get(body["refresh_token"])
        n += st.revoke_families(family_id=rrec.family.id) if rrec else 0
    if "user_id" in body or "client_id" in body:
        n += st.revoke_families(user_id=body.get("user_id"), client_id=body.get("client_id"))
    if not {"access_token", "refresh_token", "user_id", "client_id"} & set(body):
        return _bad("give user_id, client_id, access_token or refresh_token")
    return json_response({"revoked_families": n})


async def clock(request: Request) -> Response:
    st = _state(request)
    try:
        body = await _body(request)
    except ControlError as exc:
        return _bad(str(exc))
    adv = body.get("advance", 0)
    if not isinstance(adv, int | float):
        return _bad("advance must be a number of seconds")
    st.clock_offset += adv
    return json_response({"clock_offset": st.clock_offset})


async def last_headers(request: Request) -> Response:
    st = _state(request)
    return json_response({fam: st.headers_of(fam) for fam in st.last_headers})


async def config(request: Request) -> Response:
    st = _state(request)
    if request.method == "PATCH":
        try:
            body = await _body(request)
        except ControlError as exc:
            return _bad(str(exc))
        allowed = {"access_token_ttl", "rotate_refresh_tokens", "code_ttl", "auto_login_user",
                   "auto_approve", "big_look_bytes"}
        unknown = set(body) - allowed
        if unknown:
            return _bad(f"not settable at run time: {sorted(unknown)}")
        for k, v in body.items():
            setattr(st.config, k, v)
    cfg = st.config.to_dict()
    for u in cfg["users"]:
        u.pop("password", None)
    for c in cfg["api3_credentials"]:
        c.pop("client_secret", None)
    return json_response(cfg)


ROUTES = [
    Route("/_emulator/health", health, methods=["GET"]),
    Route("/_emulator/counters", counters, methods=["GET"]),
    Route("/_emulator/reset-counters", reset_counters, methods=["POST"]),
    Route("/_emulator/reset", reset, methods=["POST"]),
    Route("/_emulator/state", summary, methods=["GET"]),
    Route("/_emulator/faults", faults, methods=["GET", "POST", "DELETE"]),
    Route("/_emulator/faults/{family}", clear_fault, methods=["DELETE"]),
    Route("/_emulator/tokens", mint, methods=["POST"]),
    Route("/_emulator/tokens/expire", expire, methods=["POST"]),
    Route("/_emulator/tokens/revoke", revoke, methods=["POST"]),
    Route("/_emulator/clock", clock, methods=["POST"]),
    Route("/_emulator/last-headers", last_headers, methods=["GET"]),
    Route("/_emulator/config", config, methods=["GET", "PATCH"]),
]
