"""The flagship methods bound to the services: parse (done by the registry), call, return data.

Handlers are synchronous and run on the event loop: each is one short database transaction
(a primary-key read for calcStock), cheaper than a hop to a thread pool. Reads run on one
connection kept per thread (a worker process serves one call at a time), which saves a pool
checkout and a reset per call; writes take a pooled connection in a write transaction.

A database failure inside a handler (driver errors included: the hot paths use the DB-API
cursor directly) answers status 5 `数据库错误`, logged with the request id, never 99 or a 500.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from stocksync import jsoncodec
from stocksync.db.checkpoint import Checkpointer
from stocksync.db.engine import write_tx
from stocksync.domain.errors import InvalidArgument
from stocksync.openapi.arguments import Param, to_bool, to_int
from stocksync.openapi.errors import ProtocolError
from stocksync.openapi.ports import NO_DATA, CallContext, Handler
from stocksync.openapi.registry import MethodRegistry
from stocksync.services import acks, calc, clock, waitlist
from stocksync.services.batch_records import batch_records

#: batchCalcStock refuses larger batches (status 1).
MAX_BATCH = 5000


class DatabaseError(ProtocolError):
    """The database failed (unreachable, locked too long, schema missing…): status 5."""

    status = 5
    message = "数据库错误"


def database_errors(engine: Engine) -> tuple[type[BaseException], ...]:
    """What a failing database raises: SQLAlchemy's wrapped errors, a pool timeout, and the
    driver's own errors (from DB-API cursors used directly)."""
    return (DBAPIError, PoolTimeout, engine.dialect.loaded_dbapi.Error)


class Database:
    """The engine as handlers use it: kept read connections, write transactions, and the
    translation of database failures into `DatabaseError`."""

    def __init__(self, engine: Engine, logger: logging.Logger | None = None) -> None:
        self.engine = engine
        self.logger = logger or logging.getLogger("stocksync.openapi")
        self.errors = database_errors(engine)
        self._sqlite = engine.dialect.name == "sqlite"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._kept: set[Connection] = set()
        # A Database dropped without close() still checks its connections back in (a pooled
        # connection that is garbage collected while checked out makes SQLAlchemy warn).
        weakref.finalize(self, _close_all, self._kept, self._lock)
        self._checkpointer: Checkpointer | None = None
        if self._sqlite and engine.url.database not in (None, "", ":memory:"):
            # A commit never waits for a WAL checkpoint (see `db.checkpoint`).
            self._checkpointer = Checkpointer(engine, logger=self.logger)
            weakref.finalize(self, self._checkpointer.close)

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """This thread's kept connection in a read transaction; `snapshot` makes every read
        of it see one state on PostgreSQL too (repeatable read; the other backends already do).
        A connection that failed is dropped, so the next call reconnects."""
        conn = self._connection()
        try:
            with conn.begin():
                if snapshot and conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield conn
        except self.errors:
            self._drop(conn)
            raise

    def fast_read(self) -> AbstractContextManager[Connection]:
        """Like `read`, with the transaction run by the DB-API connection itself: for code
        that reads only through the connection's DB-API cursor (the calcStock path), it saves
        SQLAlchemy's transaction bookkeeping (15–25 µs a call on SQLite). The context is kept
        with this thread's connection and reused, so it does not nest.

        Code that runs SQLAlchemy statements inside would begin a second transaction (an
        error on SQLite): use `read` for it.
        """
        fast: _FastRead | None = getattr(self._local, "fast", None)
        if fast is None or fast.conn.closed or fast.conn.invalidated:
            fast = self._local.fast = _FastRead(self, self._connection())
        return fast

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A pooled connection in a write transaction (see `db.engine.write_tx`)."""
        with write_tx(self.engine) as conn:
            yield conn

    def fast_write(self) -> AbstractContextManager[Connection]:
        """This thread's kept connection in a write transaction run by the DB-API connection
        itself (as `acks.fast_write`), for code that writes only through the DB-API cursor (the
        acks): no pool checkout, no SQLAlchemy transaction. A connection that failed is dropped.
        Like `fast_read`, the context is kept with the connection and reused (it does not nest)."""
        fast: _FastWrite | None = getattr(self._local, "fast_write", None)
        if fast is None or fast.conn.closed or fast.conn.invalidated:
            fast = self._local.fast_write = _FastWrite(self, self._connection())
        return fast

    def guard(self, handler: Handler) -> Handler:
        """`handler` with database failures answered as `DatabaseError` (and logged)."""

        def guarded(ctx: CallContext, args: list[Any]) -> Any:
            try:
                return handler(ctx, args)
            except self.errors:
                self.logger.exception("database error in open-API request %s", ctx.request_id)
                raise DatabaseError() from None

        return guarded

    def close(self) -> None:
        """Close every kept connection (the app's shutdown); later reads open new ones."""
        self._local = threading.local()
        _close_all(self._kept, self._lock)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    def _connection(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = self.engine.connect()
            with self._lock:
                self._kept.add(conn)
        return conn

    def _drop(self, conn: Connection) -> None:
        self._local.conn = self._local.fast = None
        with self._lock:
            self._kept.discard(conn)
        try:
            conn.invalidate()
            conn.close()
        except self.errors:  # it is being thrown away anyway
            pass


class _FastRead:
    """`Database.fast_read` on one thread's kept connection: BEGIN and ROLLBACK through the
    DB-API connection (on SQLite through one kept cursor, whose statements stay prepared)."""

    __slots__ = ("conn", "_database", "_dbapi", "_cursor")

    def __init__(self, database: Database, conn: Connection) -> None:
        self.conn, self._database = conn, database
        dbapi: Any = conn.connection.dbapi_connection
        # pysqlite is left in autocommit mode (see `db.engine`): the transaction is ours.
        self._dbapi, self._cursor = dbapi, dbapi.cursor() if database._sqlite else None

    def __enter__(self) -> Connection:
        if self._cursor is not None:
            try:
                self._cursor.execute("BEGIN")
            except self._database.errors:
                self._database._drop(self.conn)
                raise
        return self.conn

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None and issubclass(kind, self._database.errors):
            self._database._drop(self.conn)  # the exception goes on
            return
        # It wrote nothing, so rolling back is the cheapest end.
        try:
            if self._cursor is None:
                self._dbapi.rollback()
            elif self._dbapi.in_transaction:
                self._cursor.execute("ROLLBACK")
            if self.conn.in_transaction():  # SQLAlchemy statements ran inside after all
                self.conn.rollback()
        except self._database.errors:
            self._database._drop(self.conn)
            raise


class _FastWrite:
    """`Database.fast_write` on one thread's kept connection: the transaction of its kept ack
    cursor (`AckCursor.begin` / `end`, as `acks.fast_write`), rolled back on any error; a
    database error also drops the connection (the exception goes on)."""

    __slots__ = ("conn", "_database", "_cursor")

    def __init__(self, database: Database, conn: Connection) -> None:
        self.conn, self._database = conn, database
        self._cursor = acks.ack_cursor(conn)

    def __enter__(self) -> Connection:
        try:
            self._cursor.begin()
        except self._database.errors:
            self._database._drop(self.conn)
            raise
        return self.conn

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        database = self._database
        try:
            self._cursor.end(commit=kind is None)
        except database.errors:
            database._drop(self.conn)
            raise
        if kind is not None and issubclass(kind, database.errors):
            database._drop(self.conn)  # the exception goes on


def _close_all(kept: set[Connection], lock: threading.Lock) -> None:
    with lock:
        connections = list(kept)
        kept.clear()
    for conn in connections:
        conn.close()


def build_registry(database: Database, *, lease: int = waitlist.DEFAULT_LEASE) -> MethodRegistry:
    """Every supported method, bound to `database`."""
    from stocksync.openapi.feeding import register_feeding  # feeding builds on `Database`

    registry = MethodRegistry()
    _StockSync(database, lease).register(registry)
    registry.register("system.Core.now", _now, (Param("params", "object", required=False),))
    register_feeding(registry, database)
    return registry


def _now(ctx: CallContext, args: list[Any]) -> Any:
    """Server time as the protocol counts it (seconds since 2012-01-01 China time)."""
    return clock.to_wdt(ctx.now)


class _StockSync:
    """`sales.StockSync.*`: calcStock, batchCalcStock and the sync loop."""

    def __init__(self, database: Database, lease: int) -> None:
        self._db = database
        self._lease = lease

    def register(self, registry: MethodRegistry) -> None:
        prefix, guard = "sales.StockSync.", self._db.guard
        goods_id = Param("apiGoodsId", "int")
        force = Param("forceSync", "bool", required=False, default=False)
        registry.register(prefix + "calcStock", guard(self.calc_stock), (goods_id, force))
        registry.alias(prefix + "calcStockWithAuth", prefix + "calcStock")
        items = (Param("items", "list"),)
        registry.register(prefix + "batchCalcStock", guard(self.batch_calc_stock), items)
        wait = (Param("count", "int"), Param("position", "int", required=False, default=0))
        registry.register(prefix + "getSelfWaitSyncIdListOpen", guard(self.wait_list), wait)
        info = Param("info", "object")
        registry.register(prefix + "syncSuccess", guard(self.sync_success), (goods_id, info))
        registry.register(prefix + "syncFail", guard(self.sync_fail), (goods_id, info))
        count = Param("stockChangeCount", "int")
        registry.register(prefix + "cancelSync", guard(self.cancel_sync), (goods_id, count))

    def calc_stock(self, ctx: CallContext, args: list[Any]) -> Any:
        cred = ctx.credential
        with self._db.fast_read() as conn:
            record = calc.calc_record_json(
                conn,
                cred.tenant_id,
                args[0],
                force_sync=args[1],
                shop_ids=cred.shop_ids,
                now=ctx.now,
            )
        return jsoncodec.encoded(record)  # the record, already in the envelope's JSON

    def batch_calc_stock(self, ctx: CallContext, args: list[Any]) -> Any:
        if len(args[0]) > MAX_BATCH:
            raise InvalidArgument(f"too many items: {len(args[0])} > {MAX_BATCH}")
        items = [_batch_item(i, raw) for i, raw in enumerate(args[0])]
        cred = ctx.credential
        with self._db.read(snapshot=True) as conn:
            success, errors = batch_records(
                conn, cred.tenant_id, items, shop_ids=cred.shop_ids, now=ctx.now
            )
        return {"success_date": success, "error_date": errors}

    def wait_list(self, ctx: CallContext, args: list[Any]) -> Any:
        cred = ctx.credential
        with self._db.write() as conn:
            ids, position = waitlist.wait_list(
                conn,
                cred.tenant_id,
                args[0],
                shop_ids=cred.shop_ids,
                now=ctx.now,
                lease=self._lease,
            )
        return {"id_list": ids, "position": position}

    def sync_success(self, ctx: CallContext, args: list[Any]) -> Any:
        return self._ack(acks.sync_success, ctx, args)

    def sync_fail(self, ctx: CallContext, args: list[Any]) -> Any:
        return self._ack(acks.sync_fail, ctx, args)

    def cancel_sync(self, ctx: CallContext, args: list[Any]) -> Any:
        return self._ack(acks.cancel_sync, ctx, args)

    def _ack(self, service: Any, ctx: CallContext, args: list[Any]) -> Any:
        cred = ctx.credential
        with self._db.fast_write() as conn:
            service(
                conn,
                cred.tenant_id,
                args[0],
                args[1],
                app_key=cred.app_key,
                shop_ids=cred.shop_ids,
                now=ctx.now,
            )
        return NO_DATA


def _batch_item(index: int, raw: Any) -> tuple[int, bool]:
    """(api_goods_id, force_sync) of one batchCalcStock item, decoded liberally."""
    if not isinstance(raw, dict) or "api_goods_id" not in raw:
        raise InvalidArgument(f"argument type mismatch: items[{index}].api_goods_id is required")
    try:
        force = raw.get("force_sync")
        return to_int(raw["api_goods_id"]), False if force is None else to_bool(force)
    except Exception:
        raise InvalidArgument(f"argument type mismatch: items[{index}]") from None
