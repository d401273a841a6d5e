"""Paged reads: shops, warehouses and stock rows, as `setting.Shop.queryShop`,
`setting.Warehouse.queryWarehouse` and `wms.StockSpec.search` answer them.

Every read answers `{"details": [...]}` plus `total_count` when the caller asked for it. Pages
are 0-based, `DEFAULT_PAGE_SIZE` rows unless told, at most `MAX_PAGE_SIZE` (more is refused, not
clamped, so a client never silently misses rows); rows come in a stable order by id.

Our rules:
- shops: `shop_no` and `platform_id` filter exactly; only shops the app key may see are listed.
- warehouses: `warehouse_no` and `type` filter exactly; `warehouse_name` matches a substring of
  the name, case-sensitively on every database; `hide_delete` (default 1, as the vendor) hides
  disabled warehouses.
- stock rows: `spec_nos` (at most `MAX_SPEC_NOS`) and `warehouse_no` filter exactly;
  `start_time` ≤ `modified` < `end_time` ("YYYY-MM-DD HH:MM:SS", China time; either may be
  empty). `available_send_stock` = `stock_num` − `order_num` − `sending_num` − `lock_num` (on
  hand minus what awaits review, awaits shipment or is locked; not clamped at 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, false, func, select

from stocksync.db.schema import shop, spec, stock
from stocksync.db.schema import warehouse as warehouse_t
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import QUANTITY_FIELDS
from stocksync.services.clock import CHINA_TZ, format_time

DEFAULT_PAGE_SIZE = 40
MAX_PAGE_SIZE = 1000
MAX_SPEC_NOS = 5000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_WAREHOUSE_FLAGS = ("is_disabled", "is_defect", "is_outer_stock")


@dataclass(frozen=True)
class Page:
    """Which rows to answer: `size` rows from row `size × number`; `total` adds total_count."""

    size: int = DEFAULT_PAGE_SIZE
    number: int = 0
    total: bool = False

    @classmethod
    def of(cls, size: int | None, number: int | None, total: bool) -> Page:
        """A page from the query string's values (None = not sent); out of bounds → status 1."""
        size = DEFAULT_PAGE_SIZE if size is None else size
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidArgument(f"page_size: must be within 1..{MAX_PAGE_SIZE}, not {size}")
        return cls(size, number or 0, total)

    def answer(self, details: list[dict[str, Any]], count: int | None) -> dict[str, Any]:
        """The data of a paged answer."""
        data: dict[str, Any] = {"details": details}
        if self.total:
            data["total_count"] = count
        return data

    def cut(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Answer one page of rows already filtered in memory (small tables)."""
        start = self.size * self.number
        return self.answer(list(rows[start : start + self.size]), len(rows))


def query_shops(
    conn: Connection,
    tid: int,
    page: Page,
    *,
    shop_no: str | None = None,
    platform_id: int | None = None,
    shop_ids: frozenset[int] | None = None,
) -> dict[str, Any]:
    """Shops of the tenant the caller may see (`shop_ids` None = all), filtered."""
    c = shop.c
    query = select(
        c.shop_id, c.shop_no, c.shop_name, c.platform_id, c.sub_platform_id, c.is_disabled
    ).where(c.tenant_id == tid)
    if platform_id is not None:
        query = query.where(c.platform_id == platform_id)
    rows = [
        _plain(row) | {"is_disabled": bool(row.is_disabled)}
        for row in conn.execute(query.order_by(c.shop_id))
        if (shop_no is None or row.shop_no == shop_no)
        and (shop_ids is None or row.shop_id in shop_ids)
    ]
    return page.cut(rows)


def query_warehouses(
    conn: Connection,
    tid: int,
    page: Page,
    *,
    warehouse_no: str | None = None,
    warehouse_name: str | None = None,
    type_: int | None = None,
    hide_delete: bool = True,
) -> dict[str, Any]:
    """Warehouses of the tenant, filtered (see the module's rules)."""
    c = warehouse_t.c
    query = select(
        c.warehouse_id, c.warehouse_no, c.name, c.type, c.is_disabled, c.is_defect,
        c.is_outer_stock,
    ).where(c.tenant_id == tid)  # fmt: skip
    if type_ is not None:
        query = query.where(c.type == type_)
    if hide_delete:
        query = query.where(c.is_disabled == false())
    rows = [
        _plain(row) | {name: bool(row._mapping[name]) for name in _WAREHOUSE_FLAGS}
        for row in conn.execute(query.order_by(c.warehouse_id))
        if (warehouse_no is None or row.warehouse_no == warehouse_no)
        and (not warehouse_name or warehouse_name in row.name)
    ]
    return page.cut(rows)


@dataclass(frozen=True)
class StockFilter:
    """The `params` of wms.StockSpec.search (None / empty = no filter)."""

    spec_nos: tuple[str, ...] | None = None
    warehouse_no: str = ""
    start_time: str = ""
    end_time: str = ""


_s, _p, _w = stock.c, spec.c, warehouse_t.c
_QUANTITIES = ("stock_num", *QUANTITY_FIELDS, "wms_stock_diff")


def search_stock(conn: Connection, tid: int, page: Page, params: StockFilter) -> dict[str, Any]:
    """Stock rows (one per spec × warehouse) with their spec and warehouse, by row id."""
    query = _stock_query(conn, tid, params)
    count = None
    if page.total:
        counted = query.with_only_columns(func.count()).order_by(None)
        count = int(conn.execute(counted).scalar_one())
    paged = query.order_by(_s.rec_id).limit(page.size).offset(page.size * page.number)
    return page.answer([_stock_row(row) for row in conn.execute(paged)], count)


def _stock_query(conn: Connection, tid: int, params: StockFilter) -> Select[Any]:
    joined = stock.join(spec, (_p.tenant_id == _s.tenant_id) & (_p.spec_id == _s.spec_id)).join(
        warehouse_t, (_w.tenant_id == _s.tenant_id) & (_w.warehouse_id == _s.warehouse_id)
    )
    query = (
        select(
            _s.rec_id,
            _s.spec_id,
            _p.spec_no,
            _p.goods_no,
            _p.goods_name,
            _p.spec_name,
            _p.spec_code,
            _p.barcode,
            _s.warehouse_id,
            _w.warehouse_no,
            _w.name.label("warehouse_name"),
            _w.is_defect,
            *(_s[n] for n in _QUANTITIES),
            _s.created,
            _s.modified,
        )  # fmt: skip
        .select_from(joined)
        .where(_s.tenant_id == tid)
    )
    if params.spec_nos is not None:
        if len(params.spec_nos) > MAX_SPEC_NOS:
            raise InvalidArgument(f"params.spec_nos: at most {MAX_SPEC_NOS} codes")
        query = query.where(_p.spec_no.in_(sorted(set(params.spec_nos))))
    if params.warehouse_no:
        query = query.where(_s.warehouse_id == _warehouse_id(conn, tid, params.warehouse_no))
    start = parse_time(params.start_time, "params.start_time")
    end = parse_time(params.end_time, "params.end_time")
    if start is not None and end is not None and end < start:
        raise InvalidArgument("params.end_time: before start_time")
    if start is not None:
        query = query.where(_s.modified >= start)
    if end is not None:
        query = query.where(_s.modified < end)
    return query


def _warehouse_id(conn: Connection, tid: int, warehouse_no: str) -> int:
    query = select(_w.warehouse_id, _w.warehouse_no).where(
        _w.tenant_id == tid, _w.warehouse_no == warehouse_no
    )
    row = next((r for r in conn.execute(query) if r.warehouse_no == warehouse_no), None)
    if row is None:
        raise BusinessError(f"params.warehouse_no: 仓库不存在 {warehouse_no!r}")
    return int(row.warehouse_id)


def _stock_row(row: Any) -> dict[str, Any]:
    values = _plain(row)
    values["defect"] = 1 if values.pop("is_defect") else 0
    values["available_send_stock"] = (
        values["stock_num"] - values["order_num"] - values["sending_num"] - values["lock_num"]
    )
    values["created"] = format_time(values["created"] or None)
    values["modified"] = format_time(values["modified"] or None)
    return values


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain `str` keys (column names are a `str` subclass, which the JSON
    encoder refuses as keys)."""
    return {str(key): value for key, value in row._mapping.items()}


def parse_time(text: str, path: str) -> int | None:
    """ "YYYY-MM-DD HH:MM:SS" in China time → Unix seconds; "" → None; else InvalidArgument."""
    if not text.strip():
        return None
    try:
        moment = datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError:
        raise InvalidArgument(f"{path}: not a time 'YYYY-MM-DD HH:MM:SS': {text!r}") from None
    return int(moment.replace(tzinfo=CHINA_TZ).timestamp())
