"""set_stock / adjust_stock: atomic multi-row writes that bump the right listings once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, select

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
from stocksync.db import loaders
from stocksync.db.engine import write_tx
from stocksync.db.loaders import load_stock_rows
from stocksync.db.schema import stock
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import InvalidArgument
from stocksync.services.stock import StockChange, adjust_stock, set_stock

NOW = 1_700_000_000.0
D = Decimal


def _build(conn: Connection, tid: int) -> None:
    """Specs 10, 11, 12; suite 20 = 10 + 11; listings 100 on 10, 101 on 11, 102 on suite 20,
    103 on 12. Stock: spec 10 has 5 in warehouse 1."""
    add_shop(conn, tid, 1)
    add_warehouse(conn, tid, 1)
    add_warehouse(conn, tid, 2)
    add_spec(conn, tid, 10, "P")
    add_spec(conn, tid, 11, "Q")
    add_spec(conn, tid, 12, "R")
    add_suite(conn, tid, 20, "K", {10: 1, 11: 1})
    add_stock(conn, tid, 10, 1, 5)
    add_rule(conn, tid, 1, warehouse_list="1,2")
    for rec_id, code in ((100, "P"), (101, "Q"), (102, "K"), (103, "R")):
        add_listing(conn, tid, rec_id, 1, code)
    settle(conn, tid)


@pytest.fixture
def tenant(engine: Engine, sid: str) -> tuple[Engine, int]:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        _build(conn, tid)
    return engine, tid


def _rows(conn: Connection, tid: int) -> dict[tuple[int, int], tuple[int, Decimal, Decimal]]:
    s = stock.c
    query = select(s.spec_id, s.warehouse_id, s.rec_id, s.stock_num, s.order_num)
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in conn.execute(query.where(s.tenant_id == tid))}


def test_setting_stock_bumps_the_spec_and_suites_containing_it(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        bumped = set_stock(conn, tid, [StockChange(10, 1, {"stock_num": D(7)})], NOW)
        assert bumped == {100, 102}
        assert counts(conn, tid) == {100: 1, 101: 0, 102: 1, 103: 0}
        assert _rows(conn, tid)[(10, 1)] == (1, D("7.0000"), D(0))


def test_setting_the_same_values_again_bumps_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert set_stock(conn, tid, [StockChange(10, 1, {"stock_num": D("5.0000")})], NOW) == set()
        assert adjust_stock(conn, tid, [StockChange(10, 1, {"order_num": D(0)})], NOW) == set()
        assert set(counts(conn, tid).values()) == {0}


def test_setting_a_missing_row_creates_it_even_at_zero(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        bumped = set_stock(conn, tid, [StockChange(12, 2, {"stock_num": D(0)})], NOW)
        rows = _rows(conn, tid)
        created = conn.execute(
            select(stock.c.created, stock.c.modified).where(
                stock.c.tenant_id == tid, stock.c.spec_id == 12
            )
        ).one()
    assert bumped == {103}
    assert rows[(12, 2)] == (2, D(0), D(0))  # rec_id = largest + 1
    assert tuple(created) == (int(NOW), int(NOW))


def test_adjusting_adds_deltas_exactly(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        changes = [
            StockChange(10, 1, {"stock_num": D("0.1"), "order_num": D("0.2")}),
            StockChange(10, 1, {"stock_num": D("0.2")}),
            StockChange(11, 2, {"order_num": D(3)}),
        ]
        bumped = adjust_stock(conn, tid, changes, NOW)
        rows = _rows(conn, tid)
        assert counts(conn, tid) == {100: 1, 101: 1, 102: 1, 103: 0}
    assert bumped == {100, 101, 102}
    assert rows[(10, 1)][1:] == (D("5.3"), D("0.2"))
    assert rows[(11, 2)][1:] == (D(0), D(3))


def test_adjusting_a_missing_row_by_zero_creates_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert adjust_stock(conn, tid, [StockChange(12, 1, {"stock_num": D(0)})], NOW) == set()
        assert (12, 1) not in _rows(conn, tid)


def test_later_absolute_values_win_within_one_call(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        changes = [StockChange(10, 1, {"stock_num": D(9)}), StockChange(10, 1, {"stock_num": D(5)})]
        assert set_stock(conn, tid, changes, NOW) == set()


def test_every_quantity_field_and_the_wms_diff_can_be_set(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    values = {"lock_num": D(1), "to_transfer_num": D(2), "wms_stock_diff": D(-3)}
    with write_tx(engine) as conn:
        set_stock(conn, tid, [StockChange(11, 1, values)], NOW)
        row = load_stock_rows(conn, tid, [11])[(11, 1)]
    assert row.quantities[14:] == (D(1), D(2)) and row.wms_stock_diff == D(-3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (StockChange(99, 1, {"stock_num": D(1)}), "spec_id: unknown spec 99"),
        (StockChange(10, 9, {"stock_num": D(1)}), "warehouse_id: unknown warehouse 9"),
        (StockChange(10, 1, {"bogus": D(1)}), "changes[1].bogus: not a stock quantity field"),
        (StockChange(10, 1, {"stock_num": D("0.00001")}), "changes[1].stock_num: more than 4"),
        (StockChange(10, 1, {"stock_num": 1.5}), "changes[1].stock_num: not a decimal"),  # type: ignore[dict-item]
        (StockChange(10, 1, {"stock_num": D("1e15")}), "changes[1].stock_num: out of range"),
    ],
)
def test_a_bad_change_writes_nothing(
    tenant: tuple[Engine, int], change: StockChange, message: str
) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        before = _rows(conn, tid)
        good = StockChange(11, 1, {"stock_num": D(4)})
        with pytest.raises(InvalidArgument) as caught:
            set_stock(conn, tid, [good, change], NOW)
        assert caught.value.message.startswith(message)
        assert _rows(conn, tid) == before
        assert set(counts(conn, tid).values()) == {0}


def test_an_adjustment_past_the_limit_writes_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        big = StockChange(10, 1, {"stock_num": D("899999999999999")})
        with pytest.raises(InvalidArgument, match="out of range"):
            adjust_stock(conn, tid, [big], NOW)
        assert _rows(conn, tid)[(10, 1)][1] == D(5)


def test_setting_one_field_leaves_the_others_as_they_are(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        adjust_stock(conn, tid, [StockChange(10, 1, {"order_num": D("2.5")})], NOW)
        bumped = set_stock(conn, tid, [StockChange(10, 1, {"stock_num": D("1.0001")})], NOW)
        rows = _rows(conn, tid)
        assert counts(conn, tid) == {100: 2, 101: 0, 102: 2, 103: 0}
    assert bumped == {100, 102}
    assert rows[(10, 1)] == (1, D("1.0001"), D("2.5"))


def test_rows_naming_different_fields_are_written_in_one_call(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    changes = [
        StockChange(10, 1, {"order_num": D(4), "lock_num": D("0.0001")}),
        StockChange(11, 1, {"stock_num": D(8)}),
        StockChange(11, 2, {"wms_stock_diff": D(-2), "stock_num": D(1)}),
    ]
    with write_tx(engine) as conn:
        bumped = set_stock(conn, tid, changes, NOW)
        rows = load_stock_rows(conn, tid, [10, 11])
    assert bumped == {100, 101, 102}
    assert (rows[(10, 1)].stock_num, rows[(10, 1)].quantities[7]) == (D(5), D(4))
    assert rows[(10, 1)].quantities[14] == D("0.0001")
    assert rows[(11, 1)].stock_num == D(8) and rows[(11, 1)].wms_stock_diff == D(0)
    assert (rows[(11, 2)].stock_num, rows[(11, 2)].wms_stock_diff) == (D(1), D(-2))


def test_deltas_that_cancel_out_change_and_bump_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    changes = [
        StockChange(10, 1, {"stock_num": D("0.3")}),
        StockChange(10, 1, {"stock_num": D("-0.3")}),
    ]
    with write_tx(engine) as conn:
        assert adjust_stock(conn, tid, changes, NOW) == set()
        assert _rows(conn, tid)[(10, 1)][1] == D(5)
        assert set(counts(conn, tid).values()) == {0}


def test_many_rows_across_chunks_are_written_exactly_and_bumped_once(
    tenant: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaders, "CHUNK", 2)
    monkeypatch.setattr(loaders, "_PG_ROWS", 2)
    monkeypatch.setattr(loaders, "_MYSQL_ROWS", 2)
    engine, tid = tenant
    values = {(s, w): D(f"{s}.{w}") + D("0.0001") for s in (10, 11, 12) for w in (1, 2)}
    changes = [StockChange(s, w, {"stock_num": v}) for (s, w), v in values.items()]
    with write_tx(engine) as conn:
        bumped = set_stock(conn, tid, changes, NOW)
        rows = _rows(conn, tid)
        assert counts(conn, tid) == {100: 1, 101: 1, 102: 1, 103: 1}
        assert adjust_stock(conn, tid, [StockChange(s, w, {"stock_num": D("0.1")})
                                        for s, w in values], NOW) == bumped  # fmt: skip
        after = _rows(conn, tid)
    assert bumped == {100, 101, 102, 103}
    assert {key: row[1] for key, row in rows.items()} == values
    assert {key: row[1] for key, row in after.items()} == {
        k: v + D("0.1") for k, v in values.items()
    }
    assert sorted(row[0] for row in rows.values()) == [1, 2, 3, 4, 5, 6]  # rec_ids of new rows


def test_a_row_changes_when_any_of_its_named_fields_changes(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        change = StockChange(10, 1, {"stock_num": D(5), "order_num": D(1)})
        assert set_stock(conn, tid, [change], NOW) == {100, 102}
        assert _rows(conn, tid)[(10, 1)] == (1, D(5), D(1))
