"""The open-API benchmark's database: the core benchmark's synthetic tenant in a SQLite file.

Generating and importing 1,000,000 listings takes about a minute, so the file is kept (by
default under `$XDG_CACHE_HOME/stocksync-bench/`) and reused while it holds the whole tenant.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.synth import write_tenant
from stocksync.db import migrate
from stocksync.db.engine import make_engine, read_tx
from stocksync.db.schema import listing
from stocksync.db.tenants import tenant_id
from stocksync.services.snapshot import import_snapshot

#: The synthetic tenant's seller and app key (see `bench.synth.write_tenant`).
SID, KEY, SECRET, SALT = "bench", "bench-key", "s3cret", "salt"


def default_directory() -> Path:
    """Where bench databases are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stocksync-bench"


def listing_count(path: Path) -> int:
    """How many listings the bench seller has in the SQLite file (0 when absent)."""
    if not path.exists():
        return 0
    engine = make_engine(f"sqlite:///{path}")
    try:
        with read_tx(engine) as conn:
            tid = tenant_id(conn, SID)
            if tid is None:
                return 0
            query = select(func.count()).where(listing.c.tenant_id == tid)
            return int(conn.execute(query).scalar_one())
    except Exception:  # not a stocksync database, or half written: build it again
        return 0
    finally:
        engine.dispose()


def bench_database(listings: int, directory: Path | None = None, *, fresh: bool = False) -> Path:
    """The SQLite file holding the synthetic tenant with `listings` listings, built if needed."""
    directory = directory or default_directory()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"openapi-{listings}.db"
    if not fresh and listing_count(path) == listings:
        print(f"  reusing {path}", flush=True)
        return path
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=directory) as work:
        snapshot = Path(work) / "tenant.json"
        write_tenant(snapshot, listings, sid=SID)
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        import_snapshot(engine, snapshot)
        engine.dispose()
    print(f"  built {path} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def tenant_copy(
    listings: int,
    directory: Path | None,
    name: str,
    *,
    fresh: bool = False,
    into: Path | None = None,
) -> Path:
    """`<name>-<listings>.db` in `into` (default: `directory`): a fresh copy of the cached tenant
    of `directory` (default: the cache; `bench_database`, only read) that a benchmark may change
    at will, migrated to the current schema as `stocksync` would migrate it."""
    directory = directory or default_directory()
    source = bench_database(listings, directory, fresh=fresh)
    target = (into or directory) / f"{name}-{listings}.db"
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{target}")
    migrate.upgrade(engine)
    engine.dispose()
    return target
