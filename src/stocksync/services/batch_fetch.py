"""Reading many integer columns fast: straight from the DB-API cursor into numpy arrays.

Queries run on the connection's own DB-API cursor (in the caller's transaction), bypassing
SQLAlchemy's per-value result processing; Qty columns stay scaled BIGINTs. Rows come in no
particular order. Two tricks keep a million rows cheap:

- two 32-bit columns cross as one 64-bit value (`(a << 32) | (b & 0xFFFFFFFF)`, split again
  here) on SQLite and PostgreSQL, halving the values the driver converts;
- PostgreSQL packs each column server-side into one bytea of big-endian int64s
  (`string_agg(int8send(...))`; every aggregate of one query sees the rows in the same order),
  read by numpy in place. Id lists go there as one array literal; elsewhere as IN lists.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Connection

from stocksync.db.loaders import id_chunks
from stocksync.services.batch_formula import IntArray
from stocksync.services.records import placeholders

#: A column to read: an integer expression, or two 32-bit ones read as a packed pair.
Column = str | tuple[str, str]
_LOW = 0xFFFFFFFF
_SEPARATOR = "\x1f"  # between texts aggregated into one value (checked, see `_split`)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a million small objects.

    Tuples and items are not cycles, but each allocation burst would trigger collections
    that scan everything built so far; pausing saves about half of the building time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def flag(column: str) -> str:
    """A boolean column as 0/1 on every backend."""
    return f"CASE WHEN {column} THEN 1 ELSE 0 END"


def marks(n: int) -> str:
    """`n` placeholders for an IN list."""
    return ", ".join("?" * n)


def fetch_ints(
    conn: Connection, columns: Sequence[Column], source: str, params: Sequence[Any]
) -> list[IntArray]:
    """`SELECT columns source`: one int64 array per value (a pair gives two), rows in any order.

    Every column must be an integer expression, both of a pair within signed 32 bits.
    `source` ("FROM … WHERE …") uses `?` placeholders.
    """
    return fetch_ints_and_texts(conn, columns, (), source, params)[0]


def fetch_ints_and_texts(
    conn: Connection,
    columns: Sequence[Column],
    texts: Sequence[str],
    source: str,
    params: Sequence[Any],
) -> tuple[list[IntArray], list[list[str]] | None]:
    """`fetch_ints`, and on PostgreSQL also the NOT NULL text columns `texts` in the same
    pass and row order; None for them elsewhere or when a value holds the separator."""
    packs = conn.dialect.name in ("sqlite", "postgresql")
    read = [
        _pair_sql(c, conn.dialect.name) if isinstance(c, tuple) and packs else c for c in columns
    ]
    flat = [part for c in read for part in ((c,) if isinstance(c, str) else c)]
    found_texts: list[list[str]] | None = None
    if conn.dialect.name == "postgresql":
        values, found_texts = _fetch_packed(conn, flat, texts, source, params)
    else:
        values = _fetch_rows(conn, flat, source, params)
    if packs:
        values = _unpack(values, [isinstance(c, tuple) for c in columns])
    return values, found_texts


def _pair_sql(pair: tuple[str, str], dialect: str) -> str:
    high, low = (f"CAST({c} AS BIGINT)" if dialect == "postgresql" else f"({c})" for c in pair)
    return f"(({high} << 32) | ({low} & {_LOW}))"


def _unpack(values: list[IntArray], pairs: Sequence[bool]) -> list[IntArray]:
    """Split packed pairs back into their two signed 32-bit values."""
    out: list[IntArray] = []
    for column, pair in zip(values, pairs, strict=True):
        if pair:
            out += [column >> 32, ((column & _LOW) ^ 0x80000000) - 0x80000000]
        else:
            out.append(column)
    return out


def _fetch_rows(
    conn: Connection, columns: Sequence[str], source: str, params: Sequence[Any]
) -> list[IntArray]:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(
            placeholders(f"SELECT {', '.join(columns)} {source}", conn.dialect.paramstyle), params
        )
        with paused_gc():
            rows = cursor.fetchall()
    finally:
        cursor.close()
    width = len(columns)
    flat = np.fromiter(chain.from_iterable(rows), np.int64, count=len(rows) * width)
    matrix = flat.reshape(len(rows), width)
    return [np.ascontiguousarray(matrix[:, i]) for i in range(width)]


def _fetch_packed(
    conn: Connection,
    columns: Sequence[str],
    texts: Sequence[str],
    source: str,
    params: Sequence[Any],
) -> tuple[list[IntArray], list[list[str]] | None]:
    packed = [f"string_agg(int8send(({c})::int8), ''::bytea)" for c in columns]
    packed += [f"string_agg({t}, E'\\x1f')" for t in texts]
    cursor = conn.connection.cursor(binary=True)
    try:
        sql = f"SELECT count(*), {', '.join(packed)} {source}"
        cursor.execute(placeholders(sql, conn.dialect.paramstyle), params)
        count, *buffers = cursor.fetchone() or (0,)
    finally:
        cursor.close()
    values = [
        np.frombuffer(buffer, dtype=">i8").astype(np.int64) if count else np.zeros(0, np.int64)
        for buffer in buffers[: len(columns)]
    ]
    split = [_split(text, count) for text in buffers[len(columns) :]]
    whole = [part for part in split if part is not None]
    return values, whole if len(whole) == len(split) else None


def _split(text: str | None, count: int) -> list[str] | None:
    """The `count` texts joined by the separator; None if one of them holds it."""
    parts = text.split(_SEPARATOR) if count and text is not None else []
    return parts if len(parts) == count else None


def id_array(ids: Iterable[int]) -> str:
    """An id list as one PostgreSQL array literal: a single text parameter, parsed in C."""
    return "{" + ",".join(map(str, sorted(set(ids)))) + "}"


def fetch_ints_by_ids(
    conn: Connection,
    columns: Sequence[Column],
    source: str,
    params: Sequence[Any],
    column: str,
    ids: Iterable[int],
) -> list[IntArray]:
    """`fetch_ints` restricted to `column` in `ids` (one array on PostgreSQL, else chunks)."""
    if conn.dialect.name == "postgresql":
        where = f"{source} AND {column} = ANY(CAST(? AS int8[]))"
        return fetch_ints(conn, columns, where, [*params, id_array(ids)])
    parts = [
        fetch_ints(conn, columns, f"{source} AND {column} IN ({marks(len(c))})", [*params, *c])
        for c in id_chunks(ids)
    ]
    width = sum(2 if isinstance(c, tuple) else 1 for c in columns)
    if not parts:
        return [np.zeros(0, np.int64) for _ in range(width)]
    return [np.concatenate([part[i] for part in parts]) for i in range(width)]


def fetch_rows_by_ids(
    conn: Connection, sql: str, params: Sequence[Any], column: str, ids: Iterable[int] | None
) -> Iterator[Sequence[Any]]:
    """Batches of the rows of `sql` (ending in a WHERE clause) restricted to `column` in `ids`,
    or all of them when `ids` is None; one array on PostgreSQL, else IN lists."""
    if ids is None:
        yield from fetch_batches(conn, sql, params)
    elif conn.dialect.name == "postgresql":
        where = f"{sql} AND {column} = ANY(CAST(? AS int8[]))"
        yield from fetch_batches(conn, where, [*params, id_array(ids)])
    else:
        for chunk in id_chunks(ids):
            where = f"{sql} AND {column} IN ({marks(len(chunk))})"
            yield from fetch_batches(conn, where, [*params, *chunk])


def fetch_batches(conn: Connection, sql: str, params: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """The rows of a query in batches, so that only the kept ones stay in memory."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(placeholders(sql, conn.dialect.paramstyle), params)
        while rows := cursor.fetchmany(50_000):
            yield rows
    finally:
        cursor.close()
