"""Bulk reads for the batch path: listings, shops, stock rows and suite components as columns.

Each reader issues one query (or one per chunk of ids) through `batch_fetch` and returns numpy
arrays of raw scaled integers, which is what `batch_formula` computes on. Readers that take ids
read only those; passing None reads the whole tenant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from stocksync.services.batch_fetch import (
    Column,
    fetch_batches,
    fetch_ints,
    fetch_ints_and_texts,
    fetch_ints_by_ids,
    fetch_rows_by_ids,
    flag,
    marks,
)
from stocksync.services.batch_formula import IntArray, StockTable, SuiteTable

ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True)
class ListingFrame:
    """Listings as columns, sorted by rec_id: what the checks and the formula look at.

    `goods_id` / `spec_id` (for the "disabled" message) are read along when that is cheap
    (a whole tenant on PostgreSQL), else None and read later for the listings that need them.
    """

    rec_id: IntArray
    shop_id: IntArray
    status: IntArray
    match_target_type: IntArray
    match_target_id: IntArray
    rule_id: IntArray
    mask: IntArray
    is_disable_syn: IntArray
    is_stock_changed: IntArray
    disable_syn_until: IntArray
    goods_id: ObjectArray | None = None
    spec_id: ObjectArray | None = None

    def __len__(self) -> int:
        return len(self.rec_id)

    def take(self, rows: IntArray) -> ListingFrame:
        """The listings at `rows`."""
        picked = [getattr(self, f.name) for f in fields(self)]
        return ListingFrame(*(None if column is None else column[rows] for column in picked))  # type: ignore[arg-type]

    @classmethod
    def build(cls, columns: list[IntArray], texts: list[list[str]] | None) -> ListingFrame:
        """A frame from columns in field order (and the two texts), sorted by rec_id."""
        goods, specs = (None, None) if texts is None else (_objects(texts[0]), _objects(texts[1]))
        rec, shop, status, kind, target, rule, mask, disabled, pending, until = columns
        frame = cls(
            rec, shop, status, kind, target, rule, mask, disabled, pending, until, goods, specs
        )
        if len(frame) > 1 and not bool(np.all(np.diff(frame.rec_id) > 0)):
            frame = frame.take(np.argsort(frame.rec_id, kind="stable"))
        return frame


def _objects(values: list[str]) -> ObjectArray:
    array: ObjectArray = np.empty(len(values), dtype=object)
    array[:] = values
    return array


#: The frame's integer fields in order, 32-bit ones in pairs.
_LISTING_COLUMNS: list[Column] = [
    ("rec_id", "shop_id"),
    ("status", "match_target_type"),
    ("match_target_id", "rule_id"),
    ("mask", flag("is_disable_syn")),
    flag("is_stock_changed"),
    "disable_syn_until",
]
_LISTING_SOURCE = "FROM api_goods_spec WHERE tenant_id = ?"
# A scan of a tenant's listings on SQLite: without statistics its planner walks any index that
# starts with tenant_id, and one in another order than the rows (the match index, since the
# wait index became partial) doubles the scan, every row a random table seek. Asking for rec_id
# order makes it walk the primary key, which follows the rows. (PostgreSQL aggregates the scan
# and plans with statistics; InnoDB's rows are in primary-key order anyway.)
_IN_ROW_ORDER = {"sqlite": " ORDER BY rec_id"}


def load_listings(
    conn: Connection,
    tid: int,
    rec_ids: Sequence[int] | None,
    *,
    shop_id: int | None = None,
    pending_only: bool = False,
) -> ListingFrame:
    """The tenant's listings (filtered by shop / pending), or those of `rec_ids` (unfiltered)."""
    if rec_ids is not None:
        columns = fetch_ints_by_ids(
            conn, _LISTING_COLUMNS, _LISTING_SOURCE, [tid], "rec_id", rec_ids
        )
        return ListingFrame.build(columns, None)
    source, params = _LISTING_SOURCE, [tid]
    if shop_id is not None:
        source, params = source + " AND shop_id = ?", [*params, shop_id]
    if pending_only:
        source, params = source + " AND is_stock_changed = ?", [*params, True]
    if shop_id is None and not pending_only:
        source += _IN_ROW_ORDER.get(conn.dialect.name, "")
    texts = ("goods_id", "spec_id")
    return ListingFrame.build(*fetch_ints_and_texts(conn, _LISTING_COLUMNS, texts, source, params))


def load_platform_ids(
    conn: Connection, tid: int, rec_ids: IntArray, *, scan_from: int = 20_000
) -> tuple[ObjectArray, ObjectArray]:
    """(goods_id, spec_id) of each listing of `rec_ids` as two arrays ("" if gone).

    Only the "disabled" message needs them. Without an array parameter, from `scan_from` ids
    on one pass over the tenant's listings beats IN lists.
    """
    wanted = set(rec_ids.tolist())
    found: dict[int, tuple[str, str]] = {}
    sql = "SELECT rec_id, goods_id, spec_id FROM api_goods_spec WHERE tenant_id = ?"
    scan = conn.dialect.name != "postgresql" and len(wanted) >= scan_from
    if scan:
        sql += _IN_ROW_ORDER.get(conn.dialect.name, "")
    for rows in fetch_rows_by_ids(conn, sql, [tid], "rec_id", None if scan else wanted):
        found.update((row[0], (row[1], row[2])) for row in rows if row[0] in wanted)
    pairs = [found.get(rec_id, ("", "")) for rec_id in rec_ids.tolist()]
    return _objects([pair[0] for pair in pairs]), _objects([pair[1] for pair in pairs])


#: A custom rule as stored: (warehouse_list, stock_flag, percent, plus_value, min_stock,
#: max_stock, is_auto_delisting), quantities scaled.
RawParams = tuple[str, int, int, int, int, int, bool]


def load_custom_params(
    conn: Connection, tid: int, rec_ids: Sequence[int] | None
) -> dict[int, RawParams]:
    """The custom rules of those listings (None = all), by listing, undecoded."""
    sql = (
        "SELECT rec_id, warehouse_list, stock_flag, percent, plus_value, min_stock, max_stock, "
        f"{flag('is_auto_delisting')} FROM api_goods_spec_custom_rule WHERE tenant_id = ?"
    )
    found: dict[int, RawParams] = {}
    for rows in fetch_rows_by_ids(conn, sql, [tid], "rec_id", rec_ids):
        found.update((row[0], (row[1], *row[2:7], bool(row[7]))) for row in rows)
    return found


def load_shop_flags(conn: Connection, tid: int) -> tuple[IntArray, IntArray]:
    """(shop ids sorted, is_disabled of each) of the tenant's shops."""
    shop_ids, disabled = fetch_ints(
        conn, [("shop_id", flag("is_disabled"))], "FROM shop WHERE tenant_id = ?", [tid]
    )
    order = np.argsort(shop_ids, kind="stable")
    return shop_ids[order], disabled[order]


def nonzero_columns(
    conn: Connection, tid: int, warehouse_ids: Sequence[int], columns: Sequence[str]
) -> list[str]:
    """Those of `columns` that are not 0 in every stock row of `warehouse_ids`.

    One aggregate pass (in the database) saves reading the columns a tenant never uses.
    """
    if not warehouse_ids or not columns:
        return []
    bounds = ", ".join(f"max({c}), min({c})" for c in columns)
    source = f"WHERE tenant_id = ? AND warehouse_id IN ({marks(len(warehouse_ids))})"
    sql = f"SELECT {bounds} FROM stock_spec {source}"
    found = next(iter(next(fetch_batches(conn, sql, [tid, *warehouse_ids]), [()])), ())
    return [c for i, c in enumerate(columns) if found and (found[2 * i] or found[2 * i + 1])]


def load_stock(
    conn: Connection,
    tid: int,
    warehouse_ids: Sequence[int],
    columns: Sequence[str],
) -> StockTable:
    """Every stock row in `warehouse_ids` with `columns` (scaled): the whole-tenant read
    (`load_stock_of` reads given specs).

    The rows come sorted by warehouse, as the formula wants them.
    """
    selected: list[Column] = [("spec_id", "warehouse_id"), *columns]
    source = (
        f"FROM stock_spec WHERE tenant_id = ? AND warehouse_id IN ({marks(len(warehouse_ids))})"
    )
    params: list[int] = [tid, *warehouse_ids]
    if not warehouse_ids:
        values = [np.zeros(0, np.int64) for _ in range(2 + len(columns))]
    else:
        values = fetch_ints(conn, selected, source, params)
    order = np.argsort(values[1], kind="stable")
    values = [column[order] for column in values]
    return StockTable(values[0], values[1], dict(zip(columns, values[2:], strict=True)))


#: What to read in one warehouse: the spec ids whose rows are wanted, and the columns.
WarehouseWants = tuple[IntArray, Sequence[str]]


def load_stock_of(conn: Connection, tid: int, wanted: Mapping[int, WarehouseWants]) -> StockTable:
    """In each warehouse of `wanted`, the stock rows of its spec ids with its columns (scaled).

    A column is 0 in the rows of the warehouses that do not read it. One query (or one per
    chunk of ids) per warehouse: each row read is one the formula needs, where an IN list of
    warehouses times an IN list of specs reads every warehouse of every spec. The rows come
    sorted by warehouse, as the formula wants them.
    """
    names = list(dict.fromkeys(name for _, columns in wanted.values() for name in columns))
    spec_ids: list[IntArray] = [np.zeros(0, np.int64)]
    warehouse_ids: list[IntArray] = [np.zeros(0, np.int64)]
    values: dict[str, list[IntArray]] = {name: [np.zeros(0, np.int64)] for name in names}
    for wid, (specs, columns) in sorted(wanted.items()):
        spec_id, *read = fetch_ints_by_ids(
            conn, ["spec_id", *columns], _STOCK_OF_WAREHOUSE, [tid, wid], "spec_id", specs.tolist()
        )
        spec_ids.append(spec_id)
        warehouse_ids.append(np.full(len(spec_id), wid, np.int64))
        found = dict(zip(columns, read, strict=True))
        for name in names:
            values[name].append(found.get(name, np.zeros(len(spec_id), np.int64)))
    return StockTable(
        np.concatenate(spec_ids),
        np.concatenate(warehouse_ids),
        {name: np.concatenate(parts) for name, parts in values.items()},
    )


_STOCK_OF_WAREHOUSE = "FROM stock_spec WHERE tenant_id = ? AND warehouse_id = ?"


def load_suite_details(conn: Connection, tid: int, suite_ids: IntArray | None) -> SuiteTable:
    """The components of `suite_ids` (or of every suite), sorted by suite, `num` scaled."""
    columns: list[Column] = [("suite_id", "spec_id"), "num"]
    source = "FROM goods_suite_detail WHERE tenant_id = ?"
    if suite_ids is None:
        values = fetch_ints(conn, columns, source, [tid])
    else:
        values = fetch_ints_by_ids(conn, columns, source, [tid], "suite_id", suite_ids.tolist())
    order = np.lexsort((values[1], values[0]))
    return SuiteTable(values[0][order], values[1][order], values[2][order])
