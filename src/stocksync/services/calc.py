"""calcStock for one listing (semantics spec §5): the checks, then the formula, then the record.

`calc_listing` is the single-listing path behind `sales.StockSync.calcStock` (which answers
`calc_record_json`, the same record as JSON text): two or three small queries on one DB-API
cursor (the listing with its shop, applied rule and custom rule; a suite's components; the
rule's warehouses with the target's stock rows, reading only the quantity columns the rule's
mask selects), then the formula on the scaled integers read (`domain.formula.suite_units` and
`publish`, which agree exactly with `syn_stock`). It trusts the `rule_id` that live resolution
keeps on the listing. `explain_listing` resolves the rule from scratch and computes with
`syn_stock`, recording every step for `stocksync calc --explain`; it never raises for
business errors.

Nothing read from the database is cached between calls: stock, listings, rules and warehouses
are read by every call. What is kept per process is derived from the values read and keyed by
them (a rule's parameters, record fields, warehouse ids and mask columns, SQL text), so it can
never be stale.

Our rules: a listing whose shop row is missing counts as not found; a listing in a disabled
shop counts as disabled; "delayed" means `mask` bit 1 set and `disable_syn_until` still ahead.
"""

from __future__ import annotations

__all__ = ["CalcResult", "calc_listing", "calc_record_json", "explain_listing"]

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Connection

from stocksync.domain.checks import MSG_NOT_FOUND, check_visible, held_back
from stocksync.domain.errors import BusinessError, EmptyWarehouseList
from stocksync.domain.explain import CalcStory
from stocksync.domain.formula import is_id_token, publish, suite_units
from stocksync.domain.model import (
    CUSTOM_RULE_ID,
    MASK_DELAYED,
    MATCH_SUITE,
    NO_RULE_ID,
    QUANTITY_FIELDS,
    QUANTITY_SIGNS,
)
from stocksync.services import clock
from stocksync.services.calc_explain import explain_listing, explained
from stocksync.services.records import (
    DISABLE_SYN_UNTIL,
    IS_DISABLE_SYN,
    LISTING_FIELDS,
    RULE_DISABLE_SYN,
    SHOP_DISABLED,
    RawReader,
    RuleEntry,
    listing_record,
    listing_record_json,
    read_listing,
)

_INT32 = 2**31 - 1
_SHOP_ID, _GOODS_ID, _SPEC_ID, _MATCH_TYPE, _MATCH_ID, _STATUS, _MASK = (
    LISTING_FIELDS.index(name)
    for name in ("shop_id", "goods_id", "spec_id", "match_target_type", "match_target_id",
                 "status", "mask")
)  # fmt: skip
_SUITE_SQL = (
    "SELECT spec_id, num FROM goods_suite_detail WHERE tenant_id = ? AND suite_id = ? "
    "ORDER BY spec_id"
)
# The stock query's columns: the warehouse, then its stock row of one target spec (NULL when
# it has none), then the quantities the rule's mask adds, then those it subtracts.
_WID, _DEFECT, _OUTER, _ROW_SPEC, _ON_HAND, _WMS_DIFF, _MASKED = range(7)


@dataclass(frozen=True)
class CalcResult:
    """One calcStock answer: the record, and the story when an explanation was asked for."""

    record: dict[str, object]
    story: CalcStory | None


def calc_listing(
    conn: Connection,
    tid: int,
    rec_id: int,
    *,
    force_sync: bool = False,
    shop_ids: frozenset[int] | None = None,
    explain: bool = False,
    now: float | None = None,
) -> CalcResult:
    """The calcStock record of one listing; BusinessError with the §5 message when it fails.

    `shop_ids` are the shops the caller may see (None = all); other listings are "not found".
    """
    if explain:
        moment = clock.now() if now is None else now
        story, record = explained(conn, tid, rec_id, force_sync, shop_ids, moment)
        if record is None:
            raise BusinessError(story.error or MSG_NOT_FOUND)
        return CalcResult(record, story)
    raw, entry, result = _computed(conn, tid, rec_id, force_sync, shop_ids, now)
    return CalcResult(listing_record(raw, entry.fields, result), None)


def calc_record_json(
    conn: Connection,
    tid: int,
    rec_id: int,
    *,
    force_sync: bool = False,
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
) -> bytes:
    """`calc_listing(...).record` as `jsoncodec.dumps` writes it (the calcStock method's
    answer), with the rule's part of the record encoded once per rule."""
    raw, entry, result = _computed(conn, tid, rec_id, force_sync, shop_ids, now)
    return listing_record_json(raw, entry, result)


def _computed(
    conn: Connection,
    tid: int,
    rec_id: int,
    force_sync: bool,
    shop_ids: frozenset[int] | None,
    now: float | None,
) -> tuple[tuple[Any, ...], RuleEntry, int]:
    """The listing's row, its rule and its `syn_stock`; BusinessError when it fails."""
    with RawReader(conn) as reader:
        found = read_listing(reader, tid, rec_id)
        message = _check(found, shop_ids, force_sync, now)
        if message is not None:
            raise BusinessError(message)
        assert found is not None
        raw, entry = found
        assert entry is not None  # no rule is a §5 message
        plan: _Plan = entry.plan or _plan(entry)
        return raw, entry, publish(_raw_quantity(reader, tid, raw, plan), *plan.scaled)


def _check(
    found: tuple[tuple[Any, ...], RuleEntry | None] | None,
    shop_ids: frozenset[int] | None,
    force_sync: bool,
    now: float | None,
) -> str | None:
    """`check_listing` of a listing row of `read_listing`, without building its gate."""
    if found is None or (shop_ids is not None and found[0][_SHOP_ID] not in shop_ids):
        return MSG_NOT_FOUND
    raw, entry = found
    rule_id = NO_RULE_ID if entry is None else entry.applied.rule_id
    held = not force_sync and held_back(
        bool(raw[IS_DISABLE_SYN]),
        bool(raw[SHOP_DISABLED]),
        raw[_STATUS],
        entry is not None and rule_id != CUSTOM_RULE_ID and bool(raw[RULE_DISABLE_SYN]),
        bool(raw[_MASK] & MASK_DELAYED)
        and int(raw[DISABLE_SYN_UNTIL]) > clock.to_wdt(clock.now() if now is None else now),
    )
    return check_visible(raw[_MATCH_TYPE], rule_id, held, raw[_GOODS_ID], raw[_SPEC_ID])


class _Plan(NamedTuple):
    """What calcStock derives from a rule's parameters alone, once per rule."""

    warehouse_ids: tuple[int, ...]  # what the warehouse list may name, for the stock query
    quantities: str  # the masked quantity columns (SQL): those added, then those subtracted
    added: int  # how many of them are added
    scaled: tuple[int, int, int, int, bool]  # `formula.publish`'s parameters after X


def _plan(entry: RuleEntry) -> _Plan:
    """The rule's plan, kept on its entry (which is keyed by the rule's columns)."""
    params = entry.applied.params
    bits = [bit for bit in range(len(QUANTITY_FIELDS)) if params.stock_flag >> bit & 1]
    added = [QUANTITY_FIELDS[bit] for bit in bits if QUANTITY_SIGNS[bit] > 0]
    subtracted = [QUANTITY_FIELDS[bit] for bit in bits if QUANTITY_SIGNS[bit] < 0]
    scaled = (
        _scaled(params.percent),
        _scaled(params.plus_value),
        _scaled(params.min_stock),
        _scaled(params.max_stock),
        bool(params.is_auto_delisting),
    )
    columns = "".join(f", s.{name}" for name in added + subtracted)
    plan = _Plan(_warehouse_ids(params.warehouse_list), columns, len(added), scaled)
    entry.plan = plan
    return plan


def _scaled(value: Decimal) -> int:
    return int(value.scaleb(4))  # exact: the parameters were read as scaled integers


def _warehouse_ids(warehouse_list: str) -> tuple[int, ...]:
    """The distinct warehouse ids a warehouse list names, as `formula.usable_warehouses`
    reads its tokens (ids beyond 32 bits name no warehouse)."""
    ids = set()
    for token in warehouse_list.split(","):
        token = token.strip()
        if is_id_token(token) and -_INT32 <= int(token) <= _INT32:
            ids.add(int(token))
    return tuple(sorted(ids))


@lru_cache(maxsize=1024)
def _stock_sql(n_specs: int, n_warehouses: int, quantities: str) -> str:
    """The stock query: the listed warehouses, each with the target's stock rows in it and
    only the `quantities` columns the rule's mask selects."""
    marks = ", ".join("?" * n_warehouses)
    if n_specs == 0:
        sql = "SELECT w.warehouse_id, w.is_defect, w.is_outer_stock FROM warehouse w "
    else:
        sql = (
            "SELECT w.warehouse_id, w.is_defect, w.is_outer_stock, s.spec_id, s.stock_num, "
            f"s.wms_stock_diff{quantities} FROM warehouse w "
            "LEFT JOIN stock_spec s ON s.tenant_id = w.tenant_id "
            "AND s.warehouse_id = w.warehouse_id "
            f"AND s.spec_id IN ({', '.join('?' * n_specs)}) "
        )
    return sql + f"WHERE w.tenant_id = ? AND w.warehouse_id IN ({marks})"


@lru_cache(maxsize=1024)
def _spec_stock_sql(n_warehouses: int, quantities: str) -> str:
    """`_stock_sql` for one spec, in fewer columns (each column read costs the driver a GIL
    release on Python 3.11): whether the warehouse is defect, the spec's on-hand quantity
    there (NULL without a stock row), its WMS diff counted only in an outside-WMS warehouse,
    then the masked quantities."""
    marks = ", ".join("?" * n_warehouses)
    return (
        "SELECT w.is_defect, s.stock_num, "
        f"CASE WHEN w.is_outer_stock THEN s.wms_stock_diff ELSE 0 END{quantities} "
        "FROM warehouse w LEFT JOIN stock_spec s ON s.tenant_id = w.tenant_id "
        "AND s.warehouse_id = w.warehouse_id AND s.spec_id = ? "
        f"WHERE w.tenant_id = ? AND w.warehouse_id IN ({marks})"
    )


def _raw_quantity(reader: RawReader, tid: int, raw: Sequence[Any], plan: _Plan) -> int:
    """X (scaled): §4's sum over the usable warehouses (a suite's whole units in each), from
    one stock query (and one for a suite's components); EmptyWarehouseList when none is
    usable (listed, existing and not defect)."""
    components = None
    specs: Sequence[int] = (raw[_MATCH_ID],)
    if raw[_MATCH_TYPE] == MATCH_SUITE:
        components = reader.rows(_SUITE_SQL, (tid, raw[_MATCH_ID]))
        specs = [spec_id for spec_id, _ in components]
    wids = plan.warehouse_ids
    if not wids:
        raise EmptyWarehouseList()
    if components is None:
        sql = _spec_stock_sql(len(wids), plan.quantities)
        return _spec_quantity(reader.rows(sql, (*specs, tid, *wids)), plan.added)
    sql = _stock_sql(len(specs), len(wids), plan.quantities)
    return _suite_quantity(reader.rows(sql, (*specs, tid, *wids)), components, plan.added)


def _available(row: Sequence[int], added: int) -> int:
    """avail(s, w) of a stock row, scaled: on hand, ± the masked quantities, + the WMS diff
    in an outside-WMS warehouse."""
    avail = row[_ON_HAND] + sum(row[_MASKED : _MASKED + added]) - sum(row[_MASKED + added :])
    return avail + row[_WMS_DIFF] if row[_OUTER] else avail


def _spec_quantity(rows: Sequence[Sequence[Any]], added: int) -> int:
    """A spec's X from the rows of `_spec_stock_sql`: its availability (`_available`) summed
    over the usable warehouses, unclamped."""
    x, usable = 0, False
    for row in rows:  # one per listed warehouse: is_defect, on hand, WMS diff, masked...
        if not row[0]:
            usable = True
            if row[1] is not None:  # the spec has a stock row there
                masked = row[3:]
                x += row[1] + row[2] + sum(masked[:added]) - sum(masked[added:])
    if not usable:
        raise EmptyWarehouseList()
    return x


def _suite_quantity(
    rows: Sequence[Sequence[Any]], components: Sequence[Sequence[int]], added: int
) -> int:
    """A suite's X: its whole units (`formula.suite_units`) summed over the usable
    warehouses, scaled."""
    usable: set[int] = set()
    avails: dict[tuple[int, int], int] = {}
    for row in rows:  # one per listed warehouse and component spec with stock there
        if not row[_DEFECT]:
            usable.add(row[_WID])
            if len(row) > _ROW_SPEC and row[_ROW_SPEC] is not None:
                avails[(row[_ROW_SPEC], row[_WID])] = _available(row, added)
    if not usable:
        raise EmptyWarehouseList()
    nums = [num for _, num in components]
    units = 0
    for wid in usable:
        units += suite_units([avails.get((spec_id, wid), 0) for spec_id, _ in components], nums)
    return units * 10_000
