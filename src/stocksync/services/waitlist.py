"""The wait list (`getSelfWaitSyncIdListOpen`): pending listings handed out under a lease.

Semantics spec §6. Handing an id out sets its `disable_syn_until` to now + lease, so a client that
never acknowledges an id (it skips ids whose calcStock failed) sees it again only once the lease
has run out, and the client loop "call until `id_list` comes back empty" always ends. Concurrent
callers never get the same id within a lease: on PostgreSQL and MariaDB the candidate rows are
locked with `FOR UPDATE SKIP LOCKED` (MariaDB callers of one seller also take turns, see
`_serialise_callers`); a SQLite write transaction is exclusive anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Integer,
    Select,
    any_,
    bindparam,
    false,
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
    ids = _pick(conn, tid, clamp_count(count), shop_ids, now_wdt)
    if not ids:
        return [], 0
    until = min(now_wdt + lease, INT32_MAX)
    _lease(conn, tid, ids, until)
    return ids, until


def _pick(
    conn: Connection, tid: int, count: int, shop_ids: frozenset[int] | None, now_wdt: int
) -> list[int]:
    if conn.dialect.name == "mysql":
        _serialise_callers(conn, tid)
    shops = _usable_shops(conn, tid, shop_ids)
    if not shops:
        return []
    query = _candidates(tid, shops, _usable_rules(conn, tid), now_wdt).limit(count)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(skip_locked=True)
    return list(conn.execute(query).scalars())


def _serialise_callers(conn: Connection, tid: int) -> None:
    # InnoDB's SKIP LOCKED also skips unlocked rows that share an index page with another open
    # transaction's changes, so a caller racing another one could get an empty list and stop its
    # loop early. Callers of one tenant take turns on the tenant row instead; they still skip
    # rows locked by stock changes, so they never deadlock with them.
    conn.execute(select(tenant.c.tenant_id).where(tenant.c.tenant_id == tid).with_for_update())


def _candidates(tid: int, shops: Sequence[int], rules: Sequence[int], now_wdt: int) -> Select[Any]:
    # The leading conditions walk the index (tenant_id, is_stock_changed, disable_syn_until,
    # rec_id) in the order served; the rest filter the rows met on the way.
    return (
        select(listing.c.rec_id)
        .where(
            listing.c.tenant_id == tid,
            listing.c.is_stock_changed == true(),
            listing.c.disable_syn_until <= now_wdt,
            listing.c.is_disable_syn == false(),
            listing.c.status != DELETED,
            listing.c.match_target_type != UNBOUND,
            listing.c.rule_id.in_(rules),
            listing.c.shop_id.in_(shops),
        )
        .order_by(listing.c.disable_syn_until, listing.c.rec_id)
        # InnoDB locks every row it reads: a table scan (chosen on small or fresh tables) would
        # lock the whole tenant and starve a concurrent caller that skips locked rows.
        .with_hint(listing, f"FORCE INDEX ({_WAIT_INDEX})", dialect_name="mysql")
    )


def _usable_shops(conn: Connection, tid: int, shop_ids: frozenset[int] | None) -> list[int]:
    """Enabled shops the caller may see (a handful of rows, cheaper than a join per listing)."""
    query = select(shop.c.shop_id).where(shop.c.tenant_id == tid, shop.c.is_disabled == false())
    if shop_ids is not None:
        query = query.where(shop.c.shop_id.in_(sorted(shop_ids)))
    return sorted(conn.execute(query).scalars())


def _usable_rules(conn: Connection, tid: int) -> list[int]:
    """Rule ids a listing may sync under: enabled rules without `is_disable_syn`, and custom."""
    query = select(rule.c.rec_id).where(
        rule.c.tenant_id == tid, rule.c.is_disabled == false(), rule.c.is_disable_syn == false()
    )
    return [CUSTOM_RULE_ID, *sorted(conn.execute(query).scalars())]


def _lease(conn: Connection, tid: int, ids: list[int], until: int) -> None:
    # Mirrors `syncstate.Lease`: a waiting listing's failure delay is over, so its mask bit goes.
    if conn.dialect.name == "postgresql":  # one array parameter instead of thousands
        chosen = listing.c.rec_id == any_(bindparam("ids", ids, type_=ARRAY(Integer)))
    else:
        chosen = listing.c.rec_id.in_(ids)
    conn.execute(
        update(listing)
        # MariaDB may plan this as a full scan that locks rows outside `ids`, and deadlock
        # with an ack holding one of them; the primary key keeps the locks to `ids`.
        .with_hint("FORCE INDEX (PRIMARY)", dialect_name="mysql")
        .where(listing.c.tenant_id == tid, chosen)
        .values(
            disable_syn_until=until,
            mask=listing.c.mask - listing.c.mask.bitwise_and(MASK_DELAYED),
        )
    )
