"""The acknowledgement and wait-list services in process: µs per call, without HTTP.

    python -m bench.acks_hotpath                    # the 1,000,000-listing bench database
    python -m bench.acks_hotpath --listings 20000   # quick mode
    python -m bench.acks_hotpath --profile answer   # cProfile (CPU time) of one layer

On a copy of the synthetic tenant of its own (`acks-<listings>.db` under
~/.cache/stocksync-bench, remade each run) with `--pending` random syncable listings pending:

1. median µs of `wait_list(5000)` (its own write transaction, rolled back so every page sees the
   same list), then of `sync_success`, `sync_fail` and `cancel_sync` each inside one open write
   transaction (the commit excluded; it is the same for any service);
2. syncSuccess with the `info` a client sends (built from the listing's calcStock record), one
   transaction per call, commit included, through three layers called in turn on distinct
   listings (so a change of load hits them alike): `write_tx` (`db.engine.write_tx`, a pooled
   connection with SQLAlchemy's transaction), `fast_write` (one kept connection in
   `services.ackstore.fast_write`, the DB-API transaction) and `answer` (the app's transport-free
   `answer`: query, signature, arguments, the handler as `openapi/methods.py` runs it, envelope).
   Median wall µs and CPU µs per call, with the load average: the process's CPU (the app's
   WAL checkpoint thread included, `db.checkpoint`) and the calling thread's alone.

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from bench.loop import prepare_pending, syncable
from bench.loop_clients import SUCCESS, info_of
from bench.openapi import CREDENTIALS
from bench.openapi_data import SID, tenant_copy
from bench.openapi_wrk import signed_query
from stocksync import jsoncodec
from stocksync.bootstrap import ServerApp, Settings, create_app
from stocksync.db.engine import make_engine, read_tx, write_tx
from stocksync.db.tenants import tenant_id
from stocksync.domain.errors import BusinessError
from stocksync.services.acks import cancel_sync, sync_fail, sync_success
from stocksync.services.ackstore import fast_write
from stocksync.services.calc import calc_listing
from stocksync.services.waitlist import wait_list

LAYERS = ("write_tx", "fast_write", "answer")
#: One syncSuccess to time: (rec_id, info as the server decodes it, signed query, body).
Call = tuple[int, dict[str, Any], bytes, bytes]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min), {os.cpu_count()} CPUs"


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
    return tenant_copy(listings, None, "acks")


def _page_us(engine: Engine, tid: int) -> tuple[float, list[int]]:
    try:
        with write_tx(engine) as conn:
            started = time.perf_counter()
            ids, _position = wait_list(conn, tid, 5000)
            elapsed = (time.perf_counter() - started) * 1e6
            raise _Rollback
    except _Rollback:
        return elapsed, ids


def _in_open_transaction(engine: Engine, tid: int, pages: int, acks: int) -> dict[str, float]:
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


def _success_calls(engine: Engine, tid: int, count: int) -> list[Call]:
    """`count` syncSuccess calls on listings handed out by the wait list (leased, so the
    first part of the benchmark never meets them), with the info of their calcStock record."""
    calls: list[Call] = []
    while len(calls) < count:
        with write_tx(engine) as conn:
            ids, _position = wait_list(conn, tid, 5000)
        assert ids, "too few listings pending"
        with read_tx(engine) as conn:
            for rec_id in ids:
                try:
                    record = calc_listing(conn, tid, rec_id).record
                except BusinessError:  # refused: a client does not acknowledge it
                    continue
                body = jsoncodec.dumps([rec_id, info_of(record)])
                info = jsoncodec.loads(body)[1]  # as the server decodes it
                calls.append(
                    (rec_id, info, signed_query(CREDENTIALS, SUCCESS, body).encode(), body)
                )
    return calls[:count]


def _layers(app: ServerApp, tid: int, kept: Connection) -> dict[str, Callable[[Call], object]]:
    engine = app.database.engine

    def pooled(call: Call) -> None:
        with write_tx(engine) as conn:
            sync_success(conn, tid, call[0], call[1], app_key=CREDENTIALS.key)

    def fast(call: Call) -> None:
        with fast_write(kept) as conn:
            sync_success(conn, tid, call[0], call[1], app_key=CREDENTIALS.key)

    def answer(call: Call) -> None:
        reply = app.api.answer(call[2], call[3], "bench")
        assert reply.startswith(b'{"status":0'), reply[:200]

    return {"write_tx": pooled, "fast_write": fast, "answer": answer}


def _committed(
    run: dict[str, Callable[[Call], object]], calls: list[Call], layers: list[str]
) -> None:
    """Each layer's median wall µs and CPU µs per call, the layers called in turn."""
    times: dict[str, list[tuple[int, int, int]]] = {layer: [] for layer in layers}
    for index in range(0, len(calls) - len(layers) + 1, len(layers)):
        for layer, call in zip(layers, calls[index : index + len(layers)], strict=True):
            wall, cpu, own = time.perf_counter_ns(), time.process_time_ns(), time.thread_time_ns()
            run[layer](call)
            times[layer].append(
                (
                    time.perf_counter_ns() - wall,
                    time.process_time_ns() - cpu,
                    time.thread_time_ns() - own,
                )
            )
    for layer in layers:
        kept = times[layer][100:]  # the first 100 warm up
        walls = sorted(wall for wall, _cpu, _own in kept)
        cpu = sum(cpu for _wall, cpu, _own in kept) / len(kept) / 1000
        own = sum(own for _wall, _cpu, own in kept) / len(kept) / 1000
        print(f"  syncSuccess {layer:<10} p50 {walls[len(walls) // 2] / 1000:7.1f} µs   "
              f"CPU {cpu:7.1f} µs/call (this thread {own:7.1f})   "
              f"({len(walls):,} calls, commit included)")  # fmt: skip


def _profile(run: Callable[[Call], object], calls: list[Call], sort: str) -> None:
    for call in calls[:200]:
        run(call)
    profiler = cProfile.Profile(time.process_time_ns, 1e-9)
    profiler.enable()
    for call in calls[200:]:
        run(call)
    profiler.disable()
    pstats.Stats(profiler).sort_stats(sort).print_stats(35)


def main(argv: list[str] | None = None) -> int:
    """Print the median µs per call of the services, then of committed syncSuccess layers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--acks", type=int, default=3000)
    parser.add_argument("--calls", type=int, default=2000, help="committed calls per layer")
    parser.add_argument("--layers", default=",".join(LAYERS), help="committed layers timed")
    parser.add_argument("--profile", choices=LAYERS, help="cProfile one layer instead")
    parser.add_argument("--sort", default="tottime", help="profile order (default tottime)")
    args = parser.parse_args(argv)
    db = _copy(args.listings)
    engine = make_engine(f"sqlite:///{db}")
    with read_tx(engine) as conn:
        tid = tenant_id(conn, SID)
    assert tid is not None
    prepare_pending(engine, tid, syncable(engine, tid), args.pending)
    print(f"acks hot path, {args.listings:,} listings, {args.pending:,} pending; {_load()}")
    if not args.profile:
        for name, value in _in_open_transaction(engine, tid, args.pages, args.acks).items():
            print(
                f"{name:>16}: {value:10.1f} µs" if name != "page size" else f"{name:>16}: {value}"
            )
    layers = [args.profile] if args.profile else args.layers.split(",")
    calls = _success_calls(engine, tid, args.calls * len(layers))
    engine.dispose()
    settings = Settings(db_url=f"sqlite:///{db}", credential_ttl=3600)
    with create_app(settings) as app, app.database.engine.connect() as kept:
        run = _layers(app, tid, kept)
        if args.profile:
            _profile(run[args.profile], calls, args.sort)
        else:
            _committed(run, calls, layers)
    print(f"  after: {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
