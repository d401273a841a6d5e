"""Live rules (semantics §3.5): a rule edit re-resolves and bumps exactly the affected listings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine

from builders import (
    add_brand,
    add_class,
    add_custom_rule,
    add_listing,
    add_rule,
    add_shop,
    add_spec,
    add_suite,
    add_warehouse,
    listing_state,
    settle,
)
from stocksync.db.engine import write_tx
from stocksync.db.loaders import load_custom_rules, load_rules
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import Rule, RuleParams
from stocksync.services import rules as live
from stocksync.services.tracking import refresh_rules

NOW = 1_700_000_000.0
ALL = {100, 101, 102, 103, 104, 105, 106}


def _build(conn: Connection, tid: int) -> None:
    """Shops 1, 2; classes 1 > 2; brands 1, 2; rule 1 covers everything at priority 1.

    Listings: 100 shop 1 spec 10 (brand 1, class 2); 101 shop 1 spec 11 (brand 2, class 1);
    102 shop 2 spec 10; 103 shop 1 spec 12 (no brand or class); 104 shop 1 suite 20 (brand 1,
    class 1); 105 shop 1 unbound; 106 shop 1 spec 10 with a custom rule.
    """
    add_shop(conn, tid, 1)
    add_shop(conn, tid, 2)
    add_warehouse(conn, tid, 1)
    add_class(conn, tid, 1)
    add_class(conn, tid, 2, parent_id=1)
    add_brand(conn, tid, 1)
    add_brand(conn, tid, 2)
    add_spec(conn, tid, 10, "A", brand_id=1, class_id=2)
    add_spec(conn, tid, 11, "B", brand_id=2, class_id=1)
    add_spec(conn, tid, 12, "C")
    add_suite(conn, tid, 20, "K", {10: 1}, brand_id=1, class_id=1)
    add_rule(conn, tid, 1, priority=1, warehouse_list="1")
    for rec_id, shop_id, code in (
        (100, 1, "A"), (101, 1, "B"), (102, 2, "A"), (103, 1, "C"), (104, 1, "K"),
        (105, 1, "none"), (106, 1, "A"),
    ):  # fmt: skip
        add_listing(conn, tid, rec_id, shop_id, code)
    add_custom_rule(conn, tid, 106, warehouse_list="1")
    settle(conn, tid)


@pytest.fixture
def tenant(engine: Engine, sid: str) -> tuple[Engine, int]:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        _build(conn, tid)
    return engine, tid


Action = Callable[[Connection, int], object]


def _run(tenant: tuple[Engine, int], action: Action) -> tuple[set[int], dict[int, int]]:
    """Run `action`; return the listings bumped and every listing's rule_id afterwards.

    Also checks that each bump is exactly +1 and that no listing was left stale.
    """
    engine, tid = tenant
    with write_tx(engine) as conn:
        before = listing_state(conn, tid)
        action(conn, tid)
        after = listing_state(conn, tid)
        assert refresh_rules(conn, tid) == set(), "a listing kept a stale rule_id"
    bumped = {rec for rec in after if after[rec][0] != before[rec][0]}
    for rec in bumped:
        assert after[rec][0] == before[rec][0] + 1 and after[rec][1] is True
    return bumped, {rec: state[2] for rec, state in after.items()}


def test_settled_tenant_resolves_as_expected(tenant: tuple[Engine, int]) -> None:
    _, rule_ids = _run(tenant, lambda conn, tid: None)
    assert rule_ids == {100: 1, 101: 1, 102: 1, 103: 1, 104: 1, 105: 1, 106: -10000}


def test_creating_a_brand_rule_moves_and_bumps_only_that_brand(tenant: tuple[Engine, int]) -> None:
    rule = Rule(0, "BR1", priority=5, brand_id=1, params=RuleParams(warehouse_list="1"))
    new_ids: list[int] = []
    bumped, rule_ids = _run(tenant, lambda c, t: new_ids.append(live.create_rule(c, t, rule, NOW)))
    assert new_ids == [2]
    assert bumped == {100, 102, 104}
    assert {rec: rule_ids[rec] for rec in bumped} == {100: 2, 102: 2, 104: 2}
    assert rule_ids[106] == -10000 and rule_ids[101] == 1


def test_creating_a_rule_for_one_shop_touches_only_that_shop(tenant: tuple[Engine, int]) -> None:
    rule = Rule(9, "S2", priority=5, shop_list="2", params=RuleParams(warehouse_list="1"))
    bumped, rule_ids = _run(tenant, lambda c, t: live.create_rule(c, t, rule, NOW))
    assert bumped == {102} and rule_ids[102] == 9


def test_creating_a_losing_rule_bumps_nothing(tenant: tuple[Engine, int]) -> None:
    rule = Rule(0, "LOW", priority=0, params=RuleParams(warehouse_list="1"))
    bumped, _ = _run(tenant, lambda c, t: live.create_rule(c, t, rule, NOW))
    assert bumped == set()


def test_editing_parameters_bumps_every_listing_on_the_rule(tenant: tuple[Engine, int]) -> None:
    def edit(conn: Connection, tid: int) -> None:
        old = load_rules(conn, tid)[0]
        params = dataclasses.replace(old.params, percent=Decimal(50))
        live.update_rule(conn, tid, dataclasses.replace(old, params=params), NOW)

    bumped, rule_ids = _run(tenant, edit)
    assert bumped == ALL - {106}
    assert set(rule_ids.values()) == {1, -10000}


def test_narrowing_a_rule_moves_listings_out_and_bumps_before_and_after(
    tenant: tuple[Engine, int],
) -> None:
    brand_rule = Rule(5, "BR1", priority=5, brand_id=1, params=RuleParams(warehouse_list="1"))
    _run(tenant, lambda c, t: live.create_rule(c, t, brand_rule, NOW))
    narrowed = dataclasses.replace(brand_rule, class_id=2)
    bumped, rule_ids = _run(tenant, lambda c, t: live.update_rule(c, t, narrowed, NOW))
    assert bumped == {100, 102, 104}  # 100, 102 stay on rule 5; 104 (class 1) falls back
    assert (rule_ids[100], rule_ids[102], rule_ids[104]) == (5, 5, 1)


def test_disabling_and_enabling_a_rule_moves_its_listings(tenant: tuple[Engine, int]) -> None:
    brand_rule = Rule(5, "BR1", priority=5, brand_id=1, params=RuleParams(warehouse_list="1"))
    _run(tenant, lambda c, t: live.create_rule(c, t, brand_rule, NOW))
    bumped, rule_ids = _run(tenant, lambda c, t: live.set_rule_disabled(c, t, 5, True, NOW))
    assert bumped == {100, 102, 104} and rule_ids[100] == 1
    bumped, _ = _run(tenant, lambda c, t: live.set_rule_disabled(c, t, 5, True, NOW))
    assert bumped == set()
    bumped, rule_ids = _run(tenant, lambda c, t: live.set_rule_disabled(c, t, 5, False, NOW))
    assert bumped == {100, 102, 104} and rule_ids[104] == 5


def test_disabling_the_only_rule_leaves_listings_without_a_rule(
    tenant: tuple[Engine, int],
) -> None:
    bumped, rule_ids = _run(tenant, lambda c, t: live.set_rule_disabled(c, t, 1, True, NOW))
    assert bumped == ALL - {106}
    assert {rule_ids[rec] for rec in bumped} == {-1}


def test_deleting_a_rule_bumps_its_listings_only(tenant: tuple[Engine, int]) -> None:
    shop_rule = Rule(3, "S2", priority=5, shop_list="2", params=RuleParams(warehouse_list="1"))
    _run(tenant, lambda c, t: live.create_rule(c, t, shop_rule, NOW))
    bumped, rule_ids = _run(tenant, lambda c, t: live.delete_rule(c, t, 3, NOW))
    assert bumped == {102} and rule_ids[102] == 1
    with pytest.raises(BusinessError, match="unknown rule 3"):
        _run(tenant, lambda c, t: live.delete_rule(c, t, 3, NOW))


def test_saving_an_unchanged_rule_bumps_nothing(tenant: tuple[Engine, int]) -> None:
    bumped, _ = _run(tenant, lambda c, t: live.update_rule(c, t, load_rules(c, t)[0], NOW))
    assert bumped == set()


def test_custom_rule_wins_outright_and_bumps_only_its_listing(tenant: tuple[Engine, int]) -> None:
    params = RuleParams(warehouse_list="1", percent=Decimal(10))
    bumped, rule_ids = _run(tenant, lambda c, t: live.set_custom_rule(c, t, 100, params, NOW))
    assert bumped == {100} and rule_ids[100] == -10000
    engine, tid = tenant
    with engine.connect() as conn:
        assert load_custom_rules(conn, tid, [100]) == {100: params}
    bumped, _ = _run(tenant, lambda c, t: live.set_custom_rule(c, t, 100, params, NOW))
    assert bumped == set()
    bumped, rule_ids = _run(tenant, lambda c, t: live.set_custom_rule(c, t, 100, None, NOW))
    assert bumped == {100} and rule_ids[100] == 1


def test_editing_an_existing_custom_rule_bumps_its_listing(tenant: tuple[Engine, int]) -> None:
    params = RuleParams(warehouse_list="1", min_stock=Decimal(2))
    bumped, rule_ids = _run(tenant, lambda c, t: live.set_custom_rule(c, t, 106, params, NOW))
    assert bumped == {106} and rule_ids[106] == -10000


def test_unknown_ids_are_business_errors(tenant: tuple[Engine, int]) -> None:
    rule = Rule(77, "X", params=RuleParams(warehouse_list="1"))
    with pytest.raises(BusinessError, match="unknown rule 77"):
        _run(tenant, lambda c, t: live.update_rule(c, t, rule, NOW))
    with pytest.raises(BusinessError, match="unknown rule 77"):
        _run(tenant, lambda c, t: live.set_rule_disabled(c, t, 77, True, NOW))
    with pytest.raises(BusinessError, match="unknown listing 999"):
        _run(tenant, lambda c, t: live.set_custom_rule(c, t, 999, None, NOW))
    with pytest.raises(BusinessError, match="rule 1 already exists"):
        _run(tenant, lambda c, t: live.create_rule(c, t, dataclasses.replace(rule, rec_id=1), NOW))
    with pytest.raises(BusinessError, match="rule_no R1"):
        _run(
            tenant,
            lambda c, t: live.create_rule(c, t, dataclasses.replace(rule, rule_no="R1"), NOW),
        )


def test_unknown_class_or_brand_is_an_invalid_argument(tenant: tuple[Engine, int]) -> None:
    with pytest.raises(InvalidArgument, match="class_id: unknown class 9"):
        _run(tenant, lambda c, t: live.create_rule(c, t, Rule(0, class_id=9), NOW))
    with pytest.raises(InvalidArgument, match="brand_id: unknown brand 9"):
        _run(tenant, lambda c, t: live.create_rule(c, t, Rule(0, brand_id=9), NOW))


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (Rule(1, params=RuleParams(min_stock=Decimal(-1))), "min_stock"),
        (Rule(1, params=RuleParams(max_stock=Decimal(-1))), "max_stock"),
        (Rule(1, params=RuleParams(percent=Decimal(-5))), "percent"),
        (Rule(1, params=RuleParams(stock_flag=65536)), "stock_flag"),
        (Rule(1, params=RuleParams(stock_flag=-1)), "stock_flag"),
        (Rule(1, params=RuleParams(plus_value=Decimal("0.00001"))), "plus_value"),
        (Rule(1, params=RuleParams(percent=1.5)), "percent"),  # type: ignore[arg-type]
        (Rule(-3), "rec_id"),
        (Rule(1, class_id=0), "class_id"),
        (Rule(1, brand_id=-2), "brand_id"),
        (Rule(1, rule_no="x" * 65), "rule_no"),
    ],
)
def test_validation_names_the_field(rule: Rule, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        live.validate_rule(rule)
    assert caught.value.message.startswith(f"{field}:")


def test_a_valid_rule_passes_validation() -> None:
    live.validate_rule(Rule(1, params=RuleParams(plus_value=Decimal("-2.5"), stock_flag=65535)))


def test_invalid_custom_rule_names_the_field(tenant: tuple[Engine, int]) -> None:
    params = RuleParams(min_stock=Decimal(-1))
    with pytest.raises(InvalidArgument, match=r"^custom_rule\.min_stock:"):
        _run(tenant, lambda c, t: live.set_custom_rule(c, t, 100, params, NOW))
