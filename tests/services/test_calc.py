"""calc_listing / explain_listing: the single-listing calcStock path on every backend."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, Table, update

from builders import (
    add_custom_rule,
    add_listing,
    add_rule,
    add_shop,
    add_spec,
    add_stock,
    add_suite,
    add_warehouse,
    settle,
)
from stocksync import jsoncodec
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import custom_rule, listing, rule, stock, warehouse
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError
from stocksync.services.calc import calc_listing, calc_record_json, explain_listing
from stocksync.services.clock import WDT_EPOCH
from stocksync.services.records import RECORD_FIELDS
from vendor import vendor_record

NOW = 1_700_000_000.0

# The documented type of each field (flagship protocol §5).
DOC_TYPES: dict[str, type] = {
    **dict.fromkeys(
        ["rec_id", "shop_id", "platform_id", "sub_platform_id", "match_target_type",
         "match_target_id", "status", "syn_stock", "stock_change_count", "mask",
         "stock_syn_rule_id", "stock_syn_mask", "stock_syn_percent"], int),
    **dict.fromkeys(
        ["goods_id", "spec_id", "outer_id", "spec_outer_id", "match_code", "last_syn_time",
         "list_time", "delist_time", "reserve_s", "stock_syn_rule_no", "stock_syn_warehouses"],
        str),
    **dict.fromkeys(
        ["stock_num", "last_syn_num", "stock_syn_plus", "stock_syn_min", "stock_syn_max"],
        Decimal),
    "is_auto_listing": bool,
    "is_auto_delisting": bool,
}  # fmt: skip


def _vendor_tenant(conn: Connection, tid: int) -> None:
    add_shop(conn, tid, 69, platform_id=127)
    add_warehouse(conn, tid, 6)
    add_spec(conn, tid, 12581, "lz38", goods_no="lz3")
    add_listing(
        conn, tid, 2447, 69, "lz38", goods_id="lz3", spec_id="lz38", outer_id="lz3",
        status=1, stock_num=Decimal(0), last_syn_num=Decimal(-1), stock_change_count=2,
    )  # fmt: skip
    add_custom_rule(
        conn, tid, 2447, warehouse_list="6", percent=100, plus_value=1, min_stock=1,
        max_stock=550, is_auto_listing=True, is_auto_delisting=True,
    )  # fmt: skip
    settle(conn, tid)


def test_vendor_example_record_equals_the_documented_answer(engine: Engine, sid: str) -> None:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        _vendor_tenant(conn, tid)
    with read_tx(engine) as conn:
        record = calc_listing(conn, tid, 2447, now=NOW).record
    expected = vendor_record()
    assert list(record) == list(RECORD_FIELDS)
    assert set(record) == set(expected) == set(DOC_TYPES)
    for name, value in expected.items():
        assert record[name] == value, name
        assert type(record[name]) is DOC_TYPES[name], name
    assert str(record["stock_syn_max"]) == "550.0000"
    assert str(record["stock_num"]) == "0.0000"
    assert str(record["last_syn_num"]) == "-1.0000"


@pytest.fixture
def world(engine: Engine, sid: str) -> tuple[Engine, int]:
    """Shops 1 (enabled) and 2 (disabled); warehouses 1, 2, 3 defect; specs P, Q; suite K."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, 1)
        add_shop(conn, tid, 2, is_disabled=True)
        add_warehouse(conn, tid, 1)
        add_warehouse(conn, tid, 2)
        add_warehouse(conn, tid, 3, is_defect=True)
        add_spec(conn, tid, 10, "P")
        add_spec(conn, tid, 11, "Q")
        add_suite(conn, tid, 20, "K", {10: 2, 11: 1})
        add_stock(conn, tid, 10, 1, 5)
        add_stock(conn, tid, 11, 1, 10, order_num=3)
        add_stock(conn, tid, 10, 2, 3)
        add_stock(conn, tid, 10, 3, 100)
        add_rule(conn, tid, 7, rule_no="R7", priority=5, warehouse_list="1,2,3",
                 stock_flag=128, percent=Decimal("50"), plus_value=Decimal("0.5"),
                 max_stock=0, min_stock=0)  # fmt: skip
        add_listing(conn, tid, 100, 1, "P")
        add_listing(conn, tid, 101, 1, "K")
        add_listing(conn, tid, 102, 1, "nothing")
        add_listing(conn, tid, 103, 2, "P")
        add_listing(conn, tid, 104, 1, "Q", goods_id="jitx002", spec_id="jitx002")
        settle(conn, tid)
    return engine, tid


def _calc(world: tuple[Engine, int], rec_id: int, **kwargs: object) -> dict[str, object]:
    engine, tid = world
    with read_tx(engine) as conn:
        return calc_listing(conn, tid, rec_id, now=NOW, **kwargs).record  # type: ignore[arg-type]


def _error(world: tuple[Engine, int], rec_id: int, **kwargs: object) -> str:
    with pytest.raises(BusinessError) as caught:
        _calc(world, rec_id, **kwargs)
    return caught.value.message


def _set(world: tuple[Engine, int], rec_id: int, **values: object) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        stmt = update(listing).where(listing.c.tenant_id == tid, listing.c.rec_id == rec_id)
        conn.execute(stmt.values(**values))


def test_spec_listing_uses_its_strategy_rule_and_echoes_it(world: tuple[Engine, int]) -> None:
    record = _calc(world, 100)
    # X = 5 + 3 (warehouse 3 is a defect warehouse); Y = floor(8 * 50 / 100 + 0.5) = 4
    assert record["syn_stock"] == 4
    assert record["stock_syn_rule_id"] == 7 and record["stock_syn_rule_no"] == "R7"
    assert record["stock_syn_warehouses"] == "1,2,3"
    assert record["stock_syn_mask"] == 128
    assert record["stock_syn_percent"] == 50 and type(record["stock_syn_percent"]) is int
    assert record["stock_syn_plus"] == Decimal("0.5000")
    assert record["match_target_type"] == 1 and record["match_target_id"] == 10


def test_suite_listing_floors_each_warehouse_before_summing(world: tuple[Engine, int]) -> None:
    # warehouse 1: P 5/2 -> 2, Q 10-3 = 7 -> 2; warehouse 2: Q has no row -> 0; X = 2
    record = _calc(world, 101)
    assert record["match_target_type"] == 2 and record["match_target_id"] == 20
    assert record["syn_stock"] == 1  # floor(2 * 0.5 + 0.5)


def test_unknown_listing_is_not_found(world: tuple[Engine, int]) -> None:
    assert _error(world, 999) == "平台货品不存在"


def test_listing_outside_the_visible_shops_is_not_found(world: tuple[Engine, int]) -> None:
    assert _error(world, 100, shop_ids=frozenset({5})) == "平台货品不存在"
    assert _calc(world, 100, shop_ids=frozenset({1}))["syn_stock"] == 4


def test_unbound_listing_is_refused(world: tuple[Engine, int]) -> None:
    assert _error(world, 102) == "未匹配货品"


def test_listing_in_a_disabled_shop_counts_as_disabled(world: tuple[Engine, int]) -> None:
    assert _error(world, 103) == "货品id:g103规格Id:s103 已停用或者未开启同步"
    assert _calc(world, 103, force_sync=True)["syn_stock"] == 4


def test_disabled_listing_names_its_platform_ids(world: tuple[Engine, int]) -> None:
    _set(world, 104, is_disable_syn=True)
    assert _error(world, 104) == "货品id:jitx002规格Id:jitx002 已停用或者未开启同步"
    # Q: 10 - 3 awaiting review = 7 -> floor(3.5 + 0.5) = 4
    assert _calc(world, 104, force_sync=True)["syn_stock"] == 4


def test_deleted_listing_counts_as_disabled(world: tuple[Engine, int]) -> None:
    _set(world, 100, status=0)
    assert "已停用或者未开启同步" in _error(world, 100)


def test_delay_blocks_only_until_it_expires(world: tuple[Engine, int]) -> None:
    until = int(NOW) - WDT_EPOCH + 60
    _set(world, 100, mask=2, disable_syn_until=until)
    assert "已停用或者未开启同步" in _error(world, 100)
    assert _calc(world, 100, force_sync=True)["mask"] == 2
    _set(world, 100, disable_syn_until=until - 120)
    assert _calc(world, 100)["syn_stock"] == 4


def test_a_lease_without_the_delay_bit_does_not_block(world: tuple[Engine, int]) -> None:
    _set(world, 100, mask=0, disable_syn_until=int(NOW) - WDT_EPOCH + 300)
    assert _calc(world, 100)["syn_stock"] == 4


def test_rule_that_forbids_syncing_blocks_unless_forced(world: tuple[Engine, int]) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        add_rule(conn, tid, 8, priority=9, warehouse_list="1", is_disable_syn=True)
        settle(conn, tid)
    assert "已停用或者未开启同步" in _error(world, 100)
    record = _calc(world, 100, force_sync=True)
    assert record["stock_syn_rule_id"] == 8 and record["syn_stock"] == 5


def test_no_rule_stays_an_error_even_when_forced(world: tuple[Engine, int]) -> None:
    _set(world, 100, rule_id=-1)
    assert "已停用或者未开启同步" in _error(world, 100, force_sync=True)


def test_rule_with_only_defect_or_unknown_warehouses_is_an_empty_list(
    world: tuple[Engine, int],
) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        add_custom_rule(conn, tid, 100, warehouse_list="3,99,x")
        settle(conn, tid)
    assert _error(world, 100) == "仓库列表为空"


def test_custom_rule_reports_id_minus_10000_and_fractional_percent(
    world: tuple[Engine, int],
) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        add_custom_rule(conn, tid, 100, warehouse_list="1", percent=Decimal("12.5"), max_stock=2)
        settle(conn, tid)
    record = _calc(world, 100)
    assert record["stock_syn_rule_id"] == -10000 and record["stock_syn_rule_no"] == ""
    assert record["stock_syn_percent"] == Decimal("12.5000")
    assert type(record["stock_syn_percent"]) is Decimal
    assert record["syn_stock"] == 0  # floor(5 * 0.125) = 0
    assert record["stock_syn_max"] == Decimal("2.0000")


def test_times_show_in_china_time(world: tuple[Engine, int]) -> None:
    _set(world, 100, last_syn_time=1_700_000_000, list_time=0)
    record = _calc(world, 100)
    assert record["last_syn_time"] == "2023-11-15 06:13:20"
    assert record["list_time"] == "1970-01-01 08:00:00"
    assert record["delist_time"] == ""


def test_explained_calc_gives_the_same_record_and_the_steps(world: tuple[Engine, int]) -> None:
    engine, tid = world
    with read_tx(engine) as conn:
        plain = calc_listing(conn, tid, 101, now=NOW)
        explained = calc_listing(conn, tid, 101, now=NOW, explain=True)
    assert plain.story is None
    assert explained.record == plain.record
    story = explained.story
    assert story is not None and story.error is None and story.explanation is not None
    assert story.target_no == "K" and story.resolution.rule_id == 7
    assert story.explanation.raw == Decimal(2)
    assert story.explanation.warehouses_dropped == [("3", "defect warehouse")]
    assert story.spec_nos == {10: "P", 11: "Q"}


def test_explain_listing_reports_errors_instead_of_raising(world: tuple[Engine, int]) -> None:
    engine, tid = world
    with read_tx(engine) as conn:
        unbound = explain_listing(conn, tid, 102, now=NOW)
        missing = explain_listing(conn, tid, 999, now=NOW)
        disabled = explain_listing(conn, tid, 103, now=NOW)
        with pytest.raises(BusinessError, match="未匹配货品"):
            calc_listing(conn, tid, 102, now=NOW, explain=True)
    assert unbound.error == "未匹配货品"
    assert missing.error == "平台货品不存在"
    assert disabled.error == "货品id:g103规格Id:s103 已停用或者未开启同步"
    assert disabled.resolution.rule_id == 7


# ---------------------------------------------------------------- the lean path stays exact


def _update(
    world: tuple[Engine, int], table: Table, key: str, key_value: int, **values: object
) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        stmt = update(table).where(table.c.tenant_id == tid, table.c[key] == key_value)
        conn.execute(stmt.values(**values))


def test_a_changed_rule_is_read_again_never_served_from_the_cache(
    world: tuple[Engine, int],
) -> None:
    assert _calc(world, 100)["syn_stock"] == 4  # floor(8 * 50 / 100 + 0.5)
    _update(world, rule, "rec_id", 7, percent=100, plus_value=0, rule_no="R7b")
    record = _calc(world, 100)
    assert record["syn_stock"] == 8 and record["stock_syn_percent"] == 100
    assert record["stock_syn_plus"] == Decimal("0.0000") and record["stock_syn_rule_no"] == "R7b"
    _update(world, rule, "rec_id", 7, percent=50, plus_value=Decimal("0.5"), rule_no="R7")
    assert _calc(world, 100)["syn_stock"] == 4


def test_a_changed_mask_reads_the_quantities_it_now_selects(world: tuple[Engine, int]) -> None:
    # Q in warehouse 1: 10 on hand, 3 awaiting review (bit 7, subtracted)
    assert _calc(world, 104)["syn_stock"] == 4  # floor(7 * 0.5 + 0.5)
    _update(world, rule, "rec_id", 7, stock_flag=0)
    assert _calc(world, 104)["syn_stock"] == 5  # floor(10 * 0.5 + 0.5)
    _update(world, rule, "rec_id", 7, stock_flag=128 | 1)
    _update(world, stock, "spec_id", 11, purchase_num=4)  # bit 0, added
    assert _calc(world, 104)["syn_stock"] == 6  # floor((10 - 3 + 4) * 0.5 + 0.5)


def test_warehouse_flags_take_effect_at_once(world: tuple[Engine, int]) -> None:
    _update(world, warehouse, "warehouse_id", 3, is_defect=False)
    assert _calc(world, 100)["syn_stock"] == 54  # floor((5 + 3 + 100) * 0.5 + 0.5)
    _update(world, warehouse, "warehouse_id", 2, is_outer_stock=True)
    _update(world, stock, "spec_id", 10, wms_stock_diff=2)  # +2 where outside the WMS
    assert _calc(world, 100)["syn_stock"] == 55
    _update(world, warehouse, "warehouse_id", 3, is_defect=True)
    assert _calc(world, 100)["syn_stock"] == 5  # floor((5 + 3 + 2) * 0.5 + 0.5)


def test_a_custom_rule_replaces_the_rule_and_changes_with_it(world: tuple[Engine, int]) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        add_custom_rule(conn, tid, 100, warehouse_list="2", plus_value=1)
        settle(conn, tid)
    assert _calc(world, 100)["syn_stock"] == 4  # 3 in warehouse 2, + 1
    _update(world, custom_rule, "rec_id", 100, warehouse_list="1, 2", max_stock=6)
    record = _calc(world, 100)
    assert record["syn_stock"] == 6 and record["stock_syn_warehouses"] == "1, 2"
    assert record["stock_syn_max"] == Decimal("6.0000") and record["stock_syn_rule_id"] == -10000


@pytest.mark.parametrize("rec_id", [100, 101, 103, 104])
def test_the_lean_record_equals_the_explained_one_field_for_field(
    world: tuple[Engine, int], rec_id: int
) -> None:
    _set(world, rec_id, last_syn_time=1_700_000_000, delist_time=86_400, reserve_s="r",
         last_syn_num=Decimal("-1.2345"), stock_num=Decimal("0.0007"))  # fmt: skip
    lean = _calc(world, rec_id, force_sync=True)
    engine, tid = world
    with read_tx(engine) as conn:
        explained = calc_listing(conn, tid, rec_id, now=NOW, explain=True, force_sync=True)
    assert list(lean) == list(explained.record) == list(RECORD_FIELDS)
    for name, value in explained.record.items():
        assert lean[name] == value and type(lean[name]) is type(value), name
        assert str(lean[name]) == str(value), name
    assert str(lean["last_syn_num"]) == "-1.2345" and str(lean["stock_num"]) == "0.0007"


@pytest.mark.parametrize("rec_id", [100, 101, 103, 104])
def test_the_record_json_is_the_records_encoding_byte_for_byte(
    world: tuple[Engine, int], rec_id: int
) -> None:
    _set(world, rec_id, last_syn_time=1_700_000_000, list_time=0, reserve_s="备注",
         last_syn_num=Decimal("-1.2345"), stock_num=Decimal("123456789.0007"))  # fmt: skip
    engine, tid = world
    with write_tx(engine) as conn:
        add_custom_rule(
            conn, tid, 101, warehouse_list="1,2", percent=Decimal("12.5"),
            plus_value=Decimal("-0.5"), min_stock=Decimal("0.5"), max_stock=9,
        )  # fmt: skip
        settle(conn, tid)
    with read_tx(engine) as conn:
        text = calc_record_json(conn, tid, rec_id, force_sync=True, now=NOW)
        record = calc_listing(conn, tid, rec_id, force_sync=True, now=NOW).record
    assert text == jsoncodec.dumps(record)
    assert json.loads(text)["rec_id"] == rec_id


@pytest.mark.parametrize("junk", ["--1", "²", "١", "1_0", "+1", "99999999999999999999"])
def test_tokens_that_are_no_warehouse_id_are_dropped_as_the_explained_path_drops_them(
    world: tuple[Engine, int], junk: str
) -> None:
    engine, tid = world
    with write_tx(engine) as conn:
        add_custom_rule(conn, tid, 100, warehouse_list=f"{junk},2")
        settle(conn, tid)
    assert _calc(world, 100)["syn_stock"] == 3  # warehouse 2 only
    with read_tx(engine) as conn:
        story = explain_listing(conn, tid, 100, now=NOW)
    assert story.error is None and story.explanation is not None
    assert story.explanation.warehouses_used == [2]
    _update(world, custom_rule, "rec_id", 100, warehouse_list=junk)
    assert _error(world, 100) == "仓库列表为空"
