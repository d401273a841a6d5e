"""The `syn_stock` formula for many listings at once, vectorised with numpy (semantics spec §4).

This is the formula's implementation on the batch path: the same arithmetic as
`domain.formula.syn_stock`, on quantities as stored (scaled integers, value × 10⁴), so results are
bit-identical. int64 is used wherever a float64 bound of every intermediate value proves it cannot
overflow; the listings it cannot prove safe take the same code on Python ints (object arrays).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from stocksync.db.types import SCALE, to_scaled
from stocksync.domain.formula import usable_warehouses
from stocksync.domain.model import (
    MATCH_SUITE,
    QUANTITY_FIELDS,
    QUANTITY_SIGNS,
    RuleParams,
    Warehouse,
)

IntArray = npt.NDArray[np.int64]
AnyArray = npt.NDArray[Any]

#: Magnitudes below this are exact in int64 even after a float64 estimate's rounding error.
_SAFE = float(2**62)
_LINEAR_DIVISOR = SCALE * SCALE * 100  # X and percent are both scaled; percent is "per 100"
_PLUS_FACTOR = SCALE * 100


@dataclass(frozen=True)
class StockTable:
    """Stock rows as raw scaled integers: one array per column (sorted by warehouse is best)."""

    spec_id: IntArray
    warehouse_id: IntArray
    columns: Mapping[str, IntArray]  # "stock_num" and any quantity or "wms_stock_diff"; absent = 0

    def take(self, rows: IntArray) -> StockTable:
        """The same table restricted to `rows`."""
        columns = {name: values[rows] for name, values in self.columns.items()}
        return StockTable(self.spec_id[rows], self.warehouse_id[rows], columns)


@dataclass(frozen=True)
class SuiteTable:
    """Suite components (`goods_suite_detail`), sorted by suite id; `num` scaled, > 0."""

    suite_id: IntArray
    spec_id: IntArray
    num: IntArray

    def take(self, rows: IntArray) -> SuiteTable:
        """The same table restricted to `rows` (kept in suite order)."""
        return SuiteTable(self.suite_id[rows], self.spec_id[rows], self.num[rows])


@dataclass(frozen=True)
class ParamSet:
    """One distinct set of formula parameters, usable warehouses resolved, quantities scaled."""

    warehouses: tuple[int, ...]
    mask: int
    percent: int
    plus: int
    min_stock: int
    max_stock: int
    auto_delist: bool


def param_set(params: RuleParams, warehouses: Mapping[int, Warehouse]) -> ParamSet:
    """Scale a rule's parameters and resolve its warehouse list as the formula does."""
    quantities = (params.percent, params.plus_value, params.min_stock, params.max_stock)
    percent, plus, min_stock, max_stock = (to_scaled(q) for q in quantities)
    raw = (params.warehouse_list, params.stock_flag, percent, plus, min_stock, max_stock)
    return scaled_param_set((*raw, params.is_auto_delisting), warehouses)


def scaled_param_set(
    raw: tuple[str, int, int, int, int, int, bool], warehouses: Mapping[int, Warehouse]
) -> ParamSet:
    """`param_set` from the stored values: (warehouse_list, stock_flag, percent, plus_value,
    min_stock, max_stock, is_auto_delisting), quantities already scaled."""
    warehouse_list, mask, percent, plus, min_stock, max_stock, auto_delist = raw
    usable = tuple(sorted(usable_warehouses(warehouse_list, warehouses)))
    return ParamSet(usable, mask, percent, plus, min_stock, max_stock, auto_delist)


@dataclass(frozen=True)
class Targets:
    """The listings to compute: what each is matched to and the index of its `ParamSet`."""

    target_type: IntArray
    target_id: IntArray
    param: IntArray

    def take(self, rows: IntArray) -> Targets:
        return Targets(self.target_type[rows], self.target_id[rows], self.param[rows])


def syn_stocks(
    targets: Targets,
    params: Sequence[ParamSet],
    warehouses: Mapping[int, Warehouse],
    stock: StockTable,
    suites: SuiteTable,
) -> list[int]:
    """`syn_stock` of every target, in order; every target's param set has warehouses.

    Listings whose intermediate values could exceed int64 are recomputed on Python ints.
    """
    if np.any(np.diff(stock.warehouse_id) < 0):  # each warehouse's rows must be contiguous
        stock = stock.take(np.argsort(stock.warehouse_id, kind="stable"))
    space = _Space.build(targets, stock, suites)
    table = _ParamArrays.build(params, np.int64)
    unsafe = _unsafe(targets, space, table, stock)
    result: AnyArray = _compute(targets, params, warehouses, stock, suites, space, np.int64)
    if unsafe.any():
        rows = np.flatnonzero(unsafe)
        result = result.astype(object)
        result[rows] = _compute_exact(targets.take(rows), params, warehouses, stock, suites)
    return list(result.tolist())


def _compute_exact(
    targets: Targets,
    params: Sequence[ParamSet],
    warehouses: Mapping[int, Warehouse],
    stock: StockTable,
    suites: SuiteTable,
) -> AnyArray:
    """The same computation on Python ints, over only the rows these targets need."""
    is_suite = targets.target_type == MATCH_SUITE
    suite_rows = np.flatnonzero(np.isin(suites.suite_id, targets.target_id[is_suite]))
    suites = suites.take(suite_rows)
    specs = np.concatenate([targets.target_id[~is_suite], suites.spec_id])
    stock = stock.take(np.flatnonzero(np.isin(stock.spec_id, specs)))
    space = _Space.build(targets, stock, suites)
    return _compute(targets, params, warehouses, stock, suites, space, object)


@dataclass(frozen=True)
class _Space:
    """Dense positions for spec and suite ids, and where each row of the inputs points."""

    n_specs: int
    n_suites: int
    stock_pos: IntArray  # spec position of each stock row
    comp_pos: IntArray  # spec position of each suite component
    comp_suite_pos: IntArray  # suite position of each suite component
    comp_starts: IntArray  # first component of each suite that has components
    comp_suites: IntArray  # suite position of each of those suites
    target_pos: IntArray  # spec position (spec target) or suite position (suite target)

    @classmethod
    def build(cls, targets: Targets, stock: StockTable, suites: SuiteTable) -> _Space:
        is_suite = targets.target_type == MATCH_SUITE
        spec_ids = np.unique(np.concatenate([stock.spec_id, suites.spec_id, targets.target_id]))
        suite_ids = np.unique(np.concatenate([suites.suite_id, targets.target_id[is_suite]]))
        comp_suite_pos = np.searchsorted(suite_ids, suites.suite_id)
        starts = np.flatnonzero(np.diff(comp_suite_pos, prepend=-1) != 0)
        target_pos = np.where(
            is_suite,
            np.searchsorted(suite_ids, targets.target_id),
            np.searchsorted(spec_ids, targets.target_id),
        )
        return cls(
            len(spec_ids),
            len(suite_ids),
            np.searchsorted(spec_ids, stock.spec_id),
            np.searchsorted(spec_ids, suites.spec_id),
            comp_suite_pos,
            starts,
            comp_suite_pos[starts],
            target_pos,
        )


@dataclass(frozen=True)
class _ParamArrays:
    """The param sets' numbers as arrays (indexed by param set) in one dtype."""

    percent: AnyArray
    plus: AnyArray
    min_stock: AnyArray
    max_stock: AnyArray
    auto_delist: npt.NDArray[np.bool_]
    n_warehouses: IntArray

    @classmethod
    def build(cls, params: Sequence[ParamSet], dtype: Any) -> _ParamArrays:
        def column(name: str) -> AnyArray:
            return np.array([getattr(p, name) for p in params], dtype=object).astype(dtype)

        return cls(
            column("percent"),
            column("plus"),
            column("min_stock"),
            column("max_stock"),
            np.array([p.auto_delist for p in params], dtype=bool),
            np.array([len(p.warehouses) for p in params], dtype=np.int64),
        )


def _unsafe(
    targets: Targets, space: _Space, table: _ParamArrays, stock: StockTable
) -> npt.NDArray[np.bool_]:
    """Targets whose intermediate values could leave int64 (a float64 upper bound ≥ 2⁶²)."""
    row_bound = np.zeros(len(stock.spec_id))
    for values in stock.columns.values():
        row_bound += np.abs(values.astype(np.float64))
    spec_bound = np.bincount(space.stock_pos, weights=row_bound, minlength=space.n_specs)
    comp_bound = spec_bound[space.comp_pos]
    suite_bound = np.bincount(space.comp_suite_pos, weights=comp_bound, minlength=space.n_suites)
    is_suite = targets.target_type == MATCH_SUITE
    x_bound = np.empty(len(is_suite))
    x_bound[~is_suite] = spec_bound[space.target_pos[~is_suite]]
    # a suite's count per warehouse is at most |avail| + 1 (num ≥ 1 scaled unit)
    suites_n = table.n_warehouses[targets.param[is_suite]]
    x_bound[is_suite] = (suite_bound[space.target_pos[is_suite]] + suites_n) * SCALE
    percent = np.abs(table.percent[targets.param].astype(np.float64))
    plus = np.abs(table.plus[targets.param].astype(np.float64)) * _PLUS_FACTOR
    total = np.maximum(x_bound, x_bound * percent + plus)
    return np.asarray(total >= _SAFE)


def _compute(
    targets: Targets,
    params: Sequence[ParamSet],
    warehouses: Mapping[int, Warehouse],
    stock: StockTable,
    suites: SuiteTable,
    space: _Space,
    dtype: Any,
) -> AnyArray:
    """X for every target (the raw quantity, scaled), then the linear step and the clamps."""
    raw = np.zeros(len(targets.target_id), dtype=dtype)
    by_warehouse = _rows_by_warehouse(stock)
    for mask, combos in _combos(params, targets).items():
        _add_mask(raw, mask, combos, space, stock, suites, warehouses, by_warehouse)
    return _linear_and_clamp(raw, targets.param, _ParamArrays.build(params, dtype))


@dataclass(frozen=True)
class _Combo:
    """Targets sharing a mask and a warehouse set (X depends on nothing else)."""

    warehouses: frozenset[int]
    spec_rows: IntArray  # indices of the spec targets
    suite_rows: IntArray  # indices of the suite targets


def _combos(params: Sequence[ParamSet], targets: Targets) -> dict[int, list[_Combo]]:
    """The targets grouped by mask, then by usable warehouses."""
    members: dict[tuple[int, tuple[int, ...]], list[int]] = defaultdict(list)
    for index, p in enumerate(params):
        members[(p.mask, p.warehouses)].append(index)
    is_suite = targets.target_type == MATCH_SUITE
    combos: dict[int, list[_Combo]] = defaultdict(list)
    for (mask, wids), indices in members.items():
        chosen = np.isin(targets.param, indices)
        spec_rows, suite_rows = (
            np.flatnonzero(chosen & ~is_suite),
            np.flatnonzero(chosen & is_suite),
        )
        if len(spec_rows) or len(suite_rows):
            combos[mask].append(_Combo(frozenset(wids), spec_rows, suite_rows))
    return combos


def _rows_by_warehouse(stock: StockTable) -> dict[int, slice]:
    """The rows of each warehouse (the table is sorted by warehouse)."""
    wids, starts = np.unique(stock.warehouse_id, return_index=True)
    ends = [*starts[1:].tolist(), len(stock.warehouse_id)][: len(starts)]
    return {
        wid: slice(lo, hi) for wid, lo, hi in zip(wids.tolist(), starts.tolist(), ends, strict=True)
    }


def _add_mask(
    raw: AnyArray,
    mask: int,
    combos: list[_Combo],
    space: _Space,
    stock: StockTable,
    suites: SuiteTable,
    warehouses: Mapping[int, Warehouse],
    by_warehouse: Mapping[int, slice],
) -> None:
    """Add each warehouse's contribution under `mask` to the targets of every combo using it."""
    for wid in sorted(frozenset[int]().union(*(combo.warehouses for combo in combos))):
        using = [combo for combo in combos if wid in combo.warehouses]
        rows = by_warehouse.get(wid, slice(0, 0))
        avail = np.zeros(space.n_specs, dtype=raw.dtype)
        avail[space.stock_pos[rows]] = _availability(stock, rows, mask, warehouses[wid], raw.dtype)
        for combo in using:
            raw[combo.spec_rows] += avail[space.target_pos[combo.spec_rows]]
        if any(len(combo.suite_rows) for combo in using):
            suite_x = _suite_counts(avail, space, suites) * SCALE
            for combo in using:
                raw[combo.suite_rows] += suite_x[space.target_pos[combo.suite_rows]]


def _availability(
    stock: StockTable, rows: slice, mask: int, warehouse: Warehouse, dtype: Any
) -> AnyArray:
    """avail(s, w) of each row: on hand ± the masked quantities, + the WMS diff if outer.

    A column missing from the table is 0 in every row (the loader skips those).
    """
    columns = stock.columns
    total: AnyArray = columns["stock_num"][rows].astype(dtype)
    for bit, (name, sign) in enumerate(zip(QUANTITY_FIELDS, QUANTITY_SIGNS, strict=True)):
        if mask >> bit & 1 and name in columns:
            if sign > 0:
                total += _as(columns[name][rows], dtype)
            else:
                total -= _as(columns[name][rows], dtype)
    if warehouse.is_outer_stock and "wms_stock_diff" in columns:
        total += _as(columns["wms_stock_diff"][rows], dtype)
    return total


def _as(values: IntArray, dtype: Any) -> AnyArray:
    """The values in `dtype` (int64 stays a view; object makes Python ints)."""
    return values if values.dtype == dtype else values.astype(dtype)


def _suite_counts(avail: AnyArray, space: _Space, suites: SuiteTable) -> AnyArray:
    """Per suite: min over components of floor(avail / num) (0 for a suite without any)."""
    counts = np.zeros(space.n_suites, dtype=avail.dtype)
    if len(space.comp_starts):
        per_comp = avail[space.comp_pos] // suites.num.astype(avail.dtype)
        counts[space.comp_suites] = np.minimum.reduceat(per_comp, space.comp_starts)
    return counts


def _linear_and_clamp(raw: AnyArray, param: IntArray, table: _ParamArrays) -> AnyArray:
    """Y = floor(X × percent / 100 + plus) exactly, then max (when > 0), then min."""
    numerator = raw * table.percent[param] + table.plus[param] * _PLUS_FACTOR
    y = numerator // _LINEAR_DIVISOR
    max_stock, min_stock = table.max_stock[param], table.min_stock[param]
    max_floor = max_stock // SCALE
    y = np.where((max_stock > 0) & (y > max_floor), max_floor, y)
    min_ceil = -(-min_stock // SCALE)
    below = np.where(table.auto_delist[param], 0, min_stock // SCALE)
    return np.asarray(np.where(y < min_ceil, below, y))
