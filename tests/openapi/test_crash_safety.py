"""Crash safety: a SIGKILL in the middle of a big write leaves all of it or none of it.

(a) The server is killed while it runs a stocktake (`wms.StockPd.stockSyncByPd`) of 8,000 specs
    that moves 16,000 listings; (b) `stocksync import` is killed while it imports a snapshot of
    8,000 specs and 16,000 listings into an existing seller, once its progress bars (run under a
    pseudo-terminal) show it has reached its last section, the listings.

Each kill lands inside the write transaction, as seen from another connection: the operation
has started writing rows (PostgreSQL: its backend holds a transaction id and runs writes;
MariaDB: its InnoDB transaction has written rows, for the stocktake a quarter of them; SQLite:
it holds the write lock and, for the stocktake, uncommitted pages have reached the write-ahead
log), it is still open right before the kill, and the call never answered / the process never
exited. So the only right outcome is "nothing": afterwards every row of every table of the
seller is exactly as before, while the same operation run to the end does change them. The
database then opens and works (SQLite recovers the log the killed process left: integrity
check, WAL mode, a write).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from stocksync.client import Client
from stocksync.db.engine import make_engine, write_tx
from stocksync.services.snapshot import import_snapshot
from stocksync.services.stock import StockChange, adjust_stock
from support.dbstate import (
    TenantState,
    poll_interval,
    tenant_state,
    truncate_wal,
    wait_for,
    writer_active,
    writes_begun,
)
from support.server import ServerProcess
from support.tenants import APPSECRET, KEY, stock_tenant, write
from support.terminal import TerminalProcess

pytestmark = pytest.mark.slow

SPECS = 8_000
STOCKTAKE = "wms.StockPd.stockSyncByPd"
#: The import is killed once its progress bar shows this, its last section (5,000 listings read,
#: every spec and stock row written before them).
LAST_SECTION = "listings: "
#: The stocktake server's SQLite page cache (KiB): small, so uncommitted pages reach the WAL.
SMALL_CACHE_KIB = 256
STOCKSYNC = str(Path(sys.executable).with_name("stocksync"))


class BackgroundCall(threading.Thread):
    """One API call in a thread: its answer, or the exception it ended with."""

    def __init__(self, client: Client, method: str, *args: Any) -> None:
        super().__init__(daemon=True)
        self.client, self.method, self.args = client, method, args
        self.answer: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.answer = self.client.call(self.method, *self.args)
        except BaseException as exc:  # kept for the test to look at
            self.error = exc
        finally:
            self.client.close()


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _kill_mid_write(
    engine: Engine, start: Callable[[], None], finished: Callable[[], bool],
    kill: Callable[[], None], ready: Callable[[float], bool],
) -> None:  # fmt: skip
    """Start the operation, wait until `ready(seconds since start)`, check its write
    transaction is still open and it has not finished, kill."""
    engine.dispose()  # this process keeps nothing open: the killed one holds the last handle
    interval = poll_interval(engine)
    started = time.monotonic()
    start()
    moment = wait_for(
        lambda: ready(time.monotonic() - started) or finished(), timeout=60, interval=interval
    )
    assert moment and not finished(), "the operation ended before the kill"
    time.sleep(interval)  # a few more writes
    assert writer_active(engine), "the write transaction was not open at the kill"
    kill()


def _after_kill(engine: Engine, tid: int) -> TenantState:
    """The seller's state once the killed session is gone (the server rolled it back)."""
    ended = wait_for(lambda: not writer_active(engine), timeout=60, interval=poll_interval(engine))
    assert ended, "the dead write transaction never ended"
    if engine.dialect.name == "sqlite":
        _check_sqlite_recovered(_url(engine))
    return tenant_state(engine, tid)


def _check_sqlite_recovered(url: str) -> None:
    fresh = make_engine(url)  # a new connection: recovers the log the killed process left
    try:
        with fresh.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        fresh.dispose()


def _assert_rolled_back(before: TenantState, seen: TenantState, after: TenantState) -> None:
    """Killed mid-transaction, the operation left nothing: `seen` is exactly `before` (so, of
    "all or nothing", nothing), and the complete operation does change things."""
    assert before != after, "the operation changes nothing: the test proves nothing"
    assert seen != after, "the kill came after the commit (the data is complete): timing missed"
    assert seen == before, (
        f"a partial write survived the kill; vs before: {before.differences(seen)}; "
        f"vs after: {after.differences(seen)}"
    )


def _assert_still_works(engine: Engine, tid: int) -> None:
    """A stock change goes through and moves its spec's listings."""
    with write_tx(engine) as conn:
        change = StockChange(1, 1, {"stock_num": Decimal(1)})
        bumped = adjust_stock(conn, tid, [change], time.time())
    assert len(bumped) == 2


def _count(base: int) -> list[dict[str, str]]:
    """A stocktake list of every spec, each with a new number (from `base` up)."""
    return [{"spec_no": f"SP{n}", "new_num": str(base + n % 89)} for n in range(1, SPECS + 1)]


def test_a_server_killed_mid_stocktake_leaves_the_stock_as_it_was(
    engine: Engine, sid: str, tmp_path: Path
) -> None:
    tid = import_snapshot(engine, stock_tenant(sid, SPECS)).tenant_id
    order = {"warehouse_no": "WH1", "remark": "crash test"}
    before = tenant_state(engine, tid)
    truncate_wal(engine)
    url = _url(engine)
    with ServerProcess(url, tmp_path, sqlite_cache_kib=SMALL_CACHE_KIB) as server:
        call = BackgroundCall(server.client(sid, KEY, APPSECRET), STOCKTAKE, order, _count(300))
        _kill_mid_write(
            engine, call.start, lambda: not call.is_alive(), server.kill,
            lambda _elapsed: writes_begun(engine, rows=SPECS // 4),
        )  # fmt: skip
        call.join(30)
    assert call.answer is None and isinstance(call.error, OSError), "the call was answered"
    seen = _after_kill(engine, tid)
    with ServerProcess(url, tmp_path) as server, server.client(sid, KEY, APPSECRET) as client:
        client.call(STOCKTAKE, order, _count(300))
    _assert_rolled_back(before, seen, tenant_state(engine, tid))
    _assert_still_works(engine, tid)


def test_an_import_killed_midway_leaves_the_seller_as_it_was(
    engine: Engine, sid: str, tmp_path: Path
) -> None:
    tid = import_snapshot(engine, stock_tenant(sid, 50)).tenant_id
    snapshot = write(stock_tenant(sid, SPECS), tmp_path / "big.json")
    command = [STOCKSYNC, "import", str(snapshot), "--db", _url(engine)]
    before = tenant_state(engine, tid)
    started: list[TerminalProcess] = []
    try:
        _kill_mid_write(
            engine, lambda: started.append(TerminalProcess(command)),
            lambda: started[0].finished(), lambda: started[0].kill(),
            lambda _elapsed: LAST_SECTION in started[0].output() and writer_active(engine),
        )  # fmt: skip
    finally:
        for process in started:
            process.kill()  # the import this test started (a no-op once it has ended)
    assert started[0].process.returncode == -signal.SIGKILL, started[0].output()
    seen = _after_kill(engine, tid)
    subprocess.run(command, check=True, capture_output=True)
    _assert_rolled_back(before, seen, tenant_state(engine, tid))
    _assert_still_works(engine, tid)
