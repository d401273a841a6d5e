"""Raw bulk reads and writes for the snapshot import.

Import writes millions of rows, so it bypasses per-value type processing: quantities travel as
the scaled integers the `Qty` column type stores, and inserts/updates go to the driver's
`executemany` in chunks, in the dialect's own placeholder style.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, column, select, table

from stocksync.db.loaders import id_chunks

#: Rows per executemany call.
WRITE_CHUNK = 10_000


class Sql:
    """Bulk statements for one tenant on one connection."""

    def __init__(self, conn: Connection, tid: int) -> None:
        self.conn = conn
        self.tid = tid
        self.mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def insert(self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """INSERT rows (each starting with the tenant id) in chunks."""
        marks = ", ".join([self.mark] * len(columns))
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})"
        self._many(sql, rows)

    def update(
        self, name: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """UPDATE each row's `columns` (its first values) where the `keys` (its last) match."""
        sets = ", ".join(f"{col} = {self.mark}" for col in columns)
        where = " AND ".join(f"{key} = {self.mark}" for key in keys)
        self._many(f"UPDATE {name} SET {sets} WHERE {where}", rows)

    def delete(self, name: str, key: str, ids: Iterable[Any]) -> None:
        """DELETE the tenant's rows whose `key` is one of `ids`."""
        sql = f"DELETE FROM {name} WHERE tenant_id = {self.mark} AND {key} = {self.mark}"
        self._many(sql, [(self.tid, one) for one in ids])

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for start in range(0, len(rows), WRITE_CHUNK):
            self.conn.exec_driver_sql(sql, list(rows[start : start + WRITE_CHUNK]))

    def rows(self, name: str, columns: Sequence[str], order: Sequence[str] = ()) -> Iterator[Any]:
        """Every row of the tenant in `name`, raw (quantities scaled), optionally ordered."""
        query = self.query(name, columns)
        if order:
            query = query.order_by(*[column(col) for col in order])
        return iter(self.conn.execute(query))

    def rows_in(
        self, name: str, columns: Sequence[str], key: str, ids: Iterable[Any]
    ) -> Iterator[Any]:
        """The tenant's rows in `name` whose `key` is one of `ids` (queried in chunks)."""
        base = self.query(name, columns)
        for chunk in id_chunks(ids):
            yield from self.conn.execute(base.where(column(key).in_(chunk)))

    def query(self, name: str, columns: Sequence[str]) -> Select[Any]:
        """SELECT raw `columns` of the tenant's rows in `name` (no type processing)."""
        lite = table(name, column("tenant_id"), *[column(col) for col in columns])
        return select(*[lite.c[col] for col in columns]).where(lite.c.tenant_id == self.tid)

    def scalar(self, sql: str) -> Any:
        """One value from raw SQL whose only placeholder is the tenant id (written as `?`)."""
        return self.conn.exec_driver_sql(sql.replace("?", self.mark), (self.tid,)).scalar()
