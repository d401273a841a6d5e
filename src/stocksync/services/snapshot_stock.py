"""The `stock` section: one row per spec × warehouse, checked and upserted in chunks.

A stock row names its spec by `spec_no` and its warehouse by `warehouse_id` or `warehouse_no`.
Absent quantities are 0 (the document's row replaces the stored one). A created row, or a row
whose any quantity differs, marks its spec changed for the bump at the end of the import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stocksync.domain.model import QUANTITY_FIELDS
from stocksync.services.snapshot_fields import Field, Shape, ident, quantity, text
from stocksync.services.snapshot_state import Context

QTY_COLUMNS = ("stock_num", *QUANTITY_FIELDS, "wms_stock_diff")
STOCK = Shape(
    "stock",
    [
        Field("warehouse_id", ident, None),
        Field("warehouse_no", text(64), None),
        Field("spec_no", text(64)),
        *[Field(name, quantity, 0) for name in QTY_COLUMNS],
    ],
)
_INSERT = ("tenant_id", "spec_id", "warehouse_id", "rec_id", *QTY_COLUMNS, "created", "modified")
_CHUNK = 5000

Row = tuple[int, int, tuple[int, ...]]  # spec_id, warehouse_id, scaled quantities


def code_ref(
    ctx: Context, given: int | None, code: str | None, known: tuple[set[int], dict[str, int]],
    path: str, noun: str,
) -> int | None:  # fmt: skip
    """Resolve a reference given as `<noun>_id` and/or `<noun>_no` (they must agree)."""
    ids, by_code = known
    if code is not None:
        found = by_code.get(code)
        if found is None:
            ctx.problems.error(f"{path}.{noun}_no", f"unknown {noun} {code!r}")
        elif given is not None and given != found:
            ctx.problems.error(f"{path}.{noun}_id", f"{noun}_no {code!r} is {noun} {found}")
            return None
        return found
    if given is None:
        ctx.problems.error(f"{path}.{noun}_id", f"required (or {noun}_no)")
    elif given not in ids:
        ctx.problems.error(f"{path}.{noun}_id", f"unknown {noun} {given}")
    else:
        return given
    return None


class _StockImport:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        sql = ctx.sql
        self.has_rows = sql.scalar("SELECT 1 FROM stock_spec WHERE tenant_id = ? LIMIT 1")
        self.next_rec = sql.scalar("SELECT MAX(rec_id) FROM stock_spec WHERE tenant_id = ?") or 0
        self.seen: set[int] = set()
        self.counts = [0, 0, 0]

    def check(self, index: int, element: Any) -> Row | None:
        ctx = self.ctx
        values, ok = STOCK.check(element, ctx.problems, "stock", index)
        refs = ctx.refs
        wid, spec_id = values[0], refs.spec_by_no.get(values[2])
        if values[1] is not None or wid not in refs.warehouses or spec_id is None:
            path = f"stock[{index}]"
            known = (refs.warehouses, refs.warehouse_by_no)
            wid = code_ref(ctx, wid, values[1], known, path, "warehouse")
            if values[2] is not None and spec_id is None:
                ctx.problems.error(f"{path}.spec_no", f"unknown spec {values[2]!r}")
        if wid is None or spec_id is None or not ok:
            return None
        key = spec_id << 32 | wid
        if key in self.seen:
            ctx.problems.error(
                path, f"duplicate stock row for spec {values[2]!r} in warehouse {wid}"
            )
            return None
        self.seen.add(key)
        return spec_id, wid, tuple(values[3:])

    def flush(self, batch: list[Row]) -> None:
        ctx = self.ctx
        if not batch or not ctx.writable:
            return
        stored = self._stored(batch) if self.has_rows else {}
        inserts, updates = [], []
        stamp = int(ctx.now)
        for spec_id, wid, quantities in batch:
            old = stored.get((spec_id, wid))
            if old == quantities:
                self.counts[2] += 1
                continue
            ctx.changes.stock_specs.add(spec_id)
            if old is None:
                self.next_rec += 1
                inserts.append((ctx.tid, spec_id, wid, self.next_rec, *quantities, stamp, stamp))
                self.counts[0] += 1
            else:
                updates.append((*quantities, stamp, ctx.tid, spec_id, wid))
                self.counts[1] += 1
        ctx.sql.insert("stock_spec", _INSERT, inserts)
        keys = ("tenant_id", "spec_id", "warehouse_id")
        ctx.sql.update("stock_spec", (*QTY_COLUMNS, "modified"), keys, updates)

    def _stored(self, batch: list[Row]) -> dict[tuple[int, int], tuple[int, ...]]:
        columns = ("spec_id", "warehouse_id", *QTY_COLUMNS)
        rows = self.ctx.sql.rows_in("stock_spec", columns, "spec_id", {row[0] for row in batch})
        return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def run_stock(elements: Iterable[Any], ctx: Context) -> None:
    """Check and upsert every stock row, a chunk at a time."""
    job = _StockImport(ctx)
    batch: list[Row] = []
    done = 0
    for done, element in enumerate(elements, 1):
        row = job.check(done - 1, element)
        if row is not None:
            batch.append(row)
            if len(batch) == _CHUNK:
                job.flush(batch)
                batch = []
                ctx.report("stock", done, 0)
    job.flush(batch)
    ctx.report("stock", done, done)
    ctx.count("stock", *job.counts)
