"""wms.StockPd.stockSyncByPd over the app: new numbers, exactly the affected listings wait."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from feeding_harness import Feed
from sqlalchemy import Engine, select

from builders import (
    add_listing,
    add_rule,
    add_shop,
    add_spec,
    add_stock,
    add_suite,
    add_warehouse,
    counts,
    settle,
)
from stocksync.db import schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant

PD = "wms.StockPd.stockSyncByPd"
WAIT = "sales.StockSync.getSelfWaitSyncIdListOpen"


@pytest.fixture
def feed(engine: Engine, sid: str) -> Iterator[Feed]:
    """Warehouses 1 "W1" (good) and 3 "W3" (defect); specs 10 "P" (5 on hand), 11 "Q" (4),
    12 "R" (no row); suite 20 "K" = 2 × P + 1 × Q; rule 1 over warehouse 1; listings 100 on P,
    101 on Q, 102 on K, 103 on R. Nothing is pending."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, 1)
        add_warehouse(conn, tid, 1)
        add_warehouse(conn, tid, 3, is_defect=True)
        for spec_id, code in ((10, "P"), (11, "Q"), (12, "R")):
            add_spec(conn, tid, spec_id, code)
        add_stock(conn, tid, 10, 1, 5)
        add_stock(conn, tid, 11, 1, 4)
        add_suite(conn, tid, 20, "K", {10: 2, 11: 1})
        add_rule(conn, tid, 1, warehouse_list="1")
        for rec_id, code in ((100, "P"), (101, "Q"), (102, "K"), (103, "R")):
            add_listing(conn, tid, rec_id, 1, code)
        settle(conn, tid)
    feed = Feed(engine, sid, tid)
    yield feed
    feed.close()


def _order(**fields: Any) -> dict[str, Any]:
    return {"warehouse_no": "W1", "defect_mode": 0, "remark": "count", **fields}


def _counts(feed: Feed) -> dict[int, int]:
    with read_tx(feed.engine) as conn:
        return counts(conn, feed.tid)


def _on_hand(feed: Feed) -> dict[tuple[int, int], Decimal]:
    s = schema.stock.c
    query = select(s.spec_id, s.warehouse_id, s.stock_num).where(s.tenant_id == feed.tid)
    with read_tx(feed.engine) as conn:
        return {(r[0], r[1]): r[2] for r in conn.execute(query)}


def test_a_stocktake_answers_its_number_and_puts_exactly_the_affected_listings_back(
    feed: Feed,
) -> None:
    data = feed.call(PD, _order(), [{"spec_no": "P", "new_num": "8.0000", "defect": False},
                                    {"spec_no": "Q", "new_num": 4}])  # fmt: skip
    [(pd_id, ok)] = [(k, v) for k, v in data.items() if k != "pd_no"]
    assert re.fullmatch(r"PD\d{14}\d{4}", data["pd_no"]) and pd_id.isdigit() and ok == "ok"
    assert _on_hand(feed) == {(10, 1): Decimal("8.0000"), (11, 1): Decimal("4.0000")}
    assert _counts(feed) == {100: 1, 101: 0, 102: 1, 103: 0}  # Q was already 4
    assert sorted(feed.call(WAIT, 100, 0)["id_list"]) == [100, 102]
    numbers = [
        feed.call("sales.StockSync.calcStock", rec, False)["syn_stock"] for rec in (100, 102)
    ]
    assert numbers == [8, 4]  # suite: min(8 / 2, 4 / 1)


def test_unknown_codes_are_skipped_and_listed(feed: Feed) -> None:
    data = feed.call(PD, _order(), [{"spec_no": "X", "new_num": 1}, {"spec_no": "R", "new_num": 2},
                                    {"spec_no": "Y", "new_num": 3}])  # fmt: skip
    assert data["skip_spec_no"] == "X,Y"
    assert _on_hand(feed)[(12, 1)] == Decimal(2)
    assert _counts(feed) == {100: 0, 101: 0, 102: 0, 103: 1}


def test_a_stocktake_that_changes_nothing_bumps_nothing(feed: Feed) -> None:
    before = feed.everything()
    data = feed.call(PD, _order(), [{"spec_no": "P", "new_num": "5"}])
    assert "skip_spec_no" not in data
    assert feed.everything() == before


def test_a_defect_only_stocktake_counts_a_defect_warehouse(feed: Feed) -> None:
    feed.call(PD, _order(warehouse_no="W3", defect_mode=2), [{"spec_no": "P", "new_num": 9}])
    assert _on_hand(feed)[(10, 3)] == Decimal(9)
    assert _counts(feed)[100] == 1  # the row is new; the rule does not read W3, but it changed


REFUSED: list[tuple[Any, Any, int, str]] = [
    ({"defect_mode": 0}, [], 1, "pdOrder.warehouse_no: required"),
    (_order(warehouse_no="W9"), [], 100, "pdOrder.warehouse_no: 仓库不存在 'W9'"),
    (_order(defect_mode=3), [], 1, "pdOrder.defect_mode: must be one of 0, 1, 2, not 3"),
    (_order(defect_mode=2), [], 100, "pdOrder.defect_mode: 2 (defect only) does not fit"),
    (_order(warehouse_no="W3", defect_mode=1), [], 100,
     "pdOrder.defect_mode: 1 (good only) does not fit"),
    (_order(is_post_error="yes"), [], 1, "pdOrder.is_post_error: not a boolean"),
    (_order(), [{"spec_no": "P"}], 1, "specList[0].new_num: required"),
    (_order(), [{"spec_no": "P", "new_num": "-1"}], 1, "specList[0].new_num: must be ≥ 0"),
    (_order(), [{"spec_no": "P", "new_num": "1e3"}], 1, "specList[0].new_num: not a decimal"),
    (_order(), [{"new_num": 1}], 1, "specList[0].spec_no: required"),
    (_order(), [{"spec_no": "P", "new_num": 1}, {"spec_no": "P", "new_num": 2}], 1,
     "specList[1].spec_no: duplicate spec_no 'P' (also specList[0].spec_no)"),
    (_order(), [{"spec_no": "X", "new_num": 1}, {"spec_no": "Y", "new_num": 1}], 100,
     "商家编码全不存在或都已删除"),
    (_order(is_post_error=1), [{"spec_no": "P", "new_num": 1}, {"spec_no": "X", "new_num": 1}],
     100, "specList[1].spec_no: unknown spec_no 'X'"),
]  # fmt: skip


def test_refused_stocktakes_name_the_field_and_write_nothing(feed: Feed) -> None:
    for order, items, status, message in REFUSED:
        got_status, got_message = feed.refused(PD, order, items)
        assert (got_status, got_message[: len(message)]) == (status, message), got_message
