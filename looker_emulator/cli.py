"""`looker-emulator` console script."""

from __future__ import annotations

import argparse
import sys

from .config import EmulatorConfig, OAuthClient
from .data import BIG_LOOK_ID, ONE_MB_LOOK_ID
from .server import prepare


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="looker-emulator",
                                description="Local stand-in for Looker's OAuth and API 4.0.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9999, help="web host port (0 = any free port)")
    p.add_argument("--api-port", type=int, default=None,
                   help="separate API host port (two-port mode, like :19999); 0 = any free port")
    p.add_argument("--client", action="append", default=[], metavar="GUID=REDIRECT_URI",
                   help="register an OAuth client (repeatable; repeat a GUID to add URIs)")
    p.add_argument("--token-ttl", type=int, help="access token lifetime in seconds")
    p.add_argument("--code-ttl", type=int, help="authorization code lifetime in seconds")
    p.add_argument("--no-rotation", action="store_true", help="do not rotate refresh tokens")
    p.add_argument("--auto-login", metavar="EMAIL", help="treat this user as signed in")
    p.add_argument("--auto-approve", action="store_true", help="skip the approval page")
    p.add_argument("--big-look-bytes", type=int, help="size of the large look's result")
    p.add_argument("--web-url", help="public web origin to report (behind a proxy)")
    p.add_argument("--api-url", help="public API origin to report (behind a proxy)")
    p.add_argument("--config", metavar="FILE", help="JSON file with EmulatorConfig fields")
    p.add_argument("--no-fast", action="store_true", help="use asyncio + h11, not uvloop/httptools")
    return p


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    cfg = EmulatorConfig.from_json_file(args.config) if args.config else EmulatorConfig()
    for item in args.client:
        guid, sep, uri = item.partition("=")
        if not sep or not guid or not uri:
            raise SystemExit(f"--client expects GUID=REDIRECT_URI, got {item!r}")
        existing = next((c for c in cfg.clients if c.client_guid == guid), None)
        if existing is None:
            cfg.clients.append(OAuthClient(guid, [uri]))
        elif uri not in existing.redirect_uris:
            existing.redirect_uris.append(uri)
    if not cfg.clients:
        cfg.clients = EmulatorConfig.default().clients
    if args.token_ttl is not None:
        cfg.access_token_ttl = args.token_ttl
    if args.code_ttl is not None:
        cfg.code_ttl = args.code_ttl
    if args.no_rotation:
        cfg.rotate_refresh_tokens = False
    if args.auto_login:
        cfg.auto_login_user = args.auto_login
    if args.auto_approve:
        cfg.auto_approve = True
    if args.big_look_bytes is not None:
        cfg.big_look_bytes = args.big_look_bytes
    if args.web_url:
        cfg.web_url = args.web_url.rstrip("/")
    if args.api_url:
        cfg.api_url = args.api_url.rstrip("/")
    if cfg.auto_login_user and cfg.auto_login_user.lower() not in {
            u.email.lower() for u in cfg.users}:
        raise SystemExit(f"--auto-login {cfg.auto_login_user}: no such seeded user")
    return cfg


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    cfg = config_from_args(args)
    prepared = prepare(cfg, args.host, args.port, args.api_port, fast=not args.no_fast)
    lines = [
        "Looker emulator",
        f"  web: {prepared.web_url}",
        f"  api: {prepared.api_url}",
        f"  sign in: {prepared.web_url}/login",
        f"  control: {prepared.api_url}/_emulator/counters",
        "  clients: " + ", ".join(f"{c.client_guid} -> {' '.join(c.redirect_uris)}"
                                  for c in cfg.clients),
        "  users: " + ", ".join(f"{u.email}/{u.password}" for u in cfg.users[:3]) + ", ...",
        f"  looks: big={BIG_LOOK_ID} ({cfg.big_look_bytes} bytes), 1MB={ONE_MB_LOOK_ID}",
    ]
    print("\n".join(lines), flush=True)
    try:
        prepared.server.run(sockets=prepared.sockets)
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
