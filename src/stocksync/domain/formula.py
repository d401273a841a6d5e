"""The `syn_stock` formula (semantics spec §4), exact in `Decimal`, with an optional explanation.

This is the single-listing implementation. Passing an `Explanation` records every step the
numbers went through; passing none takes the same code path without the bookkeeping.
`suite_units` and `publish` are the same arithmetic on scaled integers (value × 10⁴), for a
caller that holds the quantities so already (the calcStock hot path reads them from the
database); they give `syn_stock`'s number exactly (property-tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.model import (
    MATCH_SUITE,
    QUANTITY_FIELDS,
    QUANTITY_SIGNS,
    ZERO,
    RuleParams,
    StockRow,
    SuiteComponent,
    Warehouse,
)


@dataclass(frozen=True, slots=True)
class StockView:
    """What the formula may read: the tenant's warehouses and the stock rows it needs."""

    warehouses: Mapping[int, Warehouse]
    rows: Mapping[tuple[int, int], StockRow]  # (spec_id, warehouse_id) -> row; missing = 0


@dataclass(frozen=True, slots=True)
class Target:
    """What a listing is matched to: a spec (components empty) or a suite and its components."""

    target_type: int
    target_id: int
    components: tuple[SuiteComponent, ...] = ()


@dataclass(slots=True)
class Term:
    """One signed quantity that went into a spec's availability in one warehouse."""

    field: str
    sign: int
    value: Decimal


@dataclass(slots=True)
class SpecInWarehouse:
    spec_id: int
    warehouse_id: int
    has_row: bool
    terms: list[Term]
    avail: Decimal
    num: Decimal = Decimal(1)  # suite component quantity (1 for a plain spec)
    ratio: Decimal = ZERO  # avail / num, for suite components


@dataclass(slots=True)
class WarehouseStep:
    """A warehouse that was used: its contribution to X and, for a suite, what limited it."""

    warehouse_id: int
    specs: list[SpecInWarehouse]
    contribution: Decimal
    limiting_spec_id: int | None = None


@dataclass(slots=True)
class Explanation:
    """Every step of one `syn_stock` computation, in order (filled by `syn_stock`)."""

    warehouses_used: list[int] = field(default_factory=list)
    warehouses_dropped: list[tuple[str, str]] = field(default_factory=list)  # (token, reason)
    steps: list[WarehouseStep] = field(default_factory=list)
    raw: Decimal = ZERO  # X
    linear_exact: Decimal = ZERO  # X * percent / 100 + plus, before the floor
    linear: int = 0  # Y after the floor
    after_max: int = 0
    max_applied: bool = False
    after_min: int = 0
    min_action: str = ""  # "" | "delist" (below min -> 0) | "hold" (below min -> min)
    syn_stock: int = 0


def usable_warehouses(
    warehouse_list: str,
    warehouses: Mapping[int, Warehouse],
    explanation: Explanation | None = None,
) -> list[int]:
    """Parse a rule's warehouse list: drop duplicates, unknown ids and defect warehouses."""
    kept: list[int] = []
    for token in warehouse_list.split(","):
        token = token.strip()
        if not token:
            continue
        reason = _drop_reason(token, kept, warehouses)
        if reason:
            if explanation is not None:
                explanation.warehouses_dropped.append((token, reason))
            continue
        kept.append(int(token))
    if explanation is not None:
        explanation.warehouses_used = list(kept)
    return kept


def is_id_token(token: str) -> bool:
    """Whether a (stripped) warehouse-list token is an id: plain ASCII digits with an optional
    minus (int() would also take "1_0" or "١")."""
    digits = token[1:] if token.startswith("-") else token
    return digits.isascii() and digits.isdigit()


def _drop_reason(token: str, kept: list[int], warehouses: Mapping[int, Warehouse]) -> str:
    if not is_id_token(token):
        return "not a warehouse id"
    wid = int(token)
    if wid in kept:
        return "duplicate"
    found = warehouses.get(wid)
    if found is None:
        return "unknown warehouse"
    if found.is_defect:
        return "defect warehouse"
    return ""


def availability(
    row: StockRow | None, mask: int, outer: bool, detail: list[Term] | None = None
) -> Decimal:
    """avail(s, w): on hand, ± the quantities the mask selects, + the WMS diff if outer."""
    if row is None:
        return ZERO
    total = row.stock_num
    if detail is not None:
        detail.append(Term("stock_num", 1, row.stock_num))
    if mask:
        for bit, (name, sign) in enumerate(zip(QUANTITY_FIELDS, QUANTITY_SIGNS, strict=True)):
            if mask >> bit & 1:
                value = row.quantities[bit]
                total += value if sign > 0 else -value
                if detail is not None:
                    detail.append(Term(name, sign, value))
    if outer:
        total += row.wms_stock_diff
        if detail is not None:
            detail.append(Term("wms_stock_diff", 1, row.wms_stock_diff))
    return total


def _spec_term(
    spec_id: int, wid: int, mask: int, view: StockView, explanation: Explanation | None
) -> tuple[Decimal, SpecInWarehouse | None]:
    row = view.rows.get((spec_id, wid))
    outer = view.warehouses[wid].is_outer_stock
    if explanation is None:
        return availability(row, mask, outer), None
    terms: list[Term] = []
    avail = availability(row, mask, outer, terms)
    return avail, SpecInWarehouse(spec_id, wid, row is not None, terms, avail)


def raw_quantity(
    target: Target,
    warehouse_ids: Sequence[int],
    mask: int,
    view: StockView,
    explanation: Explanation | None = None,
) -> Decimal:
    """X: a spec sums its warehouses unclamped; a suite floors min(avail/num) per warehouse."""
    total = ZERO
    for wid in warehouse_ids:
        if target.target_type == MATCH_SUITE:
            contribution = _suite_in_warehouse(target.components, wid, mask, view, explanation)
        else:
            contribution, seen = _spec_term(target.target_id, wid, mask, view, explanation)
            if explanation is not None and seen is not None:
                explanation.steps.append(WarehouseStep(wid, [seen], contribution))
        total += contribution
    if explanation is not None:
        explanation.raw = total
    return total


def _suite_in_warehouse(
    components: Sequence[SuiteComponent],
    wid: int,
    mask: int,
    view: StockView,
    explanation: Explanation | None,
) -> Decimal:
    if not components:
        if explanation is not None:
            explanation.steps.append(WarehouseStep(wid, [], ZERO))
        return ZERO
    best: int | None = None
    limiting: int | None = None
    seen_specs: list[SpecInWarehouse] = []
    for comp in components:
        avail, seen = _spec_term(comp.spec_id, wid, mask, view, explanation)
        # floor(min(a/n)) = min(floor(a/n)); exact integer division on 4-place scaled values.
        floored = _scaled(avail) // _scaled(comp.num)
        if seen is not None:
            seen.num, seen.ratio = comp.num, avail / comp.num
            seen_specs.append(seen)
        if best is None or floored < best:
            best, limiting = floored, comp.spec_id
    assert best is not None
    if explanation is not None:
        explanation.steps.append(WarehouseStep(wid, seen_specs, Decimal(best), limiting))
    return Decimal(best)


def _scaled(value: Decimal) -> int:
    """A quantity with at most 4 decimal places as an exact integer count of 1/10000."""
    return int(value.scaleb(4))


def linear_step(x: Decimal, percent: Decimal, plus: Decimal) -> tuple[Decimal, int]:
    """Y = floor(X × percent / 100 + plus), exactly; returns (the exact value, Y).

    Computed on scaled integers, so no precision limit or rounding can move the floor.
    """
    numerator = _scaled(x) * _scaled(percent) + _scaled(plus) * 1_000_000
    return Decimal(numerator).scaleb(-10), numerator // 10_000_000_000


def clamp(y: int, params: RuleParams) -> tuple[int, bool, int, str]:
    """Apply max (when > 0) then min; returns (after max, max applied, result, min action).

    A fractional max or min is floored when it becomes the published integer.
    """
    max_applied = params.max_stock > 0 and y > params.max_stock
    after_max = _floor(params.max_stock) if max_applied else y
    if after_max >= params.min_stock:
        return after_max, max_applied, after_max, ""
    if params.is_auto_delisting:
        return after_max, max_applied, 0, "delist"
    return after_max, max_applied, _floor(params.min_stock), "hold"


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def syn_stock(
    target: Target,
    params: RuleParams,
    view: StockView,
    explanation: Explanation | None = None,
) -> int:
    """The quantity to publish for a listing matched to `target` under `params`.

    Raises `EmptyWarehouseList` when no usable warehouse remains.
    """
    wids = usable_warehouses(params.warehouse_list, view.warehouses, explanation)
    if not wids:
        raise EmptyWarehouseList()
    x = raw_quantity(target, wids, params.stock_flag, view, explanation)
    exact, y = linear_step(x, params.percent, params.plus_value)
    after_max, max_applied, result, action = clamp(y, params)
    if explanation is not None:
        explanation.linear_exact, explanation.linear = exact, y
        explanation.after_max, explanation.max_applied = after_max, max_applied
        explanation.after_min, explanation.min_action = result, action
        explanation.syn_stock = result
    return result


def suite_units(avails: Sequence[int], nums: Sequence[int]) -> int:
    """A suite's whole units in one warehouse, `min(floor(avail / num))` over its components,
    from scaled availabilities and quantities (0 for a suite without components)."""
    if not nums:
        return 0
    return min(avail // num for avail, num in zip(avails, nums, strict=True))


def publish(
    x: int, percent: int, plus: int, min_stock: int, max_stock: int, auto_delisting: bool
) -> int:
    """`syn_stock` from X and a rule's parameters, all scaled (× 10⁴): `linear_step`, then
    `clamp` (max when > 0, then min; a max or min that is published is floored)."""
    y = (x * percent + plus * 1_000_000) // 10_000_000_000
    if max_stock > 0 and y * 10_000 > max_stock:
        y = max_stock // 10_000
    if y * 10_000 >= min_stock:
        return y
    return 0 if auto_delisting else min_stock // 10_000
