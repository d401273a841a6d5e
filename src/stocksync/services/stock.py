"""Setting and adjusting stock rows, many at once, as one atomic change in the caller's transaction.

A stock row (`stock_spec`) is one spec in one warehouse. Writing rows marks the listings of
each spec whose row really changed (and of every suite containing it) changed, once per call
(semantics spec §6). A write that changes nothing bumps nothing.

Our rules: a missing row is created (new `rec_id` = the tenant's largest + 1) and counts as a
change when a value is set, even to 0, since the row now exists; an adjustment whose deltas
are all 0 does not create a row. Several changes to the same row in one call combine: later
absolute values win, deltas add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from stocksync.db.loaders import id_chunks
from stocksync.db.schema import spec, stock
from stocksync.db.schema import warehouse as warehouse_t
from stocksync.db.types import QuantityError, to_scaled
from stocksync.domain.errors import InvalidArgument
from stocksync.domain.model import QUANTITY_FIELDS, ZERO
from stocksync.services.tracking import bump_listings, listings_of_specs

#: Every quantity column a change may name.
STOCK_FIELDS: tuple[str, ...] = ("stock_num", *QUANTITY_FIELDS, "wms_stock_diff")

_Key = tuple[int, int]  # (spec_id, warehouse_id)
_QUANTUM = Decimal("0.0001")
_s = stock.c


@dataclass(frozen=True)
class StockChange:
    """New values (`set_stock`) or deltas (`adjust_stock`) for one spec in one warehouse.

    `values` keys: "stock_num", any name of `QUANTITY_FIELDS`, "wms_stock_diff"; values are
    exact decimals with at most 4 places. Fields not named are left as they are.
    """

    spec_id: int
    warehouse_id: int
    values: Mapping[str, Decimal]


def set_stock(conn: Connection, tid: int, changes: Sequence[StockChange], now: float) -> set[int]:
    """Set absolute quantities; returns the rec_ids of the listings bumped."""
    return _write(conn, tid, changes, now, absolute=True)


def adjust_stock(
    conn: Connection, tid: int, changes: Sequence[StockChange], now: float
) -> set[int]:
    """Add deltas to quantities (a missing row counts as 0); returns the listings bumped."""
    return _write(conn, tid, changes, now, absolute=False)


def _write(
    conn: Connection, tid: int, changes: Sequence[StockChange], now: float, *, absolute: bool
) -> set[int]:
    merged = _merge(changes, absolute)
    if not merged:
        return set()
    _check_references(conn, tid, merged)
    existing = _load_rows(conn, tid, merged)
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for key, values in merged.items():
        old = existing.get(key)
        new = _apply(key, old or dict.fromkeys(STOCK_FIELDS, ZERO), values, absolute)
        if old is None and (absolute or any(values.values())):
            inserts.append(new | {"spec_id": key[0], "warehouse_id": key[1]})
        elif old is not None and new != old:
            updates.append(new | {"b_spec": key[0], "b_warehouse": key[1]})
    _store(conn, tid, updates, inserts, int(now))
    changed_specs = {row["spec_id"] for row in inserts} | {row["b_spec"] for row in updates}
    affected = listings_of_specs(conn, tid, changed_specs)
    bump_listings(conn, tid, affected, now)
    return affected


def _merge(changes: Iterable[StockChange], absolute: bool) -> dict[_Key, dict[str, Decimal]]:
    """Validate every change and combine those on the same row."""
    merged: dict[_Key, dict[str, Decimal]] = {}
    for index, change in enumerate(changes):
        target = merged.setdefault((change.spec_id, change.warehouse_id), {})
        for name, value in change.values.items():
            _check_value(index, name, value)
            target[name] = value if absolute else target.get(name, ZERO) + value
    return merged


def _check_value(index: int, name: str, value: object) -> None:
    if name not in STOCK_FIELDS:
        raise InvalidArgument(f"changes[{index}].{name}: not a stock quantity field")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidArgument(f"changes[{index}].{name}: not a decimal: {value!r}")
    _scaled(f"changes[{index}].{name}", Decimal(value))


def _scaled(path: str, value: Decimal) -> int:
    try:
        return to_scaled(value)
    except QuantityError as exc:
        raise InvalidArgument(f"{path}: {exc}") from None


def _apply(
    key: _Key, old: Mapping[str, Decimal], values: Mapping[str, Decimal], absolute: bool
) -> dict[str, Decimal]:
    new = dict(old)
    for name, value in values.items():
        new[name] = Decimal(value) if absolute else new[name] + value
        _scaled(f"spec {key[0]} warehouse {key[1]}: {name}", new[name])
    return {name: new[name].quantize(_QUANTUM) for name in STOCK_FIELDS}


def _check_references(conn: Connection, tid: int, merged: Mapping[_Key, object]) -> None:
    """Unknown specs or warehouses: InvalidArgument naming them, before anything is written."""
    spec_ids = {key[0] for key in merged}
    warehouse_ids = {key[1] for key in merged}
    found_specs: set[int] = set()
    for chunk in id_chunks(spec_ids):
        query = select(spec.c.spec_id).where(spec.c.tenant_id == tid, spec.c.spec_id.in_(chunk))
        found_specs.update(conn.execute(query).scalars())
    w = warehouse_t.c
    query = select(w.warehouse_id).where(w.tenant_id == tid, w.warehouse_id.in_(warehouse_ids))
    found_warehouses = set(conn.execute(query).scalars())
    if missing := sorted(spec_ids - found_specs):
        raise InvalidArgument(f"spec_id: unknown spec {_listed(missing)}")
    if missing := sorted(warehouse_ids - found_warehouses):
        raise InvalidArgument(f"warehouse_id: unknown warehouse {_listed(missing)}")


def _listed(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10])
    return shown + (f" (and {len(ids) - 10} more)" if len(ids) > 10 else "")


def _load_rows(
    conn: Connection, tid: int, merged: Mapping[_Key, object]
) -> dict[_Key, dict[str, Decimal]]:
    """The existing rows among those keys, locked for update where the backend can."""
    warehouse_ids = sorted({key[1] for key in merged})
    columns = [_s[name] for name in STOCK_FIELDS]
    base = select(_s.spec_id, _s.warehouse_id, *columns).where(
        _s.tenant_id == tid, _s.warehouse_id.in_(warehouse_ids)
    )
    rows: dict[_Key, dict[str, Decimal]] = {}
    for chunk in id_chunks(key[0] for key in merged):
        for row in conn.execute(base.where(_s.spec_id.in_(chunk)).with_for_update()):
            key = (row[0], row[1])
            if key in merged:
                rows[key] = dict(zip(STOCK_FIELDS, row[2:], strict=True))
    return rows


def _store(
    conn: Connection,
    tid: int,
    updates: list[dict[str, Any]],
    inserts: list[dict[str, Any]],
    now: int,
) -> None:
    if updates:
        stmt = (
            update(stock)
            .where(
                _s.tenant_id == tid,
                _s.spec_id == bindparam("b_spec"),
                _s.warehouse_id == bindparam("b_warehouse"),
            )
            .values(modified=now)
        )
        conn.execute(stmt, updates)
    if inserts:
        query = select(func.coalesce(func.max(_s.rec_id), 0)).where(_s.tenant_id == tid)
        next_id = int(conn.execute(query).scalar_one()) + 1
        for offset, row in enumerate(inserts):
            row.update(tenant_id=tid, rec_id=next_id + offset, created=now, modified=now)
        conn.execute(insert(stock), inserts)
