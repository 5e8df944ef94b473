"""`looker-bff` commands: serve, migrate, dev, export-openapi, rotate-keys."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from service.config import Settings, load_settings_or_exit


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "log_config": None, "access_log": False, "server_header": False,
        "proxy_headers": True, "forwarded_allow_ips": settings.forwarded_allow_ips,
        "timeout_graceful_shutdown": 30,
    }
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        pass
    try:
        from service.http_protocol import BoundedHttpToolsProtocol

        options["http"] = BoundedHttpToolsProtocol
    except ImportError:  # no httptools: uvicorn's h11, which caps request heads itself
        pass
    return options


def app_from_environment() -> Any:
    """Factory for uvicorn workers: each builds its own app from the environment."""
    from service.app import create_app
    from service.logs import configure_logging

    settings = load_settings_or_exit()
    configure_logging(settings.log_level)
    return create_app(settings)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from service.app import create_app
    from service.logs import configure_logging

    settings = load_settings_or_exit()
    configure_logging(settings.log_level)
    host = args.host or settings.host
    port = args.port or settings.port
    options = _uvicorn_options(settings)
    if args.workers and args.workers > 1:
        uvicorn.run("service.cli:app_from_environment", factory=True, host=host, port=port,
                    workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings), host=host, port=port, **options)


def migrate(args: argparse.Namespace) -> None:
    from service import migrate as migrations
    from service.embedded import embedded_postgres

    settings = load_settings_or_exit()
    if settings.database_url:
        migrations.upgrade(settings.database_url)
    else:
        with embedded_postgres(settings.data_dir) as url:
            migrations.upgrade(url)
    print(f"looker-bff: database at {migrations.head_revision()}")


def export_openapi(args: argparse.Namespace) -> None:

    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(openapi_json())
    print(f"looker-bff: wrote {output}")


def openapi_json() -> str:
    """The OpenAPI document, independent of this machine's configuration."""
    from service.app import create_app

    settings = Settings(
        _env_file=None,
        environment="development", looker_base_url="https://looker.example.com",
        looker_client_id="client", session_secret="s" * 32,
        token_encryption_keys=["A" * 43 + "="],
    )
    return json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True) + "\n"


def rotate_keys(args: argparse.Namespace) -> None:
    from service.tokens.rotation import rotate_all

    settings = load_settings_or_exit()
    count = asyncio.run(rotate_all(settings))
    print(f"looker-bff: re-encrypted {count} token rows with the first key")


def dev(args: argparse.Namespace) -> None:
    from service.devserver import run_dev

    run_dev(host=args.host, port=args.port, emulator_port=args.emulator_port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="looker-bff", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the API (uvicorn)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(run=serve)

    p = commands.add_parser("migrate", help="alembic upgrade head")
    p.set_defaults(run=migrate)

    p = commands.add_parser("dev", help="embedded Postgres + Looker emulator + service + demo")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--emulator-port", type=int, default=9999)
    p.set_defaults(run=dev)

    p = commands.add_parser("export-openapi", help="write openapi/openapi.json")
    p.add_argument("--output", default="openapi/openapi.json")
    p.set_defaults(run=export_openapi)

    p = commands.add_parser("rotate-keys", help="re-encrypt stored tokens with the first key")
    p.set_defaults(run=rotate_keys)

    args = parser.parse_args(argv)
    try:
        args.run(args)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
