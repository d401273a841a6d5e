"""Test data builders: insert one tenant's rows with plain Core inserts, nothing else.

Each `add_*` writes exactly one row (a suite also writes its components) with the given ids
and sensible defaults, and returns the id. They do NOT match listings or resolve rules: call
`settle(conn, tid)` after building to fill `match_*` and `rule_id` the way the services would
(auto matching for every non-manual listing, then rule resolution), without bumping anything.

Quantities may be given as `Decimal`, `int` or decimal strings ("0.1"), never as floats.

    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_warehouse(conn, tid, 1)
        add_spec(conn, tid, 10, "P")
        add_stock(conn, tid, 10, 1, stock_num=5, order_num=2)
        add_shop(conn, tid, 69)
        add_rule(conn, tid, 1, warehouse_list="1", stock_flag=128)
        add_listing(conn, tid, 100, 69, "P")
        settle(conn, tid)
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select

from stocksync.db import schema
from stocksync.domain.model import QUANTITY_FIELDS
from stocksync.services.tracking import refresh_matches, refresh_rules

Qty = Decimal | int | str


def q(value: Qty) -> Decimal:
    """A quantity as an exact Decimal (floats are refused: they are not exact)."""
    if isinstance(value, float):
        raise TypeError("use Decimal, int or str for quantities, not float")
    return Decimal(value)


def add_warehouse(
    conn: Connection, tid: int, warehouse_id: int, *, is_defect: bool = False,
    is_outer_stock: bool = False, is_disabled: bool = False, name: str = "",
    warehouse_no: str | None = None,
) -> int:  # fmt: skip
    """A warehouse; `warehouse_no` defaults to "W<id>"."""
    conn.execute(insert(schema.warehouse).values(
        tenant_id=tid, warehouse_id=warehouse_id, warehouse_no=warehouse_no or f"W{warehouse_id}",
        name=name, is_defect=is_defect, is_outer_stock=is_outer_stock, is_disabled=is_disabled,
    ))  # fmt: skip
    return warehouse_id


def add_brand(conn: Connection, tid: int, brand_id: int, name: str = "") -> int:
    """A brand."""
    conn.execute(insert(schema.brand).values(tenant_id=tid, brand_id=brand_id, brand_name=name))
    return brand_id


def add_class(conn: Connection, tid: int, class_id: int, parent_id: int = -1) -> int:
    """A goods class under `parent_id` (-1 = a root class)."""
    conn.execute(
        insert(schema.goods_class).values(tenant_id=tid, class_id=class_id, parent_id=parent_id)
    )
    return class_id


def add_spec(
    conn: Connection, tid: int, spec_id: int, spec_no: str, *, goods_no: str = "",
    brand_id: int = 0, class_id: int = 0, goods_name: str = "", spec_name: str = "",
) -> int:  # fmt: skip
    """A spec (system SKU) with merchant code `spec_no`."""
    conn.execute(insert(schema.spec).values(
        tenant_id=tid, spec_id=spec_id, spec_no=spec_no, goods_no=goods_no, brand_id=brand_id,
        class_id=class_id, goods_name=goods_name, spec_name=spec_name,
    ))  # fmt: skip
    return spec_id


def add_suite(
    conn: Connection, tid: int, suite_id: int, suite_no: str, components: Mapping[int, Qty],
    *, brand_id: int = 0, class_id: int = 0,
) -> int:  # fmt: skip
    """A suite and its components ({spec_id: num})."""
    conn.execute(insert(schema.suite).values(
        tenant_id=tid, suite_id=suite_id, suite_no=suite_no, brand_id=brand_id, class_id=class_id,
    ))  # fmt: skip
    rows = [
        {"tenant_id": tid, "suite_id": suite_id, "spec_id": spec_id, "num": q(num)}
        for spec_id, num in components.items()
    ]
    if rows:
        conn.execute(insert(schema.suite_detail), rows)
    return suite_id


def add_stock(
    conn: Connection, tid: int, spec_id: int, warehouse_id: int, stock_num: Qty = 0,
    *, wms_stock_diff: Qty = 0, **quantities: Qty,
) -> int:  # fmt: skip
    """A stock row (other quantities by name, e.g. `order_num=3`); returns its new rec_id."""
    unknown = set(quantities) - set(QUANTITY_FIELDS)
    if unknown:
        raise TypeError(f"unknown stock quantities: {sorted(unknown)}")
    next_id = conn.execute(
        select(func.coalesce(func.max(schema.stock.c.rec_id), 0) + 1).where(
            schema.stock.c.tenant_id == tid
        )
    ).scalar_one()
    conn.execute(insert(schema.stock).values(
        tenant_id=tid, spec_id=spec_id, warehouse_id=warehouse_id, rec_id=next_id,
        stock_num=q(stock_num), wms_stock_diff=q(wms_stock_diff),
        **{name: q(value) for name, value in quantities.items()},
    ))  # fmt: skip
    return int(next_id)


def add_shop(
    conn: Connection, tid: int, shop_id: int, *, platform_id: int = 127,
    sub_platform_id: int = 0, is_disabled: bool = False,
) -> int:  # fmt: skip
    """A shop; `shop_no` is "S<id>"."""
    conn.execute(insert(schema.shop).values(
        tenant_id=tid, shop_id=shop_id, shop_no=f"S{shop_id}", platform_id=platform_id,
        sub_platform_id=sub_platform_id, is_disabled=is_disabled,
    ))  # fmt: skip
    return shop_id


def _params(fields: Mapping[str, Any]) -> dict[str, Any]:
    values = {
        "warehouse_list": fields.get("warehouse_list", ""),
        "stock_flag": fields.get("stock_flag", 0),
        "is_auto_listing": fields.get("is_auto_listing", False),
        "is_auto_delisting": fields.get("is_auto_delisting", False),
    }
    for name, default in (("percent", 100), ("plus_value", 0), ("min_stock", 0), ("max_stock", 0)):
        values[name] = q(fields.get(name, default))
    return values


def add_rule(
    conn: Connection, tid: int, rec_id: int, *, rule_no: str | None = None, priority: int = 0,
    shop_list: str = "", class_id: int = -1, brand_id: int = -1, is_disable_syn: bool = False,
    is_disabled: bool = False, **params: Any,
) -> int:  # fmt: skip
    """A strategy rule (parameters by name: warehouse_list, stock_flag, percent, ...).

    Plain insert: listings are not re-resolved (use `settle`, or the live rule services).
    """
    conn.execute(insert(schema.rule).values(
        tenant_id=tid, rec_id=rec_id, rule_no=f"R{rec_id}" if rule_no is None else rule_no,
        rule_name="", priority=priority, shop_list=shop_list, class_id=class_id,
        brand_id=brand_id, is_disable_syn=is_disable_syn, is_disabled=is_disabled,
        **_params(params),
    ))  # fmt: skip
    return rec_id


def add_custom_rule(conn: Connection, tid: int, rec_id: int, **params: Any) -> int:
    """A listing's custom rule (same parameter names as `add_rule`)."""
    values = {"tenant_id": tid, "rec_id": rec_id, **_params(params)}
    conn.execute(insert(schema.custom_rule).values(values))
    return rec_id


def add_listing(
    conn: Connection, tid: int, rec_id: int, shop_id: int, code: str = "", **columns: Any
) -> int:
    """A listing whose `spec_outer_id` is `code`; its platform ids default to g<rec_id>/s<rec_id>.

    Any other `api_goods_spec` column may be given by name, e.g. `status=2`,
    `is_manual_match=True, match_target_type=1, match_target_id=5`, `stock_num=Decimal(3)`.
    """
    values: dict[str, Any] = {
        "goods_id": f"g{rec_id}",
        "spec_id": f"s{rec_id}",
        "spec_outer_id": code,
    }
    values.update(columns)
    conn.execute(
        insert(schema.listing).values(tenant_id=tid, rec_id=rec_id, shop_id=shop_id, **values)
    )
    return rec_id


def settle(conn: Connection, tid: int) -> None:
    """Fill every listing's match and `rule_id` as live services would, without bumping."""
    refresh_matches(conn, tid)
    refresh_rules(conn, tid)


def listing_state(conn: Connection, tid: int) -> dict[int, tuple[int, bool, int, int, int]]:
    """{rec_id: (stock_change_count, is_stock_changed, rule_id, match type, match id)}."""
    c = schema.listing.c
    query = select(
        c.rec_id, c.stock_change_count, c.is_stock_changed, c.rule_id, c.match_target_type,
        c.match_target_id,
    ).where(c.tenant_id == tid)  # fmt: skip
    return {r[0]: (r[1], bool(r[2]), r[3], r[4], r[5]) for r in conn.execute(query)}


def counts(conn: Connection, tid: int) -> dict[int, int]:
    """{rec_id: stock_change_count} of every listing of the tenant."""
    return {rec: state[0] for rec, state in listing_state(conn, tid).items()}
