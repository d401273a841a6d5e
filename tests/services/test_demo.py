"""The demo seller: every listing gives its expected number, 2447 is the vendor's example."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine

from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import metadata
from stocksync.db.tenants import tenant_id
from stocksync.domain.errors import BusinessError
from stocksync.services.calc import calc_listing
from stocksync.services.demo import create_demo
from stocksync.services.snapshot import dump_snapshot, export_snapshot

NOW = 1_700_000_000.0
DISABLED = "货品id:{}规格Id:{} 已停用或者未开启同步"

#: rec_id -> (syn_stock, stock_syn_rule_id), or the calcStock error message.
EXPECTED: dict[int, tuple[int, int] | str] = {
    2447: (1, -10000),  # vendor example: W "6", nothing on hand, plus 1, min 1, max 550
    1001: (15, 1),  # example 1: A 10 + B 5
    1002: (4, 2),  # example 2: mask 640, A 10-3-2 = 5, B 5-0-6 = -1 (not clamped)
    1003: (27, 4),  # example 3: A 10 + O (20 - 3), defect D dropped; R4 wins the tie
    1004: (12, 5),  # example 4: 15 x 80% + 0.5 = 12.5 -> 12
    1005: (2, 1),  # examples 8/9: suite 2xP + 1xQ, B has no Q row
    1006: "未匹配货品",
    1007: DISABLED.format("jitx002", "jitx002"),
    1008: (5, -10000),  # example 7: Y 3 < min 5, auto-delist off -> hold at 5
    1009: (0, -10000),  # example 6: Y 3 < min 5, auto-delist on -> 0
    1010: (500, -10000),  # example 11: 800 capped at max 500
    1011: DISABLED.format("mug", "mug-350"),  # rule R6 forbids syncing
    1012: (0, -10000),  # example 5: X -3 x 50% = -1.5 -> -2 < min 0 -> 0
    1013: DISABLED.format("tee-old", "tee-red-old"),  # status 0 (deleted)
    1014: (10, -10000),  # example 13: W "1,1" counts A once
    1015: (6, 3),  # class rule R3 on an ancestor class (Running shoes under Shoes)
    1016: (6, 3),  # manual match to lz39
    1017: (0, 1),  # a suite without components gives 0
    1018: (15, 1),  # a delisted listing still syncs
    1019: (2, 5),  # manual suite match in the outlet: 2 x 80% + 0.5 = 2.1 -> 2
}


def calc(engine: Engine, tid: int, rec_id: int) -> tuple[int, int] | str:
    with read_tx(engine) as conn:
        try:
            record = calc_listing(conn, tid, rec_id, now=NOW).record
        except BusinessError as exc:
            return exc.message
    syn_stock, rule_id = record["syn_stock"], record["stock_syn_rule_id"]
    assert isinstance(syn_stock, int) and isinstance(rule_id, int)
    return syn_stock, rule_id


def test_every_demo_listing_gives_its_expected_number(engine: Engine) -> None:
    info = create_demo(engine, now=NOW)
    assert info.report.warnings == []
    got = {rec_id: calc(engine, info.tenant_id, rec_id) for rec_id in EXPECTED}
    assert got == EXPECTED


def test_listing_2447_reproduces_the_vendor_calc_stock_example(engine: Engine) -> None:
    info = create_demo(engine, now=NOW)
    assert (info.sid, info.key, info.secret, info.salt) == (
        "demo", "demo-key", "demo-secret", "demo-salt",
    )  # fmt: skip
    with read_tx(engine) as conn:
        record = calc_listing(conn, info.tenant_id, 2447, now=NOW).record
    documented = {
        "match_code": "lz38", "list_time": "", "stock_syn_min": Decimal("1.0000"),
        "stock_num": Decimal("0.0000"), "stock_syn_warehouses": "6", "sub_platform_id": 0,
        "outer_id": "lz3", "spec_outer_id": "lz38", "stock_syn_percent": 100, "spec_id": "lz38",
        "is_auto_delisting": True, "stock_syn_plus": Decimal("1.0000"), "is_auto_listing": True,
        "match_target_id": 12581, "match_target_type": 1, "mask": 0, "syn_stock": 1,
        "reserve_s": "", "stock_syn_rule_id": -10000, "stock_syn_mask": 0, "goods_id": "lz3",
        "rec_id": 2447, "last_syn_num": Decimal("-1.0000"), "shop_id": 69,
        "stock_syn_max": Decimal("550.0000"), "last_syn_time": "", "delist_time": "",
        "platform_id": 127, "stock_syn_rule_no": "", "status": 1, "stock_change_count": 2,
    }  # fmt: skip
    assert record == documented
    assert {k: type(v) for k, v in record.items()} == {k: type(v) for k, v in documented.items()}


def test_creating_the_demo_again_changes_nothing(engine: Engine) -> None:
    first = create_demo(engine, now=NOW)
    with read_tx(engine) as conn:
        before = dump_snapshot(export_snapshot(conn, "demo"))
    again = create_demo(engine, now=NOW + 3600)
    assert again.tenant_id == first.tenant_id and again.report.changed_listings == 0
    assert set(again.report.created.values()) == {0} == set(again.report.updated.values())
    with read_tx(engine) as conn:
        assert dump_snapshot(export_snapshot(conn, "demo")) == before
        assert calc_listing(conn, again.tenant_id, 2447, now=NOW).record["stock_change_count"] == 2


@pytest.fixture(autouse=True)
def _no_demo_left_behind(engine: Engine) -> None:
    """The demo seller is always `demo`: on a shared server database, start without it."""
    with write_tx(engine) as conn:
        tid = tenant_id(conn, "demo")
        if tid is None:
            return
        for table in reversed(metadata.sorted_tables):  # the tenant row itself last
            conn.execute(table.delete().where(table.c.tenant_id == tid))
