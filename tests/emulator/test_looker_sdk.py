"""Looker's official Python SDK (looker-sdk from PyPI) against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import looker_sdk

from looker_emulator.data import ONE_MB_LOOK_ID
from looker_emulator.testing import RunningEmulator


def _sdk(emu: RunningEmulator, tmp_path: Path) -> looker_sdk.methods40.Looker40SDK:
    cred = emu.config.api3_credentials[0]
    ini = tmp_path / "looker.ini"
    ini.write_text(f"[Looker]\nbase_url={emu.api_url}\nclient_id={cred.client_id}\n"
                   f"client_secret={cred.client_secret}\nverify_ssl=false\ntimeout=30\n")
    return looker_sdk.init40(str(ini))


def test_sdk_me_all_looks_run_look(emu: RunningEmulator, tmp_path: Path) -> None:
    sdk = _sdk(emu, tmp_path)
    me = sdk.me()
    assert me.id == "1" and me.email == "ada@example.com"
    assert me.credentials_email is not None and me.credentials_email.email == me.email
    looks = sdk.all_looks()
    assert len(looks) >= 10 and looks[0].title
    assert looks[0].folder is not None and looks[0].folder.name
    rows = json.loads(sdk.run_look("1", "json", limit=10))
    assert len(rows) == 10
    csv = sdk.run_look("2", "csv")
    assert isinstance(csv, str) and csv.startswith("Users State")
    assert len(sdk.run_look(ONE_MB_LOOK_ID, "json")) > 900_000
    assert emu.control.counters()["token_grants"]["api3_login"] == 1
    sdk.auth.logout()
    assert emu.control.counters()["logouts"] == 1


def test_sdk_more_calls(emu: RunningEmulator, tmp_path: Path) -> None:
    sdk = _sdk(emu, tmp_path)
    look = sdk.look("1")
    assert look.query is not None and look.query.fields == [
        "order_items.created_date", "order_items.count"]
    dash = sdk.dashboard("1")
    assert dash.dashboard_elements and dash.dashboard_elements[0].look_id == "1"
    found = sdk.search_looks(title="Orders%", limit=1)
    assert len(found) == 1
    assert sdk.versions().current_version.version == "4.0"  # type: ignore[union-attr]
    user = sdk.user("2", fields="id,display_name")
    assert user.display_name == "Grace Hopper"
