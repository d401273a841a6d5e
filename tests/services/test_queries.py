"""Paged reads: page bounds, times in China time, stock rows and their count agree."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert

from builders import add_spec, add_warehouse
from stocksync.db import schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import InvalidArgument
from stocksync.services.queries import (
    DEFAULT_PAGE_SIZE,
    Page,
    StockFilter,
    parse_time,
    search_stock,
)


def test_a_page_defaults_to_the_first_page_of_forty_rows() -> None:
    assert Page.of(None, None, False) == Page(DEFAULT_PAGE_SIZE, 0, False)
    assert Page.of(1000, 3, True) == Page(1000, 3, True)
    for size in (0, 1001):
        with pytest.raises(InvalidArgument, match="^page_size: must be within 1..1000"):
            Page.of(size, 0, False)


def test_cutting_rows_answers_the_page_and_the_total_only_when_asked() -> None:
    rows = [{"n": n} for n in range(5)]
    assert Page(2, 2, True).cut(rows) == {"details": [{"n": 4}], "total_count": 5}
    assert Page(2, 3, False).cut(rows) == {"details": []}


def test_times_are_read_as_china_time() -> None:
    assert parse_time("2023-11-15 06:13:20", "t") == 1_700_000_000
    assert parse_time("  ", "t") is None
    with pytest.raises(InvalidArgument, match="^params.x: not a time"):
        parse_time("2023-11-15T06:13:20", "params.x")


def test_stock_pages_are_stable_and_the_count_matches_the_filter(engine: Engine, sid: str) -> None:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_warehouse(conn, tid, 1)
        add_warehouse(conn, tid, 2)
        for spec_id in range(1, 26):
            add_spec(conn, tid, spec_id, f"C{spec_id}")
        rows = [
            {"tenant_id": tid, "spec_id": s, "warehouse_id": w, "rec_id": 100 - 2 * s - w,
             "stock_num": Decimal(1), "lock_num": Decimal(3), "modified": 1000 + s}
            for s in range(1, 26) for w in (1, 2)
        ]  # fmt: skip
        conn.execute(insert(schema.stock), rows)
    wanted = StockFilter(spec_nos=tuple(f"C{s}" for s in range(1, 26) if s % 5))
    with read_tx(engine) as conn:
        pages = [search_stock(conn, tid, Page(7, n, True), wanted) for n in range(6)]
    ids = [row["rec_id"] for page in pages for row in page["details"]]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 40
    assert {page["total_count"] for page in pages} == {40}
    assert pages[0]["details"][0]["available_send_stock"] == Decimal(-2)  # not clamped
    assert pages[0]["details"][0]["created"] == ""  # never stamped
