"""`stocksync calc --explain` for one listing: resolve its rule from scratch, then compute with
`domain.formula.syn_stock`, recording every step (semantics spec §5).

This is the slow, thorough path beside `services.calc`'s hot one: it loads the tenant's rules,
classes and warehouses through SQLAlchemy and never trusts the listing's stored `rule_id`. It
never raises for business errors: they land in the story. `calc_listing(..., explain=True)`
answers with it.
"""

from __future__ import annotations

from dataclasses import replace

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
from stocksync.domain.errors import EmptyWarehouseList
from stocksync.domain.explain import CalcStory
from stocksync.domain.formula import Explanation, StockView, Target, syn_stock
from stocksync.domain.model import (
    MASK_DELAYED,
    MATCH_SPEC,
    MATCH_SUITE,
    NO_RULE_ID,
    UNBOUND,
    SuiteComponent,
)
from stocksync.domain.rules import Resolution, class_path, resolve
from stocksync.services import clock
from stocksync.services.records import (
    LISTING_FIELDS,
    AppliedRule,
    ListingFacts,
    fetch_listing,
    rule_fields,
)

_SHOP_ID, _GOODS_ID, _SPEC_ID, _MATCH_TYPE, _STATUS, _MASK = (
    LISTING_FIELDS.index(name)
    for name in ("shop_id", "goods_id", "spec_id", "match_target_type", "status", "mask")
)


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
    return explained(conn, tid, rec_id, force_sync, shop_ids, moment)[0]


def explained(
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
