"""The CLI and the separate-process runner."""

from __future__ import annotations

import httpx2
import pytest

from looker_emulator.cli import build_parser, config_from_args
from looker_emulator.config import EmulatorConfig
from looker_emulator.testing import EmulatorProcess


def test_cli_flags_build_config() -> None:
    args = build_parser().parse_args([
        "--client", "a=http://x/cb", "--client", "a=http://y/cb", "--client", "b=http://z/cb",
        "--token-ttl", "120", "--no-rotation", "--auto-login", "ada@example.com",
        "--auto-approve", "--api-port", "19999"])
    cfg = config_from_args(args)
    assert [(c.client_guid, c.redirect_uris) for c in cfg.clients] == [
        ("a", ["http://x/cb", "http://y/cb"]), ("b", ["http://z/cb"])]
    assert cfg.access_token_ttl == 120 and not cfg.rotate_refresh_tokens
    assert cfg.auto_login_user == "ada@example.com" and cfg.auto_approve
    assert args.api_port == 19999
    with pytest.raises(SystemExit):
        config_from_args(build_parser().parse_args(["--client", "nope"]))
    with pytest.raises(SystemExit):
        config_from_args(build_parser().parse_args(["--auto-login", "who@example.com"]))


def test_config_roundtrip_and_default_client() -> None:
    cfg = EmulatorConfig.default("c", "http://h/cb", access_token_ttl=10)
    again = EmulatorConfig.from_dict(cfg.to_dict())
    assert again == cfg
    assert config_from_args(build_parser().parse_args([])).clients[0].client_guid == "looker-bff"
    with pytest.raises(ValueError):
        EmulatorConfig.from_dict({"nonsense": 1})


def test_emulator_process_two_ports() -> None:
    cfg = EmulatorConfig.default(auto_login_user="ada@example.com", auto_approve=True)
    with EmulatorProcess(cfg, two_ports=True) as emu:
        assert emu.web_url != emu.api_url
        tok = emu.control.mint_tokens(1)
        with httpx2.Client(verify=False) as c:
            r = c.get(f"{emu.api_url}/api/4.0/user",
                      headers={"Authorization": f"Bearer {tok['access_token']}"})
            assert r.status_code == 200 and r.json()["id"] == "1"
            assert c.get(f"{emu.api_url}/auth").status_code == 404
            v = c.get(f"{emu.api_url}/api/versions").json()
        assert v["web_server_url"] == emu.web_url
        proc = emu.proc
        assert proc is not None
    assert proc.poll() is not None  # stopped
