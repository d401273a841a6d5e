"""The sync-loop benchmark: wait-list pages, a big stocktake, and the whole loop over HTTP.

    python -m bench.loop                                    # 1,000,000 listings, 100,000 pending
    python -m bench.loop --listings 20000 --pending 5000    # quick mode
    python -m bench.loop --clients 2,4,6 --seconds 20

On a private copy of the synthetic tenant (SQLite; `bench/synth.py`, cached by the open-API
benchmark), served by `stocksync serve` with ONE worker. Not a test: it prints figures next to
their targets (see bench/README.md, "Sync loop benchmark").
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

from sqlalchemy import Engine, false, func, select, true

from bench.loop_clients import CALC, SUCCESS, WAIT, ClientRun, info_of, run_client
from bench.openapi_data import KEY, SALT, SECRET, SID, default_directory, tenant_copy
from bench.openapi_server import BenchServer, cpu_seconds, python_thread_seconds
from stocksync.bootstrap import Settings, create_app
from stocksync.client import Client
from stocksync.db.checkpoint import Checkpointer
from stocksync.db.engine import make_engine, read_tx, write_tx
from stocksync.db.loaders import load_stock_rows
from stocksync.db.schema import listing, rule, shop, spec
from stocksync.db.tenants import tenant_id
from stocksync.domain.errors import BusinessError
from stocksync.domain.model import CUSTOM_RULE_ID, DELETED, UNBOUND
from stocksync.openapi.testing import AsgiTransport
from stocksync.services.acks import fast_write, sync_success
from stocksync.services.batch import batch_syn_stock
from stocksync.services.calc import calc_listing
from stocksync.services.tracking import bump_listings, listings_of_specs
from stocksync.services.waitlist import wait_list

STOCKTAKE = "wms.StockPd.stockSyncByPd"
APPSECRET = f"{SECRET}:{SALT}"
_l = listing.c


def private_copy(listings: int, directory: Path, fresh: bool) -> Path:
    """A copy of the cached synthetic tenant that this benchmark may change at will."""
    return tenant_copy(listings, directory, "loop", fresh=fresh)


def syncable(engine: Engine, tid: int) -> list[int]:
    """Listings the wait list may hand out once pending (its conditions, semantics §6) and whose
    calcStock answers a number (the batch path): what a storefront really syncs."""
    rules = select(rule.c.rec_id).where(
        rule.c.tenant_id == tid, rule.c.is_disabled == false(), rule.c.is_disable_syn == false()
    )
    shops = select(shop.c.shop_id).where(shop.c.tenant_id == tid, shop.c.is_disabled == false())
    query = select(_l.rec_id).where(
        _l.tenant_id == tid, _l.is_disable_syn == false(), _l.status != DELETED,
        _l.match_target_type != UNBOUND, _l.shop_id.in_(shops),
        _l.rule_id.in_(rules) | (_l.rule_id == CUSTOM_RULE_ID),
    )  # fmt: skip
    with read_tx(engine) as conn:
        eligible = sorted(conn.execute(query).scalars())
        computed = batch_syn_stock(conn, tid, eligible)
    return [item.rec_id for item in computed if item.error is None]


def prepare_pending(engine: Engine, tid: int, candidates: list[int], pending: int) -> int:
    """Nothing pending, then `pending` random `candidates` changed (bumped as a stock change
    would); leases and failure delays cleared. Returns the number now pending."""
    chosen = random.Random(pending).sample(candidates, pending)
    with write_tx(engine) as conn:
        conn.execute(
            listing.update()
            .where(_l.tenant_id == tid)
            .values(is_stock_changed=False, disable_syn_until=0, mask=0)
        )
        bump_listings(conn, tid, chosen, time.time())
    return _pending(engine, tid)


def _pending(engine: Engine, tid: int) -> int:
    query = select(func.count()).where(_l.tenant_id == tid, _l.is_stock_changed == true())
    with read_tx(engine) as conn:
        return int(conn.execute(query).scalar_one())


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def time_pages(engine: Engine, tid: int, client: Client, pages: int) -> tuple[float, float]:
    """Median ms of a 5,000-id wait-list page: in process (service + commit), over HTTP.
    The leases are given back after each page, so every page starts from the same state."""
    local, remote = [], []
    for _ in range(pages):
        started = time.perf_counter()
        with write_tx(engine) as conn:
            ids, _position = wait_list(conn, tid, 5000)
        local.append(_ms(started))
        _release(engine, tid)
        started = time.perf_counter()
        answer = client.call(WAIT, 5000, 0)
        remote.append(_ms(started))
        _release(engine, tid)
        assert len(ids) == len(answer["id_list"]) == 5000, "fewer than 5,000 pending"
    return statistics.median(local), statistics.median(remote)


def _release(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        leased = (
            (_l.tenant_id == tid) & (_l.is_stock_changed == true()) & (_l.disable_syn_until > 0)
        )
        conn.execute(listing.update().where(leased).values(disable_syn_until=0))


def stocktake(engine: Engine, tid: int, client: Client, specs: int) -> tuple[float, int, int]:
    """A stocktake of `specs` random specs of warehouse WH1 over HTTP, each to a new number:
    (seconds, listings of those specs, listings newly pending)."""
    with read_tx(engine) as conn:
        codes = dict(conn.execute(select(spec.c.spec_id, spec.c.spec_no).where(
            spec.c.tenant_id == tid)).all())  # fmt: skip
        chosen = sorted(random.Random(specs).sample(sorted(codes), specs))
        rows = load_stock_rows(conn, tid, chosen, [1])
        now = {spec_id: row.stock_num for (spec_id, _w), row in rows.items()}
        touched = len(listings_of_specs(conn, tid, set(chosen)))
    items = [
        {"spec_no": codes[s], "new_num": str(max(now.get(s, Decimal(0)), Decimal(0)) + 1)}
        for s in chosen
    ]  # max(current, 0) + 1 always differs from the current number
    before = _pending(engine, tid)
    started = time.perf_counter()
    client.call(STOCKTAKE, {"warehouse_no": "WH1", "remark": "bench"}, items)
    seconds = time.perf_counter() - started
    return seconds, touched, _pending(engine, tid) - before


def service_costs(engine: Engine, tid: int, count: int) -> tuple[float, float, float]:
    """Median µs of the two per-listing services without HTTP: calc_listing (read
    transaction) and sync_success, commit included, in `write_tx` (a pooled connection) and in
    `fast_write` (one kept connection, the DB-API transaction), on alternate listings."""
    with write_tx(engine) as conn:
        ids, _position = wait_list(conn, tid, count)
    calc_us: list[float] = []
    ack_us: tuple[list[float], list[float]] = ([], [])
    with engine.connect() as kept:
        for index, rec_id in enumerate(ids):
            started = time.perf_counter()
            try:
                with read_tx(engine) as conn:
                    record = calc_listing(conn, tid, rec_id).record
            except BusinessError:  # refused (e.g. 仓库列表为空): a client skips it
                continue
            calc_us.append(_ms(started) * 1000)
            started = time.perf_counter()
            with write_tx(engine) if index % 2 else fast_write(kept) as conn:
                sync_success(conn, tid, rec_id, info_of(record))
            ack_us[index % 2].append(_ms(started) * 1000)
    return statistics.median(calc_us), statistics.median(ack_us[1]), statistics.median(ack_us[0])


def profile_loop(db: Path, count: int) -> None:
    """cProfile of `count` calcStock + syncSuccess pairs through the real app, in process."""
    app = create_app(Settings(db_url=f"sqlite:///{db}"))
    client = Client("http://bench", SID, KEY, APPSECRET, transport=AsgiTransport(app))
    ids = client.call(WAIT, count, 0)["id_list"]
    profiler = cProfile.Profile()
    profiler.enable()
    for rec_id in ids:
        client.call(SUCCESS, rec_id, info_of(client.call(CALC, rec_id, False)))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    client.close()
    app.close()


def run_loop(server: BenchServer, clients: int, seconds: float, page: int) -> dict[str, float]:
    """`clients` processes run the loop for `seconds`; listings/s and where the CPU went."""
    credentials = (SID, KEY, APPSECRET)
    start_at = time.time() + 5  # after every process has started and imported
    with ProcessPoolExecutor(clients, mp_context=get_context("spawn")) as pool:
        futures = [
            pool.submit(run_client, server.url, credentials, start_at, start_at + seconds, page)
            for _ in range(clients)
        ]
        time.sleep(max(start_at - time.time(), 0))
        server_cpu = cpu_seconds(server.pids())
        python_cpu = python_thread_seconds(server.worker_pids())
        runs: list[ClientRun] = [future.result() for future in futures]
        server_cpu = cpu_seconds(server.pids()) - server_cpu
        python_cpu = python_thread_seconds(server.worker_pids()) - python_cpu
    wall = max(r.ended for r in runs) - min(r.started for r in runs)
    synced, calls = sum(r.synced for r in runs), sum(r.calls for r in runs)
    return {
        "clients": clients, "wall": wall, "synced": synced, "rate": synced / wall,
        "calls": calls, "skipped": sum(r.skipped for r in runs),
        "server_cpu": server_cpu, "python_cpu": python_cpu,
        "client_cpu": sum(r.cpu for r in runs),
    }  # fmt: skip


def _print_loop(run: dict[str, float]) -> None:
    per_call = run["server_cpu"] / max(run["calls"], 1) * 1e6
    per_listing = run["server_cpu"] / max(run["synced"], 1)
    python = run["python_cpu"] / max(run["synced"], 1)
    print(
        f"  {run['clients']:.0f} client processes: {run['synced']:,.0f} listings synced in "
        f"{run['wall']:.1f} s = {run['rate']:,.0f} listings/s ({run['calls'] / run['wall']:,.0f}"
        f" calls/s, {run['skipped']:.0f} skipped after a calcStock refusal)\n"
        f"    server CPU {run['server_cpu']:.1f} s ({run['server_cpu'] / run['wall']:.0%} of one"
        f" core, {per_call:.0f} µs/call); clients' CPU {run['client_cpu']:.1f} s "
        f"({run['client_cpu'] / run['wall']:.0%} of one core)\n"
        f"    server CPU per listing synced {per_listing * 1e3:.2f} ms, {python * 1e3:.2f} ms of it"
        f" on the worker's Python thread (its ceiling: {1 / max(python, 1e-9):,.0f} listings/s)",
        flush=True,
    )


def run(args: argparse.Namespace) -> dict[str, float]:
    """Every step; returns the figures."""
    directory = Path(args.dir) if args.dir else default_directory()
    db = private_copy(args.listings, directory, args.fresh)
    engine = make_engine(f"sqlite:///{db}")
    # The server's checkpoint settings for the in-process steps too (see `db.checkpoint`).
    checkpointer = Checkpointer(engine)
    with read_tx(engine) as conn:
        tid = tenant_id(conn, SID)
    assert tid is not None
    figures: dict[str, float] = {}
    print(f"sync loop benchmark: {args.listings:,} listings, {args.pending:,} pending, {db}")
    with BenchServer(db, 1, directory / "loop-server.log") as server:
        client = Client(server.url, SID, KEY, APPSECRET, timeout=300)
        server.wait_ready(client)
        candidates = syncable(engine, tid)
        print(f"  {len(candidates):,} listings can sync (the rest: deleted, switched off, "
              "unbound, or calcStock refuses them)")  # fmt: skip
        print(f"  pending: {prepare_pending(engine, tid, candidates, args.pending):,}")
        figures["page_ms"], figures["page_http_ms"] = time_pages(engine, tid, client, args.pages)
        print(f"  wait-list page of 5,000: {figures['page_ms']:.1f} ms in process, "
              f"{figures['page_http_ms']:.1f} ms over HTTP (medians of {args.pages})")  # fmt: skip
        seconds, touched, bumped = stocktake(engine, tid, client, args.specs)
        figures["stocktake_s"] = seconds
        print(f"  stocktake of {args.specs:,} specs over HTTP: {seconds:.2f} s "
              f"({touched:,} listings of those specs, {bumped:,} newly pending)")  # fmt: skip
        calc_us, ack_us, fast_us = service_costs(engine, tid, 1000)
        print(f"  in process, no HTTP: calc_listing {calc_us:.0f} µs, sync_success {ack_us:.0f} µs"
              f" in write_tx, {fast_us:.0f} µs in fast_write (medians)")  # fmt: skip
        if args.profile:
            profile_loop(db, 500)
        for clients in args.clients:
            print(f"  pending: {prepare_pending(engine, tid, candidates, args.pending):,}")
            loop = run_loop(server, clients, args.seconds, args.page)
            _print_loop(loop)
            figures["loop_rate"] = max(figures.get("loop_rate", 0.0), loop["rate"])
        client.close()
    checkpointer.close()
    engine.dispose()
    return figures


def _line(label: str, value: str, target: str, ok: bool) -> None:
    print(f"  {label:<32} {value:>16}   [{target}]  {'ok' if ok else 'MISSED'}")


def report(figures: dict[str, float]) -> None:
    """The figures next to their targets."""
    print("\nresults [target]")
    page = figures["page_ms"]
    _line("wait-list page of 5,000", f"{page:.1f} ms", "≤ 50 ms", page <= 50)
    stocktake_s = figures["stocktake_s"]
    _line("stocktake of 10,000 specs", f"{stocktake_s:.2f} s", "≤ 2 s", stocktake_s <= 2)
    rate = figures["loop_rate"]
    _line("loop, one server worker", f"{rate:,.0f} listings/s", "≥ 2,000/s", rate >= 2000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loop", description=__doc__)
    parser.add_argument("--listings", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--specs", type=int, default=10_000, help="specs in the stocktake")
    parser.add_argument("--clients", default="2,4,8", help="client processes, e.g. 2,4,6")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each loop run")
    parser.add_argument("--page", type=int, default=500, help="wait-list page of the loop")
    parser.add_argument("--pages", type=int, default=5, help="wait-list pages timed")
    parser.add_argument("--dir", help="where bench databases are kept (default: the cache)")
    parser.add_argument("--fresh", action="store_true", help="generate the tenant again")
    parser.add_argument("--profile", action="store_true", help="profile 500 loop steps")
    args = parser.parse_args(argv)
    args.clients = [int(n) for n in args.clients.split(",")]
    report(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
