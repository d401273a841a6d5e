"""The acknowledgements' three statements on the DB-API cursor, and a lean write transaction.

An ack is a row-locking read of the listing, one UPDATE guarded by the change count read, and one
INSERT of its sync record. Run through SQLAlchemy Core they cost several times the database's own
work (building, cache-keying and executing statements, result objects), so they run as plain SQL
on the connection's DB-API cursor, like the calcStock path (`records.RawReader`): `?` placeholders
converted per paramstyle, quantities as scaled ints (×10⁴), booleans as Python bools (0/1 on
SQLite and MariaDB, `boolean` on PostgreSQL).

`fast_write` runs the transaction on the DB-API connection itself, skipping SQLAlchemy's
transaction bookkeeping as `Database.fast_read` does for reads: on SQLite it is `BEGIN IMMEDIATE`
(the write lock up front, as `db.engine.write_tx`), elsewhere the driver's implicit transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection

from stocksync.db.types import SCALE, from_scaled, to_scaled
from stocksync.domain.syncstate import SyncState
from stocksync.services.records import RawReader, placeholders

#: The sync columns of a listing, in `SyncState`'s field order.
STATE_COLUMNS: tuple[str, ...] = SyncState._fields
# The auto flags of the listing's rule, then of its custom rule. Scalar subqueries: `FOR UPDATE`
# does not lock them (PostgreSQL locks only the FROM list; InnoDB only the outer statement), so
# acks never queue on a shared rule.
_FLAGS = "".join(
    f", (SELECT r.{flag} FROM {table} r WHERE r.tenant_id = l.tenant_id AND r.rec_id = l.{key})"
    for table, key in (("cfg_stock_sync_rule", "rule_id"), ("api_goods_spec_custom_rule", "rec_id"))
    for flag in ("is_auto_listing", "is_auto_delisting")
)
_LOCK = (
    f"SELECT l.shop_id, l.rule_id, {', '.join(f'l.{c}' for c in STATE_COLUMNS)}{{flags}} "
    "FROM api_goods_spec l WHERE l.tenant_id = ? AND l.rec_id = ?{for_update}"
)
_WRITE = (
    f"UPDATE api_goods_spec SET {', '.join(f'{c} = ?' for c in STATE_COLUMNS)}, modified = ? "
    "WHERE tenant_id = ? AND rec_id = ? AND stock_change_count = ?"
)
_APPEND = (
    "INSERT INTO api_stock_sync_record (tenant_id, listing_id, shop_id, created, app_key, kind, "
    "syn_stock, stock_change_count, applied, info, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class _Statements(NamedTuple):
    lock: str
    lock_with_flags: str
    write: str
    append: str


@lru_cache(maxsize=8)
def _statements(dialect: str, paramstyle: str) -> _Statements:
    """The SQL of one backend (SQLite has no `FOR UPDATE`: its write transaction is exclusive)."""
    for_update = "" if dialect == "sqlite" else " FOR UPDATE"
    return _Statements(
        placeholders(_LOCK.format(flags="", for_update=for_update), paramstyle),
        placeholders(_LOCK.format(flags=_FLAGS, for_update=for_update), paramstyle),
        placeholders(_WRITE, paramstyle),
        placeholders(_APPEND, paramstyle),
    )


class AckCursor(RawReader):
    """The ack statements on one DB-API cursor, in the connection's current transaction (a
    `RawReader`, whose cursor and closing it shares)."""

    __slots__ = ("_sql",)

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._sql = _statements(conn.dialect.name, conn.dialect.paramstyle)

    def lock(self, tid: int, rec_id: int, *, flags: bool) -> Sequence[Any] | None:
        """Lock and read the listing: shop_id, rule_id, the `STATE_COLUMNS` undecoded and, with
        `flags`, the auto listing/delisting flags of its rule then of its custom rule."""
        self._cursor.execute(self._sql.lock_with_flags if flags else self._sql.lock, (tid, rec_id))
        row: Sequence[Any] | None = self._cursor.fetchone()
        return row

    def write(self, tid: int, rec_id: int, expected_count: int, new: SyncState, at: int) -> int:
        """Write `new` (and `modified` = `at`) if the change count is still `expected_count`;
        returns the number of rows written."""
        params = (
            new.stock_change_count, new.is_stock_changed, new.disable_syn_until, new.mask,
            new.fail_count, new.status, to_scaled(new.stock_num), to_scaled(new.last_syn_num),
            new.last_syn_time, new.list_time, new.delist_time, at, tid, rec_id, expected_count,
        )  # fmt: skip
        self._cursor.execute(self._sql.write, params)
        return int(self._cursor.rowcount)

    def append(self, record: Sequence[Any]) -> None:
        """Insert one sync record: the values of `_APPEND`'s columns, syn_stock already scaled."""
        self._cursor.execute(self._sql.append, record)


def state_of(columns: Sequence[Any]) -> SyncState:
    """A `SyncState` from the `STATE_COLUMNS` as the driver returns them."""
    count, changed, until, mask, fails, status, stock, last, last_time, listed, delisted = columns
    return SyncState(
        count, bool(changed), until, mask, fails, status, from_scaled(stock), from_scaled(last),
        last_time, listed, delisted,
    )  # fmt: skip


def scaled(value: int | None) -> int | None:
    """A whole quantity as stored (×10⁴), None kept."""
    return None if value is None else value * SCALE


@contextmanager
def fast_write(conn: Connection) -> Iterator[Connection]:
    """`conn` (not in a transaction) in a write transaction run by its DB-API connection:
    committed on success, rolled back on any error.

    For code that writes only through the DB-API cursor (`AckCursor`): a SQLAlchemy statement
    inside would begin a second transaction. On SQLite the write lock is taken up front, so a
    busy database is waited for (busy_timeout) as `db.engine.write_tx` does.
    """
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None, "the connection is closed"
    if conn.dialect.name == "sqlite":  # pysqlite is left in autocommit mode (see `db.engine`)
        dbapi.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        dbapi.rollback()
        raise
    dbapi.commit()
