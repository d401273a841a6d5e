"""The write-paths benchmark: a stocktake, re-resolution, re-matching, a rule edit, bump all.

    python -m bench.writes                      # 1,000,000 listings, SQLite + PostgreSQL
    python -m bench.writes --listings 20000     # quick mode
    python -m bench.writes --backends sqlite    # SQLite only
    python -m bench.writes --backends mariadb   # MariaDB (its 1,000,000 import takes minutes)

Every step runs in its own write transaction and is timed up to and including the commit.
The databases start from a pristine copy of the synthetic tenant each run (SQLite: a copy of
the open-API benchmark's cached file; PostgreSQL: a clone of a template database kept between
runs); MariaDB has no cheap copy, so its database is kept and reused as it is. Not a test: it
prints numbers next to their targets (see bench/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.engine import make_url

from bench.openapi_data import SID, default_directory, tenant_copy
from bench.openapi_server import cpu_seconds
from bench.synth import write_tenant
from stocksync.db import migrate
from stocksync.db.engine import make_engine, read_tx, resolve_url, write_tx
from stocksync.db.loaders import load_rules, load_stock_rows
from stocksync.db.schema import listing, spec
from stocksync.db.tenants import tenant_id
from stocksync.services.rules import update_rule
from stocksync.services.snapshot import import_snapshot
from stocksync.services.stocktake import PdItem, PdNumbers, PdOrder, stocktake
from stocksync.services.tracking import bump_listings, refresh_matches, refresh_rules

DEFAULT_PG = "postgresql://root@127.0.0.1:5432/test"
DEFAULT_MARIADB = "mysql://root@127.0.0.1:3306/test"
PG_BASE, PG_RUN = "stocksync_bench_writes_{}", "stocksync_bench_writes_{}_run"
MARIADB_DB = "stocksync_bench_writes_{}"
STOCKTAKE_SPECS = 10_000
NOW = time.time()
Work = Callable[[Connection], str]  # runs in the timed write transaction, says what it did
Prepare = Callable[[Engine, int], Work]  # untimed: picks the inputs of one step


@dataclass(frozen=True)
class Took:
    """One step: wall seconds (commit included), this process's CPU, the PostgreSQL backend's."""

    wall: float
    cpu: float
    server_cpu: float | None
    note: str

    def __str__(self) -> str:
        server = "" if self.server_cpu is None else f" + server {self.server_cpu:.2f}"
        return f"{self.wall:8.2f} s  (CPU {self.cpu:.2f}{server})  {self.note}"


def _stocktake(specs: int) -> Prepare:
    """A stocktake of `specs` random specs in warehouse WH1, each to a new on-hand quantity."""

    def prepare(engine: Engine, tid: int) -> Work:
        with read_tx(engine) as conn:
            query = select(spec.c.spec_id, spec.c.spec_no).where(spec.c.tenant_id == tid)
            codes = {row.spec_id: row.spec_no for row in conn.execute(query)}
            chosen = sorted(random.Random(len(codes)).sample(sorted(codes), specs))
            rows = load_stock_rows(conn, tid, chosen, [1])
        # max(current, 0) + 1 always differs from the current value, so every row changes.
        zero = Decimal(0)
        items = [
            PdItem(codes[s], max(rows[(s, 1)].stock_num if (s, 1) in rows else zero, zero) + 1)
            for s in chosen
        ]

        def work(conn: Connection) -> str:
            done = stocktake(conn, tid, PdOrder("WH1"), items, NOW, PdNumbers())
            return f"{len(items):,} specs, {len(done.bumped):,} listings bumped"

        return work

    return prepare


def _refresh(refresh: Callable[[Connection, int], set[int]]) -> Prepare:
    return lambda _, tid: lambda conn: f"{len(refresh(conn, tid)):,} listings changed"


def _rule_edit(delta: int) -> Prepare:
    """`update_rule` of rule 1 (every shop, class and brand) with its priority moved by delta."""

    def prepare(engine: Engine, tid: int) -> Work:
        with read_tx(engine) as conn:
            rule = next(r for r in load_rules(conn, tid) if r.rec_id == 1)
        new = dataclasses.replace(rule, priority=rule.priority + delta)

        def work(conn: Connection) -> str:
            update_rule(conn, tid, new, NOW)
            return f"priority {rule.priority} -> {new.priority}"

        return work

    return prepare


def _bump_all(engine: Engine, tid: int) -> Work:
    with read_tx(engine) as conn:
        query = select(listing.c.rec_id).where(listing.c.tenant_id == tid)
        rec_ids = list(conn.execute(query).scalars())
    return lambda conn: f"{bump_listings(conn, tid, rec_ids, NOW):,} listings bumped"


def _steps(specs: int) -> list[tuple[str, Prepare]]:
    return [
        (f"stocktake {specs:,} specs (1st)", _stocktake(specs)),
        (f"stocktake {specs:,} specs (2nd)", _stocktake(specs)),
        ("refresh_rules(None)", _refresh(refresh_rules)),
        ("refresh_matches(None)", _refresh(refresh_matches)),
        ("update_rule: rule 1 takes over all", _rule_edit(1000)),
        ("update_rule: rule 1 gives back", _rule_edit(-1000)),
        ("bump_listings(every listing)", _bump_all),
    ]


def _measure(engine: Engine, work: Work) -> Took:
    with write_tx(engine) as conn:
        pid = None
        if conn.dialect.name == "postgresql":
            pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        server = cpu_seconds([pid]) if pid else 0.0
        wall, cpu = time.perf_counter(), time.process_time()
        note = work(conn)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    server_cpu = cpu_seconds([pid]) - server if pid else None
    return Took(wall, cpu, server_cpu, note)


def run_steps(engine: Engine, specs: int, name: str) -> dict[str, Took]:
    """Run every step on `engine`'s bench tenant; print and return how long each took."""
    with read_tx(engine) as conn:
        tid = tenant_id(conn, SID)
    assert tid is not None, "the bench tenant is missing"
    figures: dict[str, Took] = {}
    for label, prepare in _steps(specs):
        took = figures[label] = _measure(engine, prepare(engine, tid))
        print(f"  {name:<10} {label:<36} {took}", flush=True)
    return figures


def _sqlite(listings: int, directory: Path, fresh: bool) -> Engine:
    """A private copy of the open-API benchmark's cached SQLite tenant."""
    return make_engine(f"sqlite:///{tenant_copy(listings, directory, 'writes', fresh=fresh)}")


def _admin(url: str, sql: str) -> None:
    admin = make_engine(url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def _url(url: str, database: str) -> str:
    full = make_url(resolve_url(url)).set(database=database)
    return full.render_as_string(hide_password=False)


def _count(engine: Engine) -> int:
    try:
        with read_tx(engine) as conn:
            tid = tenant_id(conn, SID)
            query = select(func.count()).where(listing.c.tenant_id == tid)
            return 0 if tid is None else int(conn.execute(query).scalar_one())
    except Exception:  # missing or half-built database: build it again
        return 0


def _import(engine: Engine, listings: int, directory: Path) -> None:
    started = time.perf_counter()
    migrate.upgrade(engine)
    with tempfile.TemporaryDirectory(dir=directory) as work:
        snapshot = Path(work) / "tenant.json"
        write_tenant(snapshot, listings, sid=SID)
        import_snapshot(engine, snapshot)
    print(f"  built {engine.url.database} in {time.perf_counter() - started:.0f} s", flush=True)


def _postgresql(
    url: str, listings: int, directory: Path, fresh: bool, fillfactor: int | None
) -> Engine:
    """A clone of the template database holding the tenant (built once, then reused)."""
    base = PG_BASE.format(listings)
    probe = make_engine(_url(url, base))
    ready = not fresh and _count(probe) == listings
    probe.dispose()
    if not ready:
        _admin(url, f'DROP DATABASE IF EXISTS "{base}" WITH (FORCE)')
        _admin(url, f'CREATE DATABASE "{base}"')
        built = make_engine(_url(url, base))
        _import(built, listings, directory)
        with built.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        built.dispose()
    run = PG_RUN.format(listings)
    _admin(url, f'DROP DATABASE IF EXISTS "{run}" WITH (FORCE)')
    _admin(url, f'CREATE DATABASE "{run}" TEMPLATE "{base}" STRATEGY FILE_COPY')
    engine = make_engine(_url(url, run))
    if fillfactor:
        # What-if: room on every page lets a bump of a pending listing be a HOT update.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"ALTER TABLE api_goods_spec SET (fillfactor = {int(fillfactor)})"))
            conn.execute(text("VACUUM FULL ANALYZE api_goods_spec"))
        print(f"  api_goods_spec rewritten with fillfactor {fillfactor}", flush=True)
    return engine


def _mariadb(url: str, listings: int, directory: Path, fresh: bool) -> Engine:
    """The kept MariaDB database holding the tenant (built when missing)."""
    name = MARIADB_DB.format(listings)
    engine = make_engine(_url(url, name))
    if fresh or _count(engine) != listings:
        engine.dispose()
        _admin(url, f"DROP DATABASE IF EXISTS `{name}`")
        _admin(url, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        engine = make_engine(_url(url, name))
        _import(engine, listings, directory)
    return engine


def _report(results: dict[str, dict[str, Took]]) -> None:
    print("\nresults: wall seconds (CPU seconds of this process + of the PostgreSQL backend)")
    print("target: the stocktake of 10,000 specs in ≤ 2 s")
    labels = list(next(iter(results.values())))
    print(f"  {'step':<36}" + "".join(f"{name:>24}" for name in results))
    for label in labels:
        cells = []
        for took in (r[label] for r in results.values()):
            server = "" if took.server_cpu is None else f"+{took.server_cpu:.1f}"
            cells.append(f"{took.wall:.2f} s ({took.cpu:.1f}{server})".rjust(24))
        print(f"  {label:<36}" + "".join(cells))


def _makers(args: argparse.Namespace, directory: Path) -> list[Callable[[], Engine]]:
    makers = {
        "sqlite": lambda: _sqlite(args.listings, directory, args.fresh),
        "postgresql": lambda: _postgresql(
            args.pg, args.listings, directory, args.fresh, args.pg_fillfactor
        ),
        "mariadb": lambda: _mariadb(args.mariadb, args.listings, directory, args.fresh),
    }
    return [makers[name.strip()] for name in args.backends.split(",") if name.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.writes", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--listings", type=int, default=1_000_000, help="default 1,000,000")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="any of sqlite,postgresql,mariadb"
    )
    parser.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL server ({DEFAULT_PG})")
    parser.add_argument("--mariadb", default=DEFAULT_MARIADB, help=f"({DEFAULT_MARIADB})")
    parser.add_argument("--dir", type=Path, help="where databases are kept (bench cache dir)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the kept databases")
    parser.add_argument(
        "--pg-fillfactor", type=int, help="what-if: give api_goods_spec this fillfactor first"
    )
    args = parser.parse_args(argv)
    directory = args.dir or default_directory()
    directory.mkdir(parents=True, exist_ok=True)
    specs = min(STOCKTAKE_SPECS, max(args.listings // 5, 10) // 2)
    print(f"stocksync write-paths benchmark: {args.listings:,} listings", flush=True)
    results: dict[str, dict[str, Took]] = {}
    for make in _makers(args, directory):
        engine = make()
        try:
            name = "mariadb" if engine.dialect.name == "mysql" else engine.dialect.name
            results[name] = run_steps(engine, specs, name)
        finally:
            engine.dispose()
    _report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
