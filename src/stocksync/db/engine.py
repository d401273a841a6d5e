"""Engines for SQLite (default), PostgreSQL and MariaDB, and the schema's migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

ENV_VAR = "STOCKSYNC_DB"
WRITE_OPTION = "stocksync_write"


def default_db_path() -> Path:
    """Where the default SQLite file lives: `$XDG_DATA_HOME/stocksync/stocksync.db`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "stocksync" / "stocksync.db"


def resolve_url(url: str | None = None) -> str:
    """The database URL to use: the argument, else `$STOCKSYNC_DB`, else the default file.

    Short forms are accepted: `postgresql://…` uses psycopg 3, `mysql://…` and `mariadb://…`
    use PyMySQL, and a bare path means a SQLite file.
    """
    url = url or os.environ.get(ENV_VAR)
    if not url:
        path = default_db_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    scheme, rest = url.split("://", 1)
    scheme = {
        "postgres": "postgresql+psycopg",
        "postgresql": "postgresql+psycopg",
        "mysql": "mysql+pymysql",
        "mariadb": "mysql+pymysql",
        "mariadb+pymysql": "mysql+pymysql",
    }.get(scheme, scheme)
    return f"{scheme}://{rest}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event issue BEGIN itself (see `_sqlite_begin`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Build an engine for `url` (see `resolve_url`) with the settings each backend needs."""
    full = make_url(resolve_url(url))
    if full.get_backend_name() == "mysql":
        full = full.update_query_dict({"charset": "utf8mb4"})
        kwargs.setdefault("pool_recycle", 3600)
    kwargs.setdefault("pool_pre_ping", full.get_backend_name() != "sqlite")
    engine = create_engine(full, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes SQLite's write lock up front, so it waits (busy_timeout) instead
    # of failing when it later upgrades from reading to writing.
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on any error."""
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def read_tx(engine: Engine) -> Iterator[Connection]:
    """A connection in a read-only transaction (one consistent snapshot where the backend can)."""
    with engine.connect() as conn, conn.begin():
        yield conn
