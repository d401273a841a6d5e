"""The wait list (`getSelfWaitSyncIdListOpen`): pending listings handed out under a lease.

Semantics spec §6. Handing an id out sets its `disable_syn_until` to now + lease, so a client that
never acknowledges an id (it skips ids whose calcStock failed) sees it again only once the lease
has run out, and the client loop "call until `id_list` comes back empty" always ends. Concurrent
callers never get the same id within a lease: on PostgreSQL and MariaDB the candidate rows are
locked with `FOR UPDATE SKIP LOCKED` (MariaDB callers of one seller also take turns, see
`_serialise_callers`); a SQLite write transaction is exclusive anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    Select,
    String,
    Update,
    any_,
    bindparam,
    false,
    func,
    literal_column,
    select,
    true,
    update,
)

from stocksync.db.schema import listing, rule, shop, tenant
from stocksync.domain.model import CUSTOM_RULE_ID, DELETED, MASK_DELAYED, UNBOUND
from stocksync.domain.syncstate import INT32_MAX
from stocksync.services import clock

#: Seconds an id handed out stays away from the wait list unless acknowledged.
DEFAULT_LEASE = 300
MIN_COUNT = 10
MAX_COUNT = 5000
_WAIT_INDEX = "ix_api_goods_spec_wait"


def clamp_count(count: int) -> int:
    """The page size actually served: the vendor's bounds 10..5000."""
    return min(max(count, MIN_COUNT), MAX_COUNT)


def wait_list(
    conn: Connection,
    tid: int,
    count: int,
    *,
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
    lease: int = DEFAULT_LEASE,
) -> tuple[list[int], int]:
    """Lease up to `count` listings waiting to be synced; returns (ids, position).

    Eligible: pending, enabled (listing and shop not disabled, not deleted, matched, with a rule
    that allows syncing), in a shop of `shop_ids` (None = every shop) and not leased or delayed at
    `now`; ordered by (`disable_syn_until`, `rec_id`). `position` is the `disable_syn_until` the
    returned ids now carry (their lease end, protocol seconds), 0 for an empty list.
    """
    if lease < 1:
        raise ValueError(f"lease must be at least 1 second, got {lease}")
    now_wdt = clock.to_wdt(clock.now() if now is None else now)
    ids, keys = _pick(conn, tid, clamp_count(count), shop_ids, now_wdt)
    if not ids:
        return [], 0
    until = min(now_wdt + lease, INT32_MAX)
    _lease(conn, tid, keys, until)
    return ids, until


def _pick(
    conn: Connection, tid: int, count: int, shop_ids: frozenset[int] | None, now_wdt: int
) -> tuple[list[int], list[int]]:
    """The ids to hand out in the order served, and the keys `_lease` finds their rows by:
    the rowids on SQLite (no primary-key index to search per row), else the ids."""
    dialect = conn.dialect.name
    if dialect == "mysql":
        _serialise_callers(conn, tid)
    shops = _usable_shops(conn, tid, shop_ids)
    if not shops:
        return [], []
    params = {"tid": tid, "now_wdt": now_wdt, "count": count, "shops": shops}
    params["rules"] = _usable_rules(conn, tid)
    if dialect != "sqlite":
        ids = list(conn.execute(_CANDIDATES_SKIP_LOCKED, params).scalars())
        return ids, ids
    rows = conn.execute(_CANDIDATES_WITH_ROWID, params).all()
    return [row[0] for row in rows], [row[1] for row in rows]


def _serialise_callers(conn: Connection, tid: int) -> None:
    # InnoDB's SKIP LOCKED also skips unlocked rows that share an index page with another open
    # transaction's changes, so a caller racing another one could get an empty list and stop its
    # loop early. Callers of one tenant take turns on the tenant row instead; they still skip
    # rows locked by stock changes, so they never deadlock with them.
    conn.execute(_TENANT_ROW, {"tid": tid})


def _candidates() -> Select[Any]:
    # The leading conditions walk the wait index (tenant_id, is_stock_changed,
    # disable_syn_until, rec_id, …) in the order served; the rest filter the entries met on the
    # way, from the columns the index carries after those (schema.py), not from the table.
    return (
        select(listing.c.rec_id)
        .where(
            listing.c.tenant_id == bindparam("tid"),
            listing.c.is_stock_changed == true(),
            listing.c.disable_syn_until <= bindparam("now_wdt"),
            listing.c.is_disable_syn == false(),
            listing.c.status != DELETED,
            listing.c.match_target_type != UNBOUND,
            listing.c.rule_id.in_(bindparam("rules", expanding=True)),
            listing.c.shop_id.in_(bindparam("shops", expanding=True)),
        )
        .order_by(listing.c.disable_syn_until, listing.c.rec_id)
        .limit(bindparam("count", type_=Integer))
        # InnoDB locks every row it reads: a table scan (chosen on small or fresh tables) would
        # lock the whole tenant and starve a concurrent caller that skips locked rows.
        .with_hint(listing, f"FORCE INDEX ({_WAIT_INDEX})", dialect_name="mysql")
    )


def _usable_shops(conn: Connection, tid: int, shop_ids: frozenset[int] | None) -> list[int]:
    """Enabled shops the caller may see (a handful of rows, cheaper than a join per listing)."""
    shops = conn.execute(_SHOPS, {"tid": tid}).scalars()
    return sorted(shops if shop_ids is None else set(shops) & shop_ids)


def _usable_rules(conn: Connection, tid: int) -> list[int]:
    """Rule ids a listing may sync under: enabled rules without `is_disable_syn`, and custom."""
    return [CUSTOM_RULE_ID, *sorted(conn.execute(_RULES, {"tid": tid}).scalars())]


def _lease(conn: Connection, tid: int, keys: list[int], until: int) -> None:
    # Mirrors `syncstate.Lease`: a waiting listing's failure delay is over, so its mask bit goes.
    # PostgreSQL takes the ids as one array parameter and SQLite the rowids as one JSON text
    # (unpacked by json_each) instead of thousands of parameters; MariaDB the ids as an IN list.
    dialect = conn.dialect.name
    chosen: Any = "[" + ",".join(map(str, keys)) + "]" if dialect == "sqlite" else keys
    conn.execute(_LEASES.get(dialect, _LEASE_IN), {"tid": tid, "ids": chosen, "until": until})


def _lease_update(*chosen: ColumnElement[bool]) -> Update:
    return (
        update(listing)
        # MariaDB may plan this as a full scan that locks rows outside `ids`, and deadlock
        # with an ack holding one of them; the primary key keeps the locks to `ids`.
        .with_hint("FORCE INDEX (PRIMARY)", dialect_name="mysql")
        .where(*chosen)
        .values(
            disable_syn_until=bindparam("until", type_=Integer),
            mask=listing.c.mask - listing.c.mask.bitwise_and(MASK_DELAYED),
        )
    )


# Built once: SQLAlchemy caches the compiled form of a statement object, not of its recipe.
_ROWID = literal_column("rowid", Integer)
_CANDIDATES_WITH_ROWID = _candidates().add_columns(_ROWID)
_CANDIDATES_SKIP_LOCKED = _candidates().with_for_update(skip_locked=True)
_TENANT_ROW = select(tenant.c.tenant_id).where(tenant.c.tenant_id == bindparam("tid"))
_TENANT_ROW = _TENANT_ROW.with_for_update()
_SHOPS = select(shop.c.shop_id).where(
    shop.c.tenant_id == bindparam("tid"), shop.c.is_disabled == false()
)
_RULES = select(rule.c.rec_id).where(
    rule.c.tenant_id == bindparam("tid"),
    rule.c.is_disabled == false(),
    rule.c.is_disable_syn == false(),
)
_JSON_IDS = func.json_each(bindparam("ids", type_=String)).table_valued("value")
_TENANT = listing.c.tenant_id == bindparam("tid")
_LEASE_IN = _lease_update(_TENANT, listing.c.rec_id.in_(bindparam("ids", expanding=True)))
_LEASES = {
    "postgresql": _lease_update(
        _TENANT, listing.c.rec_id == any_(bindparam("ids", type_=ARRAY(Integer)))
    ),
    # The rowids alone: `_pick` read them in this write transaction, which no other writer can
    # interleave with. With `tenant_id = ?` added SQLite walks the tenant's primary-key range
    # instead (a page of 5,000 on a million listings: 125 ms of CPU instead of 26).
    "sqlite": _lease_update(_ROWID.in_(select(_JSON_IDS.c.value))),
}
