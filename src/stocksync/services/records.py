"""The calcStock answer record (flagship protocol §5): exactly the documented fields and types.

Ints are `int`, the documented Decimal fields are `Decimal` with 4 places (`Decimal("1.0000")`),
text is `str` ("" for absent, never None), times are China-time text via `clock.format_time`,
`is_auto_listing` / `is_auto_delisting` are `bool`, and `syn_stock` is an `int`.
Our rule: `stock_syn_percent` is documented as Int; it is an `int` when the percent is whole
and a 4-place `Decimal` otherwise (e.g. 12.5), so a fractional percent is never misreported.

The calcStock hot path reads a listing with `read_listing` (one statement: the listing, its
shop, its rule and its custom rule) and builds the record with `listing_record`, straight from
the columns. The applied rule and its ten record fields are kept per process (`RuleEntry`),
keyed by the very columns they are made from, so they can never be stale.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Self, cast

import orjson
from sqlalchemy import Connection

from stocksync import jsoncodec
from stocksync.db.types import from_scaled
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


def rule_fields(applied: AppliedRule) -> dict[str, object]:
    """The record's last ten fields: the rule a listing was computed with, as §5 shows it."""
    params = applied.params
    return {
        "stock_syn_rule_id": applied.rule_id,
        "stock_syn_rule_no": applied.rule_no,
        "stock_syn_warehouses": params.warehouse_list,
        "stock_syn_mask": int(params.stock_flag),
        "stock_syn_percent": percent_value(params.percent),
        "stock_syn_plus": Decimal(params.plus_value).quantize(_QUANTUM),
        "stock_syn_min": Decimal(params.min_stock).quantize(_QUANTUM),
        "stock_syn_max": Decimal(params.max_stock).quantize(_QUANTUM),
        "is_auto_listing": bool(params.is_auto_listing),
        "is_auto_delisting": bool(params.is_auto_delisting),
    }


def build_record(
    listing_row: Mapping[str, Any], resolution_info: AppliedRule, syn_stock: int
) -> dict[str, object]:
    """The calcStock record of one listing computed under `resolution_info`.

    `listing_row` holds `LISTING_FIELDS` as decoded values: ints, str, `Decimal` for
    `stock_num` / `last_syn_num`, and Unix seconds or None for the three times.
    """
    row = listing_row
    record: dict[str, object] = {
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
    }
    record.update(rule_fields(resolution_info))
    return record


# ---------------------------------------------------------------- reading one listing fast

_PARAMS = (
    "warehouse_list, stock_flag, percent, plus_value, min_stock, max_stock, "
    "is_auto_listing, is_auto_delisting"
)
# Columns 0-19 are LISTING_FIELDS; then what the checks read; then, from _RULE_AT on, what
# decides the applied rule (the key of `_RULES`): the listing's rule id, that rule's number,
# the custom rule's id (NULL without one) and the applied parameters, the custom rule's if any
# (all its columns are NOT NULL), else the rule's.
_LISTING_SQL = (
    "SELECT l.rec_id, l.shop_id, sh.platform_id, sh.sub_platform_id, l.goods_id, l.spec_id, "
    "l.outer_id, l.spec_outer_id, l.match_code, l.match_target_type, l.match_target_id, "
    "l.status, l.stock_num, l.last_syn_num, l.last_syn_time, l.list_time, l.delist_time, "
    "l.stock_change_count, l.mask, l.reserve_s, "
    "l.is_disable_syn, l.disable_syn_until, sh.is_disabled, r.is_disable_syn, "
    "l.rule_id, r.rule_no, c.rec_id, {params} "
    "FROM api_goods_spec l "
    "JOIN shop sh ON sh.tenant_id = l.tenant_id AND sh.shop_id = l.shop_id "
    "LEFT JOIN cfg_stock_sync_rule r ON r.tenant_id = l.tenant_id AND r.rec_id = l.rule_id "
    "LEFT JOIN api_goods_spec_custom_rule c ON c.tenant_id = l.tenant_id AND c.rec_id = l.rec_id "
    "WHERE l.tenant_id = ? AND l.rec_id = ?"
).format(
    params=", ".join(f"COALESCE(c.{name}, r.{name})" for name in _PARAMS.replace(",", "").split())
)
# The same row as one JSON array, on SQLite: the driver reads one column instead of 35, and
# each column read costs pysqlite a type lookup with the GIL released (Python 3.11); decoded
# with orjson, the values come back as the plain read returns them (ints, text, None: every
# column read is an integer or text, quantities being scaled integers; JSON would print a REAL
# with 15 digits only). On the 1,000,000-listing bench database one read costs 79k
# instructions instead of 104k.
_LISTING_PACKED_SQL = _LISTING_SQL.replace("SELECT ", "SELECT json_array(", 1).replace(
    " FROM api_goods_spec l ", ") FROM api_goods_spec l ", 1
)


def _sqlite_has_json() -> bool:
    """Whether this process's SQLite library has the JSON functions (built in since 3.38;
    an older build may lack them, and then the plain read serves)."""
    try:
        with closing(sqlite3.connect(":memory:")) as probe:
            probe.execute("SELECT json_array(1)").fetchall()
    except sqlite3.Error:
        return False
    return True


#: Whether `read_listing` reads a SQLite listing packed (`_LISTING_PACKED_SQL`).
SQLITE_PACKED = _sqlite_has_json()

_RULE_AT = 24
_RULE_NO, _CUSTOM_ID, _PARAMS_AT = 1, 2, 3  # in the key, after l.rule_id


class RuleEntry:
    """The rule a listing row applies and its record fields, kept per process by the row's
    rule columns. `plan` is free for a caller to keep what it derives from `applied` alone
    (calcStock keeps its stock query and scaled parameters there)."""

    __slots__ = ("applied", "fields", "closing", "plan")

    def __init__(self, applied: AppliedRule) -> None:
        self.applied = applied
        self.fields = rule_fields(applied)  # shared by every record: do not change
        # The end of a record's JSON after its listing's members: "," and the fields' members.
        self.closing = b"," + jsoncodec.dumps(self.fields)[1:]
        self.plan: Any = None


#: Applied rules by the columns that decide them (so never stale); emptied past `_RULES_MAX`.
_RULES: dict[tuple[Any, ...], RuleEntry | None] = {}
_RULES_MAX = 4096
_MISSING = object()


@lru_cache(maxsize=64)
def placeholders(sql: str, paramstyle: str) -> str:
    """SQL written with `?` placeholders, for a driver's positional paramstyle."""
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


def raw_rows(conn: Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    """Run a read on the connection's DB-API cursor, in the connection's transaction.

    The hot calcStock path bypasses SQLAlchemy's result machinery (which costs more than the
    query itself on SQLite). `sql` uses `?` placeholders; values come back undecoded (Qty
    columns as scaled ints, booleans as 0/1 on SQLite and MariaDB).
    """
    with RawReader(conn) as reader:
        return reader.rows(sql, params)


class RawReader:
    """Reads through one DB-API cursor of a connection, in the connection's transaction.

    Like `raw_rows`, for a path that runs several statements: one cursor serves them all.
    """

    __slots__ = ("_cursor", "_paramstyle", "packed")

    def __init__(self, conn: Connection) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None, "the connection is closed"
        self._cursor = dbapi.cursor()
        paramstyle = conn.dialect.paramstyle
        self._paramstyle = None if paramstyle == "qmark" else paramstyle
        self.packed = SQLITE_PACKED and conn.dialect.name == "sqlite"

    def rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Every row of `sql` (`?` placeholders) as the driver returns it."""
        if self._paramstyle is not None:
            sql = placeholders(sql, self._paramstyle)
        self._cursor.execute(sql, params)
        found = self._cursor.fetchall()
        return found if type(found) is list else list(found)

    def close(self) -> None:
        """Release the cursor."""
        self._cursor.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._cursor.close()


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """One listing as calcStock needs it: its columns as read and what the checks look at."""

    raw: tuple[Any, ...]  # the columns of `_LISTING_SQL`, undecoded
    is_disable_syn: bool
    disable_syn_until: int
    shop_disabled: bool
    applied: AppliedRule | None  # None when no rule applies
    rule_disable_syn: bool
    applied_fields: dict[str, object] | None  # `rule_fields(applied)`, shared: do not change

    @property
    def row(self) -> dict[str, Any]:
        """`LISTING_FIELDS` decoded, as `build_record` takes them."""
        row = dict(zip(LISTING_FIELDS, self.raw[:20], strict=True))
        row["stock_num"], row["last_syn_num"] = from_scaled(self.raw[12]), from_scaled(self.raw[13])
        return row

    def record(self, syn_stock: int) -> dict[str, object]:
        """The calcStock record under `applied` (which must not be None): `build_record`'s
        answer, built straight from the columns."""
        assert self.applied_fields is not None, "no rule applies"
        return listing_record(self.raw, self.applied_fields, syn_stock)


def listing_record(
    raw: Sequence[Any], applied_fields: dict[str, object], syn_stock: int
) -> dict[str, object]:
    """The calcStock record of a listing row of `read_listing` computed under the rule whose
    `rule_fields` are `applied_fields`: `build_record`'s answer, straight from the columns."""
    record = _listing_part(raw, syn_stock, from_scaled(raw[12]), from_scaled(raw[13]))
    record.update(applied_fields)
    return record


def listing_record_json(raw: Sequence[Any], entry: RuleEntry, syn_stock: int) -> bytes:
    """`jsoncodec.dumps(listing_record(raw, entry.fields, syn_stock))`, with the rule's part
    encoded once per rule (`entry.closing`) instead of once per record."""
    part = _listing_part(raw, syn_stock, _quantity_json(raw[12]), _quantity_json(raw[13]))
    return jsoncodec.dumps(part)[:-1] + entry.closing


def _quantity_json(scaled: int) -> Any:
    """A scaled quantity as `jsoncodec.dumps` writes its Decimal (`1.0000`), kept per value
    (a pure function of it, so never stale): the two Decimals and their text were a quarter
    of the record's instructions."""
    found = _QUANTITY_JSON.get(scaled)
    if found is None:
        if len(_QUANTITY_JSON) >= _QUANTITY_JSON_MAX:
            _QUANTITY_JSON.clear()
        found = _QUANTITY_JSON[scaled] = jsoncodec.encoded(str(from_scaled(scaled)))
    return found


#: `_quantity_json` by scaled value; emptied past `_QUANTITY_JSON_MAX` entries.
_QUANTITY_JSON: dict[int, Any] = {}
_QUANTITY_JSON_MAX = 4096


def _listing_part(
    raw: Sequence[Any], syn_stock: int, stock_num: object, last_syn_num: object
) -> dict[str, object]:
    """The record's fields up to `reserve_s`, the two quantities given as they should appear."""
    return {
        "rec_id": raw[0], "shop_id": raw[1], "platform_id": raw[2],
        "sub_platform_id": raw[3], "goods_id": raw[4] or "", "spec_id": raw[5] or "",
        "outer_id": raw[6] or "", "spec_outer_id": raw[7] or "",
        "match_code": raw[8] or "", "match_target_type": raw[9],
        "match_target_id": raw[10], "status": raw[11], "stock_num": stock_num,
        "syn_stock": int(syn_stock), "last_syn_num": last_syn_num,
        "last_syn_time": "" if raw[14] is None else format_time(raw[14]),
        "list_time": "" if raw[15] is None else format_time(raw[15]),
        "delist_time": "" if raw[16] is None else format_time(raw[16]),
        "stock_change_count": raw[17], "mask": raw[18], "reserve_s": raw[19] or "",
    }  # fmt: skip


def _params(raw: Sequence[Any]) -> RuleParams:
    return RuleParams(
        raw[0], int(raw[1]), from_scaled(raw[2]), from_scaled(raw[3]),
        from_scaled(raw[4]), from_scaled(raw[5]),
        bool(raw[6]), bool(raw[7]),
    )  # fmt: skip


def _rule_entry(key: tuple[Any, ...]) -> RuleEntry | None:
    """The applied rule named by the `_RULE_AT` columns, with its record fields (cached)."""
    cached = _RULES.get(key, _MISSING)
    if cached is not _MISSING:
        return cast("RuleEntry | None", cached)
    applied: AppliedRule | None = None
    if key[_CUSTOM_ID] is not None:
        applied = AppliedRule(CUSTOM_RULE_ID, "", _params(key[_PARAMS_AT:]))
    elif key[_RULE_NO] is not None:
        applied = AppliedRule(int(key[0]), key[_RULE_NO], _params(key[_PARAMS_AT:]))
    entry = None if applied is None else RuleEntry(applied)
    if len(_RULES) >= _RULES_MAX:
        _RULES.clear()
    _RULES[key] = entry
    return entry


#: Columns of a `read_listing` row the checks read, after the `LISTING_FIELDS`.
IS_DISABLE_SYN, DISABLE_SYN_UNTIL, SHOP_DISABLED, RULE_DISABLE_SYN = 20, 21, 22, 23


def read_listing(
    reader: RawReader, tid: int, rec_id: int
) -> tuple[tuple[Any, ...], RuleEntry | None] | None:
    """One listing's row (`LISTING_FIELDS`, undecoded, then the columns the checks read) and
    the rule it applies (None when none does); None when the listing does not exist.

    The applied rule is the custom rule when the listing has one, else the rule named by its
    live-resolved `rule_id` column (`RULE_DISABLE_SYN` is that rule's flag, even when a custom
    rule applies).
    """
    found = reader.rows(_LISTING_PACKED_SQL if reader.packed else _LISTING_SQL, (tid, rec_id))
    if not found:
        return None
    raw = tuple(found[0])
    if reader.packed:
        try:
            raw = tuple(orjson.loads(raw[0]))
        except orjson.JSONDecodeError:  # text that is not UTF-8: fail as the plain read does
            raw = tuple(reader.rows(_LISTING_SQL, (tid, rec_id))[0])
    return raw, _rule_entry(raw[_RULE_AT:])


def listing_facts(reader: RawReader, tid: int, rec_id: int) -> ListingFacts | None:
    """`fetch_listing` through a reader the caller keeps for its next statements."""
    found = read_listing(reader, tid, rec_id)
    if found is None:
        return None
    raw, entry = found
    applied, fields = (None, None) if entry is None else (entry.applied, entry.fields)
    return ListingFacts(
        raw,
        bool(raw[IS_DISABLE_SYN]),
        int(raw[DISABLE_SYN_UNTIL]),
        bool(raw[SHOP_DISABLED]),
        applied,
        applied is not None and applied.rule_id != CUSTOM_RULE_ID and bool(raw[RULE_DISABLE_SYN]),
        fields,
    )


def fetch_listing(conn: Connection, tid: int, rec_id: int) -> ListingFacts | None:
    """One listing with its shop, applied rule and custom rule, in one query (None if absent).

    The applied rule is the custom rule when the listing has one, else the rule named by its
    live-resolved `rule_id` column.
    """
    with RawReader(conn) as reader:
        return listing_facts(reader, tid, rec_id)
