"""The wait list: eligibility, order, clamping, leases and position (semantics spec §6)."""

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, insert, select, update

from builders import add_rule, add_shop
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.model import CUSTOM_RULE_ID, MASK_DELAYED
from stocksync.domain.syncstate import INT32_MAX
from stocksync.services.clock import to_wdt
from stocksync.services.waitlist import DEFAULT_LEASE, clamp_count, wait_list

NOW = 1_700_000_000.0
NOW_WDT = to_wdt(NOW)
OK_RULE, FORBIDDING_RULE, DISABLED_RULE = 10, 11, 12
SHOP, OTHER_SHOP, DISABLED_SHOP = 1, 2, 3


def seed_tenant(conn: Connection, sid: str) -> int:
    """A seller with shops 1, 2 (enabled) and 3 (disabled), and rules 10 (syncs),
    11 (`is_disable_syn`) and 12 (switched off)."""
    tid = ensure_tenant(conn, sid)
    for shop_id in (SHOP, OTHER_SHOP, DISABLED_SHOP):
        add_shop(conn, tid, shop_id, is_disabled=shop_id == DISABLED_SHOP)
    add_rule(conn, tid, OK_RULE)
    add_rule(conn, tid, FORBIDDING_RULE, is_disable_syn=True)
    add_rule(conn, tid, DISABLED_RULE, is_disabled=True)
    return tid


def listing_row(tid: int, rec_id: int, **overrides: Any) -> dict[str, Any]:
    """A pending, matched, enabled listing in shop 1 under rule 10, unless overridden."""
    row = {
        "tenant_id": tid,
        "rec_id": rec_id,
        "shop_id": SHOP,
        "goods_id": f"g{rec_id}",
        "spec_id": f"s{rec_id}",
        "match_target_type": 1,
        "match_target_id": rec_id,
        "rule_id": OK_RULE,
        "stock_change_count": 1,
        "is_stock_changed": True,
    }
    return row | overrides


def add_listings(conn: Connection, tid: int, *rows: dict[str, Any]) -> None:
    # executemany takes its columns from the first row: insert rows of each shape together
    shapes: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        shapes.setdefault(frozenset(row), []).append(row)
    for same in shapes.values():
        conn.execute(insert(listing), same)


@pytest.fixture
def tid(engine: Engine, sid: str) -> int:
    with write_tx(engine) as conn:
        return seed_tenant(conn, sid)


def serve(engine: Engine, tid: int, count: int = 100, **kwargs: Any) -> tuple[list[int], int]:
    kwargs.setdefault("now", NOW)
    with write_tx(engine) as conn:
        return wait_list(conn, tid, count, **kwargs)


def test_eligible_listings_come_in_disable_syn_until_then_rec_id_order(
    engine: Engine, tid: int
) -> None:
    with write_tx(engine) as conn:
        add_listings(
            conn,
            tid,
            listing_row(tid, 5),
            listing_row(tid, 3, disable_syn_until=NOW_WDT - 10),
            listing_row(tid, 4),
            listing_row(tid, 9, disable_syn_until=NOW_WDT - 20),
            listing_row(tid, 7, disable_syn_until=NOW_WDT),
        )
    assert serve(engine, tid)[0] == [4, 5, 9, 3, 7]


@pytest.mark.parametrize(("asked", "served"), [(1, 10), (-5, 10), (10, 10), (77, 77), (9999, 5000)])
def test_count_is_clamped_to_10_through_5000(asked: int, served: int) -> None:
    assert clamp_count(asked) == served


def test_a_page_never_holds_more_than_the_clamped_count(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, *(listing_row(tid, i) for i in range(1, 5013)))
    assert serve(engine, tid, 1)[0] == list(range(1, 11))
    assert serve(engine, tid, 9999)[0] == list(range(11, 5011))
    assert serve(engine, tid, 9999)[0] == [5011, 5012]


def test_ids_handed_out_stay_away_until_their_lease_ends(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, *(listing_row(tid, i) for i in range(1, 16)))
    first, position = serve(engine, tid, 10)
    assert first == list(range(1, 11))
    assert position == NOW_WDT + DEFAULT_LEASE
    assert serve(engine, tid, 10)[0] == [11, 12, 13, 14, 15]
    assert serve(engine, tid, 10, now=NOW + DEFAULT_LEASE - 1)[0] == []
    assert serve(engine, tid, 10, now=NOW + DEFAULT_LEASE)[0] == first


def test_an_empty_list_has_position_zero(engine: Engine, tid: int) -> None:
    assert serve(engine, tid) == ([], 0)


def test_the_lease_length_is_configurable(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, listing_row(tid, 1))
    assert serve(engine, tid, lease=30) == ([1], NOW_WDT + 30)
    assert serve(engine, tid, now=NOW + 30, lease=30) == ([1], NOW_WDT + 60)
    with pytest.raises(ValueError, match="lease"):
        serve(engine, tid, lease=0)


def test_position_is_capped_at_int32(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, listing_row(tid, 1))
    far = NOW + (INT32_MAX - NOW_WDT) - 5
    assert serve(engine, tid, now=far) == ([1], INT32_MAX)


INELIGIBLE = {
    "not pending": {"is_stock_changed": False},
    "listing disabled": {"is_disable_syn": True},
    "shop disabled": {"shop_id": DISABLED_SHOP},
    "shop unknown": {"shop_id": 99},
    "deleted": {"status": 0},
    "unbound": {"match_target_type": 0, "match_target_id": 0},
    "no rule": {"rule_id": -1},
    "rule forbids syncing": {"rule_id": FORBIDDING_RULE},
    "rule switched off": {"rule_id": DISABLED_RULE},
    "rule missing": {"rule_id": 99},
    "leased or delayed": {"disable_syn_until": NOW_WDT + 1, "mask": MASK_DELAYED},
}


@pytest.mark.parametrize("reason", sorted(INELIGIBLE))
def test_an_ineligible_listing_is_never_listed(engine: Engine, tid: int, reason: str) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, listing_row(tid, 1, **INELIGIBLE[reason]), listing_row(tid, 2))
    assert serve(engine, tid)[0] == [2]
    with write_tx(engine) as conn:  # whatever lease or delay, later
        conn.execute(update(listing).where(listing.c.tenant_id == tid).values(disable_syn_until=0))
    expected = [1, 2] if reason == "leased or delayed" else [2]
    assert serve(engine, tid)[0] == expected


def test_custom_rule_suite_and_delisted_listings_are_eligible(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(
            conn,
            tid,
            listing_row(tid, 1, rule_id=CUSTOM_RULE_ID),
            listing_row(tid, 2, match_target_type=2),
            listing_row(tid, 3, status=2),
        )
    assert serve(engine, tid)[0] == [1, 2, 3]


def test_only_shops_the_app_key_may_see_are_listed(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, listing_row(tid, 1), listing_row(tid, 2, shop_id=OTHER_SHOP))
    assert serve(engine, tid, shop_ids=frozenset({OTHER_SHOP, 77}))[0] == [2]
    assert serve(engine, tid, shop_ids=frozenset())[0] == []
    assert serve(engine, tid, shop_ids=None)[0] == [1]


def test_another_sellers_listings_are_never_listed(engine: Engine, tid: int, sid: str) -> None:
    with write_tx(engine) as conn:
        other = seed_tenant(conn, sid + "-other")
        add_listings(conn, other, listing_row(other, 1))
        add_listings(conn, tid, listing_row(tid, 2))
    assert serve(engine, tid)[0] == [2]
    assert serve(engine, other)[0] == [1]


def test_a_lease_clears_the_mask_bit_of_an_expired_failure_delay(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, listing_row(tid, 1, mask=MASK_DELAYED | 8, fail_count=2))
    serve(engine, tid)
    with read_tx(engine) as conn:
        row = conn.execute(
            select(listing.c.mask, listing.c.disable_syn_until, listing.c.fail_count).where(
                listing.c.tenant_id == tid, listing.c.rec_id == 1
            )
        ).one()
    assert tuple(row) == (8, NOW_WDT + DEFAULT_LEASE, 2)


def test_concurrent_callers_never_get_the_same_id(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, *(listing_row(tid, i) for i in range(1, 26)))
    second: list[int] = []

    def other_caller() -> None:
        second.extend(serve(engine, tid, 10)[0])

    with write_tx(engine) as conn:
        first, _ = wait_list(conn, tid, 10, now=NOW)
        thread = threading.Thread(target=other_caller)
        thread.start()
        time.sleep(0.3)  # the other caller runs (PostgreSQL/MariaDB) or waits (SQLite) meanwhile
    thread.join(timeout=30)
    assert first == list(range(1, 11))
    assert second == list(range(11, 21))


def test_a_listing_bumped_while_leased_is_listed_after_the_lease(engine: Engine, tid: int) -> None:
    with write_tx(engine) as conn:
        add_listings(conn, tid, listing_row(tid, 1))
    serve(engine, tid)
    with write_tx(engine) as conn:
        conn.execute(
            update(listing)
            .where(listing.c.tenant_id == tid)
            .values(stock_change_count=listing.c.stock_change_count + 1)
        )
    assert serve(engine, tid, now=NOW + 1)[0] == []
    assert serve(engine, tid, now=NOW + DEFAULT_LEASE)[0] == [1]


def test_a_lease_touches_exactly_the_listings_handed_out(
    engine: Engine, tid: int, sid: str
) -> None:
    # Two sellers with the same ids, their rows interleaved: the lease finds rows by rowid on
    # SQLite, which must be the served listings' and no other seller's.
    with write_tx(engine) as conn:
        other = seed_tenant(conn, sid + "-other")
        for rec_id in range(1, 16):
            add_listings(conn, other, listing_row(other, rec_id))
            add_listings(conn, tid, listing_row(tid, rec_id, mask=MASK_DELAYED))
    ids, position = serve(engine, tid, 10)
    with read_tx(engine) as conn:
        rows = conn.execute(
            select(
                listing.c.tenant_id, listing.c.rec_id, listing.c.disable_syn_until, listing.c.mask
            )
        ).all()
    leased = {(t, r): (until, mask) for t, r, until, mask in rows if t in (tid, other)}
    assert ids == list(range(1, 11))
    assert leased == {
        **{
            (tid, r): (position if r <= 10 else 0, 0 if r <= 10 else MASK_DELAYED)
            for r in range(1, 16)
        },
        **{(other, r): (0, 0) for r in range(1, 16)},
    }


def _plans(engine: Engine, tid: int) -> dict[str, str]:
    """How SQLite searches the listings in each statement one page runs, by verb."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "api_goods_spec" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        serve(engine, tid)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with read_tx(engine) as conn:
        return {
            statement.split()[0]: conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", params
            ).all()[0][3]  # the first step: the search of api_goods_spec
            for statement, params in statements
        }


def test_on_sqlite_a_page_reads_only_the_wait_index_and_leases_by_rowid(
    sqlite_engine: Engine, sid: str
) -> None:
    with write_tx(sqlite_engine) as conn:
        tid = seed_tenant(conn, sid)
        add_listings(conn, tid, *(listing_row(tid, i) for i in range(1, 6)))
    assert _plans(sqlite_engine, tid) == {
        "SELECT": "SEARCH api_goods_spec USING COVERING INDEX ix_api_goods_spec_wait "
        "(tenant_id=? AND is_stock_changed=? AND disable_syn_until<?)",
        "UPDATE": "SEARCH api_goods_spec USING INTEGER PRIMARY KEY (rowid=?)",
    }


def test_the_wait_index_holds_only_pending_listings_where_the_backend_can(
    engine: Engine,
) -> None:
    queries = {
        "sqlite": "SELECT sql FROM sqlite_master WHERE name = 'ix_api_goods_spec_wait'",
        "postgresql": "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_api_goods_spec_wait'",
    }
    if engine.dialect.name not in queries:
        pytest.skip("MariaDB has no partial indexes")
    with read_tx(engine) as conn:
        definition = conn.exec_driver_sql(queries[engine.dialect.name]).scalar_one()
    assert definition.endswith(("WHERE is_stock_changed = 1", "WHERE is_stock_changed"))
