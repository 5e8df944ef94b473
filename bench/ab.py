"""A/B: the service as it is vs variants, interleaved in one run so machine noise cancels.

    .venv/bin/python -m bench.ab --variant exp=/tmp/patched [--variant ...] [--rounds 3]

Each variant is a directory holding a patched copy of `service/` (and `migrations/`), put
first on the service's PYTHONPATH. All variants share one emulator and one database and
are measured round-robin on the small-JSON workload at c = 64 (1 session and N sessions).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import ExitStack
from typing import Any

from bench import common as c
from bench import run as r
from bench.common import log


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.ab")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=DIR")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--duration", type=float, default=5)
    p.add_argument("--database-url")
    a = p.parse_args()
    argv = ["--sessions", str(a.sessions), "--duration", str(a.duration)]
    if a.database_url:
        argv += ["--database-url", a.database_url]
    args = r.parse_args(argv)
    out: dict[str, Any] = {"rounds": a.rounds, "rows": []}
    with ExitStack() as stack:
        b = r.Bench(args, stack)
        b.setup()
        services = {"base": b.service}
        for item in a.variant:
            name, _, path = item.partition("=")
            services[name] = b.start_service(name, c.free_port(), PYTHONPATH=path)
        for sessions in (1, a.sessions):
            for svc in services.values():
                b.warm("service", "me", sessions, svc=svc)
            for _ in range(a.rounds):
                for name, svc in services.items():
                    row = b.run("service", "me", sessions, 64, a.duration, svc=svc,
                                label=name)
                    out["rows"].append(row)
    summary = {}
    for sessions in (1, a.sessions):
        for name in services:
            rows = [x for x in out["rows"] if x["target"] == name and x["sessions"] == sessions]
            summary[f"{name} s={sessions}"] = {
                k: statistics.median(x[k] for x in rows)
                for k in ("rps", "p50_ms", "p99_ms", "cpu_s_per_1k", "errors")}
    out["median"] = summary
    path = c.RESULTS / f"ab-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(out, indent=1))
    print(json.dumps(summary, indent=1))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
