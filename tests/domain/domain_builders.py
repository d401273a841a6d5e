"""Small builders for domain tests: the four warehouses of the worked examples, stock rows."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from stocksync.domain.formula import StockView
from stocksync.domain.model import QUANTITY_FIELDS, ZERO, StockRow, Warehouse

#: Semantics §7: 1 A normal, 2 B normal, 3 D defect, 4 O outside WMS.
WAREHOUSES = {
    1: Warehouse(1, "A", "A"),
    2: Warehouse(2, "B", "B"),
    3: Warehouse(3, "D", "D", is_defect=True),
    4: Warehouse(4, "O", "O", is_outer_stock=True),
}
NAMES = {wid: w.name for wid, w in WAREHOUSES.items()}


def row(
    spec_id: int, warehouse_id: int, stock: str | int, wms: str | int = 0, **qty: str
) -> StockRow:
    """A stock row; `qty` names mask quantities, e.g. order_num="3"."""
    unknown = set(qty) - set(QUANTITY_FIELDS)
    assert not unknown, unknown
    quantities = tuple(Decimal(qty[name]) if name in qty else ZERO for name in QUANTITY_FIELDS)
    return StockRow(spec_id, warehouse_id, Decimal(stock), quantities, Decimal(wms))


def view(rows: Iterable[StockRow], warehouses: dict[int, Warehouse] | None = None) -> StockView:
    """A stock view over the example warehouses (or `warehouses`) and `rows`."""
    by_key = {(r.spec_id, r.warehouse_id): r for r in rows}
    return StockView(warehouses if warehouses is not None else WAREHOUSES, by_key)
