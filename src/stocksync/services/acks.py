"""The client's acknowledgements: `syncSuccess`, `syncFail`, `cancelSync` and their records.

Semantics spec §6. Each call locks the listing row (`SELECT … FOR UPDATE`; a SQLite write
transaction is exclusive), computes the next state with `domain.syncstate.apply`, and writes it
with one UPDATE guarded by `stock_change_count = <the count read>`: the pending flag is cleared
only when the acknowledged count is the current one, and a stock change racing the ack either
lands before (the counts differ, the listing stays pending) or after (it bumps the cleared row).
Every accepted ack appends an `api_stock_sync_record` row holding everything the client sent.

The statements run on a DB-API cursor kept with the connection (`services.ackstore`; on SQLite
the UPDATE finds the row by the `rowid` the lock read), in whatever write transaction the caller
holds: `db.engine.write_tx`, or the cheaper `fast_write` (the DB-API transaction of a connection
the caller keeps, as the open API's handlers do). `info` is decoded by `services.ackinfo`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, select

from stocksync import jsoncodec
from stocksync.db.schema import sync_record
from stocksync.domain.checks import MSG_NOT_FOUND
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import CUSTOM_RULE_ID
from stocksync.domain.syncstate import (
    Cancel,
    Event,
    Failure,
    Instant,
    Success,
    SyncState,
    apply,
)
from stocksync.services import clock
from stocksync.services.ackinfo import SyncInfo, decode_info, info_json
from stocksync.services.ackstore import (
    STATE_COLUMNS,
    AckCursor,
    ack_cursor,
    fast_write,
    scaled,
    state_of,
)

__all__ = [
    "SyncInfo",
    "ack_cursor",
    "cancel_sync",
    "decode_info",
    "fast_write",
    "sync_fail",
    "sync_records",
    "sync_success",
]
_STATE_AT = 3  # the lock row: key, shop_id, rule_id, the state columns, the rule flags
_FLAGS_AT = _STATE_AT + len(STATE_COLUMNS)


class _Locked(NamedTuple):
    rec_id: int
    key: int  # what `AckCursor.write` finds the row by
    shop_id: int
    rule_id: int
    state: SyncState
    rule_flags: tuple[bool, bool]  # (listing, delisting) of its rule; read only when needed


class _Ack(NamedTuple):
    """What the sync record keeps about one call."""

    app_key: str
    kind: str
    syn_stock: int | None
    stock_change_count: int | None
    info: Mapping[str, Any]


def sync_success(
    conn: Connection,
    tid: int,
    rec_id: int,
    info: Mapping[str, Any],
    *,
    app_key: str = "",
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
) -> None:
    """Record that `info.syn_stock` was published; clear pending if no newer change is waiting.

    Auto listing/delisting follows the flags in `info` (the rule that produced the number) and,
    when a flag is missing, the listing's current rule.
    """
    decoded = decode_info(info)
    if decoded.syn_stock is None:
        raise InvalidArgument("argument type mismatch: info.syn_stock is required")
    missing_flag = None in (decoded.is_auto_listing, decoded.is_auto_delisting)
    cursor = ack_cursor(conn)
    locked = _lock(cursor, tid, rec_id, shop_ids, flags=missing_flag)
    auto_listing, auto_delisting = _auto_flags(locked, decoded)
    count = decoded.stock_change_count
    event = Success(decoded.syn_stock, count, auto_listing, auto_delisting)
    ack = _Ack(app_key, "success", decoded.syn_stock, count, info)
    _commit(cursor, tid, locked, event, _instant(now), ack)


def sync_fail(
    conn: Connection,
    tid: int,
    rec_id: int,
    info: Mapping[str, Any],
    *,
    app_key: str = "",
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
) -> None:
    """Record a failed publish: the listing stays pending and is held back with a growing delay."""
    decoded = decode_info(info)
    cursor = ack_cursor(conn)
    locked = _lock(cursor, tid, rec_id, shop_ids)
    ack = _Ack(app_key, "fail", decoded.syn_stock, decoded.stock_change_count, info)
    _commit(cursor, tid, locked, Failure(), _instant(now), ack)


def cancel_sync(
    conn: Connection,
    tid: int,
    rec_id: int,
    stock_change_count: int,
    *,
    app_key: str = "",
    shop_ids: frozenset[int] | None = None,
    now: float | None = None,
) -> None:
    """Drop the pending change without a push when the count is the current one or -1.

    Any other count raises BusinessError("取消失败") and changes nothing, not even the records.
    """
    info = {"stock_change_count": stock_change_count}
    ack = _Ack(app_key, "cancel", None, stock_change_count, info)
    cursor = ack_cursor(conn)
    locked = _lock(cursor, tid, rec_id, shop_ids)
    _commit(cursor, tid, locked, Cancel(stock_change_count), _instant(now), ack)


def sync_records(
    conn: Connection, tid: int, rec_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The latest sync records, newest first, of one listing or of the whole tenant."""
    query = select(sync_record).where(sync_record.c.tenant_id == tid)
    if rec_id is not None:
        query = query.where(sync_record.c.listing_id == rec_id)
    query = query.order_by(sync_record.c.record_id.desc()).limit(max(limit, 1))
    return [_record_dict(row) for row in conn.execute(query)]


def _instant(now: float | None) -> Instant:
    unix = clock.now() if now is None else now
    return Instant(int(unix // 1), clock.to_wdt(unix))


def _lock(
    cursor: AckCursor, tid: int, rec_id: int, shop_ids: frozenset[int] | None, flags: bool = False
) -> _Locked:
    """Lock the listing; with `flags`, read its rule's auto flags in passing."""
    row = cursor.lock(tid, rec_id, flags=flags)
    if row is None or (shop_ids is not None and row[1] not in shop_ids):
        raise BusinessError(MSG_NOT_FOUND)
    state = state_of(row[_STATE_AT:_FLAGS_AT])
    rule_flags = _rule_flags(row[2], row[_FLAGS_AT:]) if flags else (False, False)
    return _Locked(rec_id, row[0], row[1], row[2], state, rule_flags)


def _rule_flags(rule_id: int, flags: Sequence[Any]) -> tuple[bool, bool]:
    """The auto listing/delisting flags of the listing's current rule (False, False for none)."""
    if rule_id == CUSTOM_RULE_ID:  # a custom rule is keyed by its listing
        return bool(flags[2]), bool(flags[3])
    if rule_id > 0:
        return bool(flags[0]), bool(flags[1])
    return False, False


def _auto_flags(locked: _Locked, info: SyncInfo) -> tuple[bool, bool]:
    """The flags `info` sent, the listing's rule filling in any it left out."""
    rule_listing, rule_delisting = locked.rule_flags
    listing_flag = rule_listing if info.is_auto_listing is None else info.is_auto_listing
    return (
        listing_flag,
        rule_delisting if info.is_auto_delisting is None else info.is_auto_delisting,
    )


def _commit(
    cursor: AckCursor, tid: int, locked: _Locked, event: Event, at: Instant, ack: _Ack
) -> None:
    """Write the listing's next state (guarded by the count read) and append the sync record."""
    transition = apply(locked.state, event, at)
    expected = locked.state.stock_change_count
    if cursor.write(tid, locked.key, expected, transition.state, at.unix) != 1:
        # the row lock makes this unreachable; never write a lost update
        raise RuntimeError(f"listing {locked.rec_id} changed while locked")
    cursor.append(
        (
            tid, locked.rec_id, locked.shop_id, at.unix, ack.app_key, ack.kind,
            scaled(ack.syn_stock), ack.stock_change_count, transition.applied,
            info_json(ack.info), transition.result,
        )
    )  # fmt: skip


def _record_dict(row: Row[Any]) -> dict[str, Any]:
    return {
        "record_id": row.record_id,
        "rec_id": row.listing_id,
        "shop_id": row.shop_id,
        "created": row.created,
        "time": clock.format_time(row.created),
        "app_key": row.app_key,
        "kind": row.kind,
        "syn_stock": row.syn_stock,
        "stock_change_count": row.stock_change_count,
        "applied": bool(row.applied),
        "info": jsoncodec.loads(row.info),
        "result": row.result,
    }
