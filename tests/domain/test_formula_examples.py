"""The worked examples of semantics §7, one test each, plus exact-decimal cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from domain_builders import row, view

from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.formula import Explanation, Target, clamp, linear_step, syn_stock
from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE, RuleParams, SuiteComponent, Warehouse

SPEC = Target(MATCH_SPEC, 10)
P, Q = 21, 22
SUITE = Target(MATCH_SUITE, 7, (SuiteComponent(P, Decimal(2)), SuiteComponent(Q, Decimal(1))))


def params(warehouses: str = "1,2", **kw: object) -> RuleParams:
    return RuleParams(warehouse_list=warehouses, **kw)  # type: ignore[arg-type]


def test_example_1_plain_sum_of_two_warehouses() -> None:
    stock = view([row(10, 1, 10), row(10, 2, 5)])
    assert syn_stock(SPEC, params(), stock) == 15


def test_example_2_masked_quantities_and_a_negative_warehouse_is_not_clamped() -> None:
    stock = view([row(10, 1, 10, order_num="3", sending_num="2"), row(10, 2, 5, sending_num="6")])
    explanation = Explanation()
    assert syn_stock(SPEC, params(stock_flag=640), stock, explanation) == 4
    assert [step.contribution for step in explanation.steps] == [5, -1]


def test_example_3_defect_warehouse_dropped_and_outer_diff_added() -> None:
    stock = view([row(10, 1, 10), row(10, 3, 100), row(10, 4, 20, wms=-3)])
    assert syn_stock(SPEC, params("1,3,4"), stock) == 27


def test_example_4_linear_step_floors_twelve_and_a_half_to_twelve() -> None:
    assert linear_step(Decimal(15), Decimal(80), Decimal("0.5")) == (Decimal("12.5"), 12)
    stock = view([row(10, 1, 15)])
    rule = params("1", percent=Decimal(80), plus_value=Decimal("0.5"))
    assert syn_stock(SPEC, rule, stock) == 12


@pytest.mark.parametrize("auto_delist", [True, False])
def test_example_5_negative_x_floors_down_then_min_zero_gives_zero(auto_delist: bool) -> None:
    assert linear_step(Decimal(-3), Decimal(50), Decimal(0))[1] == -2
    rule = params("1", percent=Decimal(50), is_auto_delisting=auto_delist)
    assert syn_stock(SPEC, rule, view([row(10, 1, -3)])) == 0


def test_example_6_below_min_with_auto_delist_goes_to_zero() -> None:
    rule = RuleParams(min_stock=Decimal(5), is_auto_delisting=True)
    assert clamp(3, rule) == (3, False, 0, "delist")


def test_example_7_below_min_without_auto_delist_holds_at_min() -> None:
    rule = RuleParams(min_stock=Decimal(5), is_auto_delisting=False)
    assert clamp(3, rule) == (3, False, 5, "hold")
    assert syn_stock(SPEC, params("1", min_stock=Decimal(5)), view([row(10, 1, 3)])) == 5


def test_example_8_suite_floors_per_warehouse_before_summing() -> None:
    stock = view([row(P, 1, 5), row(Q, 1, 10), row(P, 2, 3), row(Q, 2, 0)])
    explanation = Explanation()
    assert syn_stock(SUITE, params(), stock, explanation) == 2
    assert [(s.contribution, s.limiting_spec_id) for s in explanation.steps] == [(2, P), (0, Q)]


def test_example_9_missing_stock_row_counts_as_zero() -> None:
    stock = view([row(P, 1, 5), row(Q, 1, 10), row(P, 2, 3)])
    assert syn_stock(SUITE, params(), stock) == 2


def test_example_10_negative_component_gives_a_negative_warehouse_term() -> None:
    stock = view([row(P, 1, -1), row(Q, 1, 10), row(P, 2, 4), row(Q, 2, 3)])
    explanation = Explanation()
    assert syn_stock(SUITE, params(), stock, explanation) == 1
    assert [s.contribution for s in explanation.steps] == [-1, 2]


def test_example_11_max_caps_before_min() -> None:
    rule = RuleParams(max_stock=Decimal(500), min_stock=Decimal(1))
    assert clamp(800, rule) == (500, True, 500, "")
    assert (
        syn_stock(
            SPEC, params("1", max_stock=Decimal(500), min_stock=Decimal(1)), view([row(10, 1, 800)])
        )
        == 500
    )


def test_example_12_vendor_example_nothing_on_hand_plus_one() -> None:
    warehouses = {6: Warehouse(6, "W6")}
    rule = params(
        "6", plus_value=Decimal(1), min_stock=Decimal(1), max_stock=Decimal(550),
        is_auto_delisting=True,
    )  # fmt: skip
    assert syn_stock(Target(MATCH_SPEC, 12581), rule, view([], warehouses)) == 1


def test_example_13_duplicate_warehouse_ids_count_once() -> None:
    explanation = Explanation()
    assert syn_stock(SPEC, params("1,1"), view([row(10, 1, 10)]), explanation) == 10
    assert explanation.warehouses_dropped == [("1", "duplicate")]


def test_max_zero_means_no_cap_and_min_wins_when_max_is_below_min() -> None:
    assert clamp(800, RuleParams())[2] == 800
    assert clamp(800, RuleParams(max_stock=Decimal(3), min_stock=Decimal(5))) == (
        3,
        True,
        5,
        "hold",
    )


def test_only_defect_or_unknown_warehouses_raise_empty_warehouse_list() -> None:
    with pytest.raises(EmptyWarehouseList) as raised:
        syn_stock(SPEC, params("3, 99, x, "), view([row(10, 3, 100)]))
    assert raised.value.message == "仓库列表为空"


def test_suite_without_components_gives_zero() -> None:
    empty_suite = Target(MATCH_SUITE, 8)
    assert syn_stock(empty_suite, params(plus_value=Decimal(2)), view([row(P, 1, 9)])) == 2


def test_exact_decimal_fifteen_times_eighty_percent_plus_half_is_twelve() -> None:
    exact, y = linear_step(Decimal("15.0000"), Decimal("80.0000"), Decimal("0.5000"))
    assert exact == Decimal("12.5")
    assert y == 12


def test_exact_decimal_tenth_plus_fifth_is_exactly_three_tenths() -> None:
    explanation = Explanation()
    rule = params(percent=Decimal(1000))
    assert syn_stock(SPEC, rule, view([row(10, 1, "0.1"), row(10, 2, "0.2")]), explanation) == 3
    assert explanation.raw == Decimal("0.3")
    assert explanation.linear_exact == Decimal(3)


def test_exact_decimal_subtracted_tenths_do_not_drop_below_an_integer() -> None:
    # with binary floats 8.2 - 0.1 - 0.1 is 7.999999999999999 and would floor to 7
    stock = view([row(10, 1, "8.2", order_num="0.1", sending_num="0.1")])
    assert syn_stock(SPEC, params("1", stock_flag=640), stock) == 8


def test_suite_with_fractional_num_divides_exactly() -> None:
    # with binary floats 0.15 / 0.05 is 2.9999999999999996 and would floor to 2
    suite = Target(MATCH_SUITE, 9, (SuiteComponent(P, Decimal("0.05")),))
    explanation = Explanation()
    assert syn_stock(suite, params("1"), view([row(P, 1, "0.15")]), explanation) == 3
    assert explanation.steps[0].specs[0].ratio == Decimal(3)
