"""calcStock for one listing (semantics spec §5): the checks, then the formula, then the record.

`calc_listing` is the single-listing path behind `sales.StockSync.calcStock`: two or three
small queries on one DB-API cursor (the listing with its shop, applied rule and custom rule; a
suite's components; the rule's warehouses with the target's stock rows, reading only the
quantity columns the rule's mask selects), then `domain.formula.syn_stock`. It trusts the
`rule_id` that live resolution keeps on the listing. `explain_listing` resolves the rule from
scratch and records every step for `stocksync calc --explain`; it never raises for business
errors.

Nothing read from the database is cached between calls: stock, listings, rules and warehouses
are read by every call. What is kept per process is derived from the values read and keyed by
them (a warehouse list's ids, a mask's columns, a rule's parameters and record fields, SQL
text), so it can never be stale.

Our rules: a listing whose shop row is missing counts as not found; a listing in a disabled
shop counts as disabled; "delayed" means `mask` bit 1 set and `disable_syn_until` still ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select

from stocksync.db.loaders import (
    load_classes,
    load_custom_rules,
    load_rules,
    load_stock_rows,
    load_suite_components,
    load_warehouses,
)
from stocksync.db.schema import spec, suite
from stocksync.domain.checks import MSG_NOT_FOUND, ListingGate, check_listing
from stocksync.domain.errors import BusinessError, EmptyWarehouseList
from stocksync.domain.explain import CalcStory
from stocksync.domain.formula import Explanation, StockView, Target, syn_stock
from stocksync.domain.model import (
    MASK_DELAYED,
    MATCH_SPEC,
    MATCH_SUITE,
    NO_RULE_ID,
    QUANTITY_FIELDS,
    UNBOUND,
    ZERO,
    RuleParams,
    StockRow,
    SuiteComponent,
    Warehouse,
)
from stocksync.domain.rules import Resolution, class_path, resolve
from stocksync.services import clock
from stocksync.services.records import (
    LISTING_FIELDS,
    AppliedRule,
    ListingFacts,
    RawReader,
    fetch_listing,
    listing_facts,
    rule_fields,
)

_INT32 = 2**31 - 1
_WAREHOUSE_COLUMNS = "w.warehouse_id, w.is_defect, w.is_outer_stock"
_STOCK_COLUMNS = "s.spec_id, s.stock_num, s.wms_stock_diff"
_ZEROS = (ZERO,) * len(QUANTITY_FIELDS)
_SHOP_ID, _GOODS_ID, _SPEC_ID, _MATCH_TYPE, _MATCH_ID, _STATUS, _MASK = (
    LISTING_FIELDS.index(name)
    for name in ("shop_id", "goods_id", "spec_id", "match_target_type", "match_target_id",
                 "status", "mask")
)  # fmt: skip
_SUITE_SQL = (
    "SELECT spec_id, num FROM goods_suite_detail WHERE tenant_id = ? AND suite_id = ? "
    "ORDER BY spec_id"
)


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
    moment = clock.now() if now is None else now
    if explain:
        story, record = _explained(conn, tid, rec_id, force_sync, shop_ids, moment)
        if record is None:
            raise BusinessError(story.error or MSG_NOT_FOUND)
        return CalcResult(record, story)
    with RawReader(conn) as reader:
        facts = listing_facts(reader, tid, rec_id)
        message = check_listing(_gate(facts, shop_ids, moment), force_sync)
        if message is not None:
            raise BusinessError(message)
        assert facts is not None and facts.applied is not None
        params = facts.applied.params
        target = _target(reader, tid, facts.raw)
        result = syn_stock(target, params, _stock_view(reader, tid, target, params))
    return CalcResult(facts.record(result), None)


def _gate(
    facts: ListingFacts | None, shop_ids: frozenset[int] | None, now: float
) -> ListingGate | None:
    if facts is None or (shop_ids is not None and facts.raw[_SHOP_ID] not in shop_ids):
        return None
    raw = facts.raw
    delayed = bool(raw[_MASK] & MASK_DELAYED) and facts.disable_syn_until > clock.to_wdt(now)
    return ListingGate(
        raw[_MATCH_TYPE],
        facts.is_disable_syn,
        facts.shop_disabled,
        raw[_STATUS],
        NO_RULE_ID if facts.applied is None else facts.applied.rule_id,
        facts.rule_disable_syn,
        delayed,
        raw[_GOODS_ID],
        raw[_SPEC_ID],
    )


def _target(reader: RawReader, tid: int, raw: Sequence[Any]) -> Target:
    """What the listing is matched to, with a suite's components (one query for a suite)."""
    kind, target_id = int(raw[_MATCH_TYPE]), int(raw[_MATCH_ID])
    if kind != MATCH_SUITE:
        return Target(kind, target_id)
    rows = reader.rows(_SUITE_SQL, (tid, target_id))
    return Target(kind, target_id, tuple(SuiteComponent(s, _qty(n)) for s, n in rows))


def _qty(scaled: int) -> Decimal:
    return Decimal(scaled).scaleb(-4)


@lru_cache(maxsize=1024)
def _warehouse_ids(warehouse_list: str) -> tuple[int, ...]:
    """The integer tokens of a warehouse list that could name a warehouse (for the query)."""
    ids = set()
    for token in warehouse_list.split(","):
        token = token.strip()
        if token.lstrip("-").isdigit() and -_INT32 <= int(token) <= _INT32:
            ids.add(int(token))
    return tuple(sorted(ids))


@lru_cache(maxsize=1024)
def _mask_bits(stock_flag: int) -> tuple[int, ...]:
    """The quantity columns a rule's mask selects, by bit number."""
    return tuple(bit for bit in range(len(QUANTITY_FIELDS)) if stock_flag >> bit & 1)


@lru_cache(maxsize=1024)
def _warehouse(warehouse_id: int, is_defect: Any, is_outer_stock: Any) -> Warehouse:
    return Warehouse(warehouse_id, is_defect=bool(is_defect), is_outer_stock=bool(is_outer_stock))


@lru_cache(maxsize=1024)
def _stock_sql(n_specs: int, n_warehouses: int, bits: tuple[int, ...]) -> str:
    """The stock query: the listed warehouses, each with the target's stock rows in it and
    only the quantity columns the mask selects (`bits`)."""
    marks = ", ".join("?" * n_warehouses)
    if n_specs == 0:
        sql = f"SELECT {_WAREHOUSE_COLUMNS} FROM warehouse w "
    else:
        quantities = "".join(f", s.{QUANTITY_FIELDS[bit]}" for bit in bits)
        sql = (
            f"SELECT {_WAREHOUSE_COLUMNS}, {_STOCK_COLUMNS}{quantities} FROM warehouse w "
            "LEFT JOIN stock_spec s ON s.tenant_id = w.tenant_id "
            "AND s.warehouse_id = w.warehouse_id "
            f"AND s.spec_id IN ({', '.join('?' * n_specs)}) "
        )
    return sql + f"WHERE w.tenant_id = ? AND w.warehouse_id IN ({marks})"


def _stock_view(reader: RawReader, tid: int, target: Target, params: RuleParams) -> StockView:
    """The rule's warehouses and the stock rows of the target's specs in them (one query).

    Only the quantities the rule's mask selects are read; the others stay 0.
    """
    wids = _warehouse_ids(params.warehouse_list)
    if not wids:
        return StockView({}, {})
    specs: Sequence[int] = (
        [c.spec_id for c in target.components] if target.target_type == MATCH_SUITE
        else (target.target_id,)
    )  # fmt: skip
    bits = _mask_bits(params.stock_flag)
    warehouses: dict[int, Warehouse] = {}
    rows: dict[tuple[int, int], StockRow] = {}
    sql = _stock_sql(len(specs), len(wids), bits)
    for raw in reader.rows(sql, (*specs, tid, *wids)):
        wid = raw[0]
        warehouses[wid] = _warehouse(wid, raw[1], raw[2])
        if len(raw) > 3 and raw[3] is not None:
            quantities = _quantities(raw, bits) if bits else _ZEROS
            rows[(raw[3], wid)] = StockRow(raw[3], wid, _qty(raw[4]), quantities, _qty(raw[5]))
    return StockView(warehouses, rows)


def _quantities(raw: Sequence[int], bits: Sequence[int]) -> tuple[Decimal, ...]:
    """The 16 mask quantities of a stock row (read from column 6 on), 0 where the mask is
    clear."""
    values = list(_ZEROS)
    for column, bit in enumerate(bits, 6):
        values[bit] = _qty(raw[column])
    return tuple(values)


# ---------------------------------------------------------------- explained path


def explain_listing(
    conn: Connection,
    tid: int,
    rec_id: int,
    *,
    force_sync: bool = False,
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
) -> CalcStory:
    """Why a listing gets its number, step by step; business errors land in `story.error`."""
    moment = clock.now() if now is None else now
    return _explained(conn, tid, rec_id, force_sync, shop_ids, moment)[0]


def _explained(
    conn: Connection,
    tid: int,
    rec_id: int,
    force_sync: bool,
    shop_ids: frozenset[int] | None,
    now: float,
) -> tuple[CalcStory, dict[str, object] | None]:
    """The story, and the record when the listing could be computed."""
    facts = fetch_listing(conn, tid, rec_id)
    if _gate(facts, shop_ids, now) is None or facts is None:
        none = resolve(0, 0, (), ())
        return CalcStory(rec_id, Target(UNBOUND, 0), "", none, None, MSG_NOT_FOUND, {}, {}), None
    target, target_no, resolution = _resolve_fresh(conn, tid, facts)
    applied = _applied(resolution)
    fresh = _with_rule(facts, applied, resolution)
    gate = _gate(fresh, shop_ids, now)
    warehouses = load_warehouses(conn, tid)
    names = {wid: w.name or w.warehouse_no for wid, w in warehouses.items()}
    spec_nos = _spec_nos(conn, tid, target)
    story = CalcStory(rec_id, target, target_no, resolution, None, None, spec_nos, names)
    message = check_listing(gate, force_sync)
    if message is not None or applied is None:
        return _with(story, error=message or MSG_NOT_FOUND), None
    spec_ids = [c.spec_id for c in target.components] or [target.target_id]
    view = StockView(warehouses, load_stock_rows(conn, tid, spec_ids))
    explanation = Explanation()
    try:
        result = syn_stock(target, applied.params, view, explanation)
    except EmptyWarehouseList as exc:
        return _with(story, explanation=explanation, error=exc.message), None
    return _with(story, explanation=explanation), fresh.record(result)


def _with(story: CalcStory, **changes: object) -> CalcStory:
    return replace(story, **changes)  # type: ignore[arg-type]


def _applied(resolution: Resolution) -> AppliedRule | None:
    if resolution.params is None:
        return None
    return AppliedRule(resolution.rule_id, resolution.rule_no, resolution.params)


def _with_rule(
    facts: ListingFacts, applied: AppliedRule | None, resolution: Resolution
) -> ListingFacts:
    """The facts with the freshly resolved rule in place of the stored one."""
    forbids = resolution.rule is not None and resolution.rule.is_disable_syn
    fields = None if applied is None else rule_fields(applied)
    return replace(facts, applied=applied, rule_disable_syn=forbids, applied_fields=fields)


def _spec_nos(conn: Connection, tid: int, target: Target) -> dict[int, str]:
    ids = [c.spec_id for c in target.components]
    if target.target_type == MATCH_SPEC:
        ids = [target.target_id]
    if not ids:
        return {}
    query = select(spec.c.spec_id, spec.c.spec_no).where(
        spec.c.tenant_id == tid, spec.c.spec_id.in_(ids)
    )
    return {int(row[0]): str(row[1]) for row in conn.execute(query)}


def _resolve_fresh(
    conn: Connection, tid: int, facts: ListingFacts
) -> tuple[Target, str, Resolution]:
    """The listing's target, its merchant code and a full resolution of its rule."""
    row = facts.row
    kind, target_id = row["match_target_type"], row["match_target_id"]
    table = spec if kind == MATCH_SPEC else suite
    key = table.c.spec_id if kind == MATCH_SPEC else table.c.suite_id
    code = table.c.spec_no if kind == MATCH_SPEC else table.c.suite_no
    query = select(code, table.c.brand_id, table.c.class_id)
    found = conn.execute(query.where(table.c.tenant_id == tid, key == target_id)).first()
    target_no, brand_id, class_id = found if found is not None and kind != UNBOUND else ("", 0, 0)
    components: tuple[SuiteComponent, ...] = ()
    if kind == MATCH_SUITE:
        components = load_suite_components(conn, tid, [target_id]).get(target_id, ())
    target = Target(kind, target_id, components)
    custom = load_custom_rules(conn, tid, [row["rec_id"]]).get(row["rec_id"])
    classes = class_path(class_id, load_classes(conn, tid))
    resolution = resolve(row["shop_id"], brand_id, classes, load_rules(conn, tid), custom)
    return target, target_no, resolution
