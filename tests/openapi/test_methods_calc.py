"""calcStock, calcStockWithAuth, system.Core.now and the rate limit, over the wire against the
real app and a real database (every backend)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, update
from test_methods_support import (
    CALC,
    CALC_AUTH,
    DISABLED_JITX002,
    NOT_FOUND,
    NOW_METHOD,
    VENDOR_ANSWER,
    app_key,
    client_for,
    demo_tenant,
    loads,
    raw_payload,
    server_app,
)

from stocksync.bootstrap import ServerApp
from stocksync.client import ApiError, Client
from stocksync.db import schema
from stocksync.db.engine import write_tx
from stocksync.openapi.signature import to_wdt
from stocksync.services.demo import VENDOR_SPEC, VENDOR_WAREHOUSE
from stocksync.services.records import RECORD_FIELDS
from stocksync.services.stock import StockChange, set_stock

RATE_LIMITED = "超过每分钟最大调用频率限制，请稍后重试"


@pytest.fixture
def app(engine: Engine) -> Iterator[ServerApp]:
    with server_app(engine) as app:
        yield app


@pytest.fixture
def client(engine: Engine, sid: str, app: ServerApp) -> Client:
    demo_tenant(engine, sid)
    return client_for(app, sid)


@pytest.mark.parametrize("method", [CALC, CALC_AUTH])
def test_calc_stock_of_2447_answers_the_vendor_example_field_by_field(
    client: Client, method: str
) -> None:
    expected = loads(VENDOR_ANSWER.encode())["data"]
    record = client.call(method, 2447, False)
    assert list(record) == list(RECORD_FIELDS)
    assert sorted(record) == sorted(expected)
    for name, value in expected.items():
        assert record[name] == value, name


def test_calc_stock_answer_has_the_documented_json_types(client: Client) -> None:
    client.call(CALC, 2447, False)
    payload = raw_payload(client)
    data = loads(payload)["data"]
    assert type(data["syn_stock"]) is int and data["syn_stock"] == 1
    assert b'"stock_syn_min":1.0000' in payload and b'"stock_syn_max":550.0000' in payload
    assert b'"stock_syn_plus":1.0000' in payload and b'"stock_num":0.0000' in payload
    assert b"null" not in payload
    assert all(data[name] == "" for name in ("list_time", "delist_time", "reserve_s"))
    assert data["is_auto_listing"] is True and data["is_auto_delisting"] is True


def test_liberal_arguments_give_the_same_record(client: Client) -> None:
    assert client.call(CALC, "2447", "false") == client.call(CALC, 2447)


def test_a_disabled_listing_answers_the_documented_error(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.call(CALC, 1007, False)
    assert (refused.value.status, refused.value.message) == (100, DISABLED_JITX002)
    assert loads(raw_payload(client)) == {"status": 100, "message": DISABLED_JITX002}


def test_force_sync_computes_the_disabled_listing_anyway(client: Client) -> None:
    record = client.call(CALC, 1007, True)
    assert (record["rec_id"], record["goods_id"], record["spec_id"]) == (1007, "jitx002", "jitx002")
    assert type(record["syn_stock"]) is int


def test_calc_stock_refusals_answer_status_100_with_the_business_message(
    client: Client,
) -> None:
    answers = {}
    for rec_id in (999_999, -5, 1006):
        with pytest.raises(ApiError) as refused:
            client.call(CALC, rec_id, False)
        answers[rec_id] = (refused.value.status, refused.value.message)
    assert answers == {999_999: (100, NOT_FOUND), -5: (100, NOT_FOUND), 1006: (100, "未匹配货品")}


def test_an_empty_suite_computes_to_zero(client: Client) -> None:
    assert client.call(CALC, 1017, False)["syn_stock"] == 0


def test_an_id_outside_32_bits_is_an_argument_type_mismatch(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.call(CALC, 2**31, False)
    assert (refused.value.status, refused.value.message) == (1, "argument type mismatch")


def test_system_core_now_answers_the_protocol_seconds(client: Client) -> None:
    before = to_wdt(time.time())
    answer = client.call(NOW_METHOD)
    assert before <= answer <= to_wdt(time.time())


def test_the_rate_limit_of_a_key_comes_from_its_rate_limit_column(
    engine: Engine, sid: str, app: ServerApp
) -> None:
    tid = demo_tenant(engine, sid, apps=[app_key(), app_key("free-key")])
    with write_tx(engine) as conn:
        conn.execute(
            update(schema.app)
            .where(schema.app.c.tenant_id == tid, schema.app.c.app_key == "demo-key")
            .values(rate_limit=2)
        )
    limited, free = client_for(app, sid), client_for(app, sid, "free-key")
    assert [limited.call(CALC, 2447)["syn_stock"] for _ in range(2)] == [1, 1]
    with pytest.raises(ApiError) as refused:
        limited.call(CALC, 2447)
    assert (refused.value.status, refused.value.message) == (100, RATE_LIMITED)
    assert [free.call(CALC, 2447)["syn_stock"] for _ in range(5)] == [1] * 5


def test_the_settings_rate_limit_applies_to_keys_without_their_own(
    engine: Engine, sid: str
) -> None:
    demo_tenant(engine, sid)
    with server_app(engine, rate_limit=1) as app:
        client = client_for(app, sid)
        assert client.call(CALC, 2447)["stock_syn_max"] == Decimal("550")
        with pytest.raises(ApiError) as refused:
            client.call(CALC, 2447)
    assert (refused.value.status, refused.value.message) == (100, RATE_LIMITED)


def test_every_call_reads_in_a_transaction_of_its_own(
    engine: Engine, sid: str, app: ServerApp
) -> None:
    tid = demo_tenant(engine, sid)
    client = client_for(app, sid)
    for stock_num in ("7", "2.5", "40"):
        assert client.call(CALC, 2447, False)["stock_syn_rule_id"] == -10000
        with pytest.raises(ApiError):  # a refusal ends its transaction as well
            client.call(CALC, 1007, False)
        change = StockChange(VENDOR_SPEC, VENDOR_WAREHOUSE, {"stock_num": Decimal(stock_num)})
        with write_tx(engine) as conn:  # a writer is not held back by a read left open
            set_stock(conn, tid, [change], time.time())
        # custom rule: warehouse 6, percent 100, plus 1, min 1, max 550
        assert client.call(CALC, 2447, False)["syn_stock"] == int(Decimal(stock_num)) + 1
    with app.database.read() as conn:  # the kept connection is free for the next use
        assert conn.execute(select(1)).scalar_one() == 1
