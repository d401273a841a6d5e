"""How the batch path scans a tenant's listings on SQLite."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import Engine

from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.services.batch_load import load_listings, load_platform_ids


def _plans(engine: Engine, run: Any) -> list[str]:
    """The query plan of every SELECT on the listings table that `run(conn)` executes."""
    seen: list[str] = []
    with read_tx(engine) as conn:
        dbapi: Any = conn.connection.dbapi_connection
        dbapi.set_trace_callback(seen.append)
        try:
            run(conn)
        finally:
            dbapi.set_trace_callback(None)
        scans = [sql for sql in seen if "FROM api_goods_spec WHERE" in sql]
        return [
            " ".join(str(step[-1]) for step in dbapi.execute(f"EXPLAIN QUERY PLAN {sql}"))
            for sql in scans
        ]


def test_a_whole_tenant_scan_walks_the_primary_key_in_row_order(
    sqlite_engine: Engine, sid: str
) -> None:
    """Without statistics SQLite would walk any index led by tenant_id; one in another order
    than the rows (the match index) made every row a random seek and doubled the batch."""
    with write_tx(sqlite_engine) as conn:
        tid = ensure_tenant(conn, sid)

    def scan(conn: Any) -> None:
        load_listings(conn, tid, None)
        load_platform_ids(conn, tid, np.arange(30, dtype=np.int64), scan_from=10)

    plans = _plans(sqlite_engine, scan)
    assert len(plans) == 2
    assert all("sqlite_autoindex_api_goods_spec_1" in plan for plan in plans), plans
