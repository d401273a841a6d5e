"""batchCalcStock over the wire against the real app and database (every backend): order,
per-item errors, limits, and agreement with calcStock item by item."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_methods_support import (
    BATCH,
    CALC,
    DEMO_SHOPS,
    DISABLED_JITX002,
    NOT_FOUND,
    client_for,
    demo_tenant,
    loads,
    raw_payload,
    server_app,
)

from stocksync.bootstrap import ServerApp
from stocksync.client import ApiError, Client
from stocksync.openapi.methods import MAX_BATCH


@pytest.fixture
def app(engine: Engine) -> Iterator[ServerApp]:
    with server_app(engine) as app:
        yield app


@pytest.fixture
def client(engine: Engine, sid: str, app: ServerApp) -> Client:
    demo_tenant(engine, sid)
    return client_for(app, sid)


def _items(*pairs: tuple[Any, Any]) -> list[dict[str, Any]]:
    return [{"api_goods_id": rec_id, "force_sync": force} for rec_id, force in pairs]


def _single(client: Client, rec_id: int, force: bool) -> tuple[str, Any]:
    """What calcStock answers for one listing: ("ok", record) or ("error", message)."""
    try:
        return "ok", client.call(CALC, rec_id, force)
    except ApiError as exc:
        assert exc.status == 100
        return "error", exc.message


def test_batch_keeps_request_order_and_splits_records_from_errors(client: Client) -> None:
    items = _items((1002, False), (1007, False), (2447, False), (999, False), (1007, True))
    answer = client.call(BATCH, items)
    assert [r["rec_id"] for r in answer["success_date"]] == [1002, 2447, 1007]
    assert answer["error_date"] == [
        {"rec_id": 1007, "err_msg": DISABLED_JITX002},
        {"rec_id": 999, "err_msg": NOT_FOUND},
    ]


def test_batch_records_equal_the_calc_stock_records(client: Client) -> None:
    answer = client.call(BATCH, _items((2447, False), (1005, False), (1014, False)))
    assert answer["success_date"] == [client.call(CALC, rec, False) for rec in (2447, 1005, 1014)]
    assert answer["error_date"] == []


def test_batch_answer_uses_the_documented_json_types(client: Client) -> None:
    client.call(BATCH, _items((2447, False)))
    payload = raw_payload(client)
    [record] = loads(payload)["data"]["success_date"]
    assert type(record["syn_stock"]) is int
    assert b'"stock_syn_max":550.0000' in payload and b"null" not in payload


def test_duplicates_are_answered_each_time(client: Client) -> None:
    answer = client.call(BATCH, _items((2447, False), (2447, False), (999, True), (999, False)))
    assert [r["rec_id"] for r in answer["success_date"]] == [2447, 2447]
    assert [e["rec_id"] for e in answer["error_date"]] == [999, 999]


def test_items_are_decoded_liberally(client: Client) -> None:
    items = [{"api_goods_id": "2447", "force_sync": "true"}, {"api_goods_id": 1007}]
    items.append({"api_goods_id": 1007, "force_sync": None, "ignored": "x"})
    answer = client.call(BATCH, items)
    assert [r["rec_id"] for r in answer["success_date"]] == [2447]
    assert [e["err_msg"] for e in answer["error_date"]] == [DISABLED_JITX002] * 2


def test_an_empty_batch_answers_two_empty_lists(client: Client) -> None:
    assert client.call(BATCH, []) == {"success_date": [], "error_date": []}


def test_a_full_batch_of_5000_is_answered(client: Client) -> None:
    items = _items(*[(2447 if i % 2 else 10_000 + i, False) for i in range(MAX_BATCH)])
    answer = client.call(BATCH, items)
    assert len(answer["success_date"]) == len(answer["error_date"]) == MAX_BATCH // 2


MALFORMED = {
    "5001 items": _items(*[(2447, False)] * (MAX_BATCH + 1)),
    "no id": [{"api_goods_id": 2447}, {"force_sync": True}],
    "not an object": [{"api_goods_id": 2447}, 2447],
    "text id": [{"api_goods_id": "x"}],
    "id too big": [{"api_goods_id": 2**31}],
    "fraction": [{"api_goods_id": 1.5}],
    "bad flag": [{"api_goods_id": 2447, "force_sync": 2}],
}


def test_a_malformed_batch_is_refused_whole_with_status_1(client: Client) -> None:
    statuses = {}
    for name, items in MALFORMED.items():
        with pytest.raises(ApiError) as refused:
            client.call(BATCH, items)
        statuses[name] = refused.value.status
    assert statuses == dict.fromkeys(MALFORMED, 1)


def test_a_batch_that_is_not_a_list_is_an_argument_type_mismatch(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.call(BATCH, {"api_goods_id": 2447})
    assert (refused.value.status, refused.value.message) == (1, "argument type mismatch")


ids = st.sampled_from([*DEMO_SHOPS, 7, 99_999])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(ids, st.booleans()), max_size=12))
def test_each_batch_item_answers_what_calc_stock_answers(
    client: Client, pairs: list[tuple[int, bool]]
) -> None:
    answer = client.call(BATCH, _items(*pairs))
    singles = [_single(client, rec_id, force) for rec_id, force in pairs]
    records = [value for kind, value in singles if kind == "ok"]
    errors = [
        {"rec_id": rec_id, "err_msg": value}
        for (rec_id, _), (kind, value) in zip(pairs, singles, strict=True)
        if kind == "error"
    ]
    assert answer == {"success_date": records, "error_date": errors}
