"""stocktake: many specs at once, exactly the changed ones bumped, numbering, strict mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, insert

from builders import add_rule, add_shop, add_warehouse, counts, settle
from stocksync.db import schema
from stocksync.db.engine import write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError
from stocksync.services.calc import calc_listing
from stocksync.services.clock import to_wdt
from stocksync.services.stocktake import PdItem, PdNumbers, PdOrder, stocktake
from stocksync.services.waitlist import wait_list

NOW = 1_700_000_000.0  # 2023-11-15 06:13:20 China time
SPECS = 1000


def _tenant(engine: Engine, sid: str, specs: int) -> int:
    """`specs` specs "C<i>" (i = 1..), each with 10 on hand in warehouse 1 "W1" and two listings
    (rec_ids 2i and 2i + 1); rule 1 over warehouse 1. Nothing is pending."""
    ids = range(1, specs + 1)
    with write_tx(engine) as c:
        tid = ensure_tenant(c, sid)
        add_shop(c, tid, 1)
        add_warehouse(c, tid, 1, warehouse_no="W1")
        add_rule(c, tid, 1, warehouse_list="1")
        c.execute(insert(schema.spec), [
            {"tenant_id": tid, "spec_id": i, "spec_no": f"C{i}"} for i in ids
        ])  # fmt: skip
        c.execute(insert(schema.stock), [
            {"tenant_id": tid, "spec_id": i, "warehouse_id": 1, "rec_id": i,
             "stock_num": Decimal(10)} for i in ids
        ])  # fmt: skip
        c.execute(insert(schema.listing), [
            {"tenant_id": tid, "rec_id": 2 * i + k, "shop_id": 1, "goods_id": f"g{i}",
             "spec_id": str(k), "spec_outer_id": f"C{i}"} for i in ids for k in (0, 1)
        ])  # fmt: skip
        settle(c, tid)
    return tid


@contextmanager
def _rolled_back(engine: Engine, tid: int) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        connection.info["tid"] = tid
        yield connection
        transaction.rollback()


@pytest.fixture
def conn(engine: Engine, sid: str) -> Iterator[Connection]:
    """A small tenant (10 specs), in a transaction rolled back afterwards."""
    with _rolled_back(engine, _tenant(engine, sid, 10)) as connection:
        yield connection


def test_a_large_stocktake_bumps_exactly_the_listings_of_changed_specs(
    engine: Engine, sid: str
) -> None:
    with _rolled_back(engine, _tenant(engine, sid, SPECS)) as conn:
        _check_large_stocktake(conn, int(conn.info["tid"]))


def _check_large_stocktake(conn: Connection, tid: int) -> None:
    # every spec counted: odd ones change to their number, even ones stay at 10
    items = [PdItem(f"C{i}", Decimal(i if i % 2 else 10)) for i in range(1, SPECS + 1)]
    done = stocktake(conn, tid, PdOrder("W1"), items, NOW, PdNumbers())
    changed = {2 * i + k for i in range(1, SPECS + 1, 2) for k in (0, 1)}
    assert done.bumped == changed and done.skipped == []
    assert {rec for rec, count in counts(conn, tid).items() if count} == changed
    ids, _ = wait_list(conn, tid, 5000, now=NOW)
    assert sorted(ids) == sorted(changed)
    assert calc_listing(conn, tid, 2 * 7, now=NOW).record["syn_stock"] == 7


def test_pd_numbers_carry_china_time_and_a_sequence() -> None:
    numbers = PdNumbers()
    assert numbers.next(NOW) == (to_wdt(NOW), "PD202311150613200001")
    assert numbers.next(NOW + 1) == (to_wdt(NOW) + 1, "PD202311150613210002")


def test_strict_mode_names_the_first_unknown_code_and_counts_the_rest(conn: Connection) -> None:
    tid = int(conn.info["tid"])
    items = [PdItem("C1", Decimal(1)), PdItem("X", Decimal(1)), PdItem("Y", Decimal(1))]
    message = r"^specList\[1\].spec_no: unknown spec_no 'X' \(and 1 more\)$"
    with pytest.raises(BusinessError, match=message):
        stocktake(conn, tid, PdOrder("W1", is_post_error=True), items, NOW, PdNumbers())
    assert set(counts(conn, tid).values()) == {0}


def test_an_items_defect_flag_does_not_choose_the_warehouse(conn: Connection) -> None:
    tid = int(conn.info["tid"])
    done = stocktake(conn, tid, PdOrder("W1"), [PdItem("C3", Decimal(4), defect=True)], NOW,
                     PdNumbers())  # fmt: skip
    assert done.bumped == {6, 7}
