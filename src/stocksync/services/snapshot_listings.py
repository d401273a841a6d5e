"""The `listings` section: platform SKUs, matched and rule-resolved before they are written.

A listing is identified by `rec_id` when given, else by shop + `goods_id` + `spec_id`. Its
`match_*` columns and `rule_id` are computed before insert with the domain's matching and the
change-tracking `RuleContext` (the same matching and resolution the live services use), so a
million listings need no second pass. New listings start pending with `stock_change_count` 1
and `last_syn_num` −1; new listings without `rec_id` get temporary negative ids, renumbered
max+1 in document order at the end of the section. A stored listing whose any field changes
is bumped once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stocksync.domain.matching import auto_match, match_code
from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE
from stocksync.services.snapshot_fields import (
    INT32_MAX,
    Field,
    Shape,
    anything,
    flag,
    ident,
    mask,
    nonnegative,
    one_of,
    quantity,
    text,
)
from stocksync.services.snapshot_sections import PERCENT_100, length, warn_warehouses
from stocksync.services.snapshot_state import Context
from stocksync.services.snapshot_stock import code_ref
from stocksync.services.tracking import RuleContext

LISTINGS = Shape(
    "listings",
    [
        Field("rec_id", ident, None),
        Field("shop_id", ident, None),
        Field("shop_no", text(length("shop", "shop_no")), None),
        Field("goods_id", text(40)),
        Field("spec_id", text(40), ""),
        Field("outer_id", text(40), ""),
        Field("spec_outer_id", text(40), ""),
        Field("goods_name", text(255), ""),
        Field("spec_name", text(255), ""),
        Field("status", one_of(0, 1, 2), 1),
        Field("stock_num", quantity, 0),
        Field("is_disable_syn", flag, False),
        Field("match", anything, None),
        Field("custom_rule", anything, None),
    ],
)
MATCH = Shape("match", [Field("type", one_of(MATCH_SPEC, MATCH_SUITE)), Field("code", text(64))])
PARAM_COLUMNS = (
    "warehouse_list", "stock_flag", "percent", "plus_value", "min_stock", "max_stock",
    "is_auto_listing", "is_auto_delisting",
)  # fmt: skip
CUSTOM = Shape(
    "custom_rule",
    [
        Field("warehouse_list", text(length("api_goods_spec_custom_rule", "warehouse_list")), ""),
        Field("stock_flag", mask, 0),
        Field("percent", nonnegative, PERCENT_100),
        Field("plus_value", quantity, 0),
        Field("min_stock", nonnegative, 0),
        Field("max_stock", nonnegative, 0),
        Field("is_auto_listing", flag, False),
        Field("is_auto_delisting", flag, False),
    ],
)
#: The listing columns an import writes, in the order of `Body`.
COLUMNS = (
    "shop_id", "goods_id", "spec_id", "outer_id", "spec_outer_id", "goods_name", "spec_name",
    "status", "stock_num", "is_disable_syn", "match_code", "match_target_type",
    "match_target_id", "is_manual_match", "rule_id",
)  # fmt: skip
_INSERT = ("tenant_id", "rec_id", *COLUMNS, "stock_change_count", "is_stock_changed",
           "created", "modified")  # fmt: skip
_CUSTOM_INSERT = ("tenant_id", "rec_id", *PARAM_COLUMNS)
_CHUNK = 5000
_AUTO = (0, 0)  # no manual match

Body = tuple[Any, ...]
Custom = tuple[Any, ...] | None


#: One checked listing: the stored or given rec_id (None = new without id), its columns, and
#: its custom rule's parameters (None = none).
_Item = tuple[int | None, Body, Custom]


class _ListingImport:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        sql = ctx.sql
        self.has_rows = sql.scalar("SELECT 1 FROM api_goods_spec WHERE tenant_id = ? LIMIT 1")
        self.by_key: dict[str, int] = {}
        if self.has_rows:
            columns = ("rec_id", "shop_id", "goods_id", "spec_id")
            for rec_id, shop_id, goods_id, spec_id in sql.rows("api_goods_spec", columns):
                self.by_key[f"{shop_id}\x1f{goods_id}\x1f{spec_id}"] = rec_id
        self.seen_keys: set[str] = set()
        self.seen_ids: set[int] = set()
        self.temp = 0
        self.spec_ids, self.suite_ids = ctx.refs.spec_by_no, ctx.refs.suite_by_no
        self.rules = RuleContext.load(ctx.conn, ctx.tid) if ctx.writable else None
        self.counts = [0, 0, 0]
        self.bumped: set[int] = set()

    def check(self, index: int, element: Any) -> _Item | None:
        ctx = self.ctx
        values, ok = LISTINGS.check(element, ctx.problems, "listings", index)
        shop, match, custom = values[1], values[12], values[13]
        manual: tuple[int, int] | None = _AUTO
        custom_ok = True
        unusual = match is not None or custom is not None or values[2] is not None
        if unusual or shop not in ctx.refs.shops:
            path = f"listings[{index}]"
            refs = ctx.refs
            shop = code_ref(ctx, shop, values[2], (refs.shops, refs.shop_by_no), path, "shop")
            manual = self._manual(match, f"{path}.match")
            custom, custom_ok = self._custom(custom, f"{path}.custom_rule")
        if not ok or shop is None or manual is None or not custom_ok:
            return None
        target = self._identify(values[0], shop, values[3], values[4], index)
        if target is False:
            return None
        return target, self._body(shop, values, manual, custom is not None), custom

    def _manual(self, match: Any, path: str) -> tuple[int, int] | None:
        """(type, target id) of a manual match; (0, 0) for auto; None when invalid."""
        if match is None:
            return 0, 0
        (kind, code), ok = MATCH.check(match, self.ctx.problems, path)
        if not ok:
            return None
        refs = self.ctx.refs
        found = (refs.spec_by_no if kind == MATCH_SPEC else refs.suite_by_no).get(code)
        if found is None:
            noun = "spec" if kind == MATCH_SPEC else "suite"
            self.ctx.problems.error(f"{path}.code", f"unknown {noun} {code!r}")
            return None
        return kind, found

    def _custom(self, custom: Any, path: str) -> tuple[Custom, bool]:
        """The custom rule's parameter values (None when absent), and whether they are valid."""
        if custom is None:
            return None, True
        values, ok = CUSTOM.check(custom, self.ctx.problems, path)
        if ok:
            warn_warehouses(self.ctx, values[0], f"{path}.warehouse_list")
        return tuple(values), ok

    def _identify(
        self, given: int | None, shop: int, goods_id: str, spec_id: str, index: int
    ) -> int | None | bool:
        """The rec_id this record writes (None = new without id), or False on a conflict."""
        key = f"{shop}\x1f{goods_id}\x1f{spec_id}"
        problems = self.ctx.problems
        listing = f"shop {shop} goods_id {goods_id!r} spec_id {spec_id!r}"
        if key in self.seen_keys:
            problems.error(f"listings[{index}]", f"duplicate listing: {listing} appears twice")
            return False
        self.seen_keys.add(key)
        owner = self.by_key.get(key) if self.by_key else None
        if given is not None and owner is not None and owner != given:
            problems.error(f"listings[{index}].rec_id", f"{listing} is already listing {owner}")
            return False
        target = given if given is not None else owner
        if target is not None:
            if target in self.seen_ids:
                problems.error(f"listings[{index}].rec_id", f"duplicate rec_id {target}")
                return False
            self.seen_ids.add(target)
        return target

    def _body(self, shop: int, values: list[Any], manual: tuple[int, int], custom: bool) -> Body:
        code = match_code(values[5], values[6])
        kind, target = manual if manual[0] else auto_match(code, self.spec_ids, self.suite_ids)
        rule_id = self.rules.rule_id(shop, kind, target, custom) if self.rules else 0
        return (shop, *values[3:12], code, kind, target, bool(manual[0]), rule_id)

    def flush(self, batch: list[_Item]) -> None:
        ctx = self.ctx
        if not batch or not ctx.writable:
            return
        known = [target for target, _, _ in batch if target is not None]
        stored = self._stored(known) if self.has_rows and known else {}
        customs = self._customs(known) if self.has_rows and known else {}
        inserts, updates, new_customs, replaced = [], [], [], []
        tid, now = ctx.tid, int(ctx.now)
        for target, body, custom in batch:
            rec_id = target if target is not None else self._temp()
            old = stored.get(rec_id) if stored else None
            if old is None:
                inserts.append((tid, rec_id, *body, 1, True, now, now))
            elif old == body and customs.get(rec_id) == custom:
                self.counts[2] += 1
                continue
            else:
                updates.append((*body, now, tid, rec_id))
                replaced.append(rec_id)
            if custom is not None:
                new_customs.append((tid, rec_id, *custom))
        self.counts[0] += len(inserts)
        self.counts[1] += len(updates)
        self.bumped.update(replaced)
        self._write(inserts, updates, replaced, new_customs)

    def _temp(self) -> int:
        self.temp -= 1
        return self.temp

    def _stored(self, rec_ids: list[int]) -> dict[int, Body]:
        rows = self.ctx.sql.rows_in("api_goods_spec", ("rec_id", *COLUMNS), "rec_id", rec_ids)
        return {row[0]: _normal(row[1:]) for row in rows}

    def _customs(self, rec_ids: list[int]) -> dict[int, Custom]:
        rows = self.ctx.sql.rows_in(
            "api_goods_spec_custom_rule", ("rec_id", *PARAM_COLUMNS), "rec_id", rec_ids
        )
        return {row[0]: (*row[1:7], bool(row[7]), bool(row[8])) for row in rows}

    def _write(self, inserts: list[Any], updates: list[Any], replaced: list[int],
               customs: list[Any]) -> None:  # fmt: skip
        sql = self.ctx.sql
        sql.insert("api_goods_spec", _INSERT, inserts)
        sql.update("api_goods_spec", (*COLUMNS, "modified"), ("tenant_id", "rec_id"), updates)
        sql.delete("api_goods_spec_custom_rule", "rec_id", replaced)
        sql.insert("api_goods_spec_custom_rule", _CUSTOM_INSERT, customs)

    def renumber(self) -> None:
        """Give the new listings that came without rec_id their final ids: max + 1, in order."""
        ctx = self.ctx
        if not self.temp or not ctx.writable:
            return
        top = (
            ctx.sql.scalar(
                "SELECT MAX(rec_id) FROM api_goods_spec WHERE tenant_id = ? AND rec_id > 0"
            )
            or 0
        )
        if top - self.temp > INT32_MAX:
            ctx.problems.error("listings", "no free rec_id left for the new listings")
            return
        mark = ctx.sql.mark
        for name in ("api_goods_spec", "api_goods_spec_custom_rule"):
            ctx.conn.exec_driver_sql(
                f"UPDATE {name} SET rec_id = {mark} - rec_id "
                f"WHERE tenant_id = {mark} AND rec_id < 0",
                (top, ctx.tid),
            )


def _normal(row: Any) -> Body:
    """A stored listing row in the types the document's values take (booleans as bool)."""
    values = list(row)
    values[9] = bool(values[9])
    values[13] = bool(values[13])
    return tuple(values)


def run_listings(elements: Iterable[Any], ctx: Context) -> set[int]:
    """Check and upsert every listing a chunk at a time; returns the stored ones that changed."""
    job = _ListingImport(ctx)
    batch: list[_Item] = []
    done = 0
    for done, element in enumerate(elements, 1):
        item = job.check(done - 1, element)
        if item is not None:
            batch.append(item)
            if len(batch) == _CHUNK:
                job.flush(batch)
                batch = []
                ctx.report("listings", done, 0)
    job.flush(batch)
    job.renumber()
    ctx.report("listings", done, done)
    ctx.count("listings", *job.counts)
    ctx.created_listings = job.counts[0]
    return job.bumped
