"""The open-API benchmark: calcStock under wrk (1 and 2 workers), batchCalcStock, server RSS.

    python -m bench.openapi                       # 1,000,000 listings (database cached)
    python -m bench.openapi --listings 20000      # quick mode
    python -m bench.openapi --fresh               # rebuild the cached database first

Needs wrk (`apt-get install -y wrk`). Not a test: it prints numbers next to their targets (see
bench/README.md). wrk and the server share the machine, so the figures are for both together.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.openapi_data import KEY, SALT, SECRET, SID, bench_database
from bench.openapi_server import (
    BenchServer,
    RssSampler,
    cpu_seconds,
    python_thread_seconds,
    python_thread_switches,
)
from bench.openapi_wrk import Credentials, WrkFigures, require_wrk, run_wrk, signed_query
from bench.openapi_wrk import write_requests as write_calc_requests
from stocksync.bootstrap import Settings, create_app
from stocksync.client import Client
from stocksync.db.engine import make_engine, read_tx
from stocksync.db.tenants import tenant_id
from stocksync.services.batch import batch_syn_stock

CREDENTIALS = Credentials(SID, KEY, SECRET, SALT)
BATCH = "sales.StockSync.batchCalcStock"
BATCH_SIZE = 5000


def computable_ids(db: Path, listings: int, count: int) -> list[int]:
    """Random listings whose calcStock succeeds (the batch path tells, in one call)."""
    engine = make_engine(f"sqlite:///{db}")
    rng = random.Random(5)
    try:
        with read_tx(engine) as conn:
            tid = tenant_id(conn, SID)
            assert tid is not None
            asked = rng.sample(range(1, listings + 1), min(listings, count * 4))
            items = batch_syn_stock(conn, tid, asked)
    finally:
        engine.dispose()
    return [item.rec_id for item in items if item.error is None][:count]


def batch_body(rec_ids: Sequence[int]) -> bytes:
    """The body of a batchCalcStock call on `rec_ids`."""
    items = [{"api_goods_id": rec_id, "force_sync": False} for rec_id in rec_ids]
    return json.dumps([items], separators=(",", ":")).encode()


def batch_server_ms(
    db: Path, rec_ids: Sequence[int], repeats: int
) -> tuple[list[float], list[float]]:
    """Server time of batchCalcStock: the app's `answer` (handler + envelope) in-process, as
    (wall ms, CPU ms) per call."""
    body = batch_body(rec_ids)
    walls, cpus = [], []
    with create_app(Settings(db_url=f"sqlite:///{db}")) as app:
        for attempt in range(repeats + 1):
            query = signed_query(CREDENTIALS, BATCH, body).encode()
            started, cpu = time.perf_counter(), time.process_time()
            answer = app.api.answer(query, body, f"bench-{attempt}")
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            assert answer.startswith(b'{"status":0'), answer[:200]
    return walls[1:], cpus[1:]  # the first call warms the page cache


def batch_http_ms(url: str, rec_ids: Sequence[int], repeats: int) -> list[float]:
    """Wall time (ms) of batchCalcStock over HTTP minus that of a no-op call (system.Core.now)."""
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = batch_body(rec_ids)

    def wall(method: str, payload: bytes) -> float:
        target = f"/openapi?{signed_query(CREDENTIALS, method, payload)}"
        started = time.perf_counter()
        conn.request("POST", target, body=payload, headers={"Content-Type": "application/json"})
        answer = conn.getresponse().read()
        assert answer.startswith(b'{"status":0'), answer[:200]
        return (time.perf_counter() - started) * 1000

    wall(BATCH, body)
    times = [wall(BATCH, body) - min(wall("system.Core.now", b"[]") for _ in range(5))
             for _ in range(repeats)]  # fmt: skip
    conn.close()
    return times


def load_run(
    args: argparse.Namespace, db: Path, workers: int, ids: list[int], work: Path
) -> dict[str, float]:
    """Start the server with `workers`, warm it, drive it with wrk; the figures."""
    figures: dict[str, float] = {}
    requests = work / "requests.tsv"
    with BenchServer(db, workers, work / f"server-{workers}.log") as server:
        client = Client(server.url, SID, KEY, f"{SECRET}:{SALT}")
        server.wait_ready(client)
        assert client.call("sales.StockSync.calcStock", ids[0], False)["rec_id"] == ids[0]
        write_calc_requests(requests, CREDENTIALS, ids, args.requests)
        run_wrk(server.url, requests, seconds=3, connections=args.connections)  # warm-up
        write_calc_requests(requests, CREDENTIALS, ids, args.requests)
        pids = server.worker_pids()
        cpu_before, python_before = cpu_seconds(pids), python_thread_seconds(pids)
        switches_before = python_thread_switches(pids)
        with RssSampler(server) as rss:
            wrk = run_wrk(server.url, requests, seconds=args.duration, connections=args.connections)
        done = max(wrk.requests, 1)
        cpu_us = (cpu_seconds(pids) - cpu_before) / done * 1e6
        python_us = (python_thread_seconds(pids) - python_before) / done * 1e6
        switches = (python_thread_switches(pids) - switches_before) / done
        _print_wrk(workers, wrk)
        print(f"    server CPU per request: {cpu_us:.0f} µs (all serving processes), so at most "
              f"{1e6 / max(cpu_us, 1):,.0f} req/s per core given wholly to the server; "
              f"{python_us:.0f} µs of it on the Python threads, so one worker serves at most "
              f"{1e6 / max(python_us, 1):,.0f} req/s; {switches:.2f} context switches of "
              f"the Python threads per request")  # fmt: skip
        serving = [rss.peaks.get(pid, 0.0) for pid in server.worker_pids()]
        shown = ", ".join(f"{mib:.0f}" for mib in serving)
        print(f"    RSS under load: serving process(es) {shown} MiB, "
              f"all server processes {rss.total_peak:.0f} MiB (RSS summed, shared pages "
              f"counted in each), {rss.pss_peak:.0f} MiB (PSS summed, shared pages counted "
              f"once)", flush=True)  # fmt: skip
        figures.update(rate=wrk.requests_per_second, p99=wrk.p99_ms, bad=wrk.bad_answers)
        figures.update(
            rss=max(serving), rss_total=rss.total_peak, pss_total=rss.pss_peak, cpu_us=cpu_us
        )
        figures.update(python_us=python_us, switches=switches)
        if workers == 1:
            http_ms = batch_http_ms(server.url, ids[:BATCH_SIZE], args.repeats)
            figures["batch_http"] = statistics.median(http_ms)
            print(f"    batchCalcStock({BATCH_SIZE:,}) over HTTP minus a no-op call: median "
                  f"{figures['batch_http']:.0f} ms", flush=True)  # fmt: skip
        client.close()
    return figures


def _print_wrk(workers: int, wrk: WrkFigures) -> None:
    print(f"  calcStock, {workers} worker(s): {wrk.requests_per_second:,.0f} req/s, "
          f"p50 {wrk.p50_ms:.2f} ms, p99 {wrk.p99_ms:.2f} ms, {wrk.requests:,} requests, "
          f"{wrk.bad_answers} bad answers", flush=True)  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, float]:
    """Every step; the figures by name."""
    require_wrk()
    print(f"stocksync open-API benchmark: {args.listings:,} listings", flush=True)
    db = bench_database(args.listings, Path(args.dir) if args.dir else None, fresh=args.fresh)
    ids = computable_ids(db, args.listings, max(BATCH_SIZE, args.requests))
    print(f"  {len(ids):,} computable listings drawn for the requests", flush=True)
    figures: dict[str, float] = {}
    batch, batch_cpu = batch_server_ms(db, ids[:BATCH_SIZE], args.repeats)
    figures["batch"] = statistics.median(batch)
    print(f"  batchCalcStock({BATCH_SIZE:,}) server time (in-process answer): median "
          f"{figures['batch']:.0f} ms, best {min(batch):.0f} ms; CPU time median "
          f"{statistics.median(batch_cpu):.0f} ms", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="stocksync-openapi-") as work:
        for workers in args.workers:
            run_figures = load_run(args, db, workers, ids, Path(work))
            figures.update({f"{name}_{workers}": value for name, value in run_figures.items()})
    return figures


def _line(label: str, value: str, target: str, ok: bool) -> None:
    print(f"  {label:<34} {value:>16}   [{target}]  {'ok' if ok else 'MISSED'}")


def report(figures: dict[str, float]) -> None:
    """The figures next to their targets."""
    print("\nresults [target]")
    if "rate_1" in figures:
        _line(
            "calcStock 1 worker",
            f"{figures['rate_1']:,.0f} req/s",
            "≥ 8,000",
            figures["rate_1"] >= 8000,
        )
        _line(
            "calcStock 1 worker p99",
            f"{figures['p99_1']:.2f} ms",
            "≤ 10 ms",
            figures["p99_1"] <= 10,
        )
    if "rate_2" in figures:
        _line(
            "calcStock 2 workers",
            f"{figures['rate_2']:,.0f} req/s",
            "≥ 14,000",
            figures["rate_2"] >= 14000,
        )
    _line(
        "batchCalcStock(5,000) server time",
        f"{figures['batch']:.0f} ms",
        "≤ 150 ms",
        figures["batch"] <= 150,
    )
    for workers in (1, 2):
        if f"rss_{workers}" in figures:
            rss = figures[f"rss_{workers}"] * MB_PER_MIB
            _line(f"RSS per serving process, {workers} w.", f"{rss:.0f} MB", "≤ 200 MB", rss <= 200)
            pss = figures[f"pss_total_{workers}"] * MB_PER_MIB
            _line(
                f"memory of the whole server, {workers} w.", f"{pss:.0f} MB", "≤ 200 MB", pss <= 200
            )
    bad = sum(value for name, value in figures.items() if name.startswith("bad_"))
    print(f"  bad answers during the runs: {bad:.0f}")  # fmt: skip


#: A MiB (what /proc counts in, as KiB) in MB, the unit of the issue's target.
MB_PER_MIB = 1.048576


def _counts(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.openapi", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--listings", type=int, default=1_000_000, help="listings (default 1,000,000)"
    )
    parser.add_argument(
        "--dir", help="where the database is kept (default ~/.cache/stocksync-bench)"
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the database")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--requests", type=int, default=5000, help="distinct pre-signed requests")
    parser.add_argument("--repeats", type=int, default=7, help="timed batchCalcStock calls")
    parser.add_argument("--workers", type=_counts, default=[1, 2],
                        help="worker counts to run, e.g. 1,2 (default)")  # fmt: skip
    figures = run(parser.parse_args(argv))
    report(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
