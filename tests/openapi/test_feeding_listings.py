"""goods.ApiGoods.upload over the app: new listings wait, re-uploads are idempotent, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from feeding_harness import Feed
from sqlalchemy import Engine, select

from builders import add_rule, add_shop, add_spec, add_stock, add_suite, add_warehouse
from stocksync.db import schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant

UPLOAD = "goods.ApiGoods.upload"
ITEMS = [
    {"goods_id": "g1", "spec_id": "s1", "goods_no": "G", "spec_no": "P", "stock_num": "2"},
    {"goods_id": "g1", "spec_id": "s2", "goods_no": "K", "status": "2", "price": 9.9},
    {"goods_id": "g2", "goods_no": "NONE", "goods_name": "名字"},
]


def _tenant(engine: Engine, sid: str) -> int:
    """Shops 1 ("S1") and 2 ("S2", platform 3); spec 10 "P" with 7 on hand in warehouse 1;
    suite 20 "K" = 1 × P; rule 1 over warehouse 1."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, 1)
        add_shop(conn, tid, 2, platform_id=3)
        add_warehouse(conn, tid, 1)
        add_spec(conn, tid, 10, "P")
        add_stock(conn, tid, 10, 1, 7)
        add_suite(conn, tid, 20, "K", {10: 1})
        add_rule(conn, tid, 1, warehouse_list="1")
    return tid


@pytest.fixture
def feed(engine: Engine, sid: str) -> Iterator[Feed]:
    feed = Feed(engine, sid, _tenant(engine, sid))
    yield feed
    feed.close()


_COLUMNS = (
    "rec_id", "shop_id", "goods_id", "spec_id", "outer_id", "spec_outer_id", "status",
    "stock_num", "price", "match_code", "match_target_type", "match_target_id", "rule_id",
    "stock_change_count", "is_stock_changed", "last_syn_num",
)  # fmt: skip


def _listings(feed: Feed) -> list[tuple[Any, ...]]:
    c = schema.listing.c
    query = select(*(c[n] for n in _COLUMNS)).where(c.tenant_id == feed.tid).order_by(c.rec_id)
    with read_tx(feed.engine) as conn:
        return [tuple(row) for row in conn.execute(query)]


D = Decimal


def test_upload_answers_rec_ids_and_new_listings_wait_matched_and_resolved(feed: Feed) -> None:
    assert feed.call(UPLOAD, {"shop_no": "S1", "goods_list": ITEMS}) == {
        "status": 0,
        "rec_ids": [1, 2, 3],
    }
    never = D("-1.0000")
    assert _listings(feed) == [
        (1, 1, "g1", "s1", "G", "P", 1, D("2.0000"), D(0), "P", 1, 10, 1, 1, True, never),
        (2, 1, "g1", "s2", "K", "", 2, D(0), D("9.9000"), "K", 2, 20, 1, 1, True, never),
        (3, 1, "g2", "", "NONE", "", 1, D(0), D(0), "NONE", 0, 0, 1, 1, True, never),
    ]


def test_an_uploaded_listing_goes_through_the_sync_loop(feed: Feed) -> None:
    [rec_id] = feed.call(UPLOAD, {"shop_no": "S1", "goods_list": ITEMS[:1]})["rec_ids"]
    wait = feed.call("sales.StockSync.getSelfWaitSyncIdListOpen", 100, 0)
    assert wait["id_list"] == [rec_id]
    record = feed.call("sales.StockSync.calcStock", rec_id, False)
    assert (record["syn_stock"], record["stock_change_count"]) == (7, 1)


def test_uploading_the_same_listings_again_writes_and_bumps_nothing(feed: Feed) -> None:
    feed.call(UPLOAD, {"shop_no": "S1", "goods_list": ITEMS})
    before = feed.everything()
    again = feed.call(UPLOAD, {"shop_no": "S1", "goods_list": list(reversed(ITEMS))})
    assert again["rec_ids"] == [3, 2, 1]
    assert feed.everything() == before


def test_a_changed_code_or_status_bumps_once_and_other_fields_bump_nothing(feed: Feed) -> None:
    feed.call(UPLOAD, {"shop_no": "S1", "goods_list": ITEMS})
    changed = [
        {**ITEMS[0], "goods_name": "renamed", "price": 3, "stock_num": 5},  # no bump
        {**ITEMS[1], "status": 1},  # relisted: bump
        {**ITEMS[2], "goods_no": "P"},  # now matches spec 10: bump
    ]
    feed.call(UPLOAD, {"shop_no": "S1", "goods_list": changed})
    rows = {row[0]: row for row in _listings(feed)}
    assert [rows[rec][13] for rec in (1, 2, 3)] == [1, 2, 2]
    assert rows[1][7:9] == (D(5), D(3)) and rows[2][6] == 1
    assert rows[3][9:12] == ("P", 1, 10)


def test_a_key_that_may_not_see_the_shop_is_refused(engine: Engine, sid: str) -> None:
    feed = Feed(engine, sid, _tenant(engine, sid), shop_ids="2")
    try:
        assert feed.refused(UPLOAD, {"shop_no": "S1", "goods_list": ITEMS}) == (100, "权限不足")
    finally:
        feed.close()


REFUSED: list[tuple[Any, int, str]] = [
    ({"goods_list": ITEMS}, 1, "shop_no: required"),
    ({"shop_no": "S9", "goods_list": ITEMS}, 100, "shop_no: 店铺不存在 'S9'"),
    ({"shop_no": "S2", "goods_list": ITEMS}, 100, "shop_no: 'S2' is not a self-built platform"),
    ({"shop_no": "S1", "goods_list": "x"}, 1, "goods_list: not a list"),
    ({"shop_no": "S1"}, 1, "goods_list: required"),
    ({"shop_no": "S1", "goods_list": [*ITEMS, {"spec_name": "x"}]}, 1,
     "goods_list[3].goods_id: required (goods_id or spec_id)"),
    ({"shop_no": "S1", "goods_list": [*ITEMS, ITEMS[0]]}, 1,
     "goods_list[3]: duplicate goods_id + spec_id ('g1', 's1') (also goods_list[0])"),
    ({"shop_no": "S1", "goods_list": [{"goods_id": "g", "status": 5}]}, 1,
     "goods_list[0].status: must be one of 0, 1, 2, not 5"),
    ({"shop_no": "S1", "goods_list": [{"goods_id": "g", "status": "x"}]}, 1,
     "goods_list[0].status: not a 32-bit integer"),
    ({"shop_no": "S1", "goods_list": [{"goods_id": "g", "price": -1}]}, 1,
     "goods_list[0].price: must be ≥ 0"),
    ({"shop_no": "S1", "goods_list": [{"goods_id": "g" * 41}]}, 1,
     "goods_list[0].goods_id: longer than 40 characters"),
    ({"shop_no": "S1", "goods_list": [{"goods_id": "g", "spec_no": ["P"]}]}, 1,
     "goods_list[0].spec_no: not a string"),
]  # fmt: skip


def test_refused_uploads_name_the_field_and_write_nothing(feed: Feed) -> None:
    for param, status, message in REFUSED:
        got_status, got_message = feed.refused(UPLOAD, param)
        assert (got_status, got_message[: len(message)]) == (status, message), got_message
