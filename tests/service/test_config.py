"""Every settings rule: production refuses bad configuration with exit 2 and one line each."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.config import Settings, SettingsError, load_settings, load_settings_or_exit

GOOD_PRODUCTION = {
    "ENVIRONMENT": "production",
    "LOOKER_BASE_URL": "https://acme.looker.com",
    "LOOKER_CLIENT_ID": "bff",
    "PUBLIC_URL": "https://bff.acme.com",
    "SESSION_SECRET": "s" * 40,
    "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DATABASE_URL": "postgresql://db/bff",
}


def run_serve(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in Settings.model_fields and k.upper() not in
             {f.upper() for f in Settings.model_fields}}
    return subprocess.run([sys.executable, "-m", "service", "serve"], env={**clean, **env},
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_production_without_secrets_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    result = run_serve({"ENVIRONMENT": "production"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    for expected in ("LOOKER_BASE_URL is required", "LOOKER_CLIENT_ID is required",
                     "PUBLIC_URL must be https", "SESSION_SECRET is required",
                     "TOKEN_ENCRYPTION_KEYS is required"):
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    assert all(line.startswith("looker-bff: configuration error:") for line in lines)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"PUBLIC_URL": "http://bff.acme.com"}, "PUBLIC_URL must be https in production"),
        ({"SESSION_SECRET": "short"}, "SESSION_SECRET must be at least 32 characters"),
        ({"TOKEN_ENCRYPTION_KEYS": "not-a-key"}, "TOKEN_ENCRYPTION_KEYS entry 1 is not a Fernet"),
        ({"LOOKER_BASE_URL": "acme.looker.com"}, "LOOKER_BASE_URL is not an http(s) URL"),
        ({"LOOKER_API_URL": "https://acme.looker.com:notaport"},
         "LOOKER_API_URL is not an http(s) URL"),
        ({"SPA_ORIGINS": "https://ok.example,javascript:alert(1)"}, "SPA_ORIGINS has an entry"),
        ({"DATABASE_URL": "mysql://db/bff"}, "DATABASE_URL must start with postgresql://"),
        ({"SESSION_TTL_SECONDS": "-5"}, "SESSION_TTL_SECONDS"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
        ({"PROXY_ALLOW": "GET looks/**,FOO"}, "PROXY_ALLOW: 'FOO'"),
    ],
)
def test_each_bad_value_is_refused_with_its_message(
    override: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file
    for name, value in {**GOOD_PRODUCTION, **override}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        load_settings_or_exit()
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def test_second_key_in_rotation_list_must_be_valid_too(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = f"{Fernet.generate_key().decode()},bad"
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **{k.lower(): v for k, v in GOOD_PRODUCTION.items()
                                         if k != "TOKEN_ENCRYPTION_KEYS"},
                      token_encryption_keys=keys)
    assert caught.value.problems == [p for p in caught.value.problems if "entry 2" in p]


def test_good_production_settings_load_and_derive_defaults() -> None:
    settings = load_settings(_env_file=None, **{k.lower(): v for k, v in GOOD_PRODUCTION.items()})
    assert settings.looker_api_url == "https://acme.looker.com"
    assert settings.spa_origins == ["https://bff.acme.com"]
    assert settings.cookie_secure is True
    assert settings.session_cookie_name == "__Host-session"
    assert settings.redirect_uri == "https://bff.acme.com/auth/callback"


def test_development_generates_secrets_once_with_mode_0600(tmp_path: Path) -> None:
    values = {"environment": "development", "looker_base_url": "http://127.0.0.1:9999",
              "looker_client_id": "dev", "data_dir": tmp_path}
    first = load_settings(_env_file=None, **values)
    second = load_settings(_env_file=None, **values)
    assert first.session_secret and first.token_encryption_keys
    assert (first.session_secret, first.token_encryption_keys) == (
        second.session_secret, second.token_encryption_keys)
    for name in ("session_secret", "token_key"):
        mode = stat.S_IMODE((tmp_path / "secrets" / name).stat().st_mode)
        assert mode == 0o600
    assert first.cookie_secure is False and first.session_cookie_name == "session"


def test_api_url_for_old_instances_on_port_19999_is_kept() -> None:
    settings = load_settings(_env_file=None, **{k.lower(): v for k, v in GOOD_PRODUCTION.items()},
                             looker_api_url="https://acme.looker.com:19999/")
    assert settings.looker_api_url == "https://acme.looker.com:19999"
