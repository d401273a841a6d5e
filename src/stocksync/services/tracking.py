"""Change tracking (semantics spec §6 "Change"): who is affected, re-matching, re-resolving, bumps.

Every event that can change a listing's `syn_stock` bumps it: `stock_change_count` + 1 and the
pending flag set. Our rule: rule and match changes bump the counter too. Everything here works in
bulk (a few statements per call, never one per listing) and a call bumps each listing once.

For bulk inserts, `MatchContext` and `RuleContext` compute a listing's `match_*` columns and
`rule_id` before the row is written, from data loaded once per import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, select, update

from stocksync.db.loaders import (
    id_chunks,
    load_classes,
    load_custom_rules,
    load_match_index,
    load_rules,
)
from stocksync.db.schema import custom_rule, listing, spec, suite, suite_detail
from stocksync.domain.matching import auto_match, match_code
from stocksync.domain.model import MATCH_SPEC, MATCH_SUITE, RuleParams
from stocksync.domain.rules import Resolver

_l = listing.c
_SET_MATCH = (
    update(listing)
    .where(_l.tenant_id == bindparam("b_tid"), _l.rec_id == bindparam("b_rec_id"))
    .values(
        match_code=bindparam("b_code"),
        match_target_type=bindparam("b_type"),
        match_target_id=bindparam("b_target"),
    )
)
# Bulk updates by id list: the ids are inlined as integer literals (int() makes that safe),
# which is several times faster than binding thousands of parameters per statement.
_BUMP_SQL = (
    "UPDATE api_goods_spec SET stock_change_count = stock_change_count + 1, "
    "is_stock_changed = TRUE, modified = {now} WHERE tenant_id = {tid} AND rec_id IN ({ids})"
)
_SET_RULE_SQL = (
    "UPDATE api_goods_spec SET rule_id = {rule} WHERE tenant_id = {tid} AND rec_id IN ({ids})"
)
_BATCH = 20_000  # rows fetched at a time when scanning many listings
_QueriesFor = Callable[[list[int]], list[Select[Any]]]


class MatchContext:
    """Auto matching for many listings from one load of the tenant's merchant codes."""

    def __init__(self, spec_ids_by_no: Mapping[str, int], suite_ids_by_no: Mapping[str, int]):
        self.spec_ids_by_no = spec_ids_by_no
        self.suite_ids_by_no = suite_ids_by_no

    @classmethod
    def load(cls, conn: Connection, tid: int) -> MatchContext:
        """The tenant's current spec and suite codes (after the specs/suites are written)."""
        return cls(*load_match_index(conn, tid))

    def match(self, code: str) -> tuple[int, int]:
        """(match_target_type, match_target_id) for a match code."""
        return auto_match(code, self.spec_ids_by_no, self.suite_ids_by_no)

    def match_listing(self, outer_id: str, spec_outer_id: str) -> tuple[str, int, int]:
        """(match_code, match_target_type, match_target_id) for a listing's merchant codes."""
        code = match_code(outer_id, spec_outer_id)
        kind, target = auto_match(code, self.spec_ids_by_no, self.suite_ids_by_no)
        return code, kind, target


class RuleContext:
    """Rule resolution for many listings: the rules, the class tree and every target's scope."""

    def __init__(
        self,
        resolver: Resolver,
        spec_scopes: Mapping[int, tuple[int, int]],
        suite_scopes: Mapping[int, tuple[int, int]],
    ) -> None:
        self.resolver = resolver
        self.spec_scopes = spec_scopes  # spec_id -> (brand_id, class_id)
        self.suite_scopes = suite_scopes  # suite_id -> (brand_id, class_id)

    @classmethod
    def load(cls, conn: Connection, tid: int) -> RuleContext:
        """Rules, classes and the brand/class of every spec and suite of the tenant."""
        specs = select(spec.c.spec_id, spec.c.brand_id, spec.c.class_id)
        suites = select(suite.c.suite_id, suite.c.brand_id, suite.c.class_id)
        return cls(
            Resolver(load_rules(conn, tid), load_classes(conn, tid)),
            {i: (b, c) for i, b, c in conn.execute(specs.where(spec.c.tenant_id == tid))},
            {i: (b, c) for i, b, c in conn.execute(suites.where(suite.c.tenant_id == tid))},
        )

    def rule_id(self, shop_id: int, target_type: int, target_id: int, has_custom: bool) -> int:
        """The `rule_id` column for a listing of that shop matched to that target."""
        scopes = self.spec_scopes if target_type == MATCH_SPEC else self.suite_scopes
        brand_id, class_id = (
            scopes.get(target_id, (0, 0)) if target_type in (MATCH_SPEC, MATCH_SUITE) else (0, 0)
        )
        return self.resolver.rule_id(shop_id, brand_id, class_id, has_custom)


def bump_listings(conn: Connection, tid: int, rec_ids: Iterable[int], now: float) -> int:
    """Mark those listings changed once: counter + 1, pending set, `modified` = now.

    Returns how many listings were bumped (unknown ids are ignored).
    """
    total = 0
    for chunk in id_chunks(rec_ids):
        sql = _BUMP_SQL.format(now=int(now), tid=int(tid), ids=_int_list(chunk))
        total += conn.exec_driver_sql(sql).rowcount
    return total


def _int_list(ids: Iterable[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def _rec_ids(conn: Connection, queries_for: _QueriesFor, ids: Iterable[int]) -> set[int]:
    found: set[int] = set()
    for chunk in id_chunks(ids):
        for query in queries_for(chunk):
            found.update(conn.execute(query).scalars().all())
    return found


def listings_of_specs(conn: Connection, tid: int, spec_ids: Iterable[int]) -> set[int]:
    """Listings matched to one of the specs, or to a suite that contains one of them."""
    d = suite_detail.c

    def queries(chunk: list[int]) -> list[Select[Any]]:
        suites = select(d.suite_id).where(d.tenant_id == tid, d.spec_id.in_(chunk))
        base = select(_l.rec_id).where(_l.tenant_id == tid)
        return [
            base.where(_l.match_target_type == MATCH_SPEC, _l.match_target_id.in_(chunk)),
            base.where(_l.match_target_type == MATCH_SUITE, _l.match_target_id.in_(suites)),
        ]

    return _rec_ids(conn, queries, spec_ids)


def listings_of_suites(conn: Connection, tid: int, suite_ids: Iterable[int]) -> set[int]:
    """Listings matched to one of the suites."""
    base = select(_l.rec_id).where(_l.tenant_id == tid, _l.match_target_type == MATCH_SUITE)
    return _rec_ids(conn, lambda chunk: [base.where(_l.match_target_id.in_(chunk))], suite_ids)


def listings_of_rules(conn: Connection, tid: int, rule_ids: Iterable[int]) -> set[int]:
    """Listings whose resolved rule (the `rule_id` column) is one of those ids."""
    base = select(_l.rec_id).where(_l.tenant_id == tid)
    return _rec_ids(conn, lambda chunk: [base.where(_l.rule_id.in_(chunk))], rule_ids)


def names_any_warehouse(params: RuleParams, warehouse_ids: frozenset[int]) -> bool:
    """True when a rule's warehouse list names one of those warehouse ids."""
    for token in params.warehouse_list.split(","):
        token = token.strip()
        if token.lstrip("-").isdigit() and int(token) in warehouse_ids:
            return True
    return False


def listings_of_warehouses(conn: Connection, tid: int, warehouse_ids: Iterable[int]) -> set[int]:
    """Listings whose applied rule (strategy or custom) names one of the warehouses.

    Used when a warehouse's defect flag (or existence) changes what the formula may use.
    """
    wanted = frozenset(warehouse_ids)
    if not wanted:
        return set()
    rules = [r.rec_id for r in load_rules(conn, tid) if names_any_warehouse(r.params, wanted)]
    found = listings_of_rules(conn, tid, rules)
    customs = load_custom_rules(conn, tid)
    found.update(rec for rec, params in customs.items() if names_any_warehouse(params, wanted))
    return found


def _scan(conn: Connection, queries: Iterable[Select[Any]]) -> Iterator[Any]:
    """The rows of each query, fetched in batches (iterating a result row by row is slow)."""
    for query in queries:
        result = conn.execute(query)
        while batch := result.fetchmany(_BATCH):
            yield from batch


def _for_listings(base: Select[Any], rec_ids: Iterable[int] | None) -> Iterator[Select[Any]]:
    if rec_ids is None:
        yield base
        return
    for chunk in id_chunks(rec_ids):
        yield base.where(_l.rec_id.in_(chunk))


def refresh_matches(conn: Connection, tid: int, rec_ids: Iterable[int] | None = None) -> set[int]:
    """Re-run auto matching for those listings (None = every listing of the tenant).

    Manual matches are left alone. Writes `match_code`, `match_target_type` and
    `match_target_id` where any of them changed and returns those rec_ids. Callers should then
    re-resolve the returned listings' rules (`refresh_rules`; `apply_changes` does both).
    """
    matcher = MatchContext.load(conn, tid)
    base = select(
        _l.rec_id,
        _l.outer_id,
        _l.spec_outer_id,
        _l.match_code,
        _l.match_target_type,
        _l.match_target_id,
    ).where(_l.tenant_id == tid, _l.is_manual_match == False)  # noqa: E712
    writes = []
    for rec_id, outer, spec_outer, *old in _scan(conn, _for_listings(base, rec_ids)):
        code, kind, target = matcher.match_listing(outer, spec_outer)
        if [code, kind, target] != old:
            writes.append(
                {"b_tid": tid, "b_rec_id": rec_id, "b_code": code, "b_type": kind,
                 "b_target": target}
            )  # fmt: skip
    if writes:
        conn.execute(_SET_MATCH, writes)
    return {w["b_rec_id"] for w in writes}


def _listing_scopes(
    conn: Connection, tid: int, rec_ids: Iterable[int] | None, shop_ids: Iterable[int] | None
) -> Iterator[tuple[int, int, int, int, int, bool]]:
    """(rec_id, shop_id, rule_id, brand_id, class_id, has_custom) of the chosen listings."""
    s, u, c = spec.c, suite.c, custom_rule.c
    on_spec = and_(_l.match_target_type == MATCH_SPEC, s.spec_id == _l.match_target_id)
    on_suite = and_(_l.match_target_type == MATCH_SUITE, u.suite_id == _l.match_target_id)
    joined = (
        listing.outerjoin(spec, and_(s.tenant_id == tid, on_spec))
        .outerjoin(suite, and_(u.tenant_id == tid, on_suite))
        .outerjoin(custom_rule, and_(c.tenant_id == tid, c.rec_id == _l.rec_id))
    )
    base = select(
        _l.rec_id, _l.shop_id, _l.rule_id, s.brand_id, s.class_id, u.brand_id, u.class_id, c.rec_id
    ).select_from(joined).where(_l.tenant_id == tid)  # fmt: skip
    if shop_ids is not None:
        base = base.where(_l.shop_id.in_(sorted(set(shop_ids))))
    for rec_id, shop_id, rule_id, sb, sc, ub, uc, custom in _scan(
        conn, _for_listings(base, rec_ids)
    ):
        brand, klass = (sb, sc) if sb is not None else (ub, uc)
        yield rec_id, shop_id, rule_id, brand or 0, klass or 0, custom is not None


def refresh_rules(
    conn: Connection,
    tid: int,
    rec_ids: Iterable[int] | None = None,
    *,
    shop_ids: Iterable[int] | None = None,
) -> set[int]:
    """Re-resolve the rule of those listings (None = every listing) and write `rule_id` where it
    changed; returns the rec_ids that changed.

    `shop_ids` narrows further to listings of those shops (a rule that names shops cannot reach
    listings elsewhere). Brand and class come from the matched spec or suite; an unbound
    listing has brand 0 and no class.
    """
    resolver = Resolver(load_rules(conn, tid), load_classes(conn, tid))
    by_rule: dict[int, list[int]] = {}
    for rec_id, shop_id, old, brand, klass, custom in _listing_scopes(conn, tid, rec_ids, shop_ids):
        new = resolver.rule_id(shop_id, brand, klass, custom)
        if new != old:
            by_rule.setdefault(new, []).append(rec_id)
    # Few distinct rules: one UPDATE per rule and chunk of ids, not one per listing.
    for rule_id, ids in by_rule.items():
        for chunk in id_chunks(ids):
            sql = _SET_RULE_SQL.format(rule=int(rule_id), tid=int(tid), ids=_int_list(chunk))
            conn.exec_driver_sql(sql)
    return {rec_id for ids in by_rule.values() for rec_id in ids}


def _selection(which: Iterable[int] | bool | None) -> set[int] | None:
    """A rematch/reresolve argument as rec_ids: None/False = none, True = None (every one)."""
    if which is None or which is False:
        return set()
    if which is True:
        return None
    return set(which)


def apply_changes(
    conn: Connection,
    tid: int,
    *,
    rec_ids: Iterable[int] = (),
    spec_ids: Iterable[int] = (),
    suite_ids: Iterable[int] = (),
    rule_ids: Iterable[int] = (),
    warehouse_ids: Iterable[int] = (),
    rematch: Iterable[int] | bool | None = None,
    reresolve: Iterable[int] | bool | None = None,
    now: float,
) -> set[int]:
    """Everything one change touches, in one call: re-match, re-resolve, then bump each once.

    `rec_ids`: listings changed directly. `spec_ids`: listings of those specs and of suites
    containing them. `suite_ids`: listings of those suites. `rule_ids`: listings on those rules
    before AND after re-resolution. `warehouse_ids`: listings whose rule names them.
    `rematch` / `reresolve`: None or False = none, True = every listing of the tenant, else
    those rec_ids; listings whose match changed are always re-resolved. Returns the bumped ids.
    """
    rule_ids = set(rule_ids)
    affected = set(rec_ids) | listings_of_rules(conn, tid, rule_ids)
    to_match = _selection(rematch)
    rematched = refresh_matches(conn, tid, to_match) if to_match != set() else set()
    to_resolve = _selection(reresolve)
    if to_resolve is not None:
        to_resolve |= rematched
    if to_resolve != set():
        affected |= refresh_rules(conn, tid, to_resolve)
    affected |= rematched
    affected |= listings_of_rules(conn, tid, rule_ids)
    affected |= listings_of_specs(conn, tid, spec_ids)
    affected |= listings_of_suites(conn, tid, suite_ids)
    affected |= listings_of_warehouses(conn, tid, warehouse_ids)
    bump_listings(conn, tid, affected, now)
    return affected
