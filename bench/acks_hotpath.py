"""The acknowledgement and wait-list services in process: µs per call, without HTTP.

    python -m bench.acks_hotpath                    # the 1,000,000-listing bench database
    python -m bench.acks_hotpath --listings 20000   # quick mode

On a copy of the synthetic tenant of its own (`acks-<listings>.db` under
~/.cache/stocksync-bench, remade each run) with `--pending` random syncable listings pending:
median µs of `wait_list(5000)` (its own write transaction, rolled back so every page sees the
same list), then of `sync_success`, `sync_fail` and `cancel_sync` each inside one open write
transaction (the commit excluded; it is the same for any service).
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine

from bench.loop import prepare_pending, syncable
from bench.openapi_data import SID, bench_database, default_directory
from stocksync.db.engine import make_engine, read_tx, write_tx
from stocksync.db.tenants import tenant_id
from stocksync.services.acks import cancel_sync, sync_fail, sync_success
from stocksync.services.waitlist import wait_list


def _median_us(calls: list[Callable[[], object]]) -> float:
    timings = []
    for call in calls:
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1e6)
    return statistics.median(timings)


def _acks(conn: Connection, tid: int, ids: list[int]) -> dict[str, float]:
    info = {"syn_stock": 5, "stock_change_count": 1}
    third = len(ids) // 3
    return {
        "sync_success": _median_us(
            [lambda r=r: sync_success(conn, tid, r, info) for r in ids[:third]]
        ),
        "sync_fail": _median_us(
            [lambda r=r: sync_fail(conn, tid, r, info) for r in ids[third : 2 * third]]
        ),
        "cancel_sync": _median_us(
            [lambda r=r: cancel_sync(conn, tid, r, -1) for r in ids[2 * third :]]
        ),
    }


class _Rollback(Exception):
    """Leaves a write transaction without committing it."""


def _copy(listings: int) -> Path:
    """A copy of the cached synthetic tenant of this benchmark's own (not bench.loop's)."""
    directory = default_directory()
    source, target = bench_database(listings, directory), directory / f"acks-{listings}.db"
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def _page_us(engine: Engine, tid: int) -> tuple[float, list[int]]:
    try:
        with write_tx(engine) as conn:
            started = time.perf_counter()
            ids, _position = wait_list(conn, tid, 5000)
            elapsed = (time.perf_counter() - started) * 1e6
            raise _Rollback
    except _Rollback:
        return elapsed, ids


def run(listings: int, pending: int, pages: int, acks: int) -> dict[str, float]:
    """Median µs per call of each service on a fresh private copy."""
    db = _copy(listings)
    engine = make_engine(f"sqlite:///{db}")
    with read_tx(engine) as conn:
        tid = tenant_id(conn, SID)
    prepare_pending(engine, tid, syncable(engine, tid), pending)
    figures = {}
    pages_run = [_page_us(engine, tid) for _ in range(pages)]
    ids = pages_run[-1][1]
    figures["wait_list(5000)"] = statistics.median(us for us, _ids in pages_run)
    figures["page size"] = len(ids)
    try:
        with write_tx(engine) as conn:
            figures.update(_acks(conn, tid, ids[:acks]))
            raise _Rollback
    except _Rollback:
        pass
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print the median µs per call of wait_list, sync_success, sync_fail and cancel_sync."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--acks", type=int, default=3000)
    args = parser.parse_args(argv)
    for name, value in run(args.listings, args.pending, args.pages, args.acks).items():
        print(f"{name:>16}: {value:10.1f} µs" if name != "page size" else f"{name:>16}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
