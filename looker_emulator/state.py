"""In-memory state: clients, users, codes, token families, sessions, counters.

Everything runs on one event loop, so plain dicts are enough: no locks. A "family" is one
authorization (one code exchange, one API3 login or one minted pair); every access and
refresh token descends from exactly one family, which is what reuse detection and logout
revoke as a whole.
"""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .config import EmulatorConfig, OAuthClient, SeedUser
from .faults import Faults


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass(slots=True)
class ClientApp:
    client_guid: str
    redirect_uris: list[str]
    display_name: str
    description: str = ""
    enabled: bool = True
    group_id: str | None = None
    tokens_invalid_before: float = 0.0

    @classmethod
    def from_config(cls, c: OAuthClient) -> ClientApp:
        return cls(c.client_guid, list(c.redirect_uris), c.display_name, c.description, c.enabled)


@dataclass(slots=True)
class Family:
    id: str
    user_id: int
    client_id: str | None  # None for API3 logins
    redirect_uri: str | None
    created_at: float
    kind: str  # authorization_code | api3_login | minted
    revoked: bool = False
    code: str | None = None


@dataclass(slots=True)
class AccessTokenRec:
    token: str
    family: Family
    expires_at: float
    revoked: bool = False
    refresh_token: str | None = None  # the refresh token issued alongside (logout kills it)


@dataclass(slots=True)
class RefreshTokenRec:
    token: str
    family: Family
    used: bool = False  # rotated out


@dataclass(slots=True)
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    challenge: str
    user_id: int
    expires_at: float
    family: Family
    used: bool = False


def _zero_counters() -> dict[str, Any]:
    return {
        "token_grants": {"authorization_code": 0, "refresh_token": 0, "api3_login": 0, "minted": 0},
        "token_errors": {},
        "reuse_detections": 0,
        "replayed_codes": 0,
        "logouts": 0,
        "sign_ins": 0,
        "approvals": 0,
        "denials": 0,
        "codes_issued": 0,
        "api_calls": 0,
        "api_calls_by_family": {},
        "api_unauthorized": 0,
        "faults_injected": 0,
    }


@dataclass
class EmulatorState:
    config: EmulatorConfig
    clients: dict[str, ClientApp] = field(default_factory=dict)
    users: dict[int, SeedUser] = field(default_factory=dict)
    users_by_email: dict[str, SeedUser] = field(default_factory=dict)
    approvals: set[tuple[int, str]] = field(default_factory=set)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    access_tokens: dict[str, AccessTokenRec] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshTokenRec] = field(default_factory=dict)
    # session id -> (user id, CSRF token) for the web host's sign-in cookie
    web_sessions: dict[str, tuple[int, str]] = field(default_factory=dict)
    # serialized GET /user bodies per user id; content is static so this is safe
    user_cache: dict[int, bytes] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=_zero_counters)
    faults: Faults = field(default_factory=Faults)
    # Raw ASGI headers of the last request per route family (token, api, login, logout, auth).
    last_headers: dict[str, list[tuple[bytes, bytes]]] = field(default_factory=dict)
    clock_offset: float = 0.0
    web_url: str = ""
    api_url: str = ""
    created_queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed_config: EmulatorConfig | None = None  # what reset() restores


    @classmethod
    def from_config(cls, config: EmulatorConfig) -> EmulatorState:
        st = cls(config=config, web_url=config.web_url or "", api_url=config.api_url or "")
        st.seed_config = copy.deepcopy(config)
        st.reset()
        return st

    def reset(self) -> None:
        """Back to the configured seed: drops tokens, sessions, approvals, faults, counters,
        clock offset and run-time config changes."""
        if self.seed_config is not None:
            # Mutate in place: handlers and callers hold a reference to this config object.
            for k, v in vars(copy.deepcopy(self.seed_config)).items():
                setattr(self.config, k, v)
        cfg = self.config
        self.clients = {c.client_guid: ClientApp.from_config(c) for c in cfg.clients}
        self.users = {u.id: u for u in cfg.users}
        self.users_by_email = {u.email.lower(): u for u in cfg.users}
        for attr in ("codes", "families", "access_tokens", "refresh_tokens", "web_sessions",
                     "last_headers", "created_queries", "user_cache"):
            getattr(self, attr).clear()
        self.approvals.clear()
        self.counters = _zero_counters()
        self.faults.clear()
        self.clock_offset = 0.0

    # -- time ------------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    # -- counters --------------------------------------------------------------------------
    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] += n

    def count_in(self, key: str, sub: str, n: int = 1) -> None:
        d = self.counters[key]
        d[sub] = d.get(sub, 0) + n

    def reset_counters(self) -> None:
        self.counters = _zero_counters()

    # -- headers ---------------------------------------------------------------------------
    def headers_of(self, family: str) -> dict[str, str]:
        raw = self.last_headers.get(family, [])
        return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}

    @property
    def last_api_headers(self) -> dict[str, str]:
        return self.headers_of("api")

    # -- issuing ---------------------------------------------------------------------------
    def new_family(self, user_id: int, client_id: str | None, redirect_uri: str | None,
                   kind: str) -> Family:
        fam = Family(new_token(12), user_id, client_id, redirect_uri, self.now(), kind)
        self.families[fam.id] = fam
        return fam

    def issue_code(self, client_id: str, redirect_uri: str, challenge: str, user_id: int) -> str:
        fam = self.new_family(user_id, client_id, redirect_uri, "authorization_code")
        code = new_token(24)
        fam.code = code
        self.codes[code] = AuthCode(code, client_id, redirect_uri, challenge, user_id,
                                    self.now() + self.config.code_ttl, fam)
        self.count("codes_issued")
        return code

    def issue_tokens(self, family: Family, with_refresh: bool = True,
                     expires_in: int | None = None) -> dict[str, Any]:
        """Mint an access token (and a refresh token) in `family`; returns the AccessToken body."""
        ttl = self.config.access_token_ttl if expires_in is None else expires_in
        refresh: str | None = None
        if with_refresh:
            refresh = new_token()
            self.refresh_tokens[refresh] = RefreshTokenRec(refresh, family)
        access = new_token()
        self.access_tokens[access] = AccessTokenRec(access, family, self.now() + ttl,
                                                    refresh_token=refresh)
        if len(self.access_tokens) > 100_000:
            self._purge_expired()
        return {"access_token": access, "token_type": "Bearer", "expires_in": ttl,
                "refresh_token": refresh}

    def mint(self, user_id: int, client_id: str | None, expires_in: int | None = None,
             with_refresh: bool = True, redirect_uri: str | None = None) -> dict[str, Any]:
        """Token pair without the OAuth dance, for seeding tests and benchmarks.

        `redirect_uri` (one the client has registered) is the one a refresh must present.
        """
        client = self.clients.get(client_id) if client_id is not None else None
        if client is not None and redirect_uri is not None:
            if redirect_uri not in client.redirect_uris:
                raise ValueError("redirect_uri is not registered for this client")
            redirect: str | None = redirect_uri
        else:
            redirect = client.redirect_uris[0] if client is not None else None
        fam = self.new_family(user_id, client_id, redirect, "minted")
        self.count_in("token_grants", "minted")
        return self.issue_tokens(fam, with_refresh=with_refresh and client_id is not None,
                                 expires_in=expires_in)

    def _purge_expired(self) -> None:
        now = self.now()
        dead = [k for k, v in self.access_tokens.items()
                if v.expires_at <= now or v.revoked or v.family.revoked]
        for k in dead:
            del self.access_tokens[k]
        for k in [k for k, c in self.codes.items() if c.expires_at <= now]:
            del self.codes[k]

    # -- validation ------------------------------------------------------------------------
    def check_access(self, token: str) -> AccessTokenRec | None:
        rec = self.access_tokens.get(token)
        if rec is None or rec.revoked or rec.family.revoked or rec.expires_at <= self.now():
            return None
        cid = rec.family.client_id
        if cid is not None:
            client = self.clients.get(cid)
            if client is None or not client.enabled:
                return None
        return rec

    # -- revocation ------------------------------------------------------------------------
    def revoke_families(self, *, user_id: int | None = None, client_id: str | None = None,
                        family_id: str | None = None) -> int:
        n = 0
        for fam in self.families.values():
            if fam.revoked:
                continue
            if family_id is not None and fam.id != family_id:
                continue
            if user_id is not None and fam.user_id != user_id:
                continue
            if client_id is not None and fam.client_id != client_id:
                continue
            fam.revoked = True
            n += 1
        return n

    def expire_access_tokens(self, *, token: str | None = None, user_id: int | None = None) -> int:
        """Force access tokens past their expiry; their refresh tokens stay usable."""
        past = self.now() - 1
        n = 0
        if token is not None:
            rec = self.access_tokens.get(token)
            if rec is not None:
                rec.expires_at = past
                n = 1
        if user_id is not None:
            for rec in self.access_tokens.values():
                if rec.family.user_id == user_id and rec.expires_at > past:
                    rec.expires_at = past
                    n += 1
        return n

    def invalidate_client_tokens(self, client_id: str, user_id: int | None = None) -> int:
        client = self.clients.get(client_id)
        if client is not None and user_id is None:
            client.tokens_invalid_before = self.now()
        return self.revoke_families(client_id=client_id, user_id=user_id)

    def summary(self) -> dict[str, Any]:
        now = self.now()
        live = sum(1 for t in self.access_tokens.values()
                   if not t.revoked and not t.family.revoked and t.expires_at > now)
        return {
            "clients": len(self.clients),
            "families": len(self.families),
            "revoked_families": sum(1 for f in self.families.values() if f.revoked),
            "access_tokens": len(self.access_tokens),
            "live_access_tokens": live,
            "refresh_tokens": len(self.refresh_tokens),
            "web_sessions": len(self.web_sessions),
            "approvals": sorted([u, c] for u, c in self.approvals),
            "clock_offset": self.clock_offset,
        }
