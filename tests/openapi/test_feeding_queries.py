"""Paged reads over the app: queryShop, queryWarehouse, wms.StockSpec.search."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from feeding_harness import Feed
from sqlalchemy import Engine, update

from builders import add_shop, add_spec, add_stock, add_warehouse
from stocksync.db import schema
from stocksync.db.engine import write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.model import QUANTITY_FIELDS

SHOPS, WAREHOUSES, STOCK = (
    "setting.Shop.queryShop",
    "setting.Warehouse.queryWarehouse",
    "wms.StockSpec.search",
)
T0 = 1_700_000_000  # 2023-11-15 06:13:20 China time


def _tenant(engine: Engine, sid: str) -> int:
    """Shops 1, 2, 3 (3 on platform 5); warehouses 1 "W1" (type 1), 2 "W2" (defect), 3 "W3"
    (disabled); specs 10 "P", 11 "Q"; stock rows P@W1 (modified T0), Q@W1 (T0 + 3600),
    P@W2 (T0 + 7200)."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        for shop_id in (1, 2, 3):
            add_shop(conn, tid, shop_id, platform_id=5 if shop_id == 3 else 127)
        add_warehouse(conn, tid, 1, name="Main store")
        add_warehouse(conn, tid, 2, name="Main defects", is_defect=True)
        add_warehouse(conn, tid, 3, name="Old store", is_disabled=True)
        conn.execute(update(schema.warehouse).where(schema.warehouse.c.tenant_id == tid,
                                                    schema.warehouse.c.warehouse_id == 1)
                     .values(type=1))  # fmt: skip
        add_spec(conn, tid, 10, "P", goods_no="G", goods_name="Tea", spec_name="small")
        add_spec(conn, tid, 11, "Q")
        for spec_id, warehouse_id, offset in ((10, 1, 0), (11, 1, 3600), (10, 2, 7200)):
            add_stock(conn, tid, spec_id, warehouse_id, 10, order_num=2, sending_num="1.5",
                      lock_num=1, purchase_num=4)  # fmt: skip
            s = schema.stock.c
            conn.execute(update(schema.stock).where(
                s.tenant_id == tid, s.spec_id == spec_id, s.warehouse_id == warehouse_id
            ).values(created=T0, modified=T0 + offset))  # fmt: skip
    return tid


@pytest.fixture
def feed(engine: Engine, sid: str) -> Iterator[Feed]:
    feed = Feed(engine, sid, _tenant(engine, sid))
    yield feed
    feed.close()


def _shop(shop_id: int, platform_id: int = 127) -> dict[str, Any]:
    return {"shop_id": shop_id, "shop_no": f"S{shop_id}", "shop_name": "",
            "platform_id": platform_id, "sub_platform_id": 0, "is_disabled": False}  # fmt: skip


def test_query_shop_answers_every_shop_with_total_count(feed: Feed) -> None:
    assert feed.page(SHOPS, {}) == {"details": [_shop(1), _shop(2), _shop(3, 5)], "total_count": 3}
    assert feed.page(SHOPS, {"platform_id": "127"})["total_count"] == 2
    assert feed.page(SHOPS, {"shop_no": "S2"})["details"] == [_shop(2)]


def test_query_shop_pages_are_zero_based_and_end_empty(feed: Feed) -> None:
    pages = [feed.page(SHOPS, {}, size=2, number=n) for n in range(3)]
    assert [[s["shop_id"] for s in p["details"]] for p in pages] == [[1, 2], [3], []]
    assert {p["total_count"] for p in pages} == {3}


def test_query_shop_shows_only_the_shops_the_key_may_see(engine: Engine, sid: str) -> None:
    feed = Feed(engine, sid, _tenant(engine, sid), shop_ids="2,3")
    try:
        assert feed.page(SHOPS, {})["details"] == [_shop(2), _shop(3, 5)]
        assert feed.page(SHOPS, {"shop_no": "S1"}) == {"details": [], "total_count": 0}
    finally:
        feed.close()


def _warehouse(warehouse_id: int, name: str, **flags: Any) -> dict[str, Any]:
    row = {"warehouse_id": warehouse_id, "warehouse_no": f"W{warehouse_id}", "name": name,
           "type": 0, "is_disabled": False, "is_defect": False,
           "is_outer_stock": False}  # fmt: skip
    return row | flags


def test_query_warehouse_hides_disabled_ones_unless_asked(feed: Feed) -> None:
    main, defects = (
        _warehouse(1, "Main store", type=1),
        _warehouse(2, "Main defects", is_defect=True),
    )
    old = _warehouse(3, "Old store", is_disabled=True)
    assert feed.page(WAREHOUSES, {}) == {"details": [main, defects], "total_count": 2}
    assert feed.page(WAREHOUSES, {"hide_delete": 0})["details"] == [main, defects, old]
    assert feed.page(WAREHOUSES, {"warehouse_name": "store", "hide_delete": "0"})["details"] == [
        main,
        old,
    ]
    assert feed.page(WAREHOUSES, {"warehouse_name": "STORE"})["details"] == []
    assert feed.page(WAREHOUSES, {"type": 1, "warehouse_no": "W1"})["details"] == [main]


def _stock_row(rec_id: int, spec_id: int, warehouse_id: int, modified: str) -> dict[str, Any]:
    zero = Decimal("0.0000")
    row: dict[str, Any] = {
        "rec_id": rec_id, "spec_id": spec_id, "spec_no": "P" if spec_id == 10 else "Q",
        "goods_no": "G" if spec_id == 10 else "", "goods_name": "Tea" if spec_id == 10 else "",
        "spec_name": "small" if spec_id == 10 else "", "spec_code": "", "barcode": "",
        "warehouse_id": warehouse_id, "warehouse_no": f"W{warehouse_id}",
        "warehouse_name": "Main store" if warehouse_id == 1 else "Main defects",
        "stock_num": Decimal("10.0000"), **dict.fromkeys(QUANTITY_FIELDS, zero),
        "wms_stock_diff": zero, "created": "2023-11-15 06:13:20", "modified": modified,
        "defect": 1 if warehouse_id == 2 else 0, "available_send_stock": Decimal("5.5000"),
    }  # fmt: skip
    row.update(order_num=Decimal(2), sending_num=Decimal("1.5"), lock_num=Decimal(1),
               purchase_num=Decimal(4))  # fmt: skip
    return row


def test_stock_search_answers_every_field_of_each_row(feed: Feed) -> None:
    data = feed.page(STOCK, {"spec_nos": ["P"]})
    assert data == {
        "details": [
            _stock_row(1, 10, 1, "2023-11-15 06:13:20"),
            _stock_row(3, 10, 2, "2023-11-15 08:13:20"),
        ],
        "total_count": 2,
    }


def test_stock_search_filters_by_warehouse_and_modified_time(feed: Feed) -> None:
    def ids(params: dict[str, Any], **paging: int) -> list[int]:
        return [row["rec_id"] for row in feed.page(STOCK, params, **paging)["details"]]

    assert ids({}) == [1, 2, 3] == ids({"spec_nos": []})
    assert ids({"warehouse_no": "W1"}) == [1, 2]
    window = {"start_time": "2023-11-15 07:13:20", "end_time": "2023-11-15 08:13:20"}
    assert ids(window) == [2]  # start inclusive, end exclusive
    assert ids({"start_time": "2023-11-15 07:13:20", "end_time": ""}) == [2, 3]
    assert ids({"spec_nos": ["P", "Q", "nope"]}, size=2, number=1) == [3]


REFUSED: list[tuple[str, Any, tuple[int, int], int, str]] = [
    (STOCK, {}, (1001, 0), 1, "page_size: must be within 1..1000, not 1001"),
    (SHOPS, {}, (0, 0), 1, "page_size: must be within 1..1000, not 0"),
    (STOCK, {"warehouse_no": "W9"}, (10, 0), 100, "params.warehouse_no: 仓库不存在 'W9'"),
    (STOCK, {"start_time": "yesterday"}, (10, 0), 1, "params.start_time: not a time"),
    (STOCK, {"start_time": "2023-11-15 08:00:00", "end_time": "2023-11-15 07:00:00"}, (10, 0),
     1, "params.end_time: before start_time"),
    (STOCK, {"spec_nos": "P"}, (10, 0), 1, "params.spec_nos: not a list"),
    (SHOPS, {"platform_id": "x"}, (10, 0), 1, "params.platform_id: not a 32-bit integer"),
    (WAREHOUSES, {"hide_delete": 2}, (10, 0), 1, "params.hide_delete: not a boolean"),
]  # fmt: skip


def test_refused_reads_name_the_field(feed: Feed) -> None:
    for method, params, paging, status, message in REFUSED:
        got_status, got_message = feed.refused(method, params, paging=paging)
        assert (got_status, got_message[: len(message)]) == (status, message), got_message
