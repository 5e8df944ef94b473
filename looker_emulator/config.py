"""Emulator configuration: OAuth clients, seeded users, API3 credentials, token policy."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_CLIENT_GUID = "looker-bff"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"


@dataclass
class OAuthClient:
    """A registered OAuth client app. Public client: no secret, client_id == client_guid."""

    client_guid: str
    redirect_uris: list[str]
    display_name: str = "Looker BFF"
    enabled: bool = True
    description: str = ""


@dataclass
class SeedUser:
    id: int
    email: str
    password: str
    first_name: str
    last_name: str
    display_name: str = ""
    is_admin: bool = False
    locale: str = "en"

    def __post_init__(self) -> None:
        if not self.display_name:
            self.display_name = f"{self.first_name} {self.last_name}"


@dataclass
class Api3Credential:
    """Classic API credentials for POST /api/4.0/login (what looker_sdk uses)."""

    client_id: str
    client_secret: str
    user_id: int


def default_users() -> list[SeedUser]:
    return [
        SeedUser(1, "ada@example.com", "ada-password", "Ada", "Lovelace", is_admin=True),
        SeedUser(2, "grace@example.com", "grace-password", "Grace", "Hopper"),
        SeedUser(3, "alan@example.com", "alan-password", "Alan", "Turing"),
        SeedUser(4, "edsger@example.com", "edsger-password", "Edsger", "Dijkstra"),
    ]


def default_api3_credentials() -> list[Api3Credential]:
    return [Api3Credential("emulator-api3-client-id", "emulator-api3-client-secret", 1)]


@dataclass
class EmulatorConfig:
    clients: list[OAuthClient] = field(default_factory=list)
    users: list[SeedUser] = field(default_factory=default_users)
    api3_credentials: list[Api3Credential] = field(default_factory=default_api3_credentials)
    access_token_ttl: int = 3600
    rotate_refresh_tokens: bool = True
    code_ttl: int = 60
    # Email of a user who counts as already signed in on the web host (non-interactive runs).
    auto_login_user: str | None = None
    # Skip the approval page for every client (non-interactive runs).
    auto_approve: bool = False
    big_look_bytes: int = 50 * 1024 * 1024
    # Public origins reported by /versions; filled in by the runner when left empty.
    web_url: str | None = None
    api_url: str | None = None

    @classmethod
    def default(
        cls,
        client_guid: str = DEFAULT_CLIENT_GUID,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        **overrides: Any,
    ) -> EmulatorConfig:
        return cls(clients=[OAuthClient(client_guid, [redirect_uri])], **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmulatorConfig:
        data = dict(data)
        clients = []
        for c in data.pop("clients", []):
            c = dict(c)
            # Accept Looker's older single `redirect_uri` spelling too.
            if "redirect_uri" in c:
                c.setdefault("redirect_uris", []).append(c.pop("redirect_uri"))
            clients.append(OAuthClient(**c))
        kwargs: dict[str, Any] = {"clients": clients}
        if "users" in data:
            kwargs["users"] = [SeedUser(**u) for u in data.pop("users")]
        if "api3_credentials" in data:
            kwargs["api3_credentials"] = [Api3Credential(**a) for a in data.pop("api3_credentials")]
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        kwargs.update(data)
        return cls(**kwargs)

    @classmethod
    def from_json_file(cls, path: str | Path) -> EmulatorConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))
