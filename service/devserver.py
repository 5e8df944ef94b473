"""`looker-bff dev`: the whole local stack with one command.

Embedded PostgreSQL (migrated), the Looker emulator in a child process, and the service
with the demo SPA, all on 127.0.0.1. Development secrets are generated once under
`DATA_DIR`. Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

DEV_CLIENT_ID = "looker-bff-dev"


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("looker-bff dev: the Looker emulator exited at start-up")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own loopback URL)
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"looker-bff dev: the Looker emulator did not answer at {url}")


def run_dev(host: str, port: int, emulator_port: int) -> None:
    import uvicorn

    from service.app import create_app
    from service.cli import _uvicorn_options
    from service.config import load_settings_or_exit
    from service.demo import mount_demo
    from service.logs import configure_logging

    public_url = f"http://{host}:{port}"
    looker_url = f"http://{host}:{emulator_port}"
    emulator = subprocess.Popen([  # noqa: S603 (fixed argv: our own interpreter)
        sys.executable, "-m", "looker_emulator.cli", "--host", host,
        "--port", str(emulator_port), "--client", f"{DEV_CLIENT_ID}={public_url}/auth/callback",
        "--big-look-bytes", str(4 * 1024 * 1024),  # the demo renders it in a browser
    ])
    try:
        _wait_for(f"{looker_url}/api/4.0/versions", emulator)
        defaults = {"ENVIRONMENT": "development", "LOOKER_BASE_URL": looker_url,
                    "LOOKER_CLIENT_ID": DEV_CLIENT_ID, "PUBLIC_URL": public_url}
        for name, value in defaults.items():
            os.environ.setdefault(name, value)
        settings = load_settings_or_exit()
        configure_logging(settings.log_level)
        app = create_app(settings)
        mount_demo(app)
        print(f"\n  looker-bff is running: open {public_url}/\n"
              f"  Looker emulator: {looker_url} (sign in as ada@example.com / ada-password)\n",
              flush=True)
        uvicorn.run(app, host=host, port=port, **_uvicorn_options(settings))
    finally:
        emulator.terminate()
        try:
            emulator.wait(10)
        except subprocess.TimeoutExpired:
            emulator.kill()
