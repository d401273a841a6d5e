"""Upserting the small sections (warehouses, brands, classes, specs, suites, shops, apps, rules).

One generic pass per section: check every record, find the stored record it is (by id, else by
merchant code / natural key), give new records without an id the next free id, count what was
created, updated or left unchanged, write, and remember ids and codes for later sections. What
differs between sections (reference checks, change tracking, suite details) plugs in as hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from stocksync.services.snapshot_fields import INT32_MAX, Shape
from stocksync.services.snapshot_state import PROGRESS_EVERY, Context

Values = list[Any]
Old = tuple[Any, ...] | None  # a stored record's values (id excluded), None when created
New = tuple[Any, ...]  # the document's values for the same columns
#: check(ctx, values, path): reference checks; may rewrite values in place; reports problems.
Check = Callable[[Context, Values, str], None]
#: track(ctx, record_id, stored values or None when created, new values).
Track = Callable[[Context, Any, Old, New], None]
#: register(ctx, record_id, values): make the record known to later sections.
Register = Callable[[Context, Any, Values], None]


class Extra:
    """Hooks for data stored outside the section's table (a suite's details)."""

    def load(self, ctx: Context) -> None:
        """Read what is stored (called before the records are compared)."""

    def same(self, record_id: Any, values: Values) -> bool:
        return True

    def write(self, ctx: Context, created: list[Record], updated: list[Record]) -> None:
        """Write created and updated records' extra data."""


@dataclass(frozen=True)
class Kind:
    """One section stored in one table: field 0 is the id, fields map to `columns` in order."""

    section: str
    table: str
    shape: Shape
    columns: tuple[str, ...]
    code: str | None  # the field that identifies a record given without id
    unique_code: bool
    stamp: bool  # the table has a `modified` column
    assign_ids: bool = True  # False: the id is a required key (apps)
    check: Check | None = None
    track: Track | None = None
    register: Register | None = None
    finish: Callable[[Context, list[Record]], None] | None = None
    extra: Extra | None = None


@dataclass
class Record:
    index: int
    values: Values
    ok: bool
    record_id: Any = None


@dataclass
class _Stored:
    rows: dict[Any, tuple[Any, ...]]  # id -> values of the other columns
    by_code: dict[Any, Any]  # code -> id, or None when several stored records share it


def run(kind: Kind, elements: Iterable[Any], ctx: Context) -> None:
    """Check, identify, count, write and register every record of one section."""
    stored = _load(kind, ctx)
    if kind.extra is not None:
        kind.extra.load(ctx)
    records = list(_checked(kind, elements, ctx))
    _identify(kind, records, stored, ctx)
    if kind.finish is not None:
        kind.finish(ctx, records)
    created, updated = _classify(kind, records, stored, ctx)
    if ctx.writable:
        _write(kind, created, updated, ctx)
    if kind.register is not None:
        for rec in records:
            if rec.record_id is not None:
                kind.register(ctx, rec.record_id, rec.values)


def _load(kind: Kind, ctx: Context) -> _Stored:
    rows: dict[Any, tuple[Any, ...]] = {}
    by_code: dict[Any, Any] = {}
    code_at = kind.shape.index_of(kind.code) if kind.code else -1
    for row in ctx.sql.rows(kind.table, kind.columns):
        rows[row[0]] = tuple(row[1:])
        if code_at > 0:
            code = row[code_at]
            by_code[code] = None if code in by_code else row[0]
    return _Stored(rows, by_code)


def _checked(kind: Kind, elements: Iterable[Any], ctx: Context) -> Iterator[Record]:
    section = kind.section
    for index, element in enumerate(elements):
        before = ctx.problems.error_count
        values, _ = kind.shape.check(element, ctx.problems, section, index)
        if kind.check is not None:
            kind.check(ctx, values, f"{section}[{index}]")
        yield Record(index, values, ctx.problems.error_count == before)
        if index % PROGRESS_EVERY == PROGRESS_EVERY - 1:
            ctx.report(section, index + 1, 0)


def _identify(kind: Kind, records: list[Record], stored: _Stored, ctx: Context) -> None:
    """Set each record's id: as given, else the stored record with its code, else a new id."""
    code_at = kind.shape.index_of(kind.code) if kind.code else -1
    id_name = kind.shape.names[0]
    seen_ids: dict[Any, int] = {}
    seen_codes: dict[Any, int] = {}
    for rec in records:
        given, code = rec.values[0], rec.values[code_at] if code_at > 0 else None
        path = f"{kind.section}[{rec.index}]"
        if code is not None and (kind.unique_code or given is None):
            _once(ctx, seen_codes, code, rec, f"{path}.{kind.code}", "")
        if given is None and code_at > 0 and code is not None:
            rec.record_id = _by_code(kind, stored, code, rec, path, ctx)
        elif given is not None:
            rec.record_id = given
            _check_owner(kind, stored, code, given, f"{path}.{kind.code}", ctx)
        if rec.record_id is not None:
            _once(ctx, seen_ids, rec.record_id, rec, f"{path}.{id_name}", f"{id_name} ")
    _assign(kind, records, stored, seen_ids, ctx)


def _once(ctx: Context, seen: dict[Any, int], key: Any, rec: Record, path: str, what: str) -> None:
    first = seen.setdefault(key, rec.index)
    if first != rec.index:
        section = path.split("[", 1)[0]
        ctx.problems.error(path, f"duplicate {what}{key!r} (also {section}[{first}])")
        rec.ok = False


def _by_code(kind: Kind, stored: _Stored, code: Any, rec: Record, path: str, ctx: Context) -> Any:
    if not code:
        ctx.problems.error(path, f"give {kind.shape.names[0]} or a non-empty {kind.code}")
        rec.ok = False
        return None
    if code in stored.by_code and stored.by_code[code] is None:
        message = f"several stored records have {kind.code} {code!r}; give {kind.shape.names[0]}"
        ctx.problems.error(f"{path}.{kind.code}", message)
        rec.ok = False
    return stored.by_code.get(code)


def _check_owner(
    kind: Kind, stored: _Stored, code: Any, given: Any, path: str, ctx: Context
) -> None:
    """A unique code must not belong to another stored record."""
    if not kind.unique_code or code is None:
        return
    owner = stored.by_code.get(code)
    if owner is not None and owner != given:
        noun = kind.shape.names[0].removesuffix("_id")
        ctx.problems.error(path, f"{code!r} already belongs to {noun} {owner}")


def _assign(
    kind: Kind, records: list[Record], stored: _Stored, seen_ids: dict[Any, int], ctx: Context
) -> None:
    """New records given without id get the next free ids, in document order."""
    fresh = [rec for rec in records if rec.record_id is None and rec.values[0] is None]
    if not fresh or not kind.assign_ids:
        return
    top = max([*stored.rows, *seen_ids, 0])
    for rec in fresh:
        if not rec.ok and (kind.code is None or not rec.values[kind.shape.index_of(kind.code)]):
            continue
        top += 1
        if top > INT32_MAX:
            ctx.problems.error(f"{kind.section}[{rec.index}]", "no free id left")
            return
        rec.record_id = rec.values[0] = top


def _classify(
    kind: Kind, records: list[Record], stored: _Stored, ctx: Context
) -> tuple[list[Record], list[Record]]:
    created: list[Record] = []
    updated: list[Record] = []
    unchanged = 0
    for rec in records:
        if not rec.ok or rec.record_id is None:
            continue
        rec.values[0] = rec.record_id
        new = tuple(rec.values[1 : len(kind.columns)])
        old = stored.rows.get(rec.record_id)
        extra_same = kind.extra is None or old is None or kind.extra.same(rec.record_id, rec.values)
        if old is None:
            created.append(rec)
        elif old != new or not extra_same:
            updated.append(rec)
        else:
            unchanged += 1
            continue
        if kind.track is not None:
            kind.track(ctx, rec.record_id, old, new)
    ctx.count(kind.section, len(created), len(updated), unchanged)
    ctx.report(kind.section, len(records), len(records))
    return created, updated


def _write(kind: Kind, created: list[Record], updated: list[Record], ctx: Context) -> None:
    width = len(kind.columns)
    stamp = (int(ctx.now),) if kind.stamp else ()
    stamp_col = ("modified",) if kind.stamp else ()
    inserts = [(ctx.tid, *rec.values[:width], *stamp) for rec in created]
    ctx.sql.insert(kind.table, ("tenant_id", *kind.columns, *stamp_col), inserts)
    updates = [(*rec.values[1:width], *stamp, ctx.tid, rec.values[0]) for rec in updated]
    ctx.sql.update(kind.table, (*kind.columns[1:], *stamp_col), ("tenant_id", kind.columns[0]),
                   updates)  # fmt: skip
    if kind.extra is not None:
        kind.extra.write(ctx, created, updated)
