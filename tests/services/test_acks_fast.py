"""Acks in `fast_write` (the DB-API transaction the open API runs them in) on every backend."""

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from builders import add_listing, add_rule, add_shop
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing, sync_record
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError, InvalidArgument
from stocksync.domain.model import DELISTED
from stocksync.domain.syncstate import INT32_MAX
from stocksync.services.acks import cancel_sync, fast_write, sync_fail, sync_records, sync_success
from stocksync.services.tracking import bump_listings

NOW = 1_700_000_000.0
SHOP, RULE, COUNT = 69, 10, 2


@pytest.fixture
def tid(engine: Engine, sid: str) -> int:
    """Listings 1 and 2, pending at change count 2, under a rule that auto-delists."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, SHOP)
        add_rule(conn, tid, RULE, is_auto_delisting=True)
        for rec_id in (1, 2):
            add_listing(
                conn, tid, rec_id, SHOP, f"c{rec_id}", rule_id=RULE, match_target_type=1,
                match_target_id=rec_id, stock_change_count=COUNT, is_stock_changed=True,
            )  # fmt: skip
    return tid


def _state(engine: Engine, tid: int, rec_id: int) -> tuple[Any, ...]:
    c = listing.c
    query = select(
        c.stock_change_count, c.is_stock_changed, c.status, c.stock_num, c.last_syn_num,
        c.last_syn_time, c.delist_time, c.fail_count, c.mask, c.disable_syn_until, c.modified,
    ).where(c.tenant_id == tid, c.rec_id == rec_id)  # fmt: skip
    with read_tx(engine) as conn:
        return tuple(conn.execute(query).one())


def _record_count(engine: Engine, tid: int) -> int:
    query = select(func.count()).where(sync_record.c.tenant_id == tid)
    with read_tx(engine) as conn:
        return int(conn.execute(query).scalar_one())


def test_an_ack_in_fast_write_is_committed_with_exact_values(engine: Engine, tid: int) -> None:
    info = {"syn_stock": 0, "stock_change_count": COUNT, "note": "ok"}
    with engine.connect() as conn:
        with fast_write(conn):
            sync_success(conn, tid, 1, info, app_key="k", now=NOW)
        with fast_write(conn):
            sync_success(conn, tid, 2, {"syn_stock": INT32_MAX}, now=NOW)
    assert _state(engine, tid, 1) == (
        COUNT, False, DELISTED, Decimal(0), Decimal(0), int(NOW), int(NOW), 0, 0, 0, int(NOW),
    )  # fmt: skip
    after = _state(engine, tid, 2)
    assert after[1] is True  # no count sent: still pending
    assert after[3] == after[4] == Decimal(INT32_MAX)
    with read_tx(engine) as conn:
        second, first = sync_records(conn, tid)
    assert (first["rec_id"], first["app_key"], first["info"], first["applied"]) == (
        1,
        "k",
        info,
        True,
    )
    assert (second["syn_stock"], second["applied"]) == (Decimal(INT32_MAX), False)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda conn, tid: cancel_sync(conn, tid, 1, COUNT + 5), BusinessError),
        (lambda conn, tid: sync_success(conn, tid, 1, {"syn_stock": -1}), InvalidArgument),
        (lambda conn, tid: sync_fail(conn, tid, 99, {}), BusinessError),
    ],
    ids=["stale cancel", "negative syn_stock", "unknown listing"],
)
def test_a_refused_ack_in_fast_write_changes_nothing(
    engine: Engine, tid: int, call: Any, error: type[Exception]
) -> None:
    before = _state(engine, tid, 1)
    with engine.connect() as conn:
        with pytest.raises(error), fast_write(conn):
            call(conn, tid)
        with fast_write(conn):  # the connection is usable again
            sync_fail(conn, tid, 2, {}, now=NOW)
    assert _state(engine, tid, 1) == before
    assert _record_count(engine, tid) == 1


def test_an_error_after_the_writes_rolls_them_back(engine: Engine, tid: int) -> None:
    before = _state(engine, tid, 1)
    info = {"syn_stock": 3, "stock_change_count": COUNT}
    with engine.connect() as conn, pytest.raises(RuntimeError, match="after"), fast_write(conn):
        sync_success(conn, tid, 1, info, now=NOW)
        raise RuntimeError("after the ack")
    assert _state(engine, tid, 1) == before
    assert _record_count(engine, tid) == 0


def test_a_stock_change_racing_a_fast_ack_is_never_lost(engine: Engine, tid: int) -> None:
    """The change holds the row (or SQLite's write lock) first: the ack waits, then finds a
    newer count and leaves the listing pending."""

    def ack() -> None:
        with engine.connect() as conn, fast_write(conn):
            sync_success(conn, tid, 1, {"syn_stock": 7, "stock_change_count": COUNT}, now=NOW)

    with write_tx(engine) as conn:
        bump_listings(conn, tid, [1], NOW)
        racer = threading.Thread(target=ack)
        racer.start()
        time.sleep(0.3)  # it blocks on the row lock meanwhile
    racer.join(timeout=30)
    after = _state(engine, tid, 1)
    assert (after[0], after[1], after[4]) == (COUNT + 1, True, Decimal(7))


def test_the_same_success_twice_in_one_second_is_recorded_twice(engine: Engine, tid: int) -> None:
    """The second write changes no value (MariaDB counts it as matched, not changed)."""
    info = {"syn_stock": 4, "stock_change_count": COUNT}
    with engine.connect() as conn:
        for _ in range(2):
            with fast_write(conn):
                sync_success(conn, tid, 1, info, now=NOW)
    assert _state(engine, tid, 1)[:2] == (COUNT, False)
    assert _record_count(engine, tid) == 2
