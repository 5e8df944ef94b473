"""Helpers for the emulator tests: the OAuth dance driver and the spec schema checker."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import secrets
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from looker_emulator.config import EmulatorConfig, OAuthClient
from looker_emulator.testing import RunningEmulator

# Looker's official API 4.0 spec (sdk-codegen, MIT licence beside it), vendored so the
# tests run from any clone
SPEC_PATH = Path(__file__).resolve().parent / "spec" / "Looker.4.0.oas.json"
CLIENT = "looker-bff"
REDIRECT = "http://127.0.0.1:8000/auth/callback"
OTHER_CLIENT = "other-app"
OTHER_REDIRECT = "http://localhost:5173/oauth/callback"


def make_config(**overrides: Any) -> EmulatorConfig:
    cfg = EmulatorConfig.default(CLIENT, REDIRECT, **overrides)
    cfg.clients.append(OAuthClient(OTHER_CLIENT, [OTHER_REDIRECT], "Other App"))
    return cfg


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)[:64]
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden_fields(html: str) -> dict[str, str]:
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    return {unescape(k): unescape(v) for k, v in found}


class Flow:
    """Drives the OAuth dance over real HTTP like a browser plus a BFF would."""

    def __init__(self, emu: RunningEmulator) -> None:
        self.emu = emu

    def browser(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.emu.web_url, follow_redirects=False, timeout=10,
                             verify=False)  # plain http; skipping the CA bundle is faster

    def api(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.emu.api_url, timeout=10, verify=False)

    def auth_params(self, challenge: str | None, client_id: str = CLIENT,
                    redirect_uri: str = REDIRECT, **extra: Any) -> dict[str, str]:
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "scope": "cors_api", "state": secrets.token_urlsafe(16),
                  "code_challenge": challenge, "code_challenge_method": "S256", **extra}
        return {k: v for k, v in params.items() if v is not None}

    def sign_in(self, browser: httpx2.Client, params: dict[str, str],
                email: str = "ada@example.com",
                password: str = "ada-password",  # noqa: S107 - seeded test user
                ) -> httpx2.Response:
        """GET /auth, submit the sign-in form; returns the response to the /auth follow-up."""
        r = browser.get("/auth", params=params)
        assert r.status_code == 200 and 'action="/login"' in r.text, r.text
        form = hidden_fields(r.text)
        r = browser.post("/login", data={**form, "email": email, "password": password})
        assert r.status_code == 303, r.text
        return browser.get(r.headers["location"])

    def decide(self, browser: httpx2.Client, approval: httpx2.Response,
               decision: str = "allow") -> httpx2.Response:
        assert approval.status_code == 200 and "/auth/decision" in approval.text
        form = hidden_fields(approval.text)
        return browser.post("/auth/decision", data={**form, "decision": decision})

    @staticmethod
    def redirect_query(resp: httpx2.Response) -> dict[str, str]:
        assert resp.status_code == 302, resp.text
        loc = resp.headers["location"]
        return {k: v[0] for k, v in parse_qs(urlsplit(loc).query).items()}

    def get_code(self, client_id: str = CLIENT, redirect_uri: str = REDIRECT,
                 email: str = "ada@example.com", password: str | None = None
                 ) -> tuple[str, str]:
        """Interactive sign-in + approval; returns (code, verifier)."""
        verifier, challenge = pkce()
        params = self.auth_params(challenge, client_id, redirect_uri)
        with self.browser() as b:
            resp = self.sign_in(b, params, email, password or email.split("@")[0] + "-password")
            if resp.status_code == 200:
                resp = self.decide(b, resp)
        q = self.redirect_query(resp)
        assert q["state"] == params["state"]
        return q["code"], verifier

    def exchange(self, code: str, verifier: str, client_id: str = CLIENT,
                 redirect_uri: str = REDIRECT, form: bool = False, **extra: Any
                 ) -> httpx2.Response:
        body = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "client_id": client_id, "redirect_uri": redirect_uri, **extra}
        body = {k: v for k, v in body.items() if v is not None}
        with self.api() as c:
            if form:
                return c.post("/api/token", data=body)
            return c.post("/api/token", json=body)

    def tokens(self, client_id: str = CLIENT, redirect_uri: str = REDIRECT,
               email: str = "ada@example.com") -> dict[str, Any]:
        code, verifier = self.get_code(client_id, redirect_uri, email)
        r = self.exchange(code, verifier, client_id, redirect_uri)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def refresh(self, refresh_token: str, client_id: str = CLIENT,
                redirect_uri: str | None = REDIRECT, form: bool = False) -> httpx2.Response:
        body = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": client_id, "redirect_uri": redirect_uri}
        body = {k: v for k, v in body.items() if v is not None}
        with self.api() as c:
            return c.post("/api/token", data=body) if form else c.post("/api/token", json=body)

    def get(self, token: str | None, path: str, **kw: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with self.api() as c:
            return c.get(f"/api/4.0{path}", headers=headers, **kw)

    def url(self, params: dict[str, str]) -> str:
        return f"/auth?{urlencode(params)}"


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 `nullable` -> JSON Schema null type; objects closed to unknown keys so the
    emulator cannot invent fields the spec does not have."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items()}
    if out.get("type") == "any":  # Looker's spec uses the non-standard "any"
        del out["type"]
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "$ref" in out:
            out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


class SpecChecker:
    def __init__(self) -> None:
        spec = json.loads(SPEC_PATH.read_text())
        comps = _openapi_to_jsonschema(copy.deepcopy(spec["components"]))
        # Newer Looker releases answer `redirect_uris` too (FACTS.md); the 4.0.26 spec lacks it.
        comps["schemas"]["OauthClientApp"]["properties"]["redirect_uris"] = {
            "type": "array", "items": {"type": "string"}}
        doc = {"components": comps}
        self.registry: Registry[Any] = Registry().with_resource(
            "urn:looker", Resource.from_contents(doc, default_specification=DRAFT202012))
        self.spec = spec

    def check(self, name: str, obj: Any, many: bool = False) -> None:
        ref = {"$ref": f"urn:looker#/components/schemas/{name}"}
        schema = {"type": "array", "items": ref} if many else ref
        jsonschema.Draft202012Validator(schema, registry=self.registry).validate(obj)
