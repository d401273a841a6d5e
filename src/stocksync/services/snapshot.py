"""Tenant snapshots (snapshot-format spec): import a document all or nothing, export one.

`import_snapshot` reads the document section by section (a huge file is never held whole),
checks every record, and upserts it in one write transaction; any problem anywhere rolls the
whole import back and is reported with its path. Sections are processed in dependency order
whatever their order in the document (a section that comes before what it references is read
again in a later pass). Importing the same document twice changes nothing the second time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from stocksync.db.engine import write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.services import clock
from stocksync.services.snapshot_export import (
    FORMAT,
    dump_snapshot,
    export_snapshot,
    write_snapshot,
)
from stocksync.services.snapshot_fields import Problems
from stocksync.services.snapshot_listings import run_listings
from stocksync.services.snapshot_master import run
from stocksync.services.snapshot_read import DocumentError, Member, open_document
from stocksync.services.snapshot_sections import kinds, load_refs
from stocksync.services.snapshot_state import Context, Progress
from stocksync.services.snapshot_stock import run_stock
from stocksync.services.snapshot_track import affected_listings, bump

__all__ = [
    "FORMAT",
    "ImportReport",
    "SnapshotInvalid",
    "dump_snapshot",
    "export_snapshot",
    "import_snapshot",
    "write_snapshot",
]

#: SQLite page cache during an import, in KiB.
SQLITE_CACHE_KIB = 262_144
#: The sections each section references; listings come after everything they may depend on.
DEPENDS: dict[str, frozenset[str]] = {
    "warehouses": frozenset(),
    "brands": frozenset(),
    "classes": frozenset(),
    "shops": frozenset(),
    "specs": frozenset({"brands", "classes"}),
    "suites": frozenset({"specs", "brands", "classes"}),
    "stock": frozenset({"warehouses", "specs"}),
    "apps": frozenset({"shops"}),
    "rules": frozenset({"warehouses", "brands", "classes", "shops"}),
    "listings": frozenset(
        {"warehouses", "brands", "classes", "shops", "specs", "suites", "stock", "rules"}
    ),
}


@dataclass
class ImportReport:
    """What an import did, per section: created, updated and unchanged record counts."""

    sid: str
    tenant_id: int
    created: dict[str, int]
    updated: dict[str, int]
    unchanged: dict[str, int]
    warnings: list[str]
    changed_listings: int  # listings now pending because of this import (new ones included)


class SnapshotInvalid(Exception):
    """The document was refused and nothing was written; `errors` lists every problem by path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} problem(s): " + "; ".join(errors[:3]))
        self.errors = errors


def import_snapshot(
    engine: Engine,
    source: str | Path | bytes | Mapping[str, Any],
    *,
    now: float | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a snapshot document in one write transaction: all of it, or nothing.

    `source` is a file path (`Path`, or `str` not starting with `{`), JSON text (`str` or
    `bytes`) or a parsed mapping. `progress(section, done, total)` is called as records are
    read (`total` 0 while unknown). Raises `SnapshotInvalid` listing every problem.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived records, none cyclic: collection would only cost
    try:
        opener = open_document(source)
        with write_tx(engine) as conn, _big_cache(conn):
            report = _Importer(conn, opener, now, progress).run()
        _refresh_statistics(engine, report)
        return report
    except DocumentError as exc:
        raise SnapshotInvalid([str(exc)]) from None
    except (IntegrityError, DataError) as exc:  # a conflict the checks did not foresee
        raise SnapshotInvalid([f"database: {str(exc.orig).strip()}"]) from None
    finally:
        if gc_was_enabled:
            gc.enable()


#: From this many created listings on, PostgreSQL statistics are refreshed after the import.
ANALYZE_FROM = 10_000


def _refresh_statistics(engine: Engine, report: ImportReport) -> None:
    """After a bulk load on PostgreSQL, ANALYZE so the planner knows the new table sizes at once
    (until autovacuum runs it believes a million-listing table has a few hundred rows)."""
    if engine.dialect.name != "postgresql" or report.created.get("listings", 0) < ANALYZE_FROM:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("api_goods_spec", "stock_spec", "goods_spec", "goods_suite_detail"):
            conn.exec_driver_sql(f"ANALYZE {table}")


@contextmanager
def _big_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a larger page cache while importing (index inserts in random key order)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


class _Importer:
    """Walks the document in passes until every present section has been processed."""

    def __init__(
        self,
        conn: Connection,
        opener: Callable[[], Iterator[Member]],
        now: float | None,
        progress: Progress | None,
    ) -> None:
        self.conn = conn
        self.opener = opener
        self.now = clock.now() if now is None else now
        self.progress = progress
        self.problems = Problems()
        self.header: dict[str, Any] = {}
        self.present: list[str] = []
        self.done: set[str] = set()
        self.ctx: Context | None = None
        self.kinds = kinds()
        self.bumped: set[int] = set()

    def run(self) -> ImportReport:
        self._pass(first=True)
        ctx = self._context()
        while set(self.present) - self.done:
            self._pass(first=False)
        if "listings" not in self.done:
            self.bumped |= affected_listings(ctx)
        changed = bump(ctx, self.bumped) + ctx.created_listings
        if self.problems.error_count:
            raise SnapshotInvalid(self.problems.all_errors())
        return ImportReport(
            self.header["sid"], ctx.tid, ctx.created, ctx.updated, ctx.unchanged,
            self.problems.all_warnings(), changed,
        )  # fmt: skip

    def _pass(self, first: bool) -> None:
        for member in self.opener():
            if first and not self._first_sight(member):
                continue
            if member.name in self.done or member.name not in DEPENDS:
                continue
            if self.ctx is None or not self._ready(member.name, first):
                continue
            self._process(member)
            if not first and not set(self.present) - self.done:
                return

    def _first_sight(self, member: Member) -> bool:
        """Record the header and which sections exist; False for members that are not one."""
        name = member.name
        if name in ("format", "sid"):
            if name in self.header:
                self.problems.error(name, "given twice")
                return False
            self.header[name] = member.value
            if "format" in self.header and "sid" in self.header:
                self._start()
            return False
        if name not in DEPENDS:
            self.problems.error(name, "unknown section")
        elif name in self.present:
            self.problems.error(name, "section given twice")
            return False
        else:
            self.present.append(name)
        return True

    def _ready(self, name: str, first: bool) -> bool:
        waiting = DEPENDS[name] - self.done
        return not waiting if first else not waiting & set(self.present)

    def _start(self) -> None:
        """Check the header; open the tenant (a dry run on tenant -1 if the sid is bad)."""
        if self.header["format"] != FORMAT:
            got = self.header["format"]
            self.problems.error("format", f"expected {FORMAT!r}, got {got!r}")
            raise SnapshotInvalid(self.problems.all_errors())
        sid = self.header["sid"]
        tid = -1
        if not isinstance(sid, str) or not sid or len(sid) > 64:
            self.problems.error("sid", "expected a non-empty string of at most 64 characters")
        else:
            tid = ensure_tenant(self.conn, sid)
        self.ctx = Context(self.conn, tid, self.now, self.problems, self.progress)
        load_refs(self.ctx)

    def _context(self) -> Context:
        for name in ("format", "sid"):
            if name not in self.header:
                self.problems.error(name, "required")
        if self.ctx is None:
            raise SnapshotInvalid(self.problems.all_errors())
        return self.ctx

    def _process(self, member: Member) -> None:
        ctx = self.ctx
        assert ctx is not None
        name = member.name
        self.done.add(name)
        if not member.is_array:
            self.problems.error(name, "expected an array")
            return
        if name == "stock":
            run_stock(member.elements(), ctx)
        elif name == "listings":
            self.bumped |= affected_listings(ctx)
            self.bumped |= run_listings(member.elements(), ctx)
        else:
            run(self.kinds[name], member.elements(), ctx)
