"""Shared fixtures: the three database backends and unique tenants.

`engine` is parametrised over SQLite, PostgreSQL and MariaDB. SQLite gets a new file per test in
`tmp_path`; PostgreSQL and MariaDB get one database per pytest-xdist worker
(`stocksync_test_<worker>`), migrated once per session; tests stay apart by using their own
tenant (`sid`). A server that cannot be reached skips its tests with the reason, except with
`CI=true`, where it fails them.

Environment: `STOCKSYNC_TEST_DBS` (default `sqlite,postgresql,mariadb`),
`STOCKSYNC_TEST_PG_URL` (default `postgresql://root@127.0.0.1:5432/test`),
`STOCKSYNC_TEST_MARIADB_URL` (default `mysql://root@127.0.0.1:3306/test`).
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from stocksync.db import migrate
from stocksync.db.engine import make_engine, resolve_url

BACKENDS = [
    name.strip()
    for name in os.environ.get("STOCKSYNC_TEST_DBS", "sqlite,postgresql,mariadb").split(",")
    if name.strip()
]
SERVER_URLS = {
    "postgresql": os.environ.get("STOCKSYNC_TEST_PG_URL", "postgresql://root@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("STOCKSYNC_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test"),
}
IN_CI = os.environ.get("CI", "").lower() == "true"

_server_engines: dict[str, Engine] = {}
_server_errors: dict[str, str] = {}
_counter = itertools.count()
_created: list[tuple[str, str]] = []


def _worker_id(config: pytest.Config) -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _create_worker_database(backend: str, worker: str) -> str:
    """Create this worker's database on a server and return its URL."""
    admin_url = make_url(resolve_url(SERVER_URLS[backend]))
    # One database per worker process, so concurrent test runs never share one.
    name = f"stocksync_test_{worker}_{os.getpid()}"
    _created.append((backend, name))
    admin = make_engine(admin_url.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if backend == "postgresql":
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def server_engine(backend: str, worker: str) -> Engine:
    """The migrated engine of this worker's database on `backend`, or skip/fail if unreachable."""
    if backend in _server_errors:
        _unreachable(backend, _server_errors[backend])
    if backend not in _server_engines:
        try:
            url = _create_worker_database(backend, worker)
            engine = make_engine(url)
            migrate.upgrade(engine)
        except Exception as exc:  # the server is down or refuses us
            _server_errors[backend] = f"{type(exc).__name__}: {exc}".splitlines()[0]
            _unreachable(backend, _server_errors[backend])
        _server_engines[backend] = engine
    return _server_engines[backend]


def _unreachable(backend: str, reason: str) -> None:
    message = f"{backend} unreachable at {SERVER_URLS[backend]}: {reason}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires every backend)")
    pytest.skip(message)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the database backend under test."""
    return str(request.param)


@pytest.fixture
def engine(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated engine on `backend` (fresh SQLite file, or this worker's server database)."""
    if backend == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'stocksync.db'}")
        migrate.upgrade(eng)
        yield eng
        eng.dispose()
    else:
        yield server_engine(backend, _worker_id(request.config))


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite engine for tests that need one database only."""
    eng = make_engine(f"sqlite:///{tmp_path / 'stocksync.db'}")
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sid() -> str:
    """A seller id no other test uses."""
    return f"t{next(_counter)}-{uuid.uuid4().hex[:10]}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for eng in _server_engines.values():
        eng.dispose()
    for backend, name in _created:
        _drop_database(backend, name)


def _drop_database(backend: str, name: str) -> None:
    admin = make_engine(SERVER_URLS[backend])
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if backend == "postgresql":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    except Exception:  # the run is over; a leftover database is harmless
        pass
    finally:
        admin.dispose()
