"""A failing database answers status 5 `数据库错误` (logged with the request id), never 99 or a
500, and the app recovers once the database is back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from test_methods_support import (
    BATCH,
    CALC,
    CANCEL,
    NOW_METHOD,
    SUCCESS,
    WAIT,
    client_for,
    demo_tenant,
    recording,
    server_app,
)

from stocksync.bootstrap import ServerApp, Settings, create_app
from stocksync.client import ApiError, Client
from stocksync.db.engine import write_tx

DATABASE_ERROR = (5, "数据库错误")
CALLS = [
    (CALC, (2447, False)),
    (BATCH, ([{"api_goods_id": 2447}],)),
    (WAIT, (100, 0)),
    (SUCCESS, (2447, {"syn_stock": 1, "stock_change_count": 2})),
    (CANCEL, (2447, -1)),
]


def _status(client: Client, method: str, *args: object) -> tuple[int, str]:
    try:
        client.call(method, *args)
    except ApiError as exc:
        return exc.status, exc.message
    return 0, ""


@pytest.fixture
def app(sqlite_engine: Engine) -> Iterator[ServerApp]:
    with server_app(sqlite_engine) as app:
        yield app


def test_a_missing_table_answers_a_database_error_in_every_method_that_reads_it(
    sqlite_engine: Engine, sid: str, app: ServerApp
) -> None:
    demo_tenant(sqlite_engine, sid)
    client = client_for(app, sid)
    client.call(CALC, 2447, False)  # the kept read connection exists before the drop
    with write_tx(sqlite_engine) as conn:
        conn.execute(text("DROP TABLE api_goods_spec"))
    answers = {method: _status(client, method, *args) for method, args in CALLS}
    assert answers == dict.fromkeys(answers, DATABASE_ERROR)
    assert client.call(NOW_METHOD) > 0  # the app keeps serving what still works


def test_a_database_error_is_logged_with_the_request_id(
    sqlite_engine: Engine, sid: str, app: ServerApp, caplog: pytest.LogCaptureFixture
) -> None:
    demo_tenant(sqlite_engine, sid)
    client = client_for(app, sid)
    with write_tx(sqlite_engine) as conn:
        conn.execute(text("DROP TABLE api_goods_spec_custom_rule"))
    with caplog.at_level(logging.ERROR, logger="stocksync.openapi"):
        assert _status(client, CALC, 2447, False) == DATABASE_ERROR
    request_id = recording(client).last_headers["x-request-id"]
    [logged] = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged.exc_info is not None
    assert "api_goods_spec_custom_rule" in logging.Formatter().formatException(logged.exc_info)


def test_a_missing_credential_table_answers_a_database_error(
    sqlite_engine: Engine, sid: str, app: ServerApp
) -> None:
    demo_tenant(sqlite_engine, sid)
    with write_tx(sqlite_engine) as conn:
        conn.execute(text("DROP TABLE app"))
    assert _status(client_for(app, sid), NOW_METHOD) == DATABASE_ERROR


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://root@127.0.0.1:1/none",
        "mysql://root@127.0.0.1:1/none",
        "sqlite:///{tmp}/x/y.db",
    ],
    ids=["postgresql", "mariadb", "sqlite"],
)
def test_an_unreachable_database_answers_a_database_error(
    url: str, tmp_path: Path, sid: str
) -> None:
    with create_app(Settings(db_url=url.format(tmp=tmp_path))) as app:
        assert _status(client_for(app, sid), CALC, 2447, False) == DATABASE_ERROR


_KILLERS = {
    "postgresql": ("SELECT pg_backend_pid()", "SELECT pg_terminate_backend({})"),
    "mysql": ("SELECT CONNECTION_ID()", "KILL {}"),
}


def test_a_killed_server_connection_fails_one_call_then_the_app_reconnects(
    engine: Engine, sid: str
) -> None:
    if engine.dialect.name not in _KILLERS:
        pytest.skip("SQLite has no server connection to kill")
    who, kill = _KILLERS[engine.dialect.name]
    demo_tenant(engine, sid)
    with server_app(engine) as app:
        client = client_for(app, sid)
        assert client.call(CALC, 2447, False)["syn_stock"] == 1
        with app.database.read() as kept:  # the connection calcStock keeps
            backend = kept.execute(text(who)).scalar_one()
        with engine.connect() as conn:
            conn.execute(text(kill.format(int(backend))))
            conn.commit()
        assert _status(client, CALC, 2447, False) == DATABASE_ERROR
        assert client.call(CALC, 2447, False)["syn_stock"] == 1
