"""Checking records sent by integrators (goods, suites, listings, stocktakes) before writing.

Every check raises `InvalidArgument` (flagship status 1) whose message starts with the path of
the field as the caller sent it (`specInfoList[2].spec_no: required`). Text limits come from
the schema's column lengths, so a value that passes is a value the database will store.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, func, select

from stocksync.db.loaders import CHUNK
from stocksync.db.types import QuantityError, to_scaled
from stocksync.domain.errors import BusinessError, InvalidArgument

_K = TypeVar("_K", bound=Hashable)
#: Ids stay within signed 32 bits (the Java SDK's DTOs use `Integer`).
INT32_MAX = 2**31 - 1


def text(value: str, path: str, column: Column[Any], *, required: bool = False) -> str:
    """`value` if it fits `column` (and is not blank when required); else InvalidArgument."""
    if required and not value.strip():
        raise InvalidArgument(f"{path}: required")
    limit = getattr(column.type, "length", None)
    if limit is not None and len(value) > limit:
        raise InvalidArgument(f"{path}: longer than {limit} characters")
    return value


def quantity(
    value: Decimal | None, path: str, *, minimum: Decimal | None = None, positive: bool = False
) -> Decimal:
    """An exact quantity (≤ 4 places, within range); None means the field was not sent."""
    if value is None:
        raise InvalidArgument(f"{path}: required")
    try:
        to_scaled(value)
    except QuantityError as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    if positive and value <= 0:
        raise InvalidArgument(f"{path}: must be > 0, not {value}")
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{path}: must be ≥ {minimum}, not {value}")
    return value


def one_of(value: int, path: str, allowed: Sequence[int]) -> int:
    """`value` if it is one of `allowed`; else InvalidArgument listing them."""
    if value not in allowed:
        shown = ", ".join(str(a) for a in allowed)
        raise InvalidArgument(f"{path}: must be one of {shown}, not {value}")
    return value


def no_duplicates(keys: Iterable[_K], path_of: Callable[[int], str], what: str) -> None:
    """Refuse a key sent twice, naming both places (`path_of(i)` is the i-th item's path)."""
    first: dict[_K, int] = {}
    for index, key in enumerate(keys):
        seen = first.setdefault(key, index)
        if seen != index:
            raise InvalidArgument(
                f"{path_of(index)}: duplicate {what} {key!r} (also {path_of(seen)})"
            )


def ids_by_code(
    conn: Connection, tid: int, code: Column[Any], ident: Column[Any], codes: Iterable[str]
) -> dict[str, int]:
    """{code: id} for those of `codes` stored in `code`'s table (one query per `CHUNK` codes)."""
    table = code.table
    wanted = sorted(set(codes))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        query = select(code, ident).where(table.c.tenant_id == tid, code.in_(chunk))
        found.update((row[0], row[1]) for row in conn.execute(query))
    return found


def next_id(conn: Connection, tid: int, ident: Column[Any]) -> int:
    """The tenant's largest id in `ident` + 1 (ids given by sellers are kept, so no sequence)."""
    table = ident.table
    query = select(func.coalesce(func.max(ident), 0)).where(table.c.tenant_id == tid)
    value = int(conn.execute(query).scalar_one()) + 1
    if value > INT32_MAX:
        raise BusinessError(f"{ident.name}: no free id left")
    return value
