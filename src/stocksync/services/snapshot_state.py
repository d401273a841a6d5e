"""The state one snapshot import carries from section to section.

`Refs` knows every id and merchant code a later section may reference (what the database
held plus what the document has added so far); `Changes` records what changed in a way that can
move existing listings' `syn_stock` (semantics §6), for the bump at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from stocksync.services.snapshot_db import Sql
from stocksync.services.snapshot_fields import Problems

Progress = Callable[[str, int, int], None]
#: Records read between two progress reports.
PROGRESS_EVERY = 5000


@dataclass
class Refs:
    """Ids and codes known so far, to check references and resolve codes to ids."""

    warehouses: set[int] = field(default_factory=set)
    warehouse_by_no: dict[str, int] = field(default_factory=dict)
    brands: set[int] = field(default_factory=set)
    classes: dict[int, int] = field(default_factory=dict)  # class_id -> parent_id
    spec_by_no: dict[str, int] = field(default_factory=dict)
    suite_by_no: dict[str, int] = field(default_factory=dict)
    shops: set[int] = field(default_factory=set)
    shop_by_no: dict[str, int] = field(default_factory=dict)


@dataclass
class Changes:
    """What the import changed that can move the `syn_stock` of listings already stored."""

    warehouse_ids: set[int] = field(default_factory=set)  # new, or defect/outer flag changed
    codes: set[str] = field(default_factory=set)  # spec/suite codes that appeared or moved
    renamed_specs: set[int] = field(default_factory=set)
    renamed_suites: set[int] = field(default_factory=set)
    scoped_specs: set[int] = field(default_factory=set)  # brand or class changed
    scoped_suites: set[int] = field(default_factory=set)
    stock_specs: set[int] = field(default_factory=set)  # a stock row created or changed
    suites: set[int] = field(default_factory=set)  # composition changed
    rule_ids: set[int] = field(default_factory=set)  # created or changed
    classes_moved: bool = False  # a class got another parent


class Context:
    """One import: connection, tenant, clock, problems, references, changes and counts."""

    def __init__(
        self,
        conn: Connection,
        tid: int,
        now: float,
        problems: Problems,
        progress: Progress | None,
    ) -> None:
        self.conn = conn
        self.tid = tid
        self.sql = Sql(conn, tid)
        self.now = now
        self.problems = problems
        self.progress = progress
        self.refs = Refs()
        self.changes = Changes()
        self.created: dict[str, int] = {}
        self.updated: dict[str, int] = {}
        self.unchanged: dict[str, int] = {}
        self.created_listings = 0

    @property
    def writable(self) -> bool:
        """Writes stop at the first problem (the transaction is rolled back at the end)."""
        return self.problems.error_count == 0

    def count(self, section: str, created: int, updated: int, unchanged: int) -> None:
        self.created[section] = self.created.get(section, 0) + created
        self.updated[section] = self.updated.get(section, 0) + updated
        self.unchanged[section] = self.unchanged.get(section, 0) + unchanged

    def report(self, section: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(section, done, total)
