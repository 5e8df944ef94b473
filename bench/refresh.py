"""Refresh benchmark (issue 5, item 7): renew N due tokens against the emulator.

    .venv/bin/python -m bench.refresh [--tokens 10000] [--concurrency 16]
                                      [--database-url postgresql://…] [--quick]

Starts the emulator (refresh-token rotation and reuse detection on) as a separate
process, seeds N users whose tokens expire within REFRESH_AHEAD_SECONDS straight into a
fresh database, then runs the service's own `Refresher.refresh_due_tokens()` in this
process (the background refresher's code path, with the service's runtime) until nothing
is due. Reports refreshes/s, database statements and transactions per refresh
(SQLAlchemy `before_cursor_execute` + pg_stat_database deltas), the emulator's grant
counters, and peak RSS of the refreshing process. Writes bench/results/refresh-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench import common as c
from bench.common import log


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.refresh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, help="due tokens (default 10000; --quick 1000)")
    p.add_argument("--concurrency", type=int, default=16, help="REFRESHER_CONCURRENCY")
    p.add_argument("--batch-size", type=int, default=100, help="REFRESHER_BATCH_SIZE")
    p.add_argument("--database-url")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    args.tokens = args.tokens or (1000 if args.quick else 10_000)
    return args


def _statement_kind(sql: str) -> str:
    words = sql.split()
    head = words[0].upper() if words else "?"
    table = "?"
    upper = [w.upper() for w in words]
    for key in ("FROM", "UPDATE", "INTO"):
        if key in upper:
            idx = upper.index(key)
            if idx + 1 < len(words):
                table = words[idx + 1].strip('"(')
                break
    if head == "UPDATE":
        table = words[1].strip('"') if len(words) > 1 else "?"
    lock = " FOR UPDATE SKIP LOCKED" if "SKIP LOCKED" in sql.upper() else (
        " FOR UPDATE" if "FOR UPDATE" in sql.upper() else "")
    return f"{head} {table}{lock}"


async def refresh_all(settings: Any, expected: int) -> dict[str, Any]:
    from sqlalchemy import event

    from service.metrics import Metrics
    from service.runtime import open_runtime
    from service.tokens.refresher import Refresher

    metrics = Metrics()
    kinds: Counter[str] = Counter()
    async with open_runtime(settings, metrics) as runtime:
        @event.listens_for(runtime.engine.sync_engine, "before_cursor_execute")
        def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
            kinds[_statement_kind(statement)] += 1

        refresher = Refresher(settings, runtime.db, runtime.tokens, metrics)
        totals: Counter[str] = Counter()
        scans = 0
        started = time.perf_counter()
        cpu0 = time.process_time()
        while True:
            report = await refresher.refresh_due_tokens()
            scans += 1
            totals.update(refreshed=report.refreshed, refused=report.refused,
                          failed=report.failed, skipped=report.skipped)
            log(f"scan {scans}: due {report.due}, refreshed {report.refreshed}, "
                f"refused {report.refused}, failed {report.failed}, skipped {report.skipped}")
            if report.due == 0 or scans >= 5 or totals["refreshed"] >= expected:
                break
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    return {"elapsed_s": round(elapsed, 2), "cpu_s": round(cpu, 2), "scans": scans,
            "outcomes": dict(totals), "statements": dict(kinds.most_common())}


def main(argv: list[str] | None = None) -> None:
    from cryptography.fernet import Fernet

    from service.config import load_settings

    args = parse_args(argv)
    c.RESULTS.mkdir(parents=True, exist_ok=True)
    keys = [Fernet.generate_key().decode()]
    public_url = "http://127.0.0.1:8765"  # nothing serves it: only the redirect_uri matters
    redirect = public_url + "/auth/callback"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-refresh-")))
        log("starting the Looker emulator (rotation and reuse detection on)")
        emulator = c.Emulator(redirect, token_ttl=3600, rotation=True)
        stack.callback(emulator.close)
        db = stack.enter_context(c.database(args.database_url, tmp / "pg"))
        t0 = time.monotonic()
        # expiring in 120 s: inside REFRESH_AHEAD_SECONDS (300), so every one is due
        asyncio.run(c.seed(db, emulator.api_url, keys, args.tokens, redirect,
                           token_ttl=3600, expires_in_db=120))
        log(f"seeded {args.tokens} due tokens in {time.monotonic() - t0:.1f}s")
        settings = load_settings(
            environment="development", looker_base_url=emulator.web_url,
            looker_api_url=emulator.api_url, looker_client_id=c.CLIENT_ID,
            public_url=public_url, database_url=db.url, data_dir=tmp / "data",
            session_secret="bench-" + "s" * 40, token_encryption_keys=keys,
            refresher_enabled=False, refresher_concurrency=args.concurrency,
            refresher_batch_size=args.batch_size, log_level="warning")
        emulator.proc.control.reset_counters()
        before = c.settled_db_stats(db)
        emu_cpu0 = c.cpu_seconds(emulator.pid)
        with c.RssSampler(os.getpid(), every=0.1) as rss:
            rss_before = c.rss_bytes(os.getpid())
            result = asyncio.run(refresh_all(settings, args.tokens))
        emu_cpu = c.cpu_seconds(emulator.pid) - emu_cpu0
        after = c.settled_db_stats(db)
        counters = emulator.proc.control.counters()
    refreshed = result["outcomes"].get("refreshed", 0) or 1
    delta = {k: after[k] - before[k] for k in before}
    n_statements = sum(result["statements"].values())
    out = {
        "machine": c.machine(),
        "settings": {"tokens": args.tokens, "concurrency": args.concurrency,
                     "batch_size": args.batch_size,
                     "database": "given server" if args.database_url else "embedded"},
        **result,
        "refreshes_per_s": round(result["outcomes"].get("refreshed", 0) / result["elapsed_s"], 1),
        "cpu_ms_per_refresh_bff": round(result["cpu_s"] / refreshed * 1000, 3),
        "cpu_ms_per_refresh_emulator": round(emu_cpu / refreshed * 1000, 3),
        "sqlalchemy_statements_per_refresh": round(n_statements / refreshed, 2),
        "pg_stat_database_delta": delta,
        "pg_per_refresh": {k: round(v / refreshed, 2) for k, v in delta.items()},
        "emulator": {"refresh_grants": counters["token_grants"].get("refresh_token"),
                     "reuse_detections": counters["reuse_detections"],
                     "token_errors": counters["token_errors"]},
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_peak_mb": round(rss.peak / 2**20, 1),
        "rss_growth_mb": round((rss.peak - rss_before) / 2**20, 1),
    }
    path = args.out or c.RESULTS / f"refresh-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=1))
    (c.RESULTS / "refresh-latest.json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}, indent=1))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
