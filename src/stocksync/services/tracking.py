"""Change tracking (semantics spec §6 "Change"): who is affected, re-matching, re-resolving, bumps.

Every event that can change a listing's `syn_stock` bumps it: `stock_change_count` + 1 and the
pending flag set. Our rule: rule and match changes bump the counter too. Everything here works in
bulk (a few statements per call, never one per listing) and a call bumps each listing once.

At a million listings the cost is in moving rows, so the scans read plain tuples from the
driver (no Row objects) with ids inlined as integer literals, the per-listing work is a few
dict lookups, and only the listings whose values really change are written, set-based.

For bulk inserts, `MatchContext` and `RuleContext` compute a listing's `match_*` columns and
`rule_id` before the row is written, from data loaded once per import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table

from stocksync.db.loaders import (
    id_chunks,
    int_list,
    load_classes,
    load_custom_rules,
    load_match_index,
    load_rules,
    update_ids,
    update_rows,
)
from stocksync.db.schema import custom_rule, listing, spec, suite, suite_detail
from stocksync.domain.matching import auto_match, match_code
from stocksync.domain.model import CUSTOM_RULE_ID, MATCH_SPEC, MATCH_SUITE, UNBOUND, RuleParams
from stocksync.domain.rules import Resolver

_MATCH_COLUMNS = ("match_code", "match_target_type", "match_target_id")
_BUMP = "stock_change_count = stock_change_count + 1, is_stock_changed = TRUE, modified = {now}"
_BATCH = 20_000  # rows fetched at a time when scanning many listings
#: Above this many listings, re-resolution reads every spec's and suite's scope at once.
_WHOLE = 50_000
_Scope = tuple[int, int]  # (brand_id, class_id)
_NO_SCOPE: _Scope = (0, 0)


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
        return cls(
            Resolver(load_rules(conn, tid), load_classes(conn, tid)),
            _scopes(conn, tid, spec, None),
            _scopes(conn, tid, suite, None),
        )

    def rule_id(self, shop_id: int, target_type: int, target_id: int, has_custom: bool) -> int:
        """The `rule_id` column for a listing of that shop matched to that target."""
        scopes = self.spec_scopes if target_type == MATCH_SPEC else self.suite_scopes
        brand_id, class_id = (
            scopes.get(target_id, (0, 0)) if target_type in (MATCH_SPEC, MATCH_SUITE) else (0, 0)
        )
        return self.resolver.rule_id(shop_id, brand_id, class_id, has_custom)


def _raw(conn: Connection, sql: str) -> Iterator[Any]:
    """Rows of a parameterless SELECT straight from the DB-API cursor, in batches.

    At a million rows SQLAlchemy's Row objects cost as much as the query; the cursor runs in
    the connection's transaction. Values come back as stored (booleans may be 0/1).
    """
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        while batch := cursor.fetchmany(_BATCH):
            yield from batch
    finally:
        cursor.close()


def _where_in(sql: str, column: str, ids: Iterable[int] | None) -> Iterator[str]:
    """`sql` once (ids None) or once per chunk of ids with `AND column IN (...)` appended."""
    if ids is None:
        yield sql
        return
    for chunk in id_chunks(ids):
        yield f"{sql} AND {column} IN ({int_list(chunk)})"


def _column(conn: Connection, sql: str, column: str, ids: Iterable[int] | None) -> set[int]:
    """The first column of `sql`'s rows, restricted to `column IN ids` chunk by chunk."""
    return {row[0] for query in _where_in(sql, column, ids) for row in _raw(conn, query)}


def _select(table: Table, tid: int, columns: str) -> str:
    return f"SELECT {columns} FROM {table.name} WHERE tenant_id = {int(tid)}"


def _scopes(
    conn: Connection, tid: int, table: Table, ids: Iterable[int] | None
) -> dict[int, _Scope]:
    """{spec_id or suite_id: (brand_id, class_id)} for those ids (None = all of the tenant)."""
    key = "spec_id" if table is spec else "suite_id"
    sql = _select(table, tid, f"{key}, brand_id, class_id")
    return {i: (b, c) for query in _where_in(sql, key, ids) for i, b, c in _raw(conn, query)}


def bump_listings(conn: Connection, tid: int, rec_ids: Iterable[int], now: float) -> int:
    """Mark those listings changed once: counter + 1, pending set, `modified` = now.

    Returns how many listings were bumped (unknown ids are ignored). Set-based: one statement
    per `CHUNK` ids, whatever the backend.
    """
    return update_ids(conn, listing, tid, rec_ids, _BUMP.format(now=int(now)))


def listings_of_specs(conn: Connection, tid: int, spec_ids: Iterable[int]) -> set[int]:
    """Listings matched to one of the specs, or to a suite that contains one of them."""
    spec_ids = set(spec_ids)
    if not spec_ids:
        return set()
    # The suites first, in their own query: joined, PostgreSQL scans every suite listing.
    suites = _column(conn, _select(suite_detail, tid, "DISTINCT suite_id"), "spec_id", spec_ids)
    matched = _select(listing, tid, "rec_id") + f" AND match_target_type = {MATCH_SPEC}"
    return _column(conn, matched, "match_target_id", spec_ids) | listings_of_suites(
        conn, tid, suites
    )


def listings_of_suites(conn: Connection, tid: int, suite_ids: Iterable[int]) -> set[int]:
    """Listings matched to one of the suites."""
    suite_ids = set(suite_ids)
    matched = _select(listing, tid, "rec_id") + f" AND match_target_type = {MATCH_SUITE}"
    return _column(conn, matched, "match_target_id", suite_ids) if suite_ids else set()


def listings_of_rules(conn: Connection, tid: int, rule_ids: Iterable[int]) -> set[int]:
    """Listings whose resolved rule (the `rule_id` column) is one of those ids."""
    rule_ids = set(rule_ids)
    return (
        _column(conn, _select(listing, tid, "rec_id"), "rule_id", rule_ids) if rule_ids else set()
    )


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


def _match_table(conn: Connection, tid: int) -> dict[str, tuple[int, int]]:
    """{code: (match_target_type, match_target_id)} for every code that matches something,
    built with `auto_match` itself so that the precedence stays in one place."""
    by_spec, by_suite = load_match_index(conn, tid)
    table = {}
    for code in by_spec.keys() | by_suite.keys():
        found = auto_match(code, by_spec, by_suite)
        if found[0] != UNBOUND:
            table[code] = found
    return table


def refresh_matches(conn: Connection, tid: int, rec_ids: Iterable[int] | None = None) -> set[int]:
    """Re-run auto matching for those listings (None = every listing of the tenant).

    Manual matches are left alone. Writes `match_code`, `match_target_type` and
    `match_target_id` where any of them changed and returns those rec_ids. Callers should then
    re-resolve the returned listings' rules (`refresh_rules`; `apply_changes` does both).
    """
    table = _match_table(conn, tid)
    unbound = (UNBOUND, 0)
    columns = f"rec_id, outer_id, spec_outer_id, {', '.join(_MATCH_COLUMNS)}"
    sql = _select(listing, tid, columns) + " AND is_manual_match = FALSE"
    ids = None if rec_ids is None else set(rec_ids)
    writes = []
    for query in _where_in(sql, "rec_id", ids):
        for rec_id, outer, spec_outer, old_code, old_kind, old_target in _raw(conn, query):
            code = match_code(outer, spec_outer)
            kind, target = table.get(code, unbound)
            if code != old_code or kind != old_kind or target != old_target:
                writes.append((rec_id, code, kind, target))
    writes.sort()  # ascending ids: the same lock order as every other bulk write
    update_rows(conn, listing, tid, ("rec_id",), _MATCH_COLUMNS, writes)
    return {write[0] for write in writes}


class _Scopes:
    """What rule resolution needs beyond a listing's row: its target's brand and class, and
    whether it carries a custom rule. Loaded for the whole tenant or for some listings."""

    def __init__(self, conn: Connection, tid: int, rows: Sequence[Any] | None) -> None:
        specs = suites = customs = None
        if rows is not None:
            specs = {row[4] for row in rows if row[3] == MATCH_SPEC}
            suites = {row[4] for row in rows if row[3] == MATCH_SUITE}
            customs = {row[0] for row in rows}
        self.specs = _scopes(conn, tid, spec, specs)
        self.suites = _scopes(conn, tid, suite, suites)
        self.customs = _column(conn, _select(custom_rule, tid, "rec_id"), "rec_id", customs)


def _resolve(
    rows: Iterable[Any], scopes: _Scopes, resolver: Resolver, by_rule: dict[int, list[int]]
) -> None:
    """Add each listing whose resolved rule differs from its stored one to `by_rule[new]`.

    Rows are (rec_id, shop_id, rule_id, match_target_type, match_target_id). A hot loop: a
    few dict lookups per listing; the resolver memoises per (shop, brand, class).
    """
    specs, suites, customs, rule_id = scopes.specs, scopes.suites, scopes.customs, resolver.rule_id
    nothing: dict[int, _Scope] = {}
    for rec_id, shop_id, old, kind, target in rows:
        if rec_id in customs:
            new = CUSTOM_RULE_ID
        else:
            table = specs if kind == MATCH_SPEC else suites if kind == MATCH_SUITE else nothing
            new = rule_id(shop_id, *table.get(target, _NO_SCOPE), False)
        if new != old:
            by_rule.setdefault(new, []).append(rec_id)


def _changed_rules(
    conn: Connection, tid: int, rec_ids: Iterable[int] | None, shop_ids: Iterable[int] | None
) -> dict[int, list[int]]:
    """{new rule_id: [rec_id, ...]} of the chosen listings whose resolved rule changed."""
    resolver = Resolver(load_rules(conn, tid), load_classes(conn, tid))
    columns = "rec_id, shop_id, rule_id, match_target_type, match_target_id"
    sql = _select(listing, tid, columns)
    if shop_ids is not None:
        sql += f" AND shop_id IN ({int_list(sorted(set(shop_ids))) or 'NULL'})"
    ids = None if rec_ids is None else set(rec_ids)
    by_rule: dict[int, list[int]] = {}
    if ids is None or len(ids) > _WHOLE:
        scopes = _Scopes(conn, tid, None)
        for query in _where_in(sql, "rec_id", ids):
            _resolve(_raw(conn, query), scopes, resolver, by_rule)
    else:
        for query in _where_in(sql, "rec_id", ids):
            rows = list(_raw(conn, query))
            _resolve(rows, _Scopes(conn, tid, rows), resolver, by_rule)
    return by_rule


def _write_rules(
    conn: Connection, tid: int, by_rule: Mapping[int, list[int]], also: str
) -> set[int]:
    """Store the new rules (few distinct values: one UPDATE per rule and chunk of ids, not one
    per listing), with `also` assignments; returns the rec_ids written."""
    for rule_id, changed in by_rule.items():
        update_ids(conn, listing, tid, changed, f"rule_id = {int(rule_id)}{also}")
    return {rec_id for changed in by_rule.values() for rec_id in changed}


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
    return _write_rules(conn, tid, _changed_rules(conn, tid, rec_ids, shop_ids), "")


def resettle(
    conn: Connection,
    tid: int,
    rec_ids: Iterable[int] | None = None,
    *,
    shop_ids: Iterable[int] | None = None,
    bump: Iterable[int] = (),
    now: float,
) -> set[int]:
    """`refresh_rules`, then bump each listing whose rule changed and each of `bump` once;
    returns the rec_ids bumped (those of `bump` included).

    Equal to `refresh_rules` followed by `bump_listings(changed | bump)`, but a listing whose
    rule changed gets its new rule and its bump in one row write instead of two: after a rule
    edit that moves most of a million listings, that halves the rows written.
    """
    also = ", " + _BUMP.format(now=int(now))
    changed = _write_rules(conn, tid, _changed_rules(conn, tid, rec_ids, shop_ids), also)
    rest = set(bump) - changed
    bump_listings(conn, tid, rest, now)
    return changed | rest


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
    to_match = _selection(rematch)
    rematched = refresh_matches(conn, tid, to_match) if to_match != set() else set()
    to_resolve = _selection(reresolve)
    if to_resolve is not None:
        to_resolve |= rematched
    # Read before re-resolution: a listing on one of `rule_ids` afterwards either was on it
    # before or changed rule, and every listing that changes rule is bumped anyway.
    affected = set(rec_ids) | rematched | listings_of_rules(conn, tid, rule_ids)
    affected |= listings_of_specs(conn, tid, spec_ids)
    affected |= listings_of_suites(conn, tid, suite_ids)
    affected |= listings_of_warehouses(conn, tid, warehouse_ids)
    if to_resolve == set():
        bump_listings(conn, tid, affected, now)
        return affected
    return resettle(conn, tid, to_resolve, bump=affected, now=now)
