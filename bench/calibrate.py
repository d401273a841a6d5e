"""How fast is this machine for the open API? A raw app next to stocksync, back to back.

    python -m bench.calibrate                     # the 1,000,000-listing bench database
    python -m bench.calibrate --listings 20000    # quick mode

Issue 3 set its calcStock targets from what a raw app reached on the machines of the time:
"a raw ASGI app reached 9.6–13.8k req/s on one core" for a realistic request (parse the query,
MD5 over ~200 bytes, one SQLite primary-key read, ~1 KB of orjson). This benchmark serves such a
raw app (`bench/calibrate_app.py`, no stocksync code) under granian with `stocksync serve`'s
settings, one worker, and drives it with wrk exactly as `bench.openapi` drives calcStock (the
same pre-signed requests, 32 connections); then stocksync itself; then the raw app again, to
bracket the machine's drift. It prints each one's req/s and CPU per request, and stocksync's
rate as a share of the raw app's: a figure that moves far less between machines than req/s.

Not a test: it prints figures. Needs wrk (`apt-get install -y wrk`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.openapi import CREDENTIALS, computable_ids
from bench.openapi_data import KEY, SALT, SECRET, SID, bench_database
from bench.openapi_server import (
    BenchServer,
    cpu_seconds,
    python_thread_seconds,
)
from bench.openapi_wrk import WrkFigures, require_wrk, run_wrk, write_requests
from stocksync.client import Client
from stocksync.db.engine import make_engine, read_tx
from stocksync.db.tenants import tenant_id

_RAW = (
    "from stocksync.bootstrap import run_server; import sys; "
    "run_server('bench.calibrate_app:rsgi_factory', host='127.0.0.1', port=int(sys.argv[1]), "
    "log_level='warning')"
)
#: What issue 3 reports for a raw app on its machines (req/s, one core).
ISSUE_RAW = (9_600, 13_800)
ISSUE_TARGET = 8_000


class RawServer(BenchServer):
    """The calibration app under `run_server`, in a process group of its own."""

    def __init__(self, db: Path, tenant: int, log: Path) -> None:
        super().__init__(db, 1, log)
        self.tenant = tenant

    def __enter__(self) -> RawServer:
        env = {**os.environ, "CALIBRATE_DB": str(self.db), "CALIBRATE_TENANT": str(self.tenant)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.getcwd(), env.get("PYTHONPATH")]))
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _RAW, str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        return self


def _drive(server: BenchServer, requests: Path, seconds: int) -> tuple[WrkFigures, float, float]:
    """Warm up, then one wrk run: its figures, server CPU and Python-thread CPU per request."""
    run_wrk(server.url, requests, seconds=3, connections=32)
    pids = server.worker_pids()
    cpu, python = cpu_seconds(pids), python_thread_seconds(pids)
    wrk = run_wrk(server.url, requests, seconds=seconds, connections=32)
    done = max(wrk.requests, 1)
    return (
        wrk,
        (cpu_seconds(pids) - cpu) / done * 1e6,
        (python_thread_seconds(pids) - python) / done * 1e6,
    )


def _print(label: str, figures: tuple[WrkFigures, float, float]) -> None:
    wrk, cpu_us, python_us = figures
    print(f"  {label:<22} {wrk.requests_per_second:8,.0f} req/s   p99 {wrk.p99_ms:6.2f} ms   "
          f"server CPU {cpu_us:5.0f} µs/request ({python_us:.0f} on the Python thread)   "
          f"{wrk.bad_answers} bad answers", flush=True)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.calibrate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--dir", help="where the database is kept (default the cache)")
    parser.add_argument("--seconds", type=int, default=10, help="seconds of each wrk run")
    args = parser.parse_args(argv)
    require_wrk()
    db = bench_database(args.listings, Path(args.dir) if args.dir else None)
    ids = computable_ids(db, args.listings, 5000)
    engine = make_engine(f"sqlite:///{db}")
    with read_tx(engine) as conn:
        tid = tenant_id(conn, SID)
    engine.dispose()
    assert tid is not None
    print(f"machine calibration: a raw app and stocksync, calcStock requests, 1 worker, "
          f"{os.cpu_count()} CPUs", flush=True)  # fmt: skip
    runs: dict[str, tuple[WrkFigures, float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="stocksync-calibrate-") as work:
        requests = Path(work) / "requests.tsv"
        for label in ("raw app", "stocksync calcStock", "raw app, again"):
            log = Path(work) / f"{len(runs)}.log"
            if label.startswith("raw"):
                server: BenchServer = RawServer(db, tid, log)
            else:
                server = BenchServer(db, 1, log)
            with server:
                server.wait_ready(Client(server.url, SID, KEY, f"{SECRET}:{SALT}"))
                write_requests(requests, CREDENTIALS, ids, 5000)  # signed now
                runs[label] = _drive(server, requests, args.seconds)
                _print(label, runs[label])
    raw = sum(runs[label][0].requests_per_second for label in ("raw app", "raw app, again")) / 2
    ours = runs["stocksync calcStock"][0].requests_per_second
    low, high = ISSUE_RAW
    print(
        f"\n  stocksync's calcStock reaches {ours / raw:.0%} of the raw app's rate here "
        f"(raw app mean {raw:,.0f} req/s)."
    )
    print(
        f"  Issue 3's machines: raw app {low:,}–{high:,} req/s, target {ISSUE_TARGET:,}: "
        f"{ISSUE_TARGET / high:.0%}–{ISSUE_TARGET / low:.0%} of the raw app's rate."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
