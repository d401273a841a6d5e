"""A suite's details (`goods_suite_detail`): checked, compared and written with the suite."""

from __future__ import annotations

from typing import Any

from stocksync.services.snapshot_fields import Field, Shape, quantity, text
from stocksync.services.snapshot_master import Extra, Record, Values
from stocksync.services.snapshot_state import Context

#: A suite's composition: (spec_id, num scaled by 10⁴), sorted by spec id.
Details = tuple[tuple[int, int], ...]

DETAIL = Shape("details", [Field("spec_no", text(64)), Field("num", quantity)])


def check_details(ctx: Context, details: Any, path: str) -> Details | None:
    """The details as (spec_id, num) pairs; every spec must be known, num > 0, no repeats."""
    if details == ():
        return ()
    if not isinstance(details, list):
        ctx.problems.error(path, "expected an array")
        return None
    found: dict[int, int] = {}
    ok = True
    for position, item in enumerate(details):
        where = f"{path}[{position}]"
        (spec_no, num), fits = DETAIL.check(item, ctx.problems, where)
        spec_id = ctx.refs.spec_by_no.get(spec_no) if spec_no is not None else None
        if spec_no is not None and spec_id is None:
            ctx.problems.error(f"{where}.spec_no", f"unknown spec {spec_no!r}")
        if num is not None and num <= 0:
            ctx.problems.error(f"{where}.num", "must be greater than 0")
        if spec_id in found:
            ctx.problems.error(f"{where}.spec_no", f"{spec_no!r} appears twice in this suite")
        if not fits or spec_id is None or num is None or num <= 0 or spec_id in found:
            ok = False
            continue
        found[spec_id] = num
    return tuple(sorted(found.items())) if ok else None


class SuiteDetails(Extra):
    """Compares and writes the details of the suites in one import."""

    def __init__(self) -> None:
        self.stored: dict[int, Details] = {}
        self.changed: set[int] = set()

    def load(self, ctx: Context) -> None:
        found: dict[int, list[tuple[int, int]]] = {}
        columns = ("suite_id", "spec_id", "num")
        for suite_id, spec_id, num in ctx.sql.rows("goods_suite_detail", columns):
            found.setdefault(suite_id, []).append((spec_id, num))
        self.stored = {suite_id: tuple(sorted(pairs)) for suite_id, pairs in found.items()}

    def same(self, record_id: Any, values: Values) -> bool:
        if self.stored.get(record_id, ()) == values[5]:
            return True
        self.changed.add(record_id)
        return False

    def write(self, ctx: Context, created: list[Record], updated: list[Record]) -> None:
        replaced = [rec.record_id for rec in updated if rec.record_id in self.changed]
        ctx.sql.delete("goods_suite_detail", "suite_id", replaced)
        rows = [
            (ctx.tid, rec.record_id, spec_id, num)
            for rec in created + [rec for rec in updated if rec.record_id in self.changed]
            for spec_id, num in rec.values[5]
        ]
        ctx.sql.insert("goods_suite_detail", ("tenant_id", "suite_id", "spec_id", "num"), rows)
