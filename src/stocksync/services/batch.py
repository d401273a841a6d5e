"""calcStock for many listings at once (semantics spec §4, §5): the batch path.

`batch_syn_stock` gives, for every listing asked about, the same number or the same error
message as `services.calc.calc_listing`, without a query per listing: a few bulk reads
(`batch_load`), the §5 checks through `domain.checks.check_listing` once per distinct
combination of the facts it looks at (`batch_checks`), and the formula vectorised on scaled
integers (`batch_formula`). Like the single path it trusts the `rule_id` that live resolution
keeps on each listing: a listing's custom rule applies when it has one, else the rule its
`rule_id` names, else none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection

from stocksync.db.loaders import load_rules, load_warehouses
from stocksync.domain.checks import check_listing
from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.model import (
    CUSTOM_RULE_ID,
    MASK_DELAYED,
    MATCH_SUITE,
    NO_RULE_ID,
    QUANTITY_FIELDS,
    Warehouse,
)
from stocksync.services import clock
from stocksync.services.batch_checks import BoolArray, GateFacts, ObjectArray, check_all
from stocksync.services.batch_fetch import paused_gc
from stocksync.services.batch_formula import (
    IntArray,
    ParamSet,
    SuiteTable,
    Targets,
    param_set,
    scaled_param_set,
    syn_stocks,
)
from stocksync.services.batch_load import (
    ListingFrame,
    RawParams,
    WarehouseWants,
    load_custom_params,
    load_listings,
    load_platform_ids,
    load_shop_flags,
    load_stock,
    load_stock_of,
    load_suite_details,
    nonzero_columns,
)

#: From this many listings on, whole tables are read instead of IN lists of ids.
FULL_READ_FROM = 20_000
#: Stands for requested ids that cannot be a rec_id (outside signed 32 bits).
_NO_ID = -(2**40)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One listing's answer: `syn_stock` when it could be computed, else the §5 `error`."""

    rec_id: int
    syn_stock: int | None
    error: str | None


def batch_syn_stock(
    conn: Connection,
    tid: int,
    rec_ids: Sequence[int] | None = None,
    *,
    force_sync: bool = False,
    shop_ids: frozenset[int] | None = None,
    shop_id: int | None = None,
    pending_only: bool = False,
    errors_only: bool = False,
    now: float | None = None,
) -> list[BatchItem]:
    """`syn_stock` or the calcStock error of many listings, as `calc_listing` answers each.

    `rec_ids` None means every listing of the tenant, by rec_id; given ids keep their order, and
    unknown ids or ids in shops outside `shop_ids` (the caller's visible shops, None = all) get
    "平台货品不存在". `shop_id` and `pending_only` narrow the listings (a given id that is
    visible but does not match is left out); `errors_only` keeps only the failed items.
    """
    possible = None if rec_ids is None else [rid for rid in rec_ids if is_rec_id(rid)]
    frame = load_listings(conn, tid, possible, shop_id=shop_id, pending_only=pending_only)
    ids, syn_list, error_list = answer_listings(
        conn, tid, frame, rec_ids, force_sync=force_sync, shop_ids=shop_ids, shop_id=shop_id,
        pending_only=pending_only, now=now,
    )  # fmt: skip
    with paused_gc():
        items = list(map(BatchItem, ids, syn_list, error_list))
    if errors_only:
        return [item for item in items if item.error is not None]
    return items


def answer_listings(
    conn: Connection,
    tid: int,
    frame: ListingFrame,
    rec_ids: Sequence[int] | None,
    *,
    customs: Mapping[int, RawParams] | None = None,
    force_sync: bool = False,
    shop_ids: frozenset[int] | None = None,
    shop_id: int | None = None,
    pending_only: bool = False,
    now: float | None = None,
) -> tuple[list[int], list[int | None], list[str | None]]:
    """`batch_syn_stock`'s answers as three lists (rec_id, syn_stock, error), for listings a
    caller has already read into `frame` (those of `rec_ids`, or every listing when None).

    `customs` are the custom rules of the frame's listings (by rec_id) when the caller read
    them along; None reads them here.
    """
    moment = clock.now() if now is None else now
    visible = _visible(conn, tid, frame, shop_ids)
    dropped = np.zeros(0, dtype=np.int64)
    if rec_ids is not None:
        keep = _matches(frame, shop_id, pending_only) | ~visible[0]
        dropped, frame = frame.rec_id[~keep], frame.take(np.flatnonzero(keep))
        visible = (visible[0][keep], visible[1][keep])
    whole = rec_ids is None or len(frame) >= FULL_READ_FROM
    syn, errors = _calculate(conn, tid, frame, visible, whole, force_sync, moment, customs)
    return _answer_order(frame, syn, errors, rec_ids, dropped, force_sync)


def is_rec_id(value: int) -> bool:
    """Ids are signed 32-bit: anything else cannot name a listing (and is not queried)."""
    return -(2**31) <= value < 2**31


def _lookup(keys: IntArray, values: IntArray) -> tuple[BoolArray, IntArray]:
    """(found, position) of each value in the sorted `keys`; position 0 where not found."""
    if not len(keys):
        return np.zeros(len(values), dtype=bool), np.zeros(len(values), dtype=np.int64)
    pos = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    found = keys[pos] == values
    return found, np.where(found, pos, 0)


def _visible(
    conn: Connection, tid: int, frame: ListingFrame, shop_ids: frozenset[int] | None
) -> tuple[BoolArray, BoolArray]:
    """(visible, shop disabled) of each listing: its shop exists and the caller may see it."""
    keys, disabled = load_shop_flags(conn, tid)
    known, pos = _lookup(keys, frame.shop_id)
    visible = known
    if shop_ids is not None:
        visible = known & np.isin(frame.shop_id, np.array(sorted(shop_ids), dtype=np.int64))
    return visible, known & (_at(disabled, pos) != 0)


def _matches(frame: ListingFrame, shop_id: int | None, pending_only: bool) -> BoolArray:
    keep = np.ones(len(frame), dtype=bool)
    if shop_id is not None:
        keep &= frame.shop_id == shop_id
    if pending_only:
        keep &= frame.is_stock_changed != 0
    return keep


@dataclass(frozen=True)
class _Applied:
    """The rule each listing is computed with, and the distinct parameter sets in use."""

    rule_id: IntArray  # a rule's rec_id, CUSTOM_RULE_ID or NO_RULE_ID
    forbids: BoolArray  # the applied strategy rule has is_disable_syn
    param: IntArray  # index into `params`; -1 without a rule
    params: list[ParamSet]


def _applied(
    conn: Connection,
    tid: int,
    frame: ListingFrame,
    whole: bool,
    warehouses: Mapping[int, Warehouse],
    customs: Mapping[int, RawParams] | None,
) -> _Applied:
    """Custom rule if the listing has one, else the rule its `rule_id` names, else none."""
    index: dict[ParamSet, int] = {}
    by_raw: dict[RawParams, int] = {}

    def numbered(found: ParamSet) -> int:
        return index.setdefault(found, len(index))

    def custom_number(raw: RawParams) -> int:
        if raw not in by_raw:
            by_raw[raw] = numbered(scaled_param_set(raw, warehouses))
        return by_raw[raw]

    rules = load_rules(conn, tid)
    if customs is None:
        customs = load_custom_params(conn, tid, None if whole else frame.rec_id.tolist())
    custom_keys = np.array(sorted(customs), dtype=np.int64)
    rule_keys = np.array([r.rec_id for r in rules], dtype=np.int64)
    rule_param = np.array([numbered(param_set(r.params, warehouses)) for r in rules], np.int64)
    custom_param = np.array([custom_number(customs[k]) for k in custom_keys.tolist()], np.int64)
    rule_forbids = np.array([r.is_disable_syn for r in rules], dtype=bool)
    known, rule_pos = _lookup(rule_keys, frame.rule_id)
    custom, custom_pos = _lookup(custom_keys, frame.rec_id)
    strategy = known & ~custom
    rule_id = np.where(custom, CUSTOM_RULE_ID, np.where(known, frame.rule_id, NO_RULE_ID))
    by_rule = np.where(strategy, _at(rule_param, rule_pos), -1)
    param = np.where(custom, _at(custom_param, custom_pos), by_rule)
    return _Applied(rule_id, strategy & _at(rule_forbids, rule_pos), param, list(index))


def _at(values: npt.NDArray[Any], pos: IntArray) -> npt.NDArray[Any]:
    """values[pos], or zeros when `values` is empty (then nothing was found anyway)."""
    return values[pos] if len(values) else np.zeros(len(pos), dtype=values.dtype)


def _calculate(
    conn: Connection,
    tid: int,
    frame: ListingFrame,
    visible: tuple[BoolArray, BoolArray],
    whole: bool,
    force_sync: bool,
    now: float,
    customs: Mapping[int, RawParams] | None,
) -> tuple[ObjectArray, ObjectArray]:
    """(syn_stock or None, error or None) of every listing of the frame, as object arrays."""
    warehouses = load_warehouses(conn, tid)
    applied = _applied(conn, tid, frame, whole, warehouses, customs)
    delayed = ((frame.mask & MASK_DELAYED) != 0) & (frame.disable_syn_until > clock.to_wdt(now))
    facts = GateFacts(
        visible[0], frame.match_target_type, frame.is_disable_syn != 0, visible[1],
        frame.status, applied.rule_id, applied.forbids, delayed,
    )  # fmt: skip

    def platform_ids(rows: IntArray) -> tuple[ObjectArray, ObjectArray]:
        if frame.goods_id is not None and frame.spec_id is not None:  # read with the listings
            return frame.goods_id[rows], frame.spec_id[rows]
        return load_platform_ids(conn, tid, frame.rec_id[rows], scan_from=FULL_READ_FROM)

    errors, failed = check_all(facts, force_sync, platform_ids)
    empty = np.array([not p.warehouses for p in applied.params] + [False], dtype=bool)
    unfit = ~failed & empty[applied.param]
    errors[unfit] = EmptyWarehouseList().message
    rows = np.flatnonzero(~(failed | unfit))
    syn: ObjectArray = np.full(len(frame), None, dtype=object)
    if len(rows):
        targets = Targets(
            frame.match_target_type[rows], frame.match_target_id[rows], applied.param[rows]
        )
        syn[rows] = _syn_stocks(conn, tid, targets, applied.params, warehouses, whole)
    return syn, errors


def _syn_stocks(
    conn: Connection,
    tid: int,
    targets: Targets,
    params: list[ParamSet],
    warehouses: Mapping[int, Warehouse],
    whole: bool,
) -> list[int]:
    """Read the suites and stock rows the targets need, then run the vectorised formula."""
    is_suite = targets.target_type == MATCH_SUITE
    suites = load_suite_details(
        conn, tid, None if whole else np.unique(targets.target_id[is_suite])
    )
    if whole:  # every row of the warehouses in use; a few skipped columns pay for the extra pass
        used = [params[i] for i in np.unique(targets.param).tolist()]
        wids = sorted({wid for p in used for wid in p.warehouses})
        columns = _stock_columns(used, [warehouses[wid] for wid in wids])
        columns = ["stock_num", *nonzero_columns(conn, tid, wids, columns[1:])]
        stock = load_stock(conn, tid, wids, columns)
    else:
        stock = load_stock_of(conn, tid, _wanted_stock(targets, params, warehouses, suites))
    return syn_stocks(targets, params, warehouses, stock, suites)


def _stock_columns(used: list[ParamSet], warehouses: list[Warehouse]) -> list[str]:
    """stock_num, the quantities some mask selects, and the WMS diff if a warehouse is outer."""
    mask = 0
    for p in used:
        mask |= p.mask
    return _columns(mask, any(w.is_outer_stock for w in warehouses))


def _columns(mask: int, outer: bool) -> list[str]:
    """The stock columns the formula reads under `mask` in a warehouse (outer or not)."""
    selected = (name for bit, name in enumerate(QUANTITY_FIELDS) if mask >> bit & 1)
    return ["stock_num", *selected, *(["wms_stock_diff"] if outer else [])]


def _wanted_stock(
    targets: Targets,
    params: list[ParamSet],
    warehouses: Mapping[int, Warehouse],
    suites: SuiteTable,
) -> dict[int, WarehouseWants]:
    """Per warehouse, the specs some target reads there (its own spec, or its suite's
    components) and the columns the masks of those targets select."""
    is_suite = targets.target_type == MATCH_SUITE
    specs: dict[int, list[IntArray]] = defaultdict(list)
    masks: dict[int, int] = defaultdict(int)
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for index in np.unique(targets.param).tolist():
        groups[params[index].warehouses].append(index)
    for wids, indices in groups.items():
        chosen = np.isin(targets.param, indices)
        own = targets.target_id[chosen & ~is_suite]
        parts = suites.spec_id[np.isin(suites.suite_id, targets.target_id[chosen & is_suite])]
        for wid in wids:
            specs[wid] += [own, parts]
            for index in indices:
                masks[wid] |= params[index].mask
    return {
        wid: (
            np.unique(np.concatenate(found)),
            _columns(masks[wid], warehouses[wid].is_outer_stock),
        )
        for wid, found in specs.items()
    }


def _answer_order(
    frame: ListingFrame,
    syn: ObjectArray,
    errors: ObjectArray,
    rec_ids: Sequence[int] | None,
    dropped: IntArray,
    force_sync: bool,
) -> tuple[list[int], list[int | None], list[str | None]]:
    """The answers by rec_id (every listing), or in request order (given ids)."""
    if rec_ids is None:
        return frame.rec_id.tolist(), syn.tolist(), errors.tolist()
    left_out = set(dropped.tolist())
    asked = [rid for rid in rec_ids if rid not in left_out]
    wanted = np.array([rid if is_rec_id(rid) else _NO_ID for rid in asked], np.int64)
    found, pos = _lookup(frame.rec_id, wanted)
    out_syn: ObjectArray = np.full(len(asked), None, dtype=object)
    out_err: ObjectArray = np.full(len(asked), check_listing(None, force_sync), dtype=object)
    out_syn[found], out_err[found] = syn[pos[found]], errors[pos[found]]
    return list(asked), out_syn.tolist(), out_err.tolist()
