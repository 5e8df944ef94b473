"""Binding sockets and building the uvicorn server shared by the CLI and the test runner."""

from __future__ import annotations

import importlib.util
import socket
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from .app import create_app, create_two_port_app
from .config import EmulatorConfig
from .state import EmulatorState


def bind(host: str, port: int) -> socket.socket:
    """Bind now (port 0 = a free one) so the real port is known before the server starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
    # says TCP; with proto 0, Nagle + delayed ACK add ~40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def origin(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - display only
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


@dataclass
class Prepared:
    server: uvicorn.Server
    sockets: list[socket.socket]
    state: EmulatorState
    web_url: str
    api_url: str


def prepare(config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0,
            api_port: int | None = None, fast: bool = True) -> Prepared:
    """Bind the sockets and build (but do not start) a uvicorn server for the emulator.

    `api_port` not None = two-port mode (0 picks a free port for it too).
    """
    state = EmulatorState.from_config(config)
    web_sock = bind(host, port)
    web_url = origin(host, web_sock.getsockname()[1])
    sockets = [web_sock]
    app: ASGIApp
    if api_port is None:
        api_url = web_url
        app = create_app(state=state)
    else:
        api_sock = bind(host, api_port)
        sockets.append(api_sock)
        real_api_port = api_sock.getsockname()[1]
        api_url = origin(host, real_api_port)
        app, _ = create_two_port_app(None, real_api_port, state)
    state.web_url = config.web_url or web_url
    state.api_url = config.api_url or api_url
    has = importlib.util.find_spec
    cfg = uvicorn.Config(
        app,
        log_config=None,  # leave the host process's logging alone
        log_level="warning",
        access_log=False,  # access logs would carry codes in /auth redirects
        lifespan="off",
        ws="none",
        http="httptools" if fast and has("httptools") else "h11",
        loop="uvloop" if fast and has("uvloop") else "asyncio",
        timeout_graceful_shutdown=2,
        server_header=False,
    )
    return Prepared(uvicorn.Server(cfg), sockets, state, state.web_url, state.api_url)
