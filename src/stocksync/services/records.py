"""The calcStock answer record (flagship protocol §5): exactly the documented fields and types.

Ints are `int`, the documented Decimal fields are `Decimal` with 4 places (`Decimal("1.0000")`),
text is `str` ("" for absent, never None), times are China-time text via `clock.format_time`,
`is_auto_listing` / `is_auto_delisting` are `bool`, and `syn_stock` is an `int`.
Our rule: `stock_syn_percent` is documented as Int; it is an `int` when the percent is whole
and a 4-place `Decimal` otherwise (e.g. 12.5), so a fractional percent is never misreported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from stocksync.domain.model import CUSTOM_RULE_ID, RuleParams
from stocksync.services.clock import format_time

_QUANTUM = Decimal("0.0001")

#: The record's fields, in the order the protocol documents them.
RECORD_FIELDS: tuple[str, ...] = (
    "rec_id",
    "shop_id",
    "platform_id",
    "sub_platform_id",
    "goods_id",
    "spec_id",
    "outer_id",
    "spec_outer_id",
    "match_code",
    "match_target_type",
    "match_target_id",
    "status",
    "stock_num",
    "syn_stock",
    "last_syn_num",
    "last_syn_time",
    "list_time",
    "delist_time",
    "stock_change_count",
    "mask",
    "reserve_s",
    "stock_syn_rule_id",
    "stock_syn_rule_no",
    "stock_syn_warehouses",
    "stock_syn_mask",
    "stock_syn_percent",
    "stock_syn_plus",
    "stock_syn_min",
    "stock_syn_max",
    "is_auto_listing",
    "is_auto_delisting",
)

#: The listing columns `build_record` reads (with shop's `platform_id` / `sub_platform_id`).
LISTING_FIELDS: tuple[str, ...] = RECORD_FIELDS[:13] + RECORD_FIELDS[14:21]


@dataclass(frozen=True, slots=True)
class AppliedRule:
    """The rule a listing was computed with: its id (-10000 custom), number and parameters."""

    rule_id: int
    rule_no: str
    params: RuleParams


def percent_value(percent: Decimal) -> int | Decimal:
    """`stock_syn_percent`: an int when whole, else the exact 4-place Decimal."""
    if percent == percent.to_integral_value():
        return int(percent)
    return percent.quantize(_QUANTUM)


def build_record(
    listing_row: Mapping[str, Any], resolution_info: AppliedRule, syn_stock: int
) -> dict[str, object]:
    """The calcStock record of one listing computed under `resolution_info`.

    `listing_row` holds `LISTING_FIELDS` as decoded values: ints, str, `Decimal` for
    `stock_num` / `last_syn_num`, and Unix seconds or None for the three times.
    """
    row, params = listing_row, resolution_info.params
    return {
        "rec_id": int(row["rec_id"]),
        "shop_id": int(row["shop_id"]),
        "platform_id": int(row["platform_id"]),
        "sub_platform_id": int(row["sub_platform_id"]),
        "goods_id": row["goods_id"] or "",
        "spec_id": row["spec_id"] or "",
        "outer_id": row["outer_id"] or "",
        "spec_outer_id": row["spec_outer_id"] or "",
        "match_code": row["match_code"] or "",
        "match_target_type": int(row["match_target_type"]),
        "match_target_id": int(row["match_target_id"]),
        "status": int(row["status"]),
        "stock_num": row["stock_num"].quantize(_QUANTUM),
        "syn_stock": int(syn_stock),
        "last_syn_num": row["last_syn_num"].quantize(_QUANTUM),
        "last_syn_time": format_time(row["last_syn_time"]),
        "list_time": format_time(row["list_time"]),
        "delist_time": format_time(row["delist_time"]),
        "stock_change_count": int(row["stock_change_count"]),
        "mask": int(row["mask"]),
        "reserve_s": row["reserve_s"] or "",
        "stock_syn_rule_id": resolution_info.rule_id,
        "stock_syn_rule_no": resolution_info.rule_no,
        "stock_syn_warehouses": params.warehouse_list,
        "stock_syn_mask": int(params.stock_flag),
        "stock_syn_percent": percent_value(params.percent),
        "stock_syn_plus": Decimal(params.plus_value).quantize(_QUANTUM),
        "stock_syn_min": Decimal(params.min_stock).quantize(_QUANTUM),
        "stock_syn_max": Decimal(params.max_stock).quantize(_QUANTUM),
        "is_auto_listing": bool(params.is_auto_listing),
        "is_auto_delisting": bool(params.is_auto_delisting),
    }


# ---------------------------------------------------------------- reading one listing fast

_PARAMS = (
    "warehouse_list, stock_flag, percent, plus_value, min_stock, max_stock, "
    "is_auto_listing, is_auto_delisting"
)
_LISTING_SQL = (
    "SELECT l.rec_id, l.shop_id, sh.platform_id, sh.sub_platform_id, l.goods_id, l.spec_id, "
    "l.outer_id, l.spec_outer_id, l.match_code, l.match_target_type, l.match_target_id, "
    "l.status, l.stock_num, l.last_syn_num, l.last_syn_time, l.list_time, l.delist_time, "
    "l.stock_change_count, l.mask, l.reserve_s, "
    "l.is_disable_syn, l.disable_syn_until, l.rule_id, sh.is_disabled, r.rule_no, "
    "r.is_disable_syn, {r_params}, c.rec_id, {c_params} "
    "FROM api_goods_spec l "
    "JOIN shop sh ON sh.tenant_id = l.tenant_id AND sh.shop_id = l.shop_id "
    "LEFT JOIN cfg_stock_sync_rule r ON r.tenant_id = l.tenant_id AND r.rec_id = l.rule_id "
    "LEFT JOIN api_goods_spec_custom_rule c ON c.tenant_id = l.tenant_id AND c.rec_id = l.rec_id "
    "WHERE l.tenant_id = ? AND l.rec_id = ?"
).format(
    r_params=", ".join(f"r.{name.strip()}" for name in _PARAMS.split(",")),
    c_params=", ".join(f"c.{name.strip()}" for name in _PARAMS.split(",")),
)
_RULE_AT, _CUSTOM_AT = 26, 34  # where the rule's / the custom rule's parameters start


def placeholders(sql: str, paramstyle: str) -> str:
    """SQL written with `?` placeholders, for a driver's positional paramstyle."""
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


def raw_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run a read on the connection's DB-API cursor, in the connection's transaction.

    The hot calcStock path bypasses SQLAlchemy's result machinery (which costs more than the
    query itself on SQLite). `sql` uses `?` placeholders; values come back undecoded (Qty
    columns as scaled ints, booleans as 0/1 on SQLite and MariaDB).
    """
    cursor = conn.connection.cursor()
    try:
        cursor.execute(placeholders(sql, conn.dialect.paramstyle), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """One listing as calcStock needs it: the record fields and what the checks look at."""

    row: dict[str, Any]  # LISTING_FIELDS, decoded
    is_disable_syn: bool
    disable_syn_until: int
    shop_disabled: bool
    applied: AppliedRule | None  # None when no rule applies
    rule_disable_syn: bool


def _qty(scaled: int) -> Decimal:
    return Decimal(scaled).scaleb(-4)


def _params(raw: Sequence[Any]) -> RuleParams:
    return RuleParams(
        raw[0], int(raw[1]), _qty(raw[2]), _qty(raw[3]), _qty(raw[4]), _qty(raw[5]),
        bool(raw[6]), bool(raw[7]),
    )  # fmt: skip


def fetch_listing(conn: Connection, tid: int, rec_id: int) -> ListingFacts | None:
    """One listing with its shop, applied rule and custom rule, in one query (None if absent).

    The applied rule is the custom rule when the listing has one, else the rule named by its
    live-resolved `rule_id` column.
    """
    found = raw_rows(conn, _LISTING_SQL, (tid, rec_id))
    if not found:
        return None
    raw = found[0]
    row = dict(zip(LISTING_FIELDS, raw[:20], strict=True))
    row["stock_num"], row["last_syn_num"] = _qty(raw[12]), _qty(raw[13])
    applied: AppliedRule | None = None
    if raw[_CUSTOM_AT] is not None:
        applied = AppliedRule(CUSTOM_RULE_ID, "", _params(raw[_CUSTOM_AT + 1 :]))
    elif raw[24] is not None:
        applied = AppliedRule(int(raw[22]), raw[24], _params(raw[_RULE_AT:_CUSTOM_AT]))
    return ListingFacts(
        row,
        bool(raw[20]),
        int(raw[21]),
        bool(raw[23]),
        applied,
        applied is not None and applied.rule_id != CUSTOM_RULE_ID and bool(raw[25]),
    )
