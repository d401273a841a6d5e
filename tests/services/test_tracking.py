"""Change tracking (semantics §6 "Change"): affected listings, re-matching, re-resolving, bumps."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, select, update

from builders import (
    add_brand,
    add_custom_rule,
    add_listing,
    add_rule,
    add_shop,
    add_spec,
    add_suite,
    add_warehouse,
    counts,
    listing_state,
    settle,
)
from stocksync.db import loaders
from stocksync.db.engine import write_tx
from stocksync.db.schema import listing, spec, warehouse
from stocksync.db.tenants import ensure_tenant
from stocksync.services import tracking
from stocksync.services.tracking import (
    MatchContext,
    RuleContext,
    apply_changes,
    bump_listings,
    listings_of_rules,
    listings_of_specs,
    listings_of_suites,
    listings_of_warehouses,
    refresh_matches,
    refresh_rules,
    resettle,
)

NOW = 1_700_000_000.0


def _build(conn: Connection, tid: int) -> None:
    """Specs 10 "P" (brand 1), 11 "Q", 12 "K" (same code as suite 20 "K" = P + Q), suite 21
    "S" = Q. Rules: 1 every shop, warehouses 1,2; 2 brand 1 at priority 5, warehouse 3.
    Listings (shop 1): 100 P, 101 Q, 102 K (spec wins), 103 S, 104 unbound "X",
    105 manual match to suite 20 with code P, 106 P with a custom rule on warehouse 2.
    """
    add_shop(conn, tid, 1)
    for wid in (1, 2, 3):
        add_warehouse(conn, tid, wid)
    add_brand(conn, tid, 1)
    add_spec(conn, tid, 10, "P", brand_id=1)
    add_spec(conn, tid, 11, "Q")
    add_spec(conn, tid, 12, "K")
    add_suite(conn, tid, 20, "K", {10: 1, 11: 2})
    add_suite(conn, tid, 21, "S", {11: 1})
    add_rule(conn, tid, 1, priority=1, warehouse_list="1,2")
    add_rule(conn, tid, 2, priority=5, brand_id=1, warehouse_list="3")
    for rec_id, code in ((100, "P"), (101, "Q"), (102, "K"), (103, "S"), (104, "X")):
        add_listing(conn, tid, rec_id, 1, code)
    add_listing(
        conn, tid, 105, 1, "P", is_manual_match=True, match_target_type=2, match_target_id=20
    )
    add_listing(conn, tid, 106, 1, "P")
    add_custom_rule(conn, tid, 106, warehouse_list="2")
    settle(conn, tid)


@pytest.fixture
def tenant(engine: Engine, sid: str) -> tuple[Engine, int]:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        _build(conn, tid)
    return engine, tid


def test_settling_matches_and_resolves_every_listing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with engine.connect() as conn:
        state = listing_state(conn, tid)
    assert {rec: s[2:] for rec, s in state.items()} == {
        100: (2, 1, 10), 101: (1, 1, 11), 102: (1, 1, 12), 103: (1, 2, 21),
        104: (1, 0, 0), 105: (1, 2, 20), 106: (-10000, 1, 10),
    }  # fmt: skip
    assert all(s[0] == 0 and not s[1] for s in state.values())


def test_bump_adds_one_per_listing_and_sets_pending(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert bump_listings(conn, tid, [100, 100, 101, 999], NOW) == 2
        assert bump_listings(conn, tid, [], NOW) == 0
        state = listing_state(conn, tid)
        modified = conn.execute(
            select(listing.c.modified).where(listing.c.tenant_id == tid, listing.c.rec_id == 100)
        ).scalar_one()
    assert state[100][:2] == (1, True) and state[101][:2] == (1, True)
    assert state[102][:2] == (0, False)
    assert modified == int(NOW)


def test_bump_works_across_many_chunks(
    tenant: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaders, "CHUNK", 2)
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert bump_listings(conn, tid, range(100, 107), NOW) == 7
        assert listings_of_specs(conn, tid, [10, 11]) == {100, 101, 103, 105, 106}
        assert set(counts(conn, tid).values()) == {1}


def test_listings_of_a_spec_include_suites_containing_it(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with engine.connect() as conn:
        assert listings_of_specs(conn, tid, [10]) == {100, 105, 106}
        assert listings_of_specs(conn, tid, [11]) == {101, 103, 105}
        assert listings_of_specs(conn, tid, []) == set()
        assert listings_of_suites(conn, tid, [20, 21]) == {103, 105}
        assert listings_of_rules(conn, tid, [1]) == {101, 102, 103, 104, 105}
        assert listings_of_rules(conn, tid, [-10000]) == {106}


def test_listings_of_a_warehouse_follow_rules_and_custom_rules(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with engine.connect() as conn:
        assert listings_of_warehouses(conn, tid, [3]) == {100}
        assert listings_of_warehouses(conn, tid, [2]) == {101, 102, 103, 104, 105, 106}
        assert listings_of_warehouses(conn, tid, [9]) == set()


def test_changing_a_spec_code_rematches_and_bumps_once(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        where = (spec.c.tenant_id == tid, spec.c.spec_id == 10)
        conn.execute(update(spec).where(*where).values(spec_no="S"))
        bumped = apply_changes(conn, tid, spec_ids=[10], rematch=True, now=NOW)
        state = listing_state(conn, tid)
    # 100 and 106 ("P") lose their spec; 103 ("S") now matches spec 10 before suite 21;
    # 105 is a manual match to a suite containing spec 10, so only the stock event reaches it.
    assert bumped == {100, 103, 105, 106}
    assert state[100][2:] == (1, 0, 0) and state[106][2:] == (-10000, 0, 0)
    assert state[103][2:] == (2, 1, 10)
    assert state[105][2:] == (1, 2, 20)
    assert {rec: s[0] for rec, s in state.items()} == {
        100: 1, 101: 0, 102: 0, 103: 1, 104: 0, 105: 1, 106: 1,
    }  # fmt: skip


def test_refresh_matches_skips_manual_and_is_idempotent(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert refresh_matches(conn, tid) == set()
        conn.execute(
            update(listing)
            .where(listing.c.tenant_id == tid, listing.c.rec_id.in_([104, 105]))
            .values(spec_outer_id="Q")
        )
        assert refresh_matches(conn, tid, [104, 105]) == {104}
        assert refresh_matches(conn, tid) == set()
        assert refresh_rules(conn, tid) == set()  # Q has no brand: rule 1 still applies
        state = listing_state(conn, tid)
    assert state[104][3:] == (1, 11) and state[105][3:] == (2, 20)
    assert state[104][0] == 0  # refresh alone does not bump; apply_changes does


def test_apply_changes_bumps_each_listing_once(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        bumped = apply_changes(
            conn, tid, rec_ids=[100, 104], spec_ids=[10], suite_ids=[20], rule_ids=[2],
            warehouse_ids=[3], now=NOW,
        )  # fmt: skip
        after = counts(conn, tid)
    assert bumped == {100, 104, 105, 106}
    assert after == {100: 1, 101: 0, 102: 0, 103: 0, 104: 1, 105: 1, 106: 1}


def test_apply_changes_on_a_rule_bumps_listings_before_and_after(
    tenant: tuple[Engine, int],
) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        conn.execute(update(spec).where(spec.c.tenant_id == tid).values(brand_id=0))
        conn.execute(update(spec).where(spec.c.tenant_id == tid, spec.c.spec_id == 11)
                     .values(brand_id=1))  # fmt: skip
        bumped = apply_changes(conn, tid, rule_ids=[2], reresolve=True, now=NOW)
        state = listing_state(conn, tid)
    assert bumped == {100, 101}  # 100 left rule 2, 101 joined it
    assert state[100][2] == 1 and state[101][2] == 2


def test_apply_changes_with_nothing_bumps_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert apply_changes(conn, tid, rematch=True, reresolve=True, now=NOW) == set()
        assert set(counts(conn, tid).values()) == {0}


def test_warehouse_defect_flag_change_bumps_listings_naming_it(
    tenant: tuple[Engine, int],
) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        where = (warehouse.c.tenant_id == tid, warehouse.c.warehouse_id == 2)
        conn.execute(update(warehouse).where(*where).values(is_defect=True))
        assert apply_changes(conn, tid, warehouse_ids=[2], now=NOW) == {
            101, 102, 103, 104, 105, 106,
        }  # fmt: skip


def test_contexts_compute_what_the_refresh_functions_store(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with engine.connect() as conn:
        matcher, resolver = MatchContext.load(conn, tid), RuleContext.load(conn, tid)
        state = listing_state(conn, tid)
    assert matcher.match("K") == (1, 12) and matcher.match("S") == (2, 21)
    assert matcher.match("") == (0, 0) and matcher.match("k") == (0, 0)
    assert matcher.match_listing("P", "  ") == ("P", 1, 10)
    for rec_id, (_, _, rule_id, kind, target) in state.items():
        assert resolver.rule_id(1, kind, target, rec_id == 106) == rule_id
    assert resolver.rule_id(1, 1, 999, False) == 1  # unknown target: no brand, no class


@pytest.mark.parametrize("rows_per_statement", [2, 1000])
def test_update_rows_gives_each_row_its_own_values_and_only_the_tenants(
    engine: Engine, sid: str, monkeypatch: pytest.MonkeyPatch, rows_per_statement: int
) -> None:
    monkeypatch.setattr(loaders, "_PG_ROWS", rows_per_statement)
    monkeypatch.setattr(loaders, "_MYSQL_ROWS", rows_per_statement)
    codes = {100: "it's", 101: "%s %(x)s ?", 102: "名字", 103: "a\\b", 104: ""}
    with write_tx(engine) as conn:
        tid, other = ensure_tenant(conn, sid), ensure_tenant(conn, sid + "-other")
        for owner in (tid, other):
            add_shop(conn, owner, 1)
            for rec_id in (*codes, 105):
                add_listing(conn, owner, rec_id, 1, "X")
        rows = [(rec_id, code, rec_id % 3, -rec_id) for rec_id, code in codes.items()]
        columns = ("match_code", "match_target_type", "match_target_id")
        loaders.update_rows(conn, listing, tid, ("rec_id",), columns, rows, {"modified": 7})
        c = listing.c
        query = select(c.tenant_id, c.rec_id, *[c[name] for name in (*columns, "modified")])
        query = query.where(c.tenant_id.in_([tid, other]))
        found = {(r[0], r[1]): tuple(r[2:]) for r in conn.execute(query)}
    assert {rec: found[(tid, rec)] for rec in codes} == {
        rec: (code, rec % 3, -rec, 7) for rec, code in codes.items()
    }
    assert found[(tid, 105)] == ("", 0, 0, 0)
    assert {found[(other, rec)] for rec in (*codes, 105)} == {("", 0, 0, 0)}


def test_update_ids_writes_the_tenants_rows_in_chunks(
    tenant: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loaders, "CHUNK", 2)
    engine, tid = tenant
    with write_tx(engine) as conn:
        assert loaders.update_ids(conn, listing, tid, [106, 100, 101, 999], "rule_id = 7") == 3
        assert loaders.update_ids(conn, listing, tid, [], "rule_id = 8") == 0
        state = listing_state(conn, tid)
    assert {rec: s[2] for rec, s in state.items() if s[2] == 7} == {100: 7, 101: 7, 106: 7}


def test_resolving_a_few_listings_agrees_with_resolving_them_among_everyone(
    tenant: tuple[Engine, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, tid = tenant
    results = []
    for whole in (10**9, 0):  # listings loaded with their own scopes / with every scope
        monkeypatch.setattr(tracking, "_WHOLE", whole)
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(update(spec).where(spec.c.tenant_id == tid).values(brand_id=1))
            conn.execute(update(listing).where(listing.c.tenant_id == tid).values(rule_id=-1))
            changed = refresh_rules(conn, tid, [100, 101, 103, 104, 106, 999])
            results.append((changed, {rec: s[2] for rec, s in listing_state(conn, tid).items()}))
            tx.rollback()
    assert results[0] == results[1]
    assert results[0][0] == {100, 101, 103, 104, 106}
    assert {rec: results[0][1][rec] for rec in (100, 101, 103, 104, 106)} == {
        100: 2, 101: 2, 103: 1, 104: 1, 106: -10000,
    }  # fmt: skip


def test_resolving_for_no_shop_changes_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        conn.execute(update(listing).where(listing.c.tenant_id == tid).values(rule_id=-1))
        assert refresh_rules(conn, tid, shop_ids=[]) == set()
        assert refresh_rules(conn, tid, shop_ids=[2]) == set()
        assert refresh_rules(conn, tid, shop_ids=[1]) == set(range(100, 107))


def test_blank_merchant_codes_fall_back_or_match_nothing(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        add_spec(conn, tid, 13, " ")
        add_listing(conn, tid, 107, 1, " \t", outer_id="Q")  # blank spec_outer_id: outer_id
        add_listing(conn, tid, 108, 1, " ", outer_id=" ")  # blank never matches, not even " "
        assert refresh_matches(conn, tid) == {107, 108}
        state = listing_state(conn, tid)
        codes = dict(conn.execute(select(listing.c.rec_id, listing.c.match_code).where(
            listing.c.tenant_id == tid, listing.c.rec_id.in_([107, 108]))).all())  # fmt: skip
    assert state[107][3:] == (1, 11) and state[108][3:] == (0, 0)
    assert codes == {107: "Q", 108: " "}


def test_resettle_writes_new_rules_and_bumps_each_listing_once(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        where = (spec.c.tenant_id == tid, spec.c.spec_id == 11)
        conn.execute(update(spec).where(*where).values(brand_id=1))
        bumped = resettle(conn, tid, bump={100, 101, 104}, now=NOW)
        state = listing_state(conn, tid)
        assert refresh_rules(conn, tid) == set()
    assert bumped == {100, 101, 104}
    assert {rec: s[:3] for rec, s in state.items() if s[0]} == {
        100: (1, True, 2), 101: (1, True, 2), 104: (1, True, 1),
    }  # fmt: skip
    assert {rec for rec, s in state.items() if s[0] == 0} == {102, 103, 105, 106}


def test_resettle_on_a_shop_leaves_other_shops_alone(tenant: tuple[Engine, int]) -> None:
    engine, tid = tenant
    with write_tx(engine) as conn:
        conn.execute(update(listing).where(listing.c.tenant_id == tid).values(rule_id=-1))
        assert resettle(conn, tid, shop_ids=[2], now=NOW) == set()
        assert resettle(conn, tid, [100, 101], shop_ids=[1], now=NOW) == {100, 101}
        state = listing_state(conn, tid)
    assert {rec: s[:3] for rec, s in state.items() if s[0]} == {
        100: (1, True, 2), 101: (1, True, 1),
    }  # fmt: skip
