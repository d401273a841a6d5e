"""The acknowledgements' three statements on the DB-API cursor, and a lean write transaction.

An ack is a row-locking read of the listing, one UPDATE guarded by the change count read, and one
INSERT of its sync record. Run through SQLAlchemy Core they cost several times the database's own
work (building, cache-keying and executing statements, result objects), so they run as plain SQL
on the connection's DB-API cursor, like the calcStock path (`records.RawReader`): `?` placeholders
converted per paramstyle, quantities as scaled ints (×10⁴), booleans as Python bools (0/1 on
SQLite and MariaDB, `boolean` on PostgreSQL).

On SQLite the lock read also returns the listing's `rowid`, and the UPDATE finds the row by it
(one B-tree seek, not the primary-key index then the table): the write lock, taken before the
read, keeps the row where it was. Elsewhere the UPDATE keys on (tenant_id, rec_id), the row
locked `FOR UPDATE`. The cursor is kept with its DB-API connection (`ack_cursor`): making one
costs more than an ack's Python work on the statements.

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
from stocksync.services.records import placeholders

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
# `{key}` is the column the UPDATE finds the row by: `rowid` on SQLite, else `rec_id`.
_LOCK = (
    f"SELECT l.{{key}}, l.shop_id, l.rule_id, {', '.join(f'l.{c}' for c in STATE_COLUMNS)}"
    "{flags} FROM api_goods_spec l WHERE l.tenant_id = ? AND l.rec_id = ?{for_update}"
)
_WRITE = (
    f"UPDATE api_goods_spec SET {', '.join(f'{c} = ?' for c in STATE_COLUMNS)}, modified = ? "
    "WHERE {where} AND stock_change_count = ?"
)
_APPEND = (
    "INSERT INTO api_stock_sync_record (tenant_id, listing_id, shop_id, created, app_key, kind, "
    "syn_stock, stock_change_count, applied, info, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_KEPT = "stocksync.ack_cursor"  # the key of the kept `AckCursor` in the connection's `info`


class _Statements(NamedTuple):
    lock: str
    lock_with_flags: str
    write: str
    append: str


@lru_cache(maxsize=8)
def _statements(dialect: str, paramstyle: str) -> _Statements:
    """The SQL of one backend (SQLite has no `FOR UPDATE`: its write transaction is exclusive)."""
    sqlite = dialect == "sqlite"
    lock = {"key": "rowid" if sqlite else "rec_id", "for_update": "" if sqlite else " FOR UPDATE"}
    where = "rowid = ?" if sqlite else "tenant_id = ? AND rec_id = ?"
    return _Statements(
        placeholders(_LOCK.format(flags="", **lock), paramstyle),
        placeholders(_LOCK.format(flags=_FLAGS, **lock), paramstyle),
        placeholders(_WRITE.format(where=where), paramstyle),
        placeholders(_APPEND, paramstyle),
    )


class AckCursor:
    """The ack statements on one DB-API cursor, kept with its DB-API connection (`ack_cursor`)
    and run in the connection's current transaction."""

    __slots__ = ("dbapi", "_cursor", "_sql", "sqlite")

    def __init__(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None, "the connection is closed"
        self.dbapi: Any = dbapi
        self._cursor = dbapi.cursor()
        self._sql = _statements(conn.dialect.name, conn.dialect.paramstyle)
        self.sqlite = conn.dialect.name == "sqlite"

    def lock(self, tid: int, rec_id: int, *, flags: bool) -> Sequence[Any] | None:
        """Lock and read the listing: its key (for `write`), shop_id, rule_id, the
        `STATE_COLUMNS` undecoded and, with `flags`, the auto listing/delisting flags of its
        rule then of its custom rule."""
        self._cursor.execute(self._sql.lock_with_flags if flags else self._sql.lock, (tid, rec_id))
        row: Sequence[Any] | None = self._cursor.fetchone()
        return row

    def write(self, tid: int, key: int, expected_count: int, new: SyncState, at: int) -> int:
        """Write `new` (and `modified` = `at`) to the row `lock` read with `key` if its change
        count is still `expected_count`; returns the number of rows written."""
        where = (key, expected_count) if self.sqlite else (tid, key, expected_count)
        stock = to_scaled(new.stock_num)
        # A success pushes one number into both columns (the same Decimal): scaled once.
        last = stock if new.last_syn_num is new.stock_num else to_scaled(new.last_syn_num)
        params = (
            new.stock_change_count, new.is_stock_changed, new.disable_syn_until, new.mask,
            new.fail_count, new.status, stock, last, new.last_syn_time, new.list_time,
            new.delist_time, at, *where,
        )  # fmt: skip
        self._cursor.execute(self._sql.write, params)
        return int(self._cursor.rowcount)

    def append(self, record: Sequence[Any]) -> None:
        """Insert one sync record: the values of `_APPEND`'s columns, syn_stock already scaled."""
        self._cursor.execute(self._sql.append, record)

    def begin(self) -> None:
        """Begin the write transaction: on SQLite `BEGIN IMMEDIATE` through this cursor, whose
        statements stay prepared (the write lock up front, so a busy database is waited for as
        `db.engine.write_tx` does); elsewhere the driver begins one implicitly."""
        if self.sqlite:  # pysqlite is left in autocommit mode (see `db.engine`)
            self._cursor.execute("BEGIN IMMEDIATE")

    def end(self, commit: bool) -> None:
        """Commit the DB-API transaction (on SQLite with a prepared `COMMIT`, as pysqlite's
        `commit()` prepares its statement anew on every call), or roll it back."""
        if not commit:
            self.dbapi.rollback()
        elif not self.sqlite:
            self.dbapi.commit()
        elif self.dbapi.in_transaction:
            self._cursor.execute("COMMIT")


def ack_cursor(conn: Connection) -> AckCursor:
    """The `AckCursor` kept with `conn`'s DB-API connection, made on first use.

    Kept in the pool record's `info` (which SQLAlchemy clears when it closes or invalidates the
    DB-API connection); the identity check guards against a cursor of another connection.
    """
    info = conn.info
    kept: AckCursor | None = info.get(_KEPT)
    if kept is None or kept.dbapi is not conn.connection.dbapi_connection:
        kept = info[_KEPT] = AckCursor(conn)
    return kept


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

    For code that writes only through the DB-API cursor (`AckCursor`, whose `begin` and `end`
    run the transaction): a SQLAlchemy statement inside would begin a second transaction.
    """
    cursor = ack_cursor(conn)
    cursor.begin()
    try:
        yield conn
    except BaseException:
        cursor.end(commit=False)
        raise
    cursor.end(commit=True)
