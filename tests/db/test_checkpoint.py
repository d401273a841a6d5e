"""The background WAL checkpoints of a SQLite server (`db.checkpoint`)."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from stocksync.db.checkpoint import AUTOCHECKPOINT_PAGES, Checkpointer
from stocksync.db.engine import make_engine
from stocksync.openapi.methods import Database


def _write_rows(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
        for n in range(count):
            conn.exec_driver_sql(f"INSERT INTO t VALUES ({n})")


def _rows_in_main_file(db: Path, copy: Path) -> int:
    """Rows of `t` in the database file alone, without its WAL: what checkpoints have copied."""
    shutil.copyfile(db, copy)
    with sqlite3.connect(copy) as conn:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()
        if tables[0] == 0:
            return 0
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


def _wait_for(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_commits_reach_the_database_file_without_a_commit_checkpointing(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    engine = make_engine(f"sqlite:///{db}")
    checkpointer = Checkpointer(engine, interval=0.05)
    try:
        _write_rows(engine, 50)  # far fewer pages than a commit's own checkpoint needs
        assert Path(f"{db}-wal").stat().st_size > 0
        assert _wait_for(lambda: _rows_in_main_file(db, tmp_path / "copy.db") == 50)
        assert checkpointer.rounds >= 1
    finally:
        checkpointer.close()
        engine.dispose()


def test_without_the_thread_the_rows_stay_in_the_wal(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        _write_rows(engine, 50)
        time.sleep(0.2)
        assert _rows_in_main_file(db, tmp_path / "copy.db") == 0
    finally:
        engine.dispose()


def test_connections_checkpoint_rarely_while_it_runs_and_as_usual_after(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")

    def autocheckpoint() -> int:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    checkpointer = Checkpointer(engine)
    try:
        assert autocheckpoint() == AUTOCHECKPOINT_PAGES
    finally:
        checkpointer.close()
    engine.dispose()  # the pooled connections were opened while it ran
    assert autocheckpoint() == 1000
    assert not checkpointer._thread.is_alive()
    engine.dispose()


def test_a_failing_checkpoint_is_logged_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "not-a-file.db"
    folder.mkdir()  # sqlite3 cannot open a directory
    engine = make_engine(f"sqlite:///{folder}")
    checkpointer = Checkpointer(engine, interval=0.01)
    try:
        assert _wait_for(lambda: len(caplog.records) >= 2)
        assert checkpointer._thread.is_alive()
        assert checkpointer.rounds == 0
        assert all(r.levelno == logging.ERROR for r in caplog.records)
        assert "WAL checkpoint" in caplog.records[0].getMessage()
    finally:
        checkpointer.close()
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_has_nothing_to_checkpoint(url: str) -> None:
    with pytest.raises(ValueError, match="SQLite database file"):
        Checkpointer(make_engine(url))


def test_the_server_database_checkpoints_until_closed(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    engine = make_engine(f"sqlite:///{db}")
    database = Database(engine)
    checkpointer = database._checkpointer
    assert checkpointer is not None and checkpointer._thread.is_alive()
    _write_rows(engine, 10)
    assert _wait_for(lambda: _rows_in_main_file(db, tmp_path / "copy.db") == 10)
    database.close()
    assert not checkpointer._thread.is_alive()
    engine.dispose()


def test_a_server_database_on_another_backend_has_no_checkpointer(engine: Engine) -> None:
    database = Database(engine)
    try:
        assert (database._checkpointer is not None) == (engine.dialect.name == "sqlite")
    finally:
        database.close()
