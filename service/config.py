"""Settings: every environment variable of CONTRACT.md, validated once at start-up.

`load_settings()` is the only place that reads the environment. Production refuses to
start on a missing or malformed secret or URL; development fills in the secrets it
lacks from files under `DATA_DIR`, generated once with mode 0600.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import sys
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Syntax and semantics: service/api/allowlist.py and the README. An allowlist of content
# routes (what a SPA shows: looks, dashboards, folders, boards, models, queries and their
# results), so a Looker release that adds an admin or secret-bearing route leaves it
# closed. The deny lines are a second net under the allows, in case a pattern is widened.
DEFAULT_PROXY_ALLOW = (
    "GET user",
    "GET looks/**",
    "GET dashboards/**",
    "GET dashboard_elements/**",
    "GET dashboard_filters/**",
    "GET dashboard_layouts/**",
    "GET dashboard_layout_components/**",
    "GET folders/**",
    "GET boards/**",
    "GET board_items/**",
    "GET board_sections/**",
    "GET content_favorite/**",
    "GET content_metadata/**",
    "GET content_thumbnail/**",
    "GET vector_thumbnail/**",
    "GET lookml_models/**",
    "GET queries/**",
    "GET query_tasks/**",
    "GET merge_queries/**",
    "GET render_tasks/**",
    "GET color_collections/**",
    "GET themes/**",
    "GET locales",
    "GET timezones",
    "GET versions",
    "POST queries",
    "POST queries/run/*",
    "POST query_tasks",
    "POST merge_queries",
    "POST content_favorite",
    "DELETE content_favorite/*",
    "!* **/*credential*",
    "!* **/*credential*/**",
    "!* **/*password*/**",
    "!* **/*secret*/**",
    "!* **/*token*/**",
    "!* **/*oauth*/**",
    "!* **/*session*/**",
    "!* **/*login*/**",
    "!* **/*embed*/**",
    "!* **/*attribute*/**",
)


class SettingsError(Exception):
    """Raised with one human-readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def decode_fernet_key(key: str) -> bytes:
    """A Fernet key is 32 bytes, url-safe base64."""
    raw = base64.urlsafe_b64decode(key.encode())
    if len(raw) != 32:
        raise ValueError("not 32 bytes")
    return key.encode()


CsvList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["production", "development"] = "production"
    looker_base_url: str = ""
    looker_api_url: str = ""
    looker_client_id: str = ""
    public_url: str = "http://127.0.0.1:8000"
    spa_origins: CsvList = Field(default_factory=list)
    database_url: str | None = None
    data_dir: Path = Path(".data")
    session_secret: str | None = None
    token_encryption_keys: CsvList = Field(default_factory=list)
    cookie_secure: bool | None = None
    session_ttl_seconds: int = Field(28800, gt=0)
    session_idle_seconds: int = Field(3600, gt=0)
    refresh_ahead_seconds: int = Field(300, ge=0)
    refresh_interval_seconds: float = Field(15, gt=0)
    refresher_enabled: bool = True
    refresher_batch_size: int = Field(100, gt=0)
    refresher_concurrency: int = Field(16, gt=0)
    looker_timeout_seconds: float = Field(30, gt=0)
    proxy_allow: CsvList = Field(default_factory=lambda: list(DEFAULT_PROXY_ALLOW))
    proxy_max_body_bytes: int = Field(1_048_576, gt=0)
    cache_ttl_seconds: float = Field(600, ge=0)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    forwarded_allow_ips: str = "127.0.0.1"
    host: str = "127.0.0.1"
    port: int = Field(8000, gt=0, lt=65536)
    # Upstream HTTP client for /api/* (service/looker/client.py; docs/proxy.md).
    looker_http_client: Literal["aiohttp", "httpx2"] = "aiohttp"
    looker_max_connections: int = Field(100, gt=0)
    looker_keepalive_seconds: float = Field(30, gt=0)
    looker_retries: int = Field(2, ge=0, le=5)

    @field_validator("spa_origins", "token_encryption_keys", "proxy_allow", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("log_level", "environment", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        # frozen model: derived defaults are filled in through object.__setattr__
        for name in ("looker_base_url", "looker_api_url", "public_url"):
            object.__setattr__(self, name, getattr(self, name).rstrip("/"))
        if not self.looker_api_url:
            object.__setattr__(self, "looker_api_url", self.looker_base_url)
        if not self.spa_origins:
            object.__setattr__(self, "spa_origins", [_origin(self.public_url)])
        else:
            object.__setattr__(self, "spa_origins", [o.rstrip("/") for o in self.spa_origins])
        if self.cookie_secure is None:
            object.__setattr__(self, "cookie_secure", self.public_url.startswith("https://"))
        return self

    # -- derived values -------------------------------------------------------------------

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/auth/callback"

    @property
    def session_cookie_name(self) -> str:
        return "__Host-session" if self.cookie_secure else "session"

    @property
    def login_cookie_name(self) -> str:
        return "__Host-login" if self.cookie_secure else "login"

    @property
    def allowed_origins(self) -> frozenset[str]:
        return frozenset([_origin(self.public_url), *self.spa_origins])

    def problems(self) -> list[str]:
        """Every reason this configuration cannot run, one line each."""
        found: list[str] = []
        urls = {"LOOKER_BASE_URL": self.looker_base_url, "LOOKER_API_URL": self.looker_api_url,
                "PUBLIC_URL": self.public_url}
        if self.looker_api_url == self.looker_base_url:
            del urls["LOOKER_API_URL"]  # derived: its problems are LOOKER_BASE_URL's
        for name, url in urls.items():
            if not url:
                found.append(f"{name} is required")
            elif not _is_http_url(url):
                found.append(f"{name} is not an http(s) URL: {url!r}")
        for origin in self.spa_origins:
            if not _is_http_url(origin):
                found.append(f"SPA_ORIGINS has an entry that is not an http(s) origin: {origin!r}")
        if not self.looker_client_id:
            found.append("LOOKER_CLIENT_ID is required")
        if self.database_url and not self.database_url.startswith(
            ("postgresql://", "postgresql+asyncpg://", "postgres://")
        ):
            found.append("DATABASE_URL must start with postgresql:// or postgresql+asyncpg://")
        if self.is_production:
            if not self.public_url.startswith("https://"):
                found.append("PUBLIC_URL must be https in production")
            if not self.session_secret:
                found.append("SESSION_SECRET is required in production")
            elif len(self.session_secret) < 32:
                found.append("SESSION_SECRET must be at least 32 characters")
            if not self.token_encryption_keys:
                found.append("TOKEN_ENCRYPTION_KEYS is required in production")
        from service.api.allowlist import pattern_problems  # the pattern syntax lives there

        found.extend(pattern_problems(self.proxy_allow))
        for index, key in enumerate(self.token_encryption_keys, start=1):
            try:
                decode_fernet_key(key)
            except (ValueError, binascii.Error):
                found.append(
                    f"TOKEN_ENCRYPTION_KEYS entry {index} is not a Fernet key "
                    "(32 url-safe base64 bytes; make one with "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`)"
                )
        return found


def _dev_secret(data_dir: Path, name: str, make: str) -> str:
    """Read a development secret from DATA_DIR, creating it (mode 0600) the first time."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(make)
    return make


def with_development_secrets(settings: Settings) -> Settings:
    if settings.is_production:
        return settings
    updates: dict[str, object] = {}
    if not settings.session_secret:
        updates["session_secret"] = _dev_secret(
            settings.data_dir, "session_secret", secrets.token_urlsafe(48)
        )
    if not settings.token_encryption_keys:
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        updates["token_encryption_keys"] = [_dev_secret(settings.data_dir, "token_key", key)]
    return settings.model_copy(update=updates) if updates else settings


def load_settings(**overrides: object) -> Settings:
    """Build the one Settings object; raise SettingsError listing every problem."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(
            [f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: {e['msg']}"
             for e in exc.errors()]
        ) from None
    settings = with_development_secrets(settings)
    problems = settings.problems()
    if problems:
        raise SettingsError(problems)
    return settings


def load_settings_or_exit(**overrides: object) -> Settings:
    """For commands: print one line per problem on stderr and exit 2, no traceback."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"looker-bff: configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None
