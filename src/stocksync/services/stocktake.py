"""Stocktake (`wms.StockPd.stockSyncByPd`): overwrite `stock_num` of many specs in one warehouse.

The vendor's call creates a stocktake order, enters it and executes it in one step: each listed
spec's on-hand quantity becomes `new_num` (a decimal ≥ 0). It goes through
`stock.set_stock`, so exactly the listings of specs whose row really changed (and of suites
containing them) are bumped, once; a row set to its current value bumps nothing.

Our rules:
- `defect_mode` (0 all, 1 good only, 2 defect only) is checked against the warehouse: stocksync
  keeps defect stock in defect warehouses (`is_defect`), so mode 1 on a defect warehouse or mode
  2 on a good one is refused (status 100) rather than silently counting nothing. Each item's
  `defect` flag is accepted and not used: the warehouse decides.
- Unknown `spec_no`s are skipped and reported in `skip_spec_no` (comma-separated, request
  order); with `is_post_error` the first one fails the whole call. When every code is unknown
  the call fails with the vendor's `商家编码全不存在或都已删除`. An empty list is accepted.
- A `spec_no` listed twice is refused.
- There is no stocktake table yet: the stocktake id is the time in protocol seconds and
  `pd_no` is "PD" + China date and time + a per-process sequence (see `PdNumbers`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from stocksync.db.schema import spec
from stocksync.db.schema import warehouse as warehouse_t
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import ZERO
from stocksync.services import inputs
from stocksync.services.clock import CHINA_TZ, to_wdt
from stocksync.services.stock import StockChange, set_stock

ALL, GOOD_ONLY, DEFECT_ONLY = 0, 1, 2
#: The vendor's refusal when none of the codes is a stored spec.
ALL_UNKNOWN = "商家编码全不存在或都已删除"
_w = warehouse_t.c


@dataclass(frozen=True)
class PdOrder:
    """`pdOrder`: the warehouse counted and how."""

    warehouse_no: str
    defect_mode: int = ALL
    remark: str = ""
    is_post_error: bool = False


@dataclass(frozen=True)
class PdItem:
    """One item of `specList`; `new_num` None = not sent."""

    spec_no: str
    new_num: Decimal | None
    remark: str = ""
    defect: bool = False


@dataclass(frozen=True)
class Stocktake:
    """The stocktake done: its id and number, the codes skipped, the listings bumped."""

    pd_id: int
    pd_no: str
    skipped: list[str]
    bumped: frozenset[int]


@dataclass
class PdNumbers:
    """Stocktake ids and numbers for one process (no table keeps them yet)."""

    _sequence: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next(self, now: float) -> tuple[int, str]:
        """(pd id, pd_no) for a stocktake at `now`: "PD" + yyyymmddHHMMSS + 4 digits."""
        stamp = datetime.fromtimestamp(now, CHINA_TZ).strftime("%Y%m%d%H%M%S")
        return to_wdt(now), f"PD{stamp}{next(self._sequence) % 10000:04d}"


def stocktake(
    conn: Connection,
    tid: int,
    order: PdOrder,
    items: Sequence[PdItem],
    now: float,
    numbers: PdNumbers,
) -> Stocktake:
    """Set `stock_num` = `new_num` for every known spec in the order's warehouse, atomically."""
    _check(order, items)
    warehouse_id = _warehouse(conn, tid, order)
    ids = inputs.ids_by_code(conn, tid, spec.c.spec_no, spec.c.spec_id, (i.spec_no for i in items))
    skipped = [item.spec_no for item in items if item.spec_no not in ids]
    if skipped and order.is_post_error:
        index = next(i for i, item in enumerate(items) if item.spec_no not in ids)
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise BusinessError(f"specList[{index}].spec_no: unknown spec_no {skipped[0]!r}{more}")
    if items and len(skipped) == len(items):
        raise BusinessError(ALL_UNKNOWN)
    changes = [
        StockChange(ids[item.spec_no], warehouse_id, {"stock_num": item.new_num or ZERO})
        for item in items
        if item.spec_no in ids
    ]
    bumped = set_stock(conn, tid, changes, now)
    pd_id, pd_no = numbers.next(now)
    return Stocktake(pd_id, pd_no, skipped, frozenset(bumped))


def _check(order: PdOrder, items: Sequence[PdItem]) -> None:
    inputs.text(order.warehouse_no, "pdOrder.warehouse_no", _w.warehouse_no, required=True)
    inputs.one_of(order.defect_mode, "pdOrder.defect_mode", (ALL, GOOD_ONLY, DEFECT_ONLY))
    if len(order.remark) > 255:
        raise InvalidArgument("pdOrder.remark: longer than 255 characters")
    for index, item in enumerate(items):
        path = f"specList[{index}]"
        inputs.text(item.spec_no, f"{path}.spec_no", spec.c.spec_no, required=True)
        inputs.quantity(item.new_num, f"{path}.new_num", minimum=ZERO)
        if len(item.remark) > 255:
            raise InvalidArgument(f"{path}.remark: longer than 255 characters")
    inputs.no_duplicates((i.spec_no for i in items), lambda i: f"specList[{i}].spec_no", "spec_no")


def _warehouse(conn: Connection, tid: int, order: PdOrder) -> int:
    """The counted warehouse's id; unknown or of the wrong kind for `defect_mode` → 100."""
    query = select(_w.warehouse_id, _w.warehouse_no, _w.is_defect).where(
        _w.tenant_id == tid, _w.warehouse_no == order.warehouse_no
    )
    row = next((r for r in conn.execute(query) if r.warehouse_no == order.warehouse_no), None)
    if row is None:
        raise BusinessError(f"pdOrder.warehouse_no: 仓库不存在 {order.warehouse_no!r}")
    mode = order.defect_mode
    if (mode == GOOD_ONLY and row.is_defect) or (mode == DEFECT_ONLY and not row.is_defect):
        label = "good only" if mode == GOOD_ONLY else "defect only"
        kind = "a defect" if row.is_defect else "a good-goods"
        raise BusinessError(
            f"pdOrder.defect_mode: {mode} ({label}) does not fit {kind} warehouse "
            f"{order.warehouse_no!r}"
        )
    return int(row.warehouse_id)
