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

from sqlalchemy import BigInteger, Connection, func, insert, select, type_coerce

from stocksync.db.loaders import id_chunks, update_rows
from stocksync.db.schema import spec, stock
from stocksync.db.schema import warehouse as warehouse_t
from stocksync.db.types import QTY_LIMIT, SCALE, QuantityError, from_scaled, to_scaled
from stocksync.domain.errors import InvalidArgument
from stocksync.domain.model import QUANTITY_FIELDS
from stocksync.services.tracking import bump_listings, listings_of_specs

#: Every quantity column a change may name.
STOCK_FIELDS: tuple[str, ...] = ("stock_num", *QUANTITY_FIELDS, "wms_stock_diff")

_Key = tuple[int, int]  # (spec_id, warehouse_id)
_Scaled = dict[str, int]  # quantity name -> value as stored (× SCALE)
_LIMIT = int(QTY_LIMIT * SCALE)
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
    """Validate, read the rows concerned (only the named columns, as stored integers), then
    write only the rows whose values really change: exact integer arithmetic throughout."""
    merged = _merge(changes, absolute)
    if not merged:
        return set()
    _check_references(conn, tid, merged)
    names = [name for name in STOCK_FIELDS if any(name in v for v in merged.values())]
    existing = _load_rows(conn, tid, merged, names)
    updates: dict[tuple[str, ...], list[tuple[int, ...]]] = {}
    inserts: list[tuple[_Key, _Scaled]] = []
    for key, values in merged.items():
        old = existing.get(key)
        if old is None:
            if absolute or any(values.values()):
                inserts.append((key, _checked(key, values)))
            continue
        new = values if absolute else {name: old[name] + delta for name, delta in values.items()}
        if any(old[name] != value for name, value in new.items()):
            written = tuple(name for name in names if name in new)
            _checked(key, new)
            updates.setdefault(written, []).append((*key, *[new[name] for name in written]))
    _store(conn, tid, updates, inserts, int(now))
    changed_specs = {key[0] for key, _ in inserts} | {
        row[0] for rows in updates.values() for row in rows
    }
    affected = listings_of_specs(conn, tid, changed_specs)
    bump_listings(conn, tid, affected, now)
    return affected


def _merge(changes: Iterable[StockChange], absolute: bool) -> dict[_Key, _Scaled]:
    """Validate every change and combine those on the same row, as stored integers."""
    merged: dict[_Key, _Scaled] = {}
    for index, change in enumerate(changes):
        target = merged.setdefault((change.spec_id, change.warehouse_id), {})
        for name, value in change.values.items():
            scaled = _check_value(index, name, value)
            target[name] = scaled if absolute else target.get(name, 0) + scaled
    return merged


def _check_value(index: int, name: str, value: object) -> int:
    if name not in STOCK_FIELDS:
        raise InvalidArgument(f"changes[{index}].{name}: not a stock quantity field")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidArgument(f"changes[{index}].{name}: not a decimal: {value!r}")
    try:
        return to_scaled(Decimal(value))
    except QuantityError as exc:
        raise InvalidArgument(f"changes[{index}].{name}: {exc}") from None


def _checked(key: _Key, values: _Scaled) -> _Scaled:
    """The new values of a row, refused when one is out of range (deltas can add up)."""
    for name, value in values.items():
        if abs(value) >= _LIMIT:
            shown = Decimal(value).scaleb(-4)
            raise InvalidArgument(
                f"spec {key[0]} warehouse {key[1]}: {name}: out of range: {shown}"
            )
    return values


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
    conn: Connection, tid: int, merged: Mapping[_Key, object], names: Sequence[str]
) -> dict[_Key, _Scaled]:
    """The named columns of the existing rows among those keys, as stored integers (no Decimal
    conversion), locked for update where the backend can."""
    warehouse_ids = sorted({key[1] for key in merged})
    columns = [type_coerce(_s[name], BigInteger) for name in names]
    base = select(_s.spec_id, _s.warehouse_id, *columns).where(
        _s.tenant_id == tid, _s.warehouse_id.in_(warehouse_ids)
    )
    rows: dict[_Key, _Scaled] = {}
    for chunk in id_chunks(key[0] for key in merged):
        for row in conn.execute(base.where(_s.spec_id.in_(chunk)).with_for_update()):
            key = (row[0], row[1])
            if key in merged:
                rows[key] = dict(zip(names, row[2:], strict=True))
    return rows


def _store(
    conn: Connection,
    tid: int,
    updates: Mapping[tuple[str, ...], list[tuple[int, ...]]],
    inserts: list[tuple[_Key, _Scaled]],
    now: int,
) -> None:
    """Changed rows in a few set-based statements per set of columns written; new rows with
    the next free `rec_id`s."""
    for names, rows in updates.items():
        keys = ("spec_id", "warehouse_id")
        update_rows(conn, stock, tid, keys, names, rows, {"modified": now})
    if inserts:
        query = select(func.coalesce(func.max(_s.rec_id), 0)).where(_s.tenant_id == tid)
        next_id = int(conn.execute(query).scalar_one()) + 1
        rows_: list[dict[str, Any]] = []
        for offset, ((spec_id, warehouse_id), values) in enumerate(inserts):
            row: dict[str, Any] = dict.fromkeys(STOCK_FIELDS, Decimal(0))
            row.update({name: from_scaled(value) for name, value in values.items()})
            row.update(tenant_id=tid, spec_id=spec_id, warehouse_id=warehouse_id,
                       rec_id=next_id + offset, created=now, modified=now)  # fmt: skip
            rows_.append(row)
        conn.execute(insert(stock), rows_)
