"""The small sections of a snapshot: their fields, reference checks and change tracking.

Field names are the vendor's (snapshot-format spec); string lengths are the columns' in
`db/schema.py`. Quantities are held as integers scaled by 10⁴ while importing.
"""

from __future__ import annotations

from typing import Any

from stocksync.db.schema import metadata
from stocksync.services.snapshot_fields import (
    Field,
    Shape,
    anything,
    flag,
    id_list,
    id_tokens,
    ident,
    int32,
    mask,
    nonnegative,
    quantity,
    ref_id,
    text,
)
from stocksync.services.snapshot_master import Kind, New, Old, Values
from stocksync.services.snapshot_state import Context
from stocksync.services.snapshot_suites import SuiteDetails, check_details

PERCENT_100 = 1_000_000  # 100.0000 scaled


def length(table: str, name: str) -> int:
    """The declared length of a string column."""
    return int(metadata.tables[table].c[name].type.length)  # type: ignore[attr-defined]


def _text(table: str, name: str, *, nonempty: bool = False) -> Any:
    return text(length(table, name), nonempty=nonempty)


def _names(shape: Shape) -> tuple[str, ...]:
    return shape.names


# -- warehouses, brands, classes, shops -------------------------------------------------------

WAREHOUSES = Shape(
    "warehouses",
    [
        Field("warehouse_id", ident, None),
        Field("warehouse_no", _text("warehouse", "warehouse_no")),
        Field("name", _text("warehouse", "name"), ""),
        Field("is_defect", flag, False),
        Field("is_outer_stock", flag, False),
        Field("is_disabled", flag, False),
    ],
)


def _track_warehouse(ctx: Context, wid: Any, old: Old, new: New) -> None:
    # old/new: (warehouse_no, name, is_defect, is_outer_stock, is_disabled)
    if old is None or bool(old[2]) != new[2] or bool(old[3]) != new[3]:
        ctx.changes.warehouse_ids.add(wid)
    if old is not None and old[0] != new[0] and ctx.refs.warehouse_by_no.get(old[0]) == wid:
        del ctx.refs.warehouse_by_no[old[0]]


def _register_warehouse(ctx: Context, wid: Any, values: Values) -> None:
    ctx.refs.warehouses.add(wid)
    if values[1] is not None:
        ctx.refs.warehouse_by_no[values[1]] = wid


BRANDS = Shape(
    "brands",
    [Field("brand_id", ident, None), Field("brand_name", _text("goods_brand", "brand_name"), "")],
)


def _register_brand(ctx: Context, brand_id: Any, values: Values) -> None:
    ctx.refs.brands.add(brand_id)


CLASSES = Shape(
    "classes",
    [
        Field("class_id", ident, None),
        Field("class_name", _text("goods_class", "class_name"), ""),
        Field("parent_id", ref_id, -1),
    ],
)


def _check_class_tree(ctx: Context, records: list[Any]) -> None:
    """Every parent must exist (stored or in the document) and no class may be its ancestor."""
    parents = dict(ctx.refs.classes)
    for rec in records:
        if rec.record_id is not None and rec.values[2] is not None:
            parents[rec.record_id] = rec.values[2]
    for rec in records:
        parent = rec.values[2]
        path = f"classes[{rec.index}].parent_id"
        if rec.record_id is None or parent is None or parent <= 0:
            continue
        if parent not in parents:
            ctx.problems.error(path, f"unknown class {parent}")
            rec.ok = False
            continue
        chain = [rec.record_id]
        while parent > 0 and parent in parents and parent not in chain:
            chain.append(parent)
            parent = parents[parent]
        if parent == rec.record_id:
            ctx.problems.error(path, "class cycle " + " → ".join(map(str, [*chain, parent])))
            rec.ok = False


def _track_class(ctx: Context, class_id: Any, old: Old, new: New) -> None:
    if old is not None and old[1] != new[1]:
        ctx.changes.classes_moved = True


def _register_class(ctx: Context, class_id: Any, values: Values) -> None:
    ctx.refs.classes[class_id] = values[2] if values[2] is not None else -1


SHOPS = Shape(
    "shops",
    [
        Field("shop_id", ident, None),
        Field("shop_no", _text("shop", "shop_no")),
        Field("shop_name", _text("shop", "shop_name"), ""),
        Field("platform_id", int32, 127),
        Field("sub_platform_id", int32, 0),
        Field("is_disabled", flag, False),
    ],
)


def _track_shop(ctx: Context, shop_id: Any, old: Old, new: New) -> None:
    if old is not None and old[0] != new[0] and ctx.refs.shop_by_no.get(old[0]) == shop_id:
        del ctx.refs.shop_by_no[old[0]]


def _register_shop(ctx: Context, shop_id: Any, values: Values) -> None:
    ctx.refs.shops.add(shop_id)
    if values[1] is not None:
        ctx.refs.shop_by_no[values[1]] = shop_id


# -- specs and suites -------------------------------------------------------------------------

SPECS = Shape(
    "specs",
    [
        Field("spec_id", ident, None),
        Field("spec_no", _text("goods_spec", "spec_no")),
        Field("goods_no", _text("goods_spec", "goods_no"), ""),
        Field("goods_name", _text("goods_spec", "goods_name"), ""),
        Field("spec_name", _text("goods_spec", "spec_name"), ""),
        Field("barcode", _text("goods_spec", "barcode"), ""),
        Field("brand_id", ref_id, 0),
        Field("class_id", ref_id, 0),
    ],
)


def check_scope(ctx: Context, brand_id: Any, class_id: Any, path: str) -> None:
    """A brand or class reference must be -1/0 (none) or a known id."""
    if brand_id is not None and brand_id > 0 and brand_id not in ctx.refs.brands:
        ctx.problems.error(f"{path}.brand_id", f"unknown brand {brand_id}")
    if class_id is not None and class_id > 0 and class_id not in ctx.refs.classes:
        ctx.problems.error(f"{path}.class_id", f"unknown class {class_id}")


def _check_spec(ctx: Context, values: Values, path: str) -> None:
    check_scope(ctx, values[6], values[7], path)


def _track_spec(ctx: Context, spec_id: Any, old: Old, new: New) -> None:
    # old/new: (spec_no, goods_no, goods_name, spec_name, barcode, brand_id, class_id)
    changes = ctx.changes
    if old is None:
        changes.codes.add(new[0])
        return
    if old[0] != new[0]:
        changes.codes.update((old[0], new[0]))
        changes.renamed_specs.add(spec_id)
        if ctx.refs.spec_by_no.get(old[0]) == spec_id:
            del ctx.refs.spec_by_no[old[0]]
    if old[5:7] != new[5:7]:
        changes.scoped_specs.add(spec_id)


def _register_spec(ctx: Context, spec_id: Any, values: Values) -> None:
    if values[1] is not None:
        ctx.refs.spec_by_no[values[1]] = spec_id


SUITES = Shape(
    "suites",
    [
        Field("suite_id", ident, None),
        Field("suite_no", _text("goods_suite", "suite_no")),
        Field("suite_name", _text("goods_suite", "suite_name"), ""),
        Field("brand_id", ref_id, 0),
        Field("class_id", ref_id, 0),
        Field("details", anything, ()),
    ],
)


def _check_suite(ctx: Context, values: Values, path: str) -> None:
    check_scope(ctx, values[3], values[4], path)
    values[5] = check_details(ctx, values[5], f"{path}.details")


def _register_suite(ctx: Context, suite_id: Any, values: Values) -> None:
    if values[1] is not None:
        ctx.refs.suite_by_no[values[1]] = suite_id


def suite_kind() -> Kind:
    """The suites section (a new instance per import: it holds the stored details)."""
    details = SuiteDetails()

    def track(ctx: Context, suite_id: Any, old: Old, new: New) -> None:
        changes = ctx.changes
        if old is None:
            changes.codes.add(new[0])
            return
        if old[0] != new[0]:
            changes.codes.update((old[0], new[0]))
            changes.renamed_suites.add(suite_id)
            if ctx.refs.suite_by_no.get(old[0]) == suite_id:
                del ctx.refs.suite_by_no[old[0]]
        if old[2:4] != new[2:4]:
            changes.scoped_suites.add(suite_id)
        if suite_id in details.changed:
            changes.suites.add(suite_id)

    return Kind(
        "suites", "goods_suite", SUITES, SUITES.names[:5], "suite_no", True, True,
        check=_check_suite, track=track, register=_register_suite, extra=details,
    )  # fmt: skip


# -- apps and rules ---------------------------------------------------------------------------

APPS = Shape(
    "apps",
    [
        Field("key", _text("app", "app_key", nonempty=True)),
        Field("secret", _text("app", "secret", nonempty=True)),
        Field("salt", _text("app", "salt"), ""),
        Field("shop_ids", id_list, ()),
    ],
)


def _check_app(ctx: Context, values: Values, path: str) -> None:
    if values[1] is not None and ":" in values[1]:
        ctx.problems.error(f"{path}.secret", "must not contain ':' (appsecret is secret:salt)")
    shop_ids = values[3]
    if shop_ids is None:
        return
    for position, shop_id in enumerate(shop_ids):
        if shop_id not in ctx.refs.shops:
            ctx.problems.error(f"{path}.shop_ids[{position}]", f"unknown shop {shop_id}")
    joined = ",".join(map(str, shop_ids))
    if len(joined) > length("app", "shop_ids"):
        ctx.problems.error(f"{path}.shop_ids", "too many shops for one app")
    values[3] = joined


RULES = Shape(
    "rules",
    [
        Field("rec_id", ident, None),
        Field("rule_no", _text("cfg_stock_sync_rule", "rule_no"), ""),
        Field("rule_name", _text("cfg_stock_sync_rule", "rule_name"), ""),
        Field("priority", int32, 0),
        Field("shop_list", _text("cfg_stock_sync_rule", "shop_list"), ""),
        Field("class_id", ref_id, -1),
        Field("brand_id", ref_id, -1),
        Field("warehouse_list", _text("cfg_stock_sync_rule", "warehouse_list"), ""),
        Field("stock_flag", mask, 0),
        Field("percent", nonnegative, PERCENT_100),
        Field("plus_value", quantity, 0),
        Field("min_stock", nonnegative, 0),
        Field("max_stock", nonnegative, 0),
        Field("is_auto_listing", flag, False),
        Field("is_auto_delisting", flag, False),
        Field("is_disable_syn", flag, False),
        Field("is_disabled", flag, False),
    ],
)


def warn_warehouses(ctx: Context, warehouse_list: str | None, path: str) -> None:
    """Warn about warehouse list tokens the formula will ignore (not an error, spec says)."""
    for token, number in id_tokens(warehouse_list or ""):
        if number is None:
            ctx.problems.warn(path, f"{token!r} is not a warehouse id (ignored)")
        elif number not in ctx.refs.warehouses:
            ctx.problems.warn(path, f"unknown warehouse {number} (ignored by the formula)")


def _check_rule(ctx: Context, values: Values, path: str) -> None:
    check_scope(ctx, values[6], values[5], path)
    warn_warehouses(ctx, values[7], f"{path}.warehouse_list")
    for token, number in id_tokens(values[4] or ""):
        if number is None or number not in ctx.refs.shops:
            ctx.problems.warn(f"{path}.shop_list", f"unknown shop {token} (matches no listing)")


def _track_rule(ctx: Context, rule_id: Any, old: Old, new: New) -> None:
    ctx.changes.rule_ids.add(rule_id)


def kinds() -> dict[str, Kind]:
    """Every small section's definition, fresh for one import."""
    return {
        "warehouses": Kind(
            "warehouses", "warehouse", WAREHOUSES, WAREHOUSES.names, "warehouse_no", True, False,
            track=_track_warehouse, register=_register_warehouse,
        ),
        "brands": Kind(
            "brands", "goods_brand", BRANDS, BRANDS.names, "brand_name", False, False,
            register=_register_brand,
        ),
        "classes": Kind(
            "classes", "goods_class", CLASSES, CLASSES.names, "class_name", False, False,
            track=_track_class, register=_register_class, finish=_check_class_tree,
        ),
        "specs": Kind(
            "specs", "goods_spec", SPECS, SPECS.names, "spec_no", True, True,
            check=_check_spec, track=_track_spec, register=_register_spec,
        ),
        "suites": suite_kind(),
        "shops": Kind(
            "shops", "shop", SHOPS, SHOPS.names, "shop_no", True, False,
            track=_track_shop, register=_register_shop,
        ),
        "apps": Kind(
            "apps", "app", APPS, ("app_key", "secret", "salt", "shop_ids"), None, True, False,
            assign_ids=False, check=_check_app,
        ),
        "rules": Kind(
            "rules", "cfg_stock_sync_rule", RULES, RULES.names, "rule_no", False, True,
            check=_check_rule, track=_track_rule,
        ),
    }  # fmt: skip


def load_refs(ctx: Context) -> None:
    """What the database already holds that documents may reference."""
    refs, sql = ctx.refs, ctx.sql
    for wid, number in sql.rows("warehouse", ("warehouse_id", "warehouse_no")):
        refs.warehouses.add(wid)
        refs.warehouse_by_no[number] = wid
    refs.brands.update(row[0] for row in sql.rows("goods_brand", ("brand_id",)))
    refs.classes.update(sql.rows("goods_class", ("class_id", "parent_id")))
    refs.spec_by_no.update((no, i) for i, no in sql.rows("goods_spec", ("spec_id", "spec_no")))
    refs.suite_by_no.update((no, i) for i, no in sql.rows("goods_suite", ("suite_id", "suite_no")))
    for shop_id, number in sql.rows("shop", ("shop_id", "shop_no")):
        refs.shops.add(shop_id)
        refs.shop_by_no[number] = shop_id
