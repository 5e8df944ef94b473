"""Process, database, seeding and load-generator helpers shared by the benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psutil

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
CLIENT_ID = "bench-client"
ME_PATH = "/api/me"
LOOK_ID = "100"  # looker_emulator.data.ONE_MB_LOOK_ID: ~1 MB of json rows
LOOK_PATH = f"/api/looks/{LOOK_ID}/run/json"
DIRECT_PATHS = {"me": "/api/4.0/user", "look": f"/api/4.0/looks/{LOOK_ID}/run/json"}
SERVICE_PATHS = {"me": ME_PATH, "look": LOOK_PATH}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[Any] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            if httpx2.get(url, timeout=1.0, verify=False).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {timeout}s")


def stop(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# -- the database ------------------------------------------------------------------------

@dataclass
class Database:
    url: str  # postgresql://… (sync-style; the service accepts it)
    dbname: str
    admin_url: str  # same server, database "postgres", to drop ours afterwards
    drop: bool

    def asyncpg_dsn(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://")


def _with_db(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, ""))


@contextlib.contextmanager
def database(database_url: str | None, data_dir: Path) -> Iterator[Database]:
    """A fresh, migrated database: on the given server, or the embedded Postgres."""
    from service import migrate

    stack = contextlib.ExitStack()
    with stack:
        if database_url:
            server_url = database_url
        else:
            from service.embedded import embedded_postgres

            log(f"starting the embedded Postgres under {data_dir}")
            server_url = stack.enter_context(embedded_postgres(data_dir))
        server_url = server_url.replace("postgresql+asyncpg://", "postgresql://")
        dbname = f"bench_{int(time.time())}_{secrets.token_hex(3)}"
        admin = _with_db(server_url, "postgres")
        asyncio.run(_admin(admin, f'CREATE DATABASE "{dbname}"'))
        db = Database(_with_db(server_url, dbname), dbname, admin, True)
        try:
            migrate.upgrade(db.url)
            yield db
        finally:
            with contextlib.suppress(Exception):
                asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def db_stats(db: Database) -> dict[str, int]:
    """pg_stat_database counters of the benchmark database (xact_commit, tup_*, …)."""
    import asyncpg

    conn = await asyncpg.connect(db.admin_url)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, "
            "tup_updated, tup_deleted, blks_hit, blks_read FROM pg_stat_database "
            "WHERE datname = $1", db.dbname)
    finally:
        await conn.close()
    return dict(row) if row else {}


# Idle backends flush their statistics at most every PGSTAT_IDLE_INTERVAL (10 s in PG 15).
STATS_SETTLE_SECONDS = 11.0


def settled_db_stats(db: Database) -> dict[str, int]:
    time.sleep(STATS_SETTLE_SECONDS)
    return asyncio.run(db_stats(db))


# -- seeding -------------------------------------------------------------------------------

@dataclass
class Seeded:
    cookies: list[str]
    access_tokens: list[str]
    user_ids: list[int]


async def _mint_all(api_url: str, count: int, redirect_uri: str, expires_in: int,
                    concurrency: int = 32) -> list[dict[str, Any]]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(base_url=api_url, timeout=30, limits=limits,
                                  verify=False) as client:
        async def one() -> dict[str, Any]:
            async with gate:
                resp = await client.post("/_emulator/tokens", json={
                    "user_id": 1, "client_id": CLIENT_ID, "redirect_uri": redirect_uri,
                    "expires_in": expires_in})
                resp.raise_for_status()
                return dict(resp.json())
        return list(await asyncio.gather(*(one() for _ in range(count))))


async def seed(db: Database, api_url: str, keys: list[str], count: int, redirect_uri: str,
               *, token_ttl: int, expires_in_db: float | None = None) -> Seeded:
    """`count` users, each with a token family of its own and a session, in bulk.

    Same rows as tests/seeding.py, but minted concurrently and inserted in one go.
    """
    from sqlalchemy import insert, text

    from service.crypto import TokenCipher, hash_id, new_opaque_id
    from service.db import create_engine
    from service.models import LookerToken, Session, User

    pairs = await _mint_all(api_url, count, redirect_uri, token_ttl)
    cipher = TokenCipher(keys)
    now = datetime.now(UTC)
    token_expiry = now + timedelta(seconds=expires_in_db if expires_in_db is not None
                                   else token_ttl)
    engine = create_engine(db.url)
    try:
        async with engine.begin() as conn:
            first = (await conn.execute(
                text("SELECT coalesce(max(id), 0) FROM users"))).scalar_one()
        users, tokens, sessions, cookies, ids = [], [], [], [], []
        for offset, pair in enumerate(pairs, start=1):
            uid = first + offset
            cookie = new_opaque_id()
            users.append({"id": uid, "looker_user_id": f"seed-{uid}",
                          "display_name": f"User {uid}", "email": f"u{uid}@example.com"})
            tokens.append({"user_id": uid,
                           "access_token_enc": cipher.encrypt(pair["access_token"]),
                           "refresh_token_enc": cipher.encrypt(pair["refresh_token"]),
                           "expires_at": token_expiry})
            sessions.append({"id_hash": hash_id(cookie), "user_id": uid,
                             "expires_at": now + timedelta(hours=8)})
            cookies.append(cookie)
            ids.append(uid)
        async with engine.begin() as conn:
            for start in range(0, len(users), 2000):
                await conn.execute(insert(User), users[start:start + 2000])
                await conn.execute(insert(LookerToken), tokens[start:start + 2000])
                await conn.execute(insert(Session), sessions[start:start + 2000])
            await conn.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), "
                                    "(SELECT max(id) FROM users))"))
    finally:
        await engine.dispose()
    return Seeded(cookies, [p["access_token"] for p in pairs], ids)


# -- processes -------------------------------------------------------------------------

class Emulator:
    def __init__(self, redirect_uri: str, token_ttl: int, rotation: bool = True) -> None:
        from looker_emulator.testing import EmulatorProcess

        args = ["--client", f"{CLIENT_ID}={redirect_uri}", "--token-ttl", str(token_ttl)]
        if not rotation:
            args.append("--no-rotation")
        self.proc = EmulatorProcess(extra_args=args).start()
        self.api_url = self.proc.api_url
        self.web_url = self.proc.web_url
        assert self.proc.proc is not None
        self.pid = self.proc.proc.pid

    def close(self) -> None:
        self.proc.stop()


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[Any]
    pid: int
    name: str
    env: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        stop(self.proc)


def service_env(*, emulator: Emulator, db: Database, port: int, keys: list[str],
                data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOKER_", "DATABASE_"))}
    env.update({
        "ENVIRONMENT": "development",
        "LOOKER_BASE_URL": emulator.web_url,
        "LOOKER_API_URL": emulator.api_url,
        "LOOKER_CLIENT_ID": CLIENT_ID,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": db.url,
        "DATA_DIR": str(data_dir),
        "SESSION_SECRET": "bench-session-secret-" + "x" * 32,
        "TOKEN_ENCRYPTION_KEYS": ",".join(keys),
        "REFRESHER_ENABLED": "false",
        "LOG_LEVEL": "warning",
    })
    env.update({k.upper(): v for k, v in extra.items()})
    return env


def start_service(name: str, env: dict[str, str], port: int) -> Service:
    cmd = [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir())
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    return Service(url, proc, proc.pid, name, env)


def start_bare(me_file: Path, look_file: Path) -> Service:
    port = free_port()
    cmd = [sys.executable, "-m", "bench.bare_app", "--port", str(port),
           "--me", str(me_file), "--look", str(look_file)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/healthz", proc)
    return Service(url, proc, proc.pid, "bare")


# -- measuring -------------------------------------------------------------------------

def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def rss_bytes(pid: int) -> int:
    total = 0
    for proc in _tree(pid):
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


class RssSampler:
    """Samples a process tree's RSS in a thread; keeps the peak and the time series."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        self.pid = pid
        self.every = every
        self.peak = rss_bytes(pid)
        self.series: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_bytes(self.pid)
            self.peak = max(self.peak, value)
            self.series.append((time.monotonic() - self._t0, value))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


WRK = shutil.which("wrk")


def wrk(base_url: str, paths: list[str], *, mode: str, creds: list[str], concurrency: int,
        duration: float, threads: int = 1, timeout: float = 10) -> dict[str, Any]:
    if WRK is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        creds_file = Path(tmp) / "creds"
        creds_file.write_text("\n".join(creds) + "\n")
        out = Path(tmp) / "out.json"
        env = dict(os.environ, BENCH_MODE=mode, BENCH_CREDS=str(creds_file),
                   BENCH_PATHS=",".join(paths), BENCH_OUT=str(out))
        cmd = [WRK, f"-t{min(threads, concurrency)}", f"-c{concurrency}",
               f"-d{max(1, round(duration))}s", f"--timeout={int(timeout)}s",
               "-s", str(BENCH_DIR / "load.lua"), base_url]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr}{proc.stdout}")
        return dict(json.loads(out.read_text()))


def measure(target: Any, base_url: str, paths: list[str], *, mode: str, creds: list[str],
            concurrency: int, duration: float) -> dict[str, Any]:
    """One wrk run against `target` (Service or Emulator: has .pid) with CPU and RSS."""
    pid = target.pid
    cpu0 = cpu_seconds(pid)
    with RssSampler(pid) as rss:
        raw = wrk(base_url, paths, mode=mode, creds=creds, concurrency=concurrency,
                  duration=duration)
    cpu = cpu_seconds(pid) - cpu0
    reqs = raw["requests"]
    secs = raw["duration_us"] / 1e6
    e = raw["errors"]
    socket_errors = e["connect"] + e["read"] + e["write"] + e["timeout"]
    lat = raw["latency_us"]
    return {
        "requests": reqs,
        "rps": round(reqs / secs, 1) if secs else 0.0,
        "p50_ms": round(lat["p50"] / 1000, 2),
        "p99_ms": round(lat["p99"] / 1000, 2),
        "mean_ms": round(lat["mean"] / 1000, 2),
        "non_2xx": e["status"],
        "socket_errors": socket_errors,
        "errors": e["status"] + socket_errors,
        "cpu_s": round(cpu, 3),
        "cpu_s_per_1k": round(cpu / reqs * 1000, 4) if reqs else None,
        "rss_peak_mb": round(rss.peak / 2**20, 1),
        "mb_per_s": round(raw["bytes"] / secs / 2**20, 1) if secs else 0.0,
    }


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": sys.version.split()[0]}
    with contextlib.suppress(Exception):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("Model name", "Hypervisor vendor", "CPU(s)"):
                info[key.strip()] = value.strip()
    with contextlib.suppress(Exception):
        info["mem_total_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    with contextlib.suppress(Exception):
        info["wrk"] = subprocess.run([WRK or "wrk", "-v"], capture_output=True,
                                     text=True).stdout.splitlines()[0]
    return info
