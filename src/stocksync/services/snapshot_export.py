"""Exporting a tenant as a snapshot document, and writing documents as canonical JSON.

The document has exactly the snapshot-format spec's shape: the sections in the spec's order,
every field of every record, records ordered by id. Quantities are `Decimal` with 4 places and
are written as exact JSON numbers (never through a binary float). `write_snapshot` streams a
tenant of any size; `export_snapshot` builds the whole document in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import IO, Any

import orjson
from sqlalchemy import Connection, text

from stocksync.db.tenants import tenant_id
from stocksync.db.types import from_scaled
from stocksync.domain.errors import BusinessError
from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE, QUANTITY_FIELDS

FORMAT = "stocksync-snapshot/1"
_QTY = ("stock_num", *QUANTITY_FIELDS, "wms_stock_diff")
_PARAMS = ("warehouse_list", "stock_flag", "percent", "plus_value", "min_stock", "max_stock",
           "is_auto_listing", "is_auto_delisting")  # fmt: skip
_PARAM_QTY = frozenset({"percent", "plus_value", "min_stock", "max_stock"})
_PARAM_FLAGS = frozenset({"is_auto_listing", "is_auto_delisting"})

Record = dict[str, Any]


def export_snapshot(conn: Connection, sid: str) -> dict[str, Any]:
    """The whole document of seller `sid`; `BusinessError` if the seller is unknown."""
    return {name: value if isinstance(value, str) else list(value)
            for name, value in _members(conn, sid)}  # fmt: skip


def write_snapshot(conn: Connection, sid: str, out: IO[bytes]) -> None:
    """Write seller `sid`'s document to `out` as canonical JSON, one record at a time."""
    _write(_members(conn, sid), out)


def dump_snapshot(doc: Mapping[str, Any]) -> bytes:
    """Canonical JSON of a document: one member per line, one array record per line, exact
    decimals, UTF-8 text unescaped."""
    out = io.BytesIO()
    _write(doc.items(), out)
    return out.getvalue()


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"not JSON serialisable: {value!r}")


def _json(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


def _write(members: Iterable[tuple[str, Any]], out: IO[bytes]) -> None:
    out.write(b"{")
    for position, (name, value) in enumerate(members):
        out.write(b",\n" if position else b"")
        out.write(_json(name) + b":")
        if isinstance(value, (str, int, dict)) or value is None:
            out.write(_json(value))
            continue
        out.write(b"[")
        count = 0
        for record in value:
            out.write(b",\n" if count else b"\n")
            out.write(_json(record))
            count += 1
        out.write(b"\n]" if count else b"]")
    out.write(b"\n}")


def _members(conn: Connection, sid: str) -> Iterator[tuple[str, Any]]:
    tid = tenant_id(conn, sid)
    if tid is None:
        raise BusinessError(f"unknown seller (sid): {sid}")
    yield "format", FORMAT
    yield "sid", sid
    yield "apps", _apps(conn, tid)
    yield "warehouses", _plain(conn, tid, "warehouse", _WAREHOUSE, "warehouse_id")
    yield "brands", _plain(conn, tid, "goods_brand", ("brand_id", "brand_name"), "brand_id")
    yield "classes", _plain(conn, tid, "goods_class", ("class_id", "class_name", "parent_id"),
                            "class_id")  # fmt: skip
    yield "specs", _plain(conn, tid, "goods_spec", _SPEC, "spec_id")
    yield "suites", _suites(conn, tid)
    yield "stock", _stock(conn, tid)
    yield "shops", _plain(conn, tid, "shop", _SHOP, "shop_id")
    yield "rules", _plain(conn, tid, "cfg_stock_sync_rule", _RULE, "rec_id")
    yield "listings", _listings(conn, tid)


_WAREHOUSE = ("warehouse_id", "warehouse_no", "name", "is_defect?", "is_outer_stock?",
              "is_disabled?")  # fmt: skip
_SPEC = ("spec_id", "spec_no", "goods_no", "goods_name", "spec_name", "barcode", "brand_id",
         "class_id")  # fmt: skip
_SHOP = ("shop_id", "shop_no", "shop_name", "platform_id", "sub_platform_id", "is_disabled?")
_RULE = ("rec_id", "rule_no", "rule_name", "priority", "shop_list", "class_id", "brand_id",
         "warehouse_list", "stock_flag", "percent#", "plus_value#", "min_stock#", "max_stock#",
         "is_auto_listing?", "is_auto_delisting?", "is_disable_syn?", "is_disabled?")  # fmt: skip


def _converters(fields: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(name, converter) per field: a trailing `?` marks a flag, `#` a quantity."""
    found: list[tuple[str, Any]] = []
    for field in fields:
        if field.endswith("?"):
            found.append((field[:-1], bool))
        elif field.endswith("#"):
            found.append((field[:-1], from_scaled))
        else:
            found.append((field, None))
    return found


def _query(conn: Connection, sql: str, tid: int) -> Iterator[Any]:
    """Raw rows (quantities scaled) of a tenant query, streamed where the driver can."""
    result = conn.execution_options(yield_per=5000).execute(text(sql), {"tid": tid})
    yield from result


def _plain(
    conn: Connection, tid: int, table: str, fields: tuple[str, ...], order: str
) -> Iterator[Record]:
    converters = _converters(fields)
    names = ", ".join(name for name, _ in converters)
    sql = f"SELECT {names} FROM {table} WHERE tenant_id = :tid ORDER BY {order}"
    for row in _query(conn, sql, tid):
        yield {name: (value if convert is None else convert(value))
               for (name, convert), value in zip(converters, row, strict=True)}  # fmt: skip


def _apps(conn: Connection, tid: int) -> Iterator[Record]:
    sql = "SELECT app_key, secret, salt, shop_ids FROM app WHERE tenant_id = :tid ORDER BY app_key"
    for key, secret, salt, shop_ids in _query(conn, sql, tid):
        ids = [int(token) for token in shop_ids.split(",") if token.strip()]
        yield {"key": key, "secret": secret, "salt": salt, "shop_ids": ids}


def _suites(conn: Connection, tid: int) -> Iterator[Record]:
    details: dict[int, list[Record]] = {}
    sql = (
        "SELECT d.suite_id, s.spec_no, d.num FROM goods_suite_detail d JOIN goods_spec s"
        " ON s.tenant_id = d.tenant_id AND s.spec_id = d.spec_id"
        " WHERE d.tenant_id = :tid ORDER BY d.suite_id, d.spec_id"
    )
    for suite_id, spec_no, num in _query(conn, sql, tid):
        details.setdefault(suite_id, []).append({"spec_no": spec_no, "num": from_scaled(num)})
    fields = ("suite_id", "suite_no", "suite_name", "brand_id", "class_id")
    for suite in _plain(conn, tid, "goods_suite", fields, "suite_id"):
        suite["details"] = details.get(suite["suite_id"], [])
        yield suite


def _stock(conn: Connection, tid: int) -> Iterator[Record]:
    names = ", ".join(f"st.{name}" for name in _QTY)
    sql = (
        f"SELECT st.warehouse_id, s.spec_no, {names} FROM stock_spec st JOIN goods_spec s"
        " ON s.tenant_id = st.tenant_id AND s.spec_id = st.spec_id"
        " WHERE st.tenant_id = :tid ORDER BY st.spec_id, st.warehouse_id"
    )
    for row in _query(conn, sql, tid):
        record: Record = {"warehouse_id": row[0], "spec_no": row[1]}
        record.update(zip(_QTY, map(from_scaled, row[2:]), strict=True))
        yield record


_LISTING = ("rec_id", "shop_id", "goods_id", "spec_id", "outer_id", "spec_outer_id",
            "goods_name", "spec_name", "status")  # fmt: skip


def _listings(conn: Connection, tid: int) -> Iterator[Record]:
    base = ", ".join(f"l.{name}" for name in _LISTING)
    params = ", ".join(f"c.{name}" for name in _PARAMS)
    sql = (
        f"SELECT {base}, l.stock_num, l.is_disable_syn, l.is_manual_match, l.match_target_type,"
        f" sp.spec_no, su.suite_no, c.rec_id, {params} FROM api_goods_spec l"
        " LEFT JOIN goods_spec sp ON sp.tenant_id = l.tenant_id"
        f" AND l.match_target_type = {MATCH_SPEC} AND sp.spec_id = l.match_target_id"
        " LEFT JOIN goods_suite su ON su.tenant_id = l.tenant_id"
        f" AND l.match_target_type = {MATCH_SUITE} AND su.suite_id = l.match_target_id"
        " LEFT JOIN api_goods_spec_custom_rule c ON c.tenant_id = l.tenant_id"
        " AND c.rec_id = l.rec_id WHERE l.tenant_id = :tid ORDER BY l.rec_id"
    )
    width = len(_LISTING)
    for row in _query(conn, sql, tid):
        record: Record = dict(zip(_LISTING, row[:width], strict=True))
        stock_num, disable_syn, manual, kind, spec_no, suite_no, custom = row[width : width + 7]
        record["stock_num"] = from_scaled(stock_num)
        record["is_disable_syn"] = bool(disable_syn)
        code = spec_no if kind == MATCH_SPEC else suite_no
        record["match"] = {"type": kind, "code": code} if manual and code is not None else None
        record["custom_rule"] = None if custom is None else _custom(row[width + 7 :])
        yield record


def _custom(values: Any) -> Record:
    found: Record = {}
    for name, value in zip(_PARAMS, values, strict=True):
        if name in _PARAM_QTY:
            value = from_scaled(value)
        elif name in _PARAM_FLAGS:
            value = bool(value)
        found[name] = value
    return found
