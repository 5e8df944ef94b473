"""Run the emulator over real HTTP for tests and benchmarks.

`running_emulator` serves it from a background thread (in-process, `.state` available for
direct assertions); `EmulatorProcess` runs the CLI as a separate OS process.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx2

from .config import EmulatorConfig
from .server import prepare
from .state import EmulatorState


class Control:
    """Client for the /_emulator control API (works for threads and processes alike)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        # verify=False: plain http only, and it skips loading the CA bundle (~60 ms).
        self._client = httpx2.Client(base_url=base_url, timeout=10.0, verify=False)

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = self._client.request(method, f"/_emulator/{path}", json=body)
        if resp.status_code >= 400:
            raise RuntimeError(f"control {method} {path}: {resp.status_code} {resp.text}")
        return resp.json()

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "health"))

    def counters(self) -> dict[str, Any]:
        return dict(self._call("GET", "counters"))

    def reset_counters(self) -> None:
        self._call("POST", "reset-counters")

    def reset(self) -> None:
        """Back to the seed: tokens, sessions, approvals, faults, counters, clock."""
        self._call("POST", "reset")

    def summary(self) -> dict[str, Any]:
        return dict(self._call("GET", "state"))

    def set_fault(self, family: str = "all", **fault: Any) -> dict[str, Any]:
        """family: token|auth|api|login|logout|all; fault: latency_ms, status, count, rate,
        retry_after, down."""
        return dict(self._call("POST", "faults", {"family": family, **fault}))

    def clear_faults(self, family: str | None = None) -> None:
        self._call("DELETE", "faults" if family is None else f"faults/{family}")

    def faults(self) -> dict[str, Any]:
        return dict(self._call("GET", "faults"))

    def mint_tokens(self, user_id: int = 1, client_id: str | None = None,
                    expires_in: int | None = None,
                    redirect_uri: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"user_id": user_id, "client_id": client_id,
                                "redirect_uri": redirect_uri}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return dict(self._call("POST", "tokens", body))

    def expire_tokens(self, access_token: str | None = None, user_id: int | None = None) -> int:
        body = {"access_token": access_token, "user_id": user_id}
        return int(self._call("POST", "tokens/expire", body)["expired"])

    def revoke_tokens(self, **which: Any) -> int:
        """which: user_id, client_id, access_token and/or refresh_token."""
        return int(self._call("POST", "tokens/revoke", which)["revoked_families"])

    def advance_clock(self, seconds: float) -> float:
        return float(self._call("POST", "clock", {"advance": seconds})["clock_offset"])

    def last_headers(self) -> dict[str, dict[str, str]]:
        return dict(self._call("GET", "last-headers"))

    def patch_config(self, **values: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", "config", values))


@dataclass
class RunningEmulator:
    web_url: str
    api_url: str
    control: Control
    config: EmulatorConfig
    state: EmulatorState | None = None  # None when it runs in another process
    extra: dict[str, Any] = field(default_factory=dict)


def _wait_healthy(url: str, timeout: float, alive: Any = None) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError("emulator exited during startup")
        try:
            if httpx2.get(f"{url}/_emulator/health", timeout=1.0, verify=False).status_code == 200:
                return
        except httpx2.HTTPError as exc:
            last = exc
        time.sleep(0.02)
    raise RuntimeError(f"emulator at {url} did not become healthy: {last}")


@contextmanager
def running_emulator(config: EmulatorConfig | None = None,
                     two_ports: bool = False) -> Iterator[RunningEmulator]:
    """Serve the emulator on free 127.0.0.1 ports from a daemon thread; stop it on exit.

    Usable from sync and async fixtures: the server has its own loop in its own thread.
    """
    cfg = config or EmulatorConfig.default()
    # Plain asyncio + h11 in-process: no global loop policy changes in the test process.
    prepared = prepare(cfg, "127.0.0.1", 0, 0 if two_ports else None, fast=False)
    server = prepared.server
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=prepared.sockets))
        except BaseException as exc:  # surfaced to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="looker-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"emulator failed to start: {errors}")
        time.sleep(0.005)
    control = Control(prepared.api_url)
    try:
        yield RunningEmulator(prepared.web_url, prepared.api_url, control, cfg, prepared.state)
    finally:
        control.close()
        server.should_exit = True
        thread.join(timeout=10)
        for sock in prepared.sockets:
            sock.close()


class EmulatorProcess:
    """The emulator as a separate OS process through the CLI (uvloop/httptools if present).

    with EmulatorProcess(config) as emu: emu.web_url, emu.api_url, emu.control
    """

    def __init__(self, config: EmulatorConfig | None = None, two_ports: bool = False,
                 host: str = "127.0.0.1", extra_args: list[str] | None = None,
                 startup_timeout: float = 20.0) -> None:
        self.config = config or EmulatorConfig.default()
        self.two_ports = two_ports
        self.host = host
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.web_url = ""
        self.api_url = ""
        self.state: EmulatorState | None = None
        self._control: Control | None = None
        self._cfg_path: str | None = None

    @property
    def control(self) -> Control:
        if self._control is None:
            raise RuntimeError("emulator process not started")
        return self._control

    def start(self) -> EmulatorProcess:
        fd, self._cfg_path = tempfile.mkstemp(prefix="looker-emulator-", suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(self.config.to_dict(), fh)
        cmd = [sys.executable, "-m", "looker_emulator", "--config", self._cfg_path,
               "--host", self.host, "--port", "0", *self.extra_args]
        if self.two_ports:
            cmd += ["--api-port", "0"]
        # Our own interpreter and module, no shell.
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)  # noqa: S603
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def pump() -> None:  # keep draining so the child never blocks on a full pipe
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, name="looker-emulator-stdout", daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not (self.web_url and self.api_url):
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("emulator process did not print its URLs")
            key, _, value = line.strip().partition(": ")
            if key == "web":
                self.web_url = value
            elif key == "api":
                self.api_url = value
        proc = self.proc
        _wait_healthy(self.api_url, self.startup_timeout, alive=lambda: proc.poll() is None)
        self._control = Control(self.api_url)
        return self

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        if self._cfg_path is not None:
            os.unlink(self._cfg_path)
            self._cfg_path = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
