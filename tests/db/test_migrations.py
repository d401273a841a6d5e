"""Migrations down to 0001 and back up on every backend: the wait index and the data survive.

`compare_metadata` (test_schema.py) compares an index's columns but not a partial index's
predicate, so these read `ix_api_goods_spec_wait` back from each database's own catalogue and
compare it with the model's `Index` (schema.py) at every step of 0001 → head → 0001 → head. Each
test migrates a scratch database of its own (a SQLite file; a database created and dropped on
the PostgreSQL or MariaDB server), never the per-worker database other tests share.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Index, insert, select, text
from sqlalchemy.engine import make_url

from builders import add_rule, add_shop
from conftest import IN_CI, SERVER_URLS
from stocksync.db import migrate
from stocksync.db.engine import make_engine, read_tx, resolve_url, write_tx
from stocksync.db.schema import listing, metadata
from stocksync.db.tenants import ensure_tenant
from stocksync.services.clock import to_wdt
from stocksync.services.waitlist import DEFAULT_LEASE, wait_list

WAIT_INDEX = "ix_api_goods_spec_wait"
NOW = 1_700_000_000.0
NOW_WDT = to_wdt(NOW)
SHOP, RULE = 1, 10


class IndexDefinition(NamedTuple):
    """What a database says an index is: unique or not, its columns in order, its predicate."""

    unique: bool
    columns: list[str]
    where: str | None


#: The wait index as 0001 created it: history that never changes, so a literal is right here.
AT_0001 = IndexDefinition(
    False, ["tenant_id", "is_stock_changed", "disable_syn_until", "rec_id"], None
)


def declared(dialect: str) -> IndexDefinition:
    """The wait index as the model declares it for `dialect` (MariaDB has no predicate)."""
    (index,) = (index for index in listing.indexes if index.name == WAIT_INDEX)
    columns = [column.name for column in index.columns]
    return IndexDefinition(index.unique, columns, _where(index, dialect))


def _where(index: Index, dialect: str) -> str | None:
    # Compared as text with what the catalogue prints: SQLite keeps the text it was given,
    # PostgreSQL prints its own normal form, which the model's `postgresql_where` is written in.
    where = None if dialect == "mysql" else index.dialect_options[dialect]["where"]
    return None if where is None else str(where)


#: `CREATE [UNIQUE] INDEX name ON [schema.]table [USING btree] (columns) [WHERE predicate]`,
#: the shape of SQLite's `sqlite_master.sql` and PostgreSQL's `pg_indexes.indexdef`.
_DDL = re.compile(
    r"CREATE (?P<unique>UNIQUE )?INDEX \S+ ON \S+ (?:USING btree )?"
    r"\((?P<columns>[^)]*)\)(?: WHERE (?P<where>.+))?",
    re.DOTALL,
)


def in_database(conn: Connection) -> IndexDefinition:
    """The wait index as the database's catalogue describes it."""
    dialect = conn.dialect.name
    if dialect == "mysql":
        rows = conn.execute(
            text(
                "SELECT non_unique, column_name FROM information_schema.statistics"
                " WHERE table_schema = DATABASE() AND table_name = 'api_goods_spec'"
                " AND index_name = :name ORDER BY seq_in_index"
            ),
            {"name": WAIT_INDEX},
        ).all()
        assert rows, f"no index {WAIT_INDEX}"
        return IndexDefinition(not rows[0][0], [row[1] for row in rows], None)
    catalogue = {
        "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name",
        "postgresql": "SELECT indexdef FROM pg_indexes"
        " WHERE schemaname = current_schema() AND indexname = :name",
    }[dialect]
    ddl = conn.execute(text(catalogue), {"name": WAIT_INDEX}).scalar_one()
    match = _DDL.fullmatch(ddl.strip())
    assert match, f"unexpected index definition: {ddl}"
    columns = [column.strip().strip('"') for column in match["columns"].split(",")]
    return IndexDefinition(bool(match["unique"]), columns, match["where"])


def _alembic(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    # `migrate.upgrade` only goes to head; a downgrade needs Alembic's command directly.
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).with_name("migrations")))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        step(config, revision)


@pytest.fixture
def fresh_engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of this test's own (no tables, no revision)."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        engine.dispose()
        return
    name = f"stocksync_migrations_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(SERVER_URLS[backend])
    try:
        _server_database(admin, name, create=True)
    except Exception as exc:  # the server is down or refuses us: as conftest.server_engine
        admin.dispose()
        message = f"{backend} unreachable at {SERVER_URLS[backend]}: {exc}".splitlines()[0]
        if IN_CI:
            pytest.fail(f"{message} (CI=true requires every backend)")
        pytest.skip(message)
    url = make_url(resolve_url(SERVER_URLS[backend])).set(database=name)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        _server_database(admin, name, create=False)
        admin.dispose()


def _server_database(admin: Engine, name: str, *, create: bool) -> None:
    """Create or drop database `name` on the PostgreSQL or MariaDB server of `admin`."""
    if admin.dialect.name == "postgresql":
        statement = (
            f'CREATE DATABASE "{name}"' if create else f'DROP DATABASE "{name}" WITH (FORCE)'
        )
    else:
        statement = (
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
            if create
            else f"DROP DATABASE `{name}`"
        )
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(statement))


def _seed(conn: Connection) -> int:
    """A seller whose listings are pending or not, leased or not, in a mixed order."""
    tid = ensure_tenant(conn, "migrations")
    add_shop(conn, tid, SHOP)
    add_rule(conn, tid, RULE)
    pending: dict[str, Any] = {"is_stock_changed": True, "stock_change_count": 1}
    rows = [
        {"rec_id": 1, "disable_syn_until": 0, **pending},
        {"rec_id": 2, "disable_syn_until": NOW_WDT - 10, **pending},  # its lease has run out
        {"rec_id": 3, "disable_syn_until": 0, **pending},
        {"rec_id": 4, "disable_syn_until": NOW_WDT + 100, **pending},  # leased
        {"rec_id": 5, "disable_syn_until": 0, "is_stock_changed": False},
        {"rec_id": 6, "disable_syn_until": 0, "is_disable_syn": True, **pending},
        {"rec_id": 7, "disable_syn_until": 5, **pending},
    ]
    for row in rows:
        conn.execute(
            insert(listing).values(
                tenant_id=tid, shop_id=SHOP, goods_id=f"g{row['rec_id']}", spec_id="s",
                match_target_type=1, match_target_id=row["rec_id"], rule_id=RULE, **row,
            )
        )  # fmt: skip
    return tid


def _listings(engine: Engine) -> list[tuple[Any, ...]]:
    with read_tx(engine) as conn:
        return [tuple(row) for row in conn.execute(select(listing).order_by(listing.c.rec_id))]


def test_a_round_trip_through_0001_rebuilds_the_wait_index_as_declared_and_keeps_the_listings(
    fresh_engine: Engine,
) -> None:
    engine, dialect = fresh_engine, fresh_engine.dialect.name
    steps: list[tuple[str, IndexDefinition]] = []

    def step(to: str, migration: Callable[[Config, str], None]) -> None:
        _alembic(engine, migration, to)
        with read_tx(engine) as conn:
            steps.append((to, in_database(conn)))

    step("0001", command.upgrade)
    step("head", command.upgrade)
    with write_tx(engine) as conn:
        tid = _seed(conn)
    listings = _listings(engine)
    step("0001", command.downgrade)
    assert _listings(engine) == listings
    step("head", command.upgrade)
    assert _listings(engine) == listings

    head = declared(dialect)
    assert steps == [("0001", AT_0001), ("head", head), ("0001", AT_0001), ("head", head)]
    # Served by (disable_syn_until, rec_id): 1 and 3 at 0, 7 at 5, 2 at its run-out lease;
    # 4 is leased, 5 not pending, 6 switched off. Then the leases keep them all away.
    with write_tx(engine) as conn:
        assert wait_list(conn, tid, 100, now=NOW) == ([1, 3, 7, 2], NOW_WDT + DEFAULT_LEASE)
    with write_tx(engine) as conn:
        assert wait_list(conn, tid, 100, now=NOW) == ([], 0)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
