"""Which stored listings an import moves, exactly as the live changes would (semantics §6).

Called once the master data, stock and rules of the document are written and before its
listings are: stored listings are re-matched where a spec or suite code appeared or moved,
re-resolved where rules, classes or a target's brand/class changed, and collected for the one
bump at the end (stock rows, suite compositions, rules, matches, warehouse flags). Uses the
change-tracking service functions; nothing here re-implements matching or resolution.
"""

from __future__ import annotations

from stocksync.services.snapshot_state import Context
from stocksync.services.tracking import (
    bump_listings,
    listings_of_rules,
    listings_of_specs,
    listings_of_suites,
    listings_of_warehouses,
    refresh_matches,
    refresh_rules,
)


def affected_listings(ctx: Context) -> set[int]:
    """Re-match and re-resolve the stored listings the changes touch; return every one moved."""
    conn, tid, changes = ctx.conn, ctx.tid, ctx.changes
    if not ctx.writable or not ctx.sql.scalar(
        "SELECT 1 FROM api_goods_spec WHERE tenant_id = ? LIMIT 1"
    ):
        return set()
    affected = listings_of_rules(conn, tid, changes.rule_ids)
    candidates = {row[0] for row in ctx.sql.rows_in(
        "api_goods_spec", ("rec_id",), "match_code", changes.codes
    )}  # fmt: skip
    rematched = refresh_matches(conn, tid, candidates) if candidates else set()
    if changes.rule_ids or changes.classes_moved:
        affected |= refresh_rules(conn, tid, None)
    else:
        scoped = listings_of_specs(conn, tid, changes.scoped_specs)
        scoped |= listings_of_suites(conn, tid, changes.scoped_suites)
        if scoped | rematched:
            affected |= refresh_rules(conn, tid, scoped | rematched)
    affected |= rematched
    affected |= listings_of_rules(conn, tid, changes.rule_ids)
    affected |= listings_of_specs(conn, tid, changes.stock_specs)
    affected |= listings_of_suites(conn, tid, changes.suites)
    affected |= listings_of_warehouses(conn, tid, changes.warehouse_ids)
    return affected


def bump(ctx: Context, rec_ids: set[int]) -> int:
    """Bump each listing once (`stock_change_count` + 1, pending)."""
    if not rec_ids or not ctx.writable:
        return 0
    return bump_listings(ctx.conn, ctx.tid, rec_ids, ctx.now)
