"""Looking at a database from outside the process that writes it.

`tenant_state` fingerprints everything one seller has (every column of every row of every
tenant table), so a test can say "exactly the before state or exactly the after state".
`writer_active` tells whether another process holds a write transaction open right now, which
is how a crash test knows its kill will land mid-transaction.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, text

from stocksync.db.engine import read_tx
from stocksync.db.schema import metadata


@dataclass(frozen=True)
class TenantState:
    """Row count and content digest of every table of one seller."""

    tables: dict[str, tuple[int, str]]

    def differences(self, other: TenantState) -> list[str]:
        """The tables whose rows differ, with their row counts here → there."""
        return [
            f"{name}: {mine[0]} → {other.tables[name][0]} rows"
            for name, mine in sorted(self.tables.items())
            if other.tables.get(name) != mine
        ]


def tenant_state(engine: Engine, tid: int) -> TenantState:
    """Fingerprint every row of seller `tid` in every table (all columns, sorted rows)."""
    tables: dict[str, tuple[int, str]] = {}
    with read_tx(engine) as conn:
        for table in metadata.sorted_tables:
            if "tenant_id" not in table.c:
                continue
            key = [c for c in table.primary_key.columns if c.name != "record_id"] or list(table.c)
            query = select(table).where(table.c.tenant_id == tid).order_by(*key)
            digest, count = hashlib.sha256(), 0
            for row in conn.execute(query):
                digest.update(repr(tuple(row)).encode())
                count += 1
            tables[table.name] = (count, digest.hexdigest())
    return TenantState(tables)


def poll_interval(engine: Engine) -> float:
    """How often `writer_active` and `writes_begun` are worth asking (MariaDB's answer is built
    from InnoDB's status report, which takes a server-wide mutex)."""
    return 0.05 if engine.dialect.name == "mysql" else 0.01


def writer_active(engine: Engine) -> bool:
    """True while some other session holds a write transaction open on this database
    (SQLite: the write lock is taken; PostgreSQL: a transaction that wrote or locked rows;
    MariaDB: a transaction that modified or locked rows)."""
    return _writers(engine, rows=0)


def writes_begun(engine: Engine, rows: int = 1) -> bool:
    """True once another session's open write transaction has written rows: on MariaDB at
    least `rows` of them (its undo entries); on PostgreSQL its current or last statement is an
    UPDATE/INSERT/DELETE; on SQLite (after `truncate_wal`) it holds the write lock and
    uncommitted pages have reached the write-ahead log."""
    return _writers(engine, rows=max(rows, 1))


def _writers(engine: Engine, rows: int) -> bool:
    name = engine.dialect.name
    if name == "sqlite":
        wal = Path(f"{engine.url.database}-wal")
        spilled = wal.exists() and wal.stat().st_size > 0
        return (spilled or not rows) and _sqlite_locked(str(engine.url.database))
    if name == "mysql":
        return _innodb_writers(engine, rows)
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL"
    )
    if rows:
        query += " AND query ~* '^\\s*(update|insert|delete)'"
    with engine.connect() as conn:
        return bool(conn.execute(text(query)).scalar_one())


def _innodb_writers(engine: Engine, rows: int) -> bool:
    # The live transaction list of InnoDB's status report: `information_schema.innodb_trx` is
    # a server-wide cache refreshed only after 0.1 s without any reader, so with several tests
    # polling it, it can stay stale for good.
    with engine.connect() as conn:
        status = conn.execute(text("SHOW ENGINE INNODB STATUS")).one()[2]
        sessions = set(conn.execute(text(
            "SELECT id FROM information_schema.processlist"
            " WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        )).scalars())  # fmt: skip
    for block in status.split("\n---TRANSACTION ")[1:]:
        thread = re.search(r"thread id (\d+)", block)
        if thread is None or int(thread.group(1)) not in sessions:
            continue
        if _count(r"undo log entries (\d+)", block) >= max(rows, 1):
            return True
        if not rows and _count(r"(\d+) row lock\(s\)", block) > 0:
            return True
    return False


def _count(pattern: str, block: str) -> int:
    found = re.search(pattern, block.split("\n--------")[0])
    return int(found.group(1)) if found else 0


def truncate_wal(engine: Engine) -> None:
    """SQLite: checkpoint and empty the write-ahead log (so that its growth shows new writes);
    then close this process's connections. Other backends: nothing."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()


def _sqlite_locked(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return True
    finally:
        probe.close()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.01) -> bool:
    """Poll `predicate()` until true or `timeout` seconds passed; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
