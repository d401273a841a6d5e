"""The core benchmark: import, batch recompute, single-listing latency, peak memory.

    python -m bench.core                      # 1,000,000 listings, SQLite + PostgreSQL
    python -m bench.core --listings 20000     # quick mode
    python -m bench.core --pg none            # SQLite only

Not a test: it prints numbers next to their targets (see bench/README.md). Next to each wall
time it prints the CPU time spent on it (this process, and the PostgreSQL backend when the
server runs on this machine): on a busy machine wall times stretch, CPU times much less.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from bench.synth import write_tenant
from stocksync.db import migrate
from stocksync.db.engine import make_engine, read_tx, resolve_url
from stocksync.domain.errors import BusinessError
from stocksync.services.batch import BatchItem, batch_syn_stock
from stocksync.services.calc import calc_listing
from stocksync.services.snapshot import import_snapshot

DEFAULT_PG = "postgresql://root@127.0.0.1:5432/test"
BENCH_DB = "stocksync_bench"
T = TypeVar("T")


@dataclass(frozen=True)
class Took:
    """How long a step took: wall seconds, our CPU seconds, the database server's if known."""

    wall: float
    cpu: float
    server_cpu: float | None = None

    def __str__(self) -> str:
        server = "" if self.server_cpu is None else f" + server {self.server_cpu:.2f} s"
        return f"{self.wall:8.2f} s  (CPU {self.cpu:.2f} s{server})"


def _backend_cpu(pid: int | None) -> float | None:
    """CPU seconds used so far by a local PostgreSQL backend process (None if unreadable)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _timed(label: str, work: Callable[[], T], backend: int | None = None) -> tuple[T, Took]:
    server_before = _backend_cpu(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_after = _backend_cpu(backend)
    server = None
    if server_before is not None and server_after is not None:
        server = server_after - server_before
    took = Took(wall, cpu, server)
    print(f"  {label:<40} {took}", flush=True)
    return result, took


def _import(engine: Engine, snapshot: Path) -> tuple[int, Took]:
    migrate.upgrade(engine)
    report, took = _timed(
        f"import into {engine.dialect.name}", lambda: import_snapshot(engine, snapshot)
    )
    return report.tenant_id, took


def _backend_pid(conn: Connection) -> int | None:
    if conn.dialect.name != "postgresql":
        return None
    return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _recompute(engine: Engine, tid: int, profile: bool) -> tuple[list[BatchItem], Took]:
    """Batch recompute of every listing, twice (cold, then warm); returns the faster."""
    runs: list[Took] = []
    items: list[BatchItem] = []
    for attempt in ("first", "second"):
        with read_tx(engine) as conn:
            items, took = _timed(
                f"batch recompute on {engine.dialect.name} ({attempt})",
                lambda conn=conn: batch_syn_stock(conn, tid),  # type: ignore[misc]
                _backend_pid(conn),
            )
        runs.append(took)
    if profile:
        with read_tx(engine) as conn, _profiled():
            batch_syn_stock(conn, tid)
    return items, min(runs, key=lambda took: took.wall)


@contextmanager
def _profiled() -> Iterator[None]:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


@dataclass(frozen=True)
class Latency:
    p50: float  # µs, wall
    p99: float
    cpu_p50: float  # µs, CPU
    mismatches: int
    timed: int


def _latency(engine: Engine, tid: int, items: list[BatchItem], samples: int) -> Latency:
    """`calc_listing` on random listings (µs), and how many answers differ from the batch path."""
    chosen = random.Random(7).sample(items, min(samples, len(items)))
    walls: list[float] = []
    cpus: list[float] = []
    mismatches = 0
    with read_tx(engine) as conn:
        for item in chosen:
            wall, cpu = time.perf_counter_ns(), time.process_time_ns()
            try:
                answer: Any = (calc_listing(conn, tid, item.rec_id).record["syn_stock"], None)
            except BusinessError as exc:
                answer = (None, exc.message)
            walls.append((time.perf_counter_ns() - wall) / 1000)
            cpus.append((time.process_time_ns() - cpu) / 1000)
            mismatches += answer != (item.syn_stock, item.error)
    cuts = statistics.quantiles(walls, n=100)
    return Latency(cuts[49], cuts[98], statistics.median(cpus), mismatches, len(chosen))


def _pg_engine(url: str) -> Engine:
    """A fresh `stocksync_bench` database on the PostgreSQL server at `url`."""
    admin = make_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    target = make_url(resolve_url(url)).set(database=BENCH_DB)
    return make_engine(target.render_as_string(hide_password=False))


def _drop_pg(url: str) -> None:
    admin = make_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)'))
    admin.dispose()


def _peak_rss_gb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024 / 1024  # ru_maxrss is in KiB on Linux


def _summary(items: list[BatchItem]) -> str:
    computed = sum(item.error is None for item in items)
    return f"{len(items):,} listings: {computed:,} computed, {len(items) - computed:,} errors"


@dataclass
class Figures:
    imported: Took | None = None
    sqlite: Took | None = None
    latency: Latency | None = None
    pg_import: Took | None = None
    postgresql: Took | None = None
    pg_same: bool | None = None
    rss_gb: float = 0.0


def run(args: argparse.Namespace) -> Figures:
    """Run every step and return the measured figures (a temporary work directory is removed)."""
    if args.dir:
        return _run_in(Path(args.dir), args)
    with tempfile.TemporaryDirectory(prefix="stocksync-bench-") as work:
        return _run_in(Path(work), args)


def _run_in(work: Path, args: argparse.Namespace) -> Figures:
    snapshot = work / f"tenant-{args.listings}.json"
    figures = Figures()
    print(f"stocksync core benchmark: {args.listings:,} listings, files in {work}", flush=True)
    _timed("generate snapshot file (not a target)", lambda: write_tenant(snapshot, args.listings))
    print(f"  snapshot size {snapshot.stat().st_size / 1e6:,.0f} MB")
    (work / "bench.db").unlink(missing_ok=True)
    sqlite = make_engine(f"sqlite:///{work / 'bench.db'}")
    tid, figures.imported = _import(sqlite, snapshot)
    items, figures.sqlite = _recompute(sqlite, tid, args.profile)
    print(f"  {_summary(items)}")
    figures.latency = lat = _latency(sqlite, tid, items, args.samples)
    print(f"  calc_listing on SQLite: p50 {lat.p50:.0f} µs, p99 {lat.p99:.0f} µs, "
          f"CPU p50 {lat.cpu_p50:.0f} µs ({lat.mismatches} of {lat.timed} answers differ "
          "from the batch path)")  # fmt: skip
    sqlite.dispose()
    if args.pg != "none":
        _postgresql(args, snapshot, items, figures)
    figures.rss_gb = _peak_rss_gb()
    return figures


def _postgresql(
    args: argparse.Namespace, snapshot: Path, expected: list[BatchItem], figures: Figures
) -> None:
    engine = _pg_engine(args.pg)
    try:
        tid, figures.pg_import = _import(engine, snapshot)
        items, figures.postgresql = _recompute(engine, tid, args.profile)
        figures.pg_same = items == expected
        print(f"  PostgreSQL answers {'equal' if figures.pg_same else 'DIFFER FROM'} SQLite's")
    finally:
        engine.dispose()
        if not args.keep:
            _drop_pg(args.pg)


def _line(label: str, took: Took | None, target: float) -> None:
    if took is None:
        return
    verdict = "ok" if took.wall <= target else "MISSED"
    print(f"  {label:<22} {took}  [≤ {target:g} s] {verdict}")


def _report(figures: Figures) -> None:
    print("\nresults [target]  (verdicts on wall time; CPU for reference)")
    _line("import (SQLite)", figures.imported, 60)
    _line("recompute SQLite", figures.sqlite, 10)
    _line("recompute PostgreSQL", figures.postgresql, 5)
    if figures.pg_import is not None:
        print(f"  (PostgreSQL import {figures.pg_import.wall:.2f} s, not a target)")
    if figures.latency is not None:
        lat = figures.latency
        verdict = "ok" if lat.p50 <= 200 else "MISSED"
        print(f"  calc_listing           p50 {lat.p50:.0f} µs, p99 {lat.p99:.0f} µs, "
              f"CPU p50 {lat.cpu_p50:.0f} µs  [p50 ≤ 200 µs] {verdict}")  # fmt: skip
    verdict = "ok" if figures.rss_gb <= 1.5 else "MISSED"
    print(f"  peak RSS               {figures.rss_gb:.2f} GB  [≤ 1.5 GB] {verdict}")


def main(argv: list[str] | None = None) -> int:
    doc = (__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=doc)
    parser.add_argument("--listings", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL server URL, or 'none'")
    parser.add_argument("--samples", type=int, default=20_000, help="listings timed one by one")
    parser.add_argument("--dir", help="work directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {BENCH_DB} database")
    parser.add_argument("--profile", action="store_true", help="profile one more recompute")
    _report(run(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
