"""The client's acknowledgements: `syncSuccess`, `syncFail`, `cancelSync` and their records.

Semantics spec §6. Each call locks the listing row (`SELECT … FOR UPDATE`; a SQLite write
transaction is exclusive), computes the next state with `domain.syncstate.apply`, and writes it
with one UPDATE guarded by `stock_change_count = <the count read>`: the pending flag is cleared
only when the acknowledged count is the current one, and a stock change racing the ack either
lands before (the counts differ, the listing stays pending) or after (it bumps the cleared row).
Every accepted ack appends an `api_stock_sync_record` row holding everything the client sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, bindparam, insert, select, update

from stocksync import jsoncodec
from stocksync.db.schema import custom_rule, listing, rule, sync_record
from stocksync.domain.checks import MSG_NOT_FOUND
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import CUSTOM_RULE_ID
from stocksync.domain.syncstate import (
    INT32_MAX,
    Cancel,
    Event,
    Failure,
    Instant,
    Success,
    SyncState,
    Transition,
    apply,
)
from stocksync.services import clock

_STATE_NAMES = tuple(SyncState.__dataclass_fields__)
_STATE_COLUMNS = tuple(listing.c[name] for name in _STATE_NAMES)


@dataclass(frozen=True, slots=True)
class SyncInfo:
    """The documented fields of a syncSuccess/syncFail `info`, decoded; None = not sent."""

    syn_stock: int | None = None
    stock_change_count: int | None = None
    stock_syn_rule_id: int | None = None
    stock_syn_rule_no: str | None = None
    stock_syn_other: str | None = None
    stock_syn_warehouses: str | None = None
    stock_syn_mask: int | None = None
    stock_syn_percent: Decimal | None = None
    stock_syn_plus: Decimal | None = None
    stock_syn_min: Decimal | None = None
    stock_syn_max: Decimal | None = None
    is_auto_listing: bool | None = None
    is_auto_delisting: bool | None = None
    is_syn_success: bool | None = None
    is_manual: bool | None = None
    syn_result: str | None = None


@dataclass(frozen=True, slots=True)
class _Locked:
    rec_id: int
    shop_id: int
    rule_id: int
    state: SyncState
    rule_flags: tuple[bool, bool]  # (listing, delisting) of its rule; read only when needed


@dataclass(frozen=True, slots=True)
class _Ack:
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
    locked = _lock(conn, tid, rec_id, shop_ids, flags=missing_flag)
    auto_listing, auto_delisting = _auto_flags(locked, decoded)
    event = Success(decoded.syn_stock, decoded.stock_change_count, auto_listing, auto_delisting)
    ack = _Ack(app_key, "success", decoded.syn_stock, decoded.stock_change_count, info)
    _commit(conn, tid, locked, event, _instant(now), ack)


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
    locked = _lock(conn, tid, rec_id, shop_ids)
    ack = _Ack(app_key, "fail", decoded.syn_stock, decoded.stock_change_count, info)
    _commit(conn, tid, locked, Failure(), _instant(now), ack)


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
    locked = _lock(conn, tid, rec_id, shop_ids)
    info = {"stock_change_count": stock_change_count}
    ack = _Ack(app_key, "cancel", None, stock_change_count, info)
    _commit(conn, tid, locked, Cancel(stock_change_count), _instant(now), ack)


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


def _lock_query(with_flags: bool) -> Select[Any]:
    """The row-locking read of one listing; with its rule's auto flags when `with_flags`.

    The flags come from scalar subqueries, which `FOR UPDATE` does not lock (PostgreSQL locks
    only the FROM list; InnoDB only the outer statement), so acks never queue on a shared rule.
    """
    columns: list[Any] = [listing.c.shop_id, listing.c.rule_id, *_STATE_COLUMNS]
    if with_flags:
        columns += [
            _flag(table, flag, key)
            for table, key in ((rule, listing.c.rule_id), (custom_rule, listing.c.rec_id))
            for flag in ("is_auto_listing", "is_auto_delisting")
        ]
    return (
        select(*columns)
        .where(listing.c.tenant_id == bindparam("tid"), listing.c.rec_id == bindparam("rec_id"))
        .with_for_update()
    )


def _flag(table: Table, flag: str, key: Any) -> Any:
    same_tenant = table.c.tenant_id == listing.c.tenant_id
    return select(table.c[flag]).where(same_tenant, table.c.rec_id == key).scalar_subquery()


# Built once: SQLAlchemy caches the compiled form of a statement object, not of its recipe.
_LOCK = _lock_query(with_flags=False)
_LOCK_WITH_FLAGS = _lock_query(with_flags=True)
_WRITTEN_COLUMNS = (*_STATE_COLUMNS, listing.c.modified)
_WRITE = (
    update(listing)
    .where(
        listing.c.tenant_id == bindparam("where_tid"),
        listing.c.rec_id == bindparam("where_rec_id"),
        listing.c.stock_change_count == bindparam("expected_count"),
    )
    .values({col: bindparam(f"new_{col.name}", type_=col.type) for col in _WRITTEN_COLUMNS})
)
_APPEND = insert(sync_record)


def _lock(
    conn: Connection, tid: int, rec_id: int, shop_ids: frozenset[int] | None, flags: bool = False
) -> _Locked:
    """Lock the listing; with `flags`, read its rule's auto flags in passing."""
    query = _LOCK_WITH_FLAGS if flags else _LOCK
    row = conn.execute(query, {"tid": tid, "rec_id": rec_id}).one_or_none()
    if row is None or (shop_ids is not None and row[0] not in shop_ids):
        raise BusinessError(MSG_NOT_FOUND)
    state = SyncState(*row[2 : 2 + len(_STATE_COLUMNS)])
    rule_flags = _rule_flags(row[1], row[2 + len(_STATE_COLUMNS) :]) if flags else (False, False)
    return _Locked(rec_id, row[0], row[1], state, rule_flags)


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
    conn: Connection, tid: int, locked: _Locked, event: Event, at: Instant, ack: _Ack
) -> None:
    transition = apply(locked.state, event, at)
    _write(conn, tid, locked, transition.state, at)
    _append_record(conn, tid, locked, at, ack, transition)


def _write(conn: Connection, tid: int, locked: _Locked, new: SyncState, at: Instant) -> None:
    params = {f"new_{name}": getattr(new, name) for name in _STATE_NAMES}
    params |= {"where_tid": tid, "where_rec_id": locked.rec_id, "new_modified": at.unix}
    params["expected_count"] = locked.state.stock_change_count
    result = conn.execute(_WRITE, params)
    if result.rowcount != 1:  # the row lock makes this unreachable; never write a lost update
        raise RuntimeError(f"listing {locked.rec_id} changed while locked")


def _append_record(
    conn: Connection, tid: int, locked: _Locked, at: Instant, ack: _Ack, transition: Transition
) -> None:
    record = {
        "tenant_id": tid,
        "listing_id": locked.rec_id,
        "shop_id": locked.shop_id,
        "created": at.unix,
        "app_key": ack.app_key,
        "kind": ack.kind,
        "syn_stock": ack.syn_stock,
        "stock_change_count": ack.stock_change_count,
        "applied": transition.applied,
        "info": _info_json(ack.info),
        "result": transition.result,
    }
    conn.execute(_APPEND, record)


def _info_json(info: Mapping[str, Any]) -> str:
    try:
        return jsoncodec.dumps(dict(info)).decode()
    except TypeError:  # not from a JSON body (a direct caller): keep it readable anyway
        return jsoncodec.dumps({str(k): repr(v) for k, v in info.items()}).decode()


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


def decode_info(info: Mapping[str, Any]) -> SyncInfo:
    """Decode `info` liberally, as real clients send it; InvalidArgument names a bad field.

    Numbers may come as strings, flags as true/false, 1/0 or their strings, text as numbers
    (`stock_syn_warehouses`: 6); null or missing means absent, unknown fields are ignored here
    (the sync record keeps them). `syn_stock` must be a whole number ≥ 0 ("12.0000" is 12).
    """
    if not isinstance(info, Mapping):
        raise InvalidArgument("argument type mismatch: info must be an object")
    read = _Reader(info)
    return SyncInfo(
        syn_stock=read.integer("syn_stock", minimum=0),
        stock_change_count=read.integer("stock_change_count"),
        stock_syn_rule_id=read.integer("stock_syn_rule_id"),
        stock_syn_rule_no=read.text("stock_syn_rule_no"),
        stock_syn_other=read.text("stock_syn_other"),
        stock_syn_warehouses=read.text("stock_syn_warehouses"),
        stock_syn_mask=read.integer("stock_syn_mask", minimum=0),
        stock_syn_percent=read.decimal("stock_syn_percent"),
        stock_syn_plus=read.decimal("stock_syn_plus"),
        stock_syn_min=read.decimal("stock_syn_min"),
        stock_syn_max=read.decimal("stock_syn_max"),
        is_auto_listing=read.flag("is_auto_listing"),
        is_auto_delisting=read.flag("is_auto_delisting"),
        is_syn_success=read.flag("is_syn_success"),
        is_manual=read.flag("is_manual"),
        syn_result=read.text("syn_result"),
    )


_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})


class _Reader:
    """Typed, liberal access to the fields of one `info` object."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        self._info = info

    def _bad(self, name: str, expected: str) -> InvalidArgument:
        value = self._info[name]
        return InvalidArgument(
            f"argument type mismatch: info.{name} must be {expected}, got {value!r}"
        )

    def decimal(self, name: str) -> Decimal | None:
        value = self._info.get(name)
        if value is None:
            return None
        number = _to_decimal(value)
        if number is None:
            raise self._bad(name, "a number")
        return number

    def integer(self, name: str, *, minimum: int = -INT32_MAX - 1) -> int | None:
        number = self.decimal(name)
        if number is None:
            return None
        if number != number.to_integral_value() or not minimum <= number <= INT32_MAX:
            raise self._bad(name, f"a whole number from {minimum} to {INT32_MAX}")
        return int(number)

    def flag(self, name: str) -> bool | None:
        value = self._info.get(name)
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise self._bad(name, "true/false or 1/0")

    def text(self, name: str) -> str | None:
        value = self._info.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return str(value)
        raise self._bad(name, "a string")


def _to_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, Decimal, float or numeric string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None
