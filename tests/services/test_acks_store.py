"""The ack statements (`services.ackstore`): the row they write, their kept cursor, the fast
write context of the open API (`Database.fast_write`)."""

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from builders import add_listing, add_rule, add_shop
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError
from stocksync.openapi.methods import Database
from stocksync.services.acks import ack_cursor, cancel_sync, fast_write, sync_fail, sync_success
from stocksync.services.ackstore import _statements

NOW = 1_700_000_000.0
SHOP, RULE, COUNT = 69, 10, 2


def _tenant(engine: Engine, sid: str, rec_ids: list[int]) -> int:
    """Listings `rec_ids` (added in that order), pending at change count 2."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, SHOP)
        add_rule(conn, tid, RULE)
        for rec_id in rec_ids:
            add_listing(
                conn, tid, rec_id, SHOP, f"c{rec_id}", rule_id=RULE, match_target_type=1,
                match_target_id=rec_id, stock_change_count=COUNT, is_stock_changed=True,
            )  # fmt: skip
    return tid


def _synced(engine: Engine, tid: int) -> dict[int, tuple[Any, ...]]:
    c = listing.c
    query = select(c.rec_id, c.is_stock_changed, c.last_syn_num).where(c.tenant_id == tid)
    with read_tx(engine) as conn:
        return {
            row.rec_id: (bool(row.is_stock_changed), row.last_syn_num)
            for row in conn.execute(query)
        }


def test_an_ack_writes_its_own_listing_among_tenants_sharing_rec_ids(
    engine: Engine, sid: str
) -> None:
    """Row keys (SQLite's rowid) follow insertion order, not rec_id nor tenant: the ack writes
    exactly the listing it locked."""
    first = _tenant(engine, sid, [3, 1, 2])
    second = _tenant(engine, sid + "b", [2, 3, 1])
    info = {"syn_stock": 9, "stock_change_count": COUNT, "is_auto_listing": False}
    with engine.connect() as conn, fast_write(conn):
        sync_success(conn, second, 3, info, now=NOW)
    pending = (True, Decimal(-1))
    assert _synced(engine, first) == {1: pending, 2: pending, 3: pending}
    assert _synced(engine, second) == {1: pending, 2: pending, 3: (False, Decimal(9))}


def test_on_sqlite_the_update_finds_the_locked_row_by_its_rowid(
    sqlite_engine: Engine, sid: str
) -> None:
    tid = _tenant(sqlite_engine, sid, [5])
    seen: list[str] = []
    with sqlite_engine.connect() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.set_trace_callback(seen.append)
        with fast_write(conn):
            sync_success(conn, tid, 5, {"syn_stock": 1, "stock_change_count": COUNT}, now=NOW)
        dbapi.set_trace_callback(None)
    (lock,) = [sql for sql in seen if sql.startswith("SELECT")]
    (update,) = [sql for sql in seen if sql.startswith("UPDATE")]
    assert lock.startswith("SELECT l.rowid, l.shop_id")
    assert update.endswith("WHERE rowid = 1 AND stock_change_count = 2")
    assert _synced(sqlite_engine, tid) == {5: (False, Decimal(1))}


@pytest.mark.parametrize(
    ("dialect", "paramstyle", "mark"),
    [("postgresql", "pyformat", "%s"), ("mysql", "format", "%s"), ("mariadb", "format", "%s")],
)
def test_the_other_backends_lock_the_row_and_write_it_by_its_key(
    dialect: str, paramstyle: str, mark: str
) -> None:
    sql = _statements(dialect, paramstyle)
    for lock in (sql.lock, sql.lock_with_flags):
        assert lock.startswith("SELECT l.rec_id, l.shop_id") and lock.endswith(" FOR UPDATE")
    assert "rowid" not in sql.write
    where = sql.write.partition(" WHERE ")[2]
    assert where.count(mark) == 3 and where.startswith("tenant_id = ")
    assert "rec_id = " in where and "stock_change_count = " in where


def test_the_ack_cursor_is_kept_with_its_connection(engine: Engine, sid: str) -> None:
    tid = _tenant(engine, sid, [1, 2])
    with engine.connect() as conn, engine.connect() as other:
        kept = ack_cursor(conn)
        for rec_id in (1, 2):
            with fast_write(conn):
                sync_fail(conn, tid, rec_id, {}, now=NOW)
            assert ack_cursor(conn) is kept
        assert ack_cursor(other) is not kept
        conn.invalidate()  # a new DB-API connection: a new cursor
        assert ack_cursor(conn) is not kept
        with fast_write(conn):
            sync_fail(conn, tid, 1, {}, now=NOW)


class _Boom(Exception):
    pass


def test_the_fast_write_context_is_kept_and_commits_or_rolls_back(engine: Engine, sid: str) -> None:
    tid = _tenant(engine, sid, [1, 2])
    database = Database(engine)
    try:
        context = database.fast_write()
        assert database.fast_write() is context
        with pytest.raises(_Boom), context as conn:
            sync_success(conn, tid, 1, {"syn_stock": 4, "stock_change_count": COUNT}, now=NOW)
            raise _Boom  # not a database error: rolled back, connection kept
        with database.fast_write() as again:
            assert again is conn
            sync_success(again, tid, 2, {"syn_stock": 6, "stock_change_count": COUNT}, now=NOW)
        assert database.fast_write() is context
    finally:
        database.close()
    assert _synced(engine, tid) == {1: (True, Decimal(-1)), 2: (False, Decimal(6))}


def test_a_database_error_in_fast_write_drops_the_connection(engine: Engine, sid: str) -> None:
    tid = _tenant(engine, sid, [1])
    database = Database(engine)
    try:
        context = database.fast_write()
        with pytest.raises(database.errors), context as conn:
            conn.connection.dbapi_connection.cursor().execute("SELECT * FROM no_such_table")  # type: ignore[union-attr]
        assert conn.closed
        with database.fast_write() as fresh:
            assert fresh is not conn
            sync_success(fresh, tid, 1, {"syn_stock": 2, "stock_change_count": COUNT}, now=NOW)
        assert database.fast_write() is not context
    finally:
        database.close()
    assert _synced(engine, tid) == {1: (False, Decimal(2))}


def test_a_refused_ack_leaves_no_snapshot_behind_on_the_kept_connection(
    engine: Engine, sid: str
) -> None:
    """The kept ack cursor must not keep its lock read open: on SQLite an unfinished SELECT
    outlives the ROLLBACK of a refused ack and pins the connection's snapshot, so the worker's
    next reads (calcStock on the same connection) would miss every later commit. (pysqlite
    steps one row ahead, so a one-row lock read is finished by `fetchone`.)"""
    tid = _tenant(engine, sid, [5])
    database = Database(engine)
    try:
        with pytest.raises(BusinessError, match="取消失败"), database.fast_write() as conn:
            cancel_sync(conn, tid, 5, COUNT + 5, now=NOW)  # a stale count: refused after the read
        with write_tx(engine) as other:
            bump = listing.update().where(listing.c.tenant_id == tid, listing.c.rec_id == 5)
            other.execute(bump.values(stock_change_count=COUNT + 1))
        with database.fast_read() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(
                "SELECT stock_change_count FROM api_goods_spec"
                f" WHERE tenant_id = {tid} AND rec_id = 5"
            )
            assert list(cursor.fetchall()) == [(COUNT + 1,)]
            cursor.close()
    finally:
        database.close()
