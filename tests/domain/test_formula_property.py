"""The formula against a tiny independent re-implementation in `fractions.Fraction`, and its
scaled-integer form (`suite_units`, `publish`, the calcStock hot path's) against the formula."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.formula import (
    StockView,
    Target,
    availability,
    clamp,
    linear_step,
    publish,
    suite_units,
    syn_stock,
    usable_warehouses,
)
from stocksync.domain.model import (
    FULL_MASK,
    MATCH_SPEC,
    MATCH_SUITE,
    RuleParams,
    StockRow,
    SuiteComponent,
    Warehouse,
)

SPECS = (1, 2, 3)
WAREHOUSE_IDS = (1, 2, 3, 4)


def _quantity(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low * 10_000, high * 10_000).map(lambda n: Decimal(n).scaleb(-4))


def _usable(warehouse_list: str, view: StockView) -> list[int]:
    wids: list[int] = []
    for token in warehouse_list.split(","):
        token = token.strip()
        if token.lstrip("-").isdigit():
            wid = int(token)
            known = view.warehouses.get(wid)
            if wid not in wids and known is not None and not known.is_defect:
                wids.append(wid)
    return wids


def _avail(spec_id: int, wid: int, mask: int, view: StockView) -> Fraction:
    found = view.rows.get((spec_id, wid))
    if found is None:
        return Fraction(0)
    total = Fraction(found.stock_num)
    for bit in range(16):
        if mask & (1 << bit):
            total += Fraction(found.quantities[bit]) * (1 if bit < 6 else -1)
    if view.warehouses[wid].is_outer_stock:
        total += Fraction(found.wms_stock_diff)
    return total


def _raw(target: Target, wids: list[int], mask: int, view: StockView) -> Fraction:
    if target.target_type == MATCH_SPEC:
        return sum((_avail(target.target_id, w, mask, view) for w in wids), Fraction(0))
    x = Fraction(0)
    for w in wids:
        ratios = [_avail(c.spec_id, w, mask, view) / Fraction(c.num) for c in target.components]
        x += math.floor(min(ratios)) if ratios else 0
    return x


def _reference(target: Target, params: RuleParams, view: StockView) -> int | None:
    """None for an empty warehouse list, else syn_stock, computed with Fractions."""
    wids = _usable(params.warehouse_list, view)
    if not wids:
        return None
    x = _raw(target, wids, params.stock_flag, view)
    y = math.floor(x * Fraction(params.percent) / 100 + Fraction(params.plus_value))
    if params.max_stock > 0 and y > params.max_stock:
        y = math.floor(params.max_stock)
    if y < params.min_stock:
        y = 0 if params.is_auto_delisting else math.floor(params.min_stock)
    return y


warehouses_st = st.fixed_dictionaries(
    {wid: st.builds(Warehouse, st.just(wid), is_defect=st.booleans(), is_outer_stock=st.booleans())
     for wid in WAREHOUSE_IDS}
)  # fmt: skip

row_st = st.builds(
    StockRow,
    st.sampled_from(SPECS),
    st.sampled_from(WAREHOUSE_IDS),
    _quantity(-50, 200),
    st.tuples(*[_quantity(-5, 30)] * 16),
    _quantity(-20, 20),
)

warehouse_list_st = st.lists(
    st.sampled_from(["1", "2", "3", "4", "9", " 2", "1 ", "", "x"]), max_size=6
).map(",".join)

params_st = st.builds(
    RuleParams,
    warehouse_list=warehouse_list_st,
    stock_flag=st.integers(0, FULL_MASK),
    percent=_quantity(0, 300),
    plus_value=_quantity(-10, 10),
    min_stock=_quantity(0, 20),
    max_stock=st.one_of(st.just(Decimal(0)), _quantity(0, 500)),
    is_auto_delisting=st.booleans(),
)

component_st = st.builds(SuiteComponent, st.sampled_from(SPECS), _quantity(0, 5).filter(bool))

target_st = st.one_of(
    st.builds(Target, st.just(MATCH_SPEC), st.sampled_from(SPECS)),
    st.builds(
        Target, st.just(MATCH_SUITE), st.just(7), st.lists(component_st, max_size=3).map(tuple)
    ),
)


def _assert_syn_stock_agrees(
    other: Callable[[Target, RuleParams, StockView], int | None],
    target: Target,
    params: RuleParams,
    warehouses: dict[int, Warehouse],
    rows: list[StockRow],
) -> None:
    """`syn_stock` answers what `other` computes; `other`'s None means EmptyWarehouseList."""
    view = StockView(warehouses, {(r.spec_id, r.warehouse_id): r for r in rows})
    expected = other(target, params, view)
    if expected is None:
        with pytest.raises(EmptyWarehouseList):
            syn_stock(target, params, view)
        return
    assert syn_stock(target, params, view) == expected


@settings(max_examples=400, deadline=None)
@given(target_st, params_st, warehouses_st, st.lists(row_st, max_size=12))
def test_syn_stock_matches_a_fraction_reference(
    target: Target,
    params: RuleParams,
    warehouses: dict[int, Warehouse],
    rows: list[StockRow],
) -> None:
    _assert_syn_stock_agrees(_reference, target, params, warehouses, rows)


def _scaled(value: Decimal) -> int:
    return int(value.scaleb(4))


def _scaled_path(target: Target, params: RuleParams, view: StockView) -> int | None:
    """What the calcStock hot path computes: X on scaled integers, then `publish`."""
    wids = usable_warehouses(params.warehouse_list, view.warehouses)
    if not wids:
        return None

    def avail(spec_id: int, wid: int) -> int:
        row = view.rows.get((spec_id, wid))
        outer = view.warehouses[wid].is_outer_stock
        return 0 if row is None else _scaled(availability(row, params.stock_flag, outer))

    if target.target_type == MATCH_SPEC:
        x = sum(avail(target.target_id, wid) for wid in wids)
    else:
        nums = [_scaled(c.num) for c in target.components]
        x = 10_000 * sum(
            suite_units([avail(c.spec_id, wid) for c in target.components], nums) for wid in wids
        )
    return publish(
        x,
        _scaled(params.percent),
        _scaled(params.plus_value),
        _scaled(params.min_stock),
        _scaled(params.max_stock),
        params.is_auto_delisting,
    )


@settings(max_examples=400, deadline=None)
@given(target_st, params_st, warehouses_st, st.lists(row_st, max_size=12))
def test_the_scaled_integer_path_gives_syn_stocks_number(
    target: Target,
    params: RuleParams,
    warehouses: dict[int, Warehouse],
    rows: list[StockRow],
) -> None:
    _assert_syn_stock_agrees(_scaled_path, target, params, warehouses, rows)


@given(
    st.integers(-(10**20), 10**20),
    st.integers(0, 10**10),
    st.integers(-(10**12), 10**12),
    st.integers(0, 10**12),
    st.integers(0, 10**12),
    st.booleans(),
)
def test_publish_is_the_linear_step_then_the_clamps(
    x: int, percent: int, plus: int, min_stock: int, max_stock: int, delist: bool
) -> None:
    def qty(scaled: int) -> Decimal:
        return Decimal(scaled).scaleb(-4)

    params = RuleParams(
        "1", 0, qty(percent), qty(plus), qty(min_stock), qty(max_stock), False, delist
    )
    y = linear_step(qty(x), params.percent, params.plus_value)[1]
    assert publish(x, percent, plus, min_stock, max_stock, delist) == clamp(y, params)[2]
