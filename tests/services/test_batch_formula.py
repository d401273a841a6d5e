"""The vectorised formula (`services.batch_formula`) against `domain.formula.syn_stock`.

No database: random warehouses, stock rows, suites and parameters, including magnitudes that
overflow int64 and must take the exact (Python int) fallback.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.db.types import to_scaled
from stocksync.domain import formula
from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.model import (
    MATCH_SPEC,
    MATCH_SUITE,
    QUANTITY_FIELDS,
    RuleParams,
    StockRow,
    SuiteComponent,
    Warehouse,
)
from stocksync.services.batch_formula import (
    StockTable,
    SuiteTable,
    Targets,
    param_set,
    syn_stocks,
)

COLUMNS = ("stock_num", *QUANTITY_FIELDS, "wms_stock_diff")
WAREHOUSES = {
    1: Warehouse(1),
    2: Warehouse(2),
    3: Warehouse(3, is_defect=True),
    4: Warehouse(4, is_outer_stock=True),
}
HUGE = Decimal("899999999999999.9999")

small = st.decimals(min_value=-50, max_value=50, places=4)
huge = st.sampled_from([HUGE, -HUGE, Decimal("100000000000000"), Decimal("12345678901.5")])
quantity = st.one_of(small, small, small, huge)


def _table(rows: dict[tuple[int, int], StockRow]) -> StockTable:
    def column(values: list[Decimal]) -> np.ndarray:
        return np.array([to_scaled(v) for v in values], dtype=np.int64)

    ordered = list(rows.values())
    columns = {
        "stock_num": column([r.stock_num for r in ordered]),
        "wms_stock_diff": column([r.wms_stock_diff for r in ordered]),
    }
    for bit, name in enumerate(QUANTITY_FIELDS):
        columns[name] = column([r.quantities[bit] for r in ordered])
    return StockTable(
        np.array([r.spec_id for r in ordered], dtype=np.int64),
        np.array([r.warehouse_id for r in ordered], dtype=np.int64),
        columns,
    )


def _suites(suites: dict[int, tuple[SuiteComponent, ...]]) -> SuiteTable:
    rows = [
        (sid, c.spec_id, to_scaled(c.num)) for sid, comps in sorted(suites.items()) for c in comps
    ]
    arrays = [np.array([row[i] for row in rows], dtype=np.int64) for i in range(3)]
    return SuiteTable(*arrays)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[object, ...]:
    rows: dict[tuple[int, int], StockRow] = {}
    for spec_id in range(1, 6):
        for wid in draw(st.sets(st.sampled_from([1, 2, 3, 4]))):
            values = draw(st.lists(quantity, min_size=18, max_size=18))
            rows[(spec_id, wid)] = StockRow(
                spec_id, wid, values[0], tuple(values[1:17]), values[17]
            )
    suites = {
        suite_id: tuple(
            SuiteComponent(spec_id, draw(st.decimals(min_value="0.0001", max_value=5, places=4)))
            for spec_id in draw(st.sets(st.integers(1, 6), max_size=3))
        )
        for suite_id in range(1, 4)
    }
    params = [
        RuleParams(
            warehouse_list=",".join(draw(st.lists(st.sampled_from("12345 x"), max_size=5))),
            stock_flag=draw(st.integers(0, 65535)),
            percent=draw(st.sampled_from([Decimal(100), Decimal("80"), Decimal(0), HUGE])),
            plus_value=draw(st.one_of(small, huge)),
            min_stock=draw(st.just(Decimal(0)) | st.decimals(min_value=0, max_value=20, places=4)),
            max_stock=draw(st.just(Decimal(0)) | st.decimals(min_value=0, max_value=30, places=4)),
            is_auto_delisting=draw(st.booleans()),
        )
        for _ in range(3)
    ]
    targets = draw(
        st.lists(
            st.tuples(
                st.sampled_from([MATCH_SPEC, MATCH_SUITE]), st.integers(1, 6), st.integers(0, 2)
            ),
            min_size=1,
            max_size=12,
        )
    )
    return rows, suites, params, targets


def _expected(rows, suites, params, target) -> int | None:  # type: ignore[no-untyped-def]
    kind, target_id, pidx = target
    components = suites.get(target_id, ()) if kind == MATCH_SUITE else ()
    view = formula.StockView(WAREHOUSES, rows)
    try:
        return formula.syn_stock(formula.Target(kind, target_id, components), params[pidx], view)
    except EmptyWarehouseList:
        return None


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_batch_formula_equals_the_single_listing_formula(world: tuple[object, ...]) -> None:
    rows, suites, params, targets = world
    expected = [_expected(rows, suites, params, t) for t in targets]  # type: ignore[arg-type]
    sets = [param_set(p, WAREHOUSES) for p in params]  # type: ignore[attr-defined]
    computable = [i for i, t in enumerate(targets) if sets[t[2]].warehouses]  # type: ignore[index]
    assert [i for i, e in enumerate(expected) if e is not None] == computable
    chosen = [targets[i] for i in computable]  # type: ignore[index]
    arrays = [np.array([t[k] for t in chosen], dtype=np.int64) for k in range(3)]
    got = syn_stocks(Targets(*arrays), sets, WAREHOUSES, _table(rows), _suites(suites))  # type: ignore[arg-type]
    assert got == [expected[i] for i in computable]


def test_huge_stock_with_huge_percent_is_exact_on_python_ints() -> None:
    rows = {(1, 1): StockRow(1, 1, Decimal("100000000000000"))}  # 10¹⁴ on hand
    params = RuleParams(warehouse_list="1", percent=Decimal(10000))
    got = syn_stocks(
        Targets(*(np.array([v], dtype=np.int64) for v in (MATCH_SPEC, 1, 0))),
        [param_set(params, WAREHOUSES)],
        WAREHOUSES,
        _table(rows),
        _suites({}),
    )
    assert got == [10**16]
    assert type(got[0]) is int


def test_a_suite_without_components_and_a_spec_without_rows_give_zero() -> None:
    params = param_set(RuleParams(warehouse_list="1,2"), WAREHOUSES)
    targets = Targets(
        np.array([MATCH_SUITE, MATCH_SPEC], dtype=np.int64),
        np.array([9, 9], dtype=np.int64),
        np.array([0, 0], dtype=np.int64),
    )
    assert syn_stocks(targets, [params], WAREHOUSES, _table({}), _suites({})) == [0, 0]
