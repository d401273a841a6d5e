"""A test server: the open API of `stocksync serve` (granian, RSGI) with two test knobs.

    python -m support.serve --db URL --port N [--workers N] [--lease S] [--clock-offset S]
                            [--sqlite-cache-kib K]

`--clock-offset` runs the server's clock that many seconds ahead, so a test lets failure delays
and leases run out without waiting (clients must sign with the same clock); `--sqlite-cache-kib`
sets a small page cache, so that a big SQLite transaction writes uncommitted pages into the
write-ahead log before it commits (what a crash test wants to find there). Settings travel
through the environment, so every granian worker process builds the same app; the server is
`stocksync.bootstrap.run_server`, the one `stocksync serve` runs.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event

from stocksync.bootstrap import DbCredentialStore, ServerApp, Settings, run_server
from stocksync.db.engine import make_engine
from stocksync.openapi.app import create_openapi_app
from stocksync.openapi.methods import Database, build_registry

#: Seconds the server's clock runs ahead of the real one.
CLOCK_OFFSET_VAR = "STOCKSYNC_TEST_CLOCK_OFFSET"
#: A small SQLite page cache (KiB): big transactions then spill uncommitted pages into the WAL.
SQLITE_CACHE_VAR = "STOCKSYNC_TEST_SQLITE_CACHE_KIB"


def shifted_clock(offset: float) -> Callable[[], float]:
    """`time.time` moved `offset` seconds ahead."""
    return lambda: time.time() + offset


def _small_cache(engine: Engine, kib: int) -> None:
    def pragma(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA cache_size = -{kib}")

    event.listen(engine, "connect", pragma)


def create_test_app() -> ServerApp:
    """The app of `stocksync serve` built from the environment, with the clock offset and
    (SQLite) page cache size of the test knobs."""
    settings = Settings.from_env()
    engine = make_engine(settings.db_url)
    if engine.dialect.name == "sqlite" and os.environ.get(SQLITE_CACHE_VAR):
        _small_cache(engine, int(os.environ[SQLITE_CACHE_VAR]))
    database = Database(engine)
    api = create_openapi_app(
        build_registry(database, lease=settings.lease),
        DbCredentialStore(database.engine, ttl=settings.credential_ttl),
        max_body=settings.max_body,
        skew=settings.skew,
        default_rate_limit=settings.rate_limit,
        clock=shifted_clock(float(os.environ.get(CLOCK_OFFSET_VAR, "0"))),
    )
    return ServerApp(api, database, owns_engine=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m support.serve")
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--lease", type=int, default=300)
    parser.add_argument("--clock-offset", type=float, default=0.0)
    parser.add_argument("--sqlite-cache-kib", type=int, default=0)
    args = parser.parse_args()
    if args.sqlite_cache_kib:
        os.environ[SQLITE_CACHE_VAR] = str(args.sqlite_cache_kib)
    os.environ.update(STOCKSYNC_DB=args.db, STOCKSYNC_LEASE=str(args.lease))
    os.environ[CLOCK_OFFSET_VAR] = str(args.clock_offset)
    run_server(
        "support.serve:create_test_app",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
