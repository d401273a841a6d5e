"""Two sellers with the same ids everywhere: each reads and writes only its own rows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, Engine, select, update

from builders import (
    add_brand,
    add_class,
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
from stocksync.db import loaders, schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.model import Rule, RuleParams
from stocksync.services import rules as live
from stocksync.services import tracking
from stocksync.services.calc import calc_listing, explain_listing
from stocksync.services.stock import StockChange, adjust_stock, set_stock

NOW = 1_700_000_000.0


def _build(conn: Connection, tid: int) -> None:
    add_shop(conn, tid, 1)
    add_warehouse(conn, tid, 1)
    add_class(conn, tid, 1)
    add_brand(conn, tid, 1)
    add_spec(conn, tid, 10, "P", brand_id=1, class_id=1)
    add_spec(conn, tid, 11, "Q")
    add_suite(conn, tid, 20, "K", {10: 1})
    add_stock(conn, tid, 10, 1, 5)
    add_rule(conn, tid, 1, warehouse_list="1")
    add_listing(conn, tid, 100, 1, "P")
    add_listing(conn, tid, 101, 1, "K")
    settle(conn, tid)


def _two_sellers(engine: Engine, sid: str) -> tuple[int, int]:
    """Seller A (with extra rows) and seller B, built from the same ids."""
    with write_tx(engine) as conn:
        a, b = ensure_tenant(conn, sid + "-a"), ensure_tenant(conn, sid + "-b")
        _build(conn, a)
        _build(conn, b)
        add_warehouse(conn, a, 9)
        add_class(conn, a, 5)
        add_rule(conn, a, 3, warehouse_list="9", priority=9, is_disabled=True)
        add_stock(conn, a, 11, 9, 7)
        add_custom_rule(conn, a, 101, warehouse_list="1,9")
        settle(conn, a)
    return a, b


def _everything(conn: Connection, tid: int) -> dict[str, list[tuple[object, ...]]]:
    """Every row of a tenant in every table, in a stable order."""
    found = {}
    for table in schema.metadata.sorted_tables:
        if "tenant_id" in table.c and table.name != "tenant":
            query = select(table).where(table.c.tenant_id == tid)
            found[table.name] = sorted(tuple(row) for row in conn.execute(query))
    return found


def test_loaders_return_only_the_sellers_own_rows(engine: Engine, sid: str) -> None:
    a, b = _two_sellers(engine, sid)
    with read_tx(engine) as conn:
        assert set(loaders.load_warehouses(conn, a)) == {1, 9}
        assert set(loaders.load_warehouses(conn, b)) == {1}
        assert set(loaders.load_classes(conn, a)) == {1, 5}
        assert set(loaders.load_classes(conn, b)) == {1}
        assert [r.rec_id for r in loaders.load_rules(conn, a)] == [1, 3]
        assert [r.rec_id for r in loaders.load_rules(conn, b)] == [1]
        assert loaders.load_match_index(conn, b) == ({"P": 10, "Q": 11}, {"K": 20})
        assert set(loaders.load_stock_rows(conn, a, None)) == {(10, 1), (11, 9)}
        assert set(loaders.load_stock_rows(conn, b, [10, 11])) == {(10, 1)}
        assert set(loaders.load_custom_rules(conn, a)) == {101}
        assert loaders.load_custom_rules(conn, b) == {}
        assert loaders.load_suite_components(conn, b, None) == loaders.load_suite_components(
            conn, a, [20]
        )


def test_tracking_reads_only_the_sellers_own_listings(engine: Engine, sid: str) -> None:
    a, b = _two_sellers(engine, sid)
    with read_tx(engine) as conn:
        assert tracking.listings_of_warehouses(conn, a, [9]) == {101}
        assert tracking.listings_of_warehouses(conn, b, [9]) == set()
        assert tracking.listings_of_rules(conn, a, [1]) == {100}
        assert tracking.listings_of_rules(conn, b, [1]) == {100, 101}
        assert tracking.listings_of_specs(conn, b, [10]) == {100, 101}


def test_calc_reads_only_the_sellers_own_rows(engine: Engine, sid: str) -> None:
    a, b = _two_sellers(engine, sid)
    with read_tx(engine) as conn:
        record_a = calc_listing(conn, a, 101, now=NOW).record
        record_b = calc_listing(conn, b, 101, now=NOW).record
        story = explain_listing(conn, b, 101, now=NOW)
    assert record_a["stock_syn_rule_id"] == -10000 and record_a["stock_syn_warehouses"] == "1,9"
    assert record_b["stock_syn_rule_id"] == 1 and record_b["syn_stock"] == 5
    assert [v.rule_id for v in story.resolution.verdicts] == [1]


def test_every_service_changes_only_the_sellers_own_rows(engine: Engine, sid: str) -> None:
    a, b = _two_sellers(engine, sid)
    with read_tx(engine) as conn:
        before = _everything(conn, b)
    with write_tx(engine) as conn:
        set_stock(conn, a, [StockChange(10, 1, {"stock_num": Decimal(8)})], NOW)
        set_stock(conn, a, [StockChange(11, 1, {"stock_num": Decimal(8)})], NOW)
        adjust_stock(conn, a, [StockChange(10, 1, {"order_num": Decimal(1)})], NOW)
        params = RuleParams(warehouse_list="1", percent=Decimal(50))
        live.create_rule(conn, a, Rule(2, "R2", priority=5, params=params), NOW)
        live.update_rule(conn, a, Rule(2, "R2", priority=6, params=params), NOW)
        live.set_rule_disabled(conn, a, 1, True, NOW)
        live.set_rule_disabled(conn, a, 3, False, NOW)
        live.delete_rule(conn, a, 2, NOW)
        live.set_custom_rule(conn, a, 100, params, NOW)
        live.set_custom_rule(conn, a, 101, None, NOW)
        conn.execute(
            update(schema.spec)
            .where(schema.spec.c.tenant_id == a, schema.spec.c.spec_id == 10)
            .values(spec_no="K")
        )
        tracking.apply_changes(
            conn, a, rec_ids=[100, 101], spec_ids=[10, 11], suite_ids=[20], rule_ids=[1, 3],
            warehouse_ids=[1, 9], rematch=True, reresolve=True, now=NOW,
        )  # fmt: skip
        tracking.bump_listings(conn, a, [100, 101], NOW)
    with read_tx(engine) as conn:
        assert _everything(conn, b) == before
        c = schema.listing.c
        query = select(c.rec_id, c.stock_change_count).where(c.tenant_id == a)
        counts = {row[0]: row[1] for row in conn.execute(query)}
        assert (
            conn.execute(select(c.rec_id).where(c.tenant_id == b, c.stock_change_count > 0)).first()
            is None
        )
    assert counts[100] > 0 and counts[101] > 0
