"""SQLite WAL checkpoints on a background thread, off the request path.

In WAL mode a commit appends its pages to the `-wal` file; a checkpoint copies them back into the
database file and syncs it. By default SQLite checkpoints inside the commit that takes the WAL
past 1,000 pages, so every couple of hundred acknowledgements (an ack writes ~5 pages) one
request waits for the copy and two `fsync`s, and a server worker, which runs one request at a
time, stalls every caller meanwhile.

`Checkpointer` runs a `PASSIVE` checkpoint every `interval` seconds on a thread of its own (the
driver releases the GIL while SQLite works, so the copy and the syncs overlap with the requests).
A passive checkpoint never waits for readers or writers: it copies what it can. Under a steady
stream of commits it never quite catches up, and SQLite only rewinds the WAL once a checkpoint has
copied all of it, so the engine's connections keep an automatic checkpoint, moved from 1,000 to
`AUTOCHECKPOINT_PAGES`: the commit that crosses it copies just what arrived since the last round
(and the WAL stays under ~40 MB). Durability does not change (`synchronous=NORMAL` in WAL mode: a
commit is in the WAL before it is answered); only the moment pages reach the main file does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event

#: Seconds between two background checkpoints: short, so that the thread copies each large
#: commit (a wait-list page writes ~2,000 pages) before the next one lands; a round with
#: nothing to copy costs a few µs.
DEFAULT_INTERVAL = 0.02
#: WAL pages after which a commit checkpoints itself (SQLite's default is 1,000).
AUTOCHECKPOINT_PAGES = 10_000


def _rare_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")


class Checkpointer:
    """A daemon thread checkpointing the SQLite database of `engine` every `interval` seconds
    (and the engine's new connections checkpointing rarely); `close()` stops it after one last
    checkpoint."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = DEFAULT_INTERVAL,
        logger: logging.Logger | None = None,
    ) -> None:
        if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
            raise ValueError("checkpoints are for a SQLite database file")
        self.interval = interval
        self.logger = logger or logging.getLogger("stocksync.db")
        self.rounds = 0  # checkpoints run, for tests and diagnostics
        self._engine, self._path = engine, engine.url.database
        self._stop = threading.Event()
        if not event.contains(engine, "connect", _rare_autocheckpoint):
            event.listen(engine, "connect", _rare_autocheckpoint)
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (it checkpoints once more on its way out); connections opened
        afterwards checkpoint at SQLite's default again."""
        if event.contains(self._engine, "connect", _rare_autocheckpoint):
            event.remove(self._engine, "connect", _rare_autocheckpoint)
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        conn = None
        while True:
            stopping = self._stop.wait(self.interval)
            try:
                conn = conn or sqlite3.connect(self._path, timeout=0, isolation_level=None)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.rounds += 1
            except sqlite3.Error:
                # Logged and retried on the next round; a commit never depends on it.
                self.logger.exception("WAL checkpoint of %s failed", self._path)
                if conn is not None:
                    conn.close()
                conn = None
            if stopping:
                break
        if conn is not None:
            conn.close()
