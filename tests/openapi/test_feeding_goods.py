"""goods.Goods.push and goods.Suite.upload2 over the app: answers, matching, bumps, refusals."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from feeding_harness import Feed
from sqlalchemy import Engine, select

from builders import add_listing, add_rule, add_shop, add_spec, add_warehouse, listing_state, settle
from stocksync.db import schema
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.openapi.ports import CallContext

PUSH, SUITE = "goods.Goods.push", "goods.Suite.upload2"


@pytest.fixture
def feed(engine: Engine, sid: str) -> Iterator[Feed]:
    """Shop 1, warehouse 1, rule 1 (every listing); listings 100 "P1", 101 "P2", 102 "K1"
    (all unbound: no goods yet) and spec 9 "X9" of another goods "OTHER"."""
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_shop(conn, tid, 1)
        add_warehouse(conn, tid, 1)
        add_rule(conn, tid, 1, warehouse_list="1")
        add_spec(conn, tid, 9, "X9", goods_no="OTHER")
        for rec_id, code in ((100, "P1"), (101, "P2"), (102, "K1")):
            add_listing(conn, tid, rec_id, 1, code)
        settle(conn, tid)
    feed = Feed(engine, sid, tid)
    yield feed
    feed.close()


def _goods(**fields: Any) -> dict[str, Any]:
    return {"goods_no": "G1", "goods_name": "Tea", **fields}


SPECS = [{"spec_no": "P1", "spec_name": "small", "retail_price": "9.5"}, {"spec_no": "P2"}]


def _specs(feed: Feed) -> list[tuple[Any, ...]]:
    s = schema.spec.c
    columns = (s.spec_id, s.spec_no, s.goods_no, s.goods_name, s.spec_name, s.brand_id,
               s.class_id, s.retail_price)  # fmt: skip
    query = select(*columns).where(s.tenant_id == feed.tid).order_by(s.spec_id)
    with read_tx(feed.engine) as conn:
        return [tuple(row) for row in conn.execute(query)]


def _state(feed: Feed) -> dict[int, tuple[int, bool, int, int, int]]:
    with read_tx(feed.engine) as conn:
        return listing_state(conn, feed.tid)


def test_push_creates_goods_specs_brand_and_class_and_answers_the_goods_id(feed: Feed) -> None:
    goods_id = feed.call(PUSH, _goods(brand_name="B", class_name="C", auto_create_bc=1), SPECS)
    assert goods_id == 1
    assert _specs(feed) == [
        (9, "X9", "OTHER", "", "", 0, 0, Decimal("0.0000")),
        (10, "P1", "G1", "Tea", "small", 1, 1, Decimal("9.5000")),
        (11, "P2", "G1", "Tea", "", 1, 1, Decimal("0.0000")),
    ]
    with read_tx(feed.engine) as conn:
        brands = conn.execute(select(schema.brand.c.brand_id, schema.brand.c.brand_name)).all()
        assert [tuple(b) for b in brands if b[1] == "B"] == [(1, "B")]


def test_push_matches_waiting_listings_and_bumps_exactly_them_once(feed: Feed) -> None:
    feed.call(PUSH, _goods(), SPECS)
    state = _state(feed)
    assert state[100] == (1, True, 1, 1, 10)
    assert state[101] == (1, True, 1, 1, 11)
    assert state[102] == (0, False, 1, 0, 0)  # unbound, untouched


def test_pushing_the_same_goods_again_writes_and_bumps_nothing(feed: Feed) -> None:
    feed.call(PUSH, _goods(short_name="t"), SPECS)
    before = feed.everything()
    assert feed.call(PUSH, _goods(short_name="t"), SPECS) == 1
    assert feed.everything() == before


def test_a_changed_brand_re_resolves_the_rules_of_the_specs_listings(feed: Feed) -> None:
    feed.call(PUSH, _goods(brand_name="B", auto_create_bc=True), SPECS)
    with write_tx(feed.engine) as conn:  # a rule for another brand, stronger than rule 1
        conn.execute(schema.brand.insert().values(tenant_id=feed.tid, brand_id=7, brand_name="Z"))
        add_rule(conn, feed.tid, 2, brand_id=7, priority=5, warehouse_list="1")
    feed.call(PUSH, _goods(brand_name="Z"), SPECS[:1])
    state = _state(feed)
    assert state[100][:3] == (2, True, 2) and state[101][:3] == (2, True, 2)
    assert state[102][0] == 0


REFUSED_PUSHES: list[tuple[Any, Any, int, str]] = [
    ({"goods_name": "Tea"}, SPECS, 1, "goodsInfo.goods_no: required"),
    ({"goods_no": "G1", "goods_name": " "}, SPECS, 1, "goodsInfo.goods_name: required"),
    (_goods(goods_no="G" * 65), SPECS, 1, "goodsInfo.goods_no: longer than 64 characters"),
    (_goods(auto_create_bc="maybe"), SPECS, 1, "goodsInfo.auto_create_bc: not a boolean"),
    (_goods(), [], 1, "specInfoList: at least one spec is required"),
    (_goods(), [*SPECS, {"spec_name": "x"}], 1, "specInfoList[2].spec_no: required"),
    (_goods(), [SPECS[0], {"spec_no": "P1"}], 1,
     "specInfoList[1].spec_no: duplicate spec_no 'P1' (also specInfoList[0].spec_no)"),
    (_goods(), [{"spec_no": "P1", "retail_price": "abc"}], 1,
     "specInfoList[0].retail_price: not a decimal"),
    (_goods(), [{"spec_no": "P1", "weight": -1}], 1, "specInfoList[0].weight: must be ≥ 0"),
    (_goods(), ["P1"], 1, "specInfoList[0]: not an object"),
    (_goods(brand_name="Nope"), SPECS, 100, "goodsInfo.brand_name: unknown brand 'Nope'"),
    (_goods(class_name="Nope"), SPECS, 100, "goodsInfo.class_name: unknown class 'Nope'"),
    (_goods(), [{"spec_no": "X9"}], 100, "specInfoList[0].spec_no: 商家编码已存在"),
]  # fmt: skip


def test_refused_pushes_name_the_field_and_write_nothing(feed: Feed) -> None:
    for goods, specs, status, message in REFUSED_PUSHES:
        got_status, got_message = feed.refused(PUSH, goods, specs)
        assert (got_status, got_message[: len(message)]) == (status, message), got_message


# -- suites ---------------------------------------------------------------------------------


def _suite(**fields: Any) -> dict[str, Any]:
    return {"suite_no": "K1", "suite_name": "Pack", **fields}


DETAILS = [{"spec_no": "P1", "num": 2}, {"spec_no": "P2", "num": "0.5"}]


def _components(feed: Feed) -> list[tuple[Any, ...]]:
    d = schema.suite_detail.c
    query = select(d.suite_id, d.spec_id, d.num).where(d.tenant_id == feed.tid)
    with read_tx(feed.engine) as conn:
        return sorted(tuple(row) for row in conn.execute(query))


def test_suite_upload_answers_the_suite_id_and_matches_its_listings(feed: Feed) -> None:
    feed.call(PUSH, _goods(), SPECS)
    assert feed.call(SUITE, _suite(), DETAILS) == 1
    assert _components(feed) == [(1, 10, Decimal("2.0000")), (1, 11, Decimal("0.5000"))]
    state = _state(feed)
    assert state[102] == (1, True, 1, 2, 1)
    assert state[100][0] == state[101][0] == 1  # only the goods push bumped these


def test_uploading_the_same_suite_again_writes_nothing(feed: Feed) -> None:
    feed.call(PUSH, _goods(), SPECS)
    feed.call(SUITE, _suite(), DETAILS)
    before = feed.everything()
    assert feed.call(SUITE, _suite(), list(reversed(DETAILS))) == 1
    assert feed.everything() == before


def test_a_new_composition_replaces_the_old_and_bumps_the_suites_listings(feed: Feed) -> None:
    feed.call(PUSH, _goods(), SPECS)
    feed.call(SUITE, _suite(), DETAILS)
    feed.call(SUITE, _suite(), [{"spec_no": "P2", "num": 3}])
    assert _components(feed) == [(1, 11, Decimal("3.0000"))]
    state = _state(feed)
    assert state[102][0] == 2 and state[100][0] == 1 and state[101][0] == 1


REFUSED_SUITES: list[tuple[Any, Any, int, str]] = [
    ({"suite_name": "Pack"}, DETAILS, 1, "suite.suite_no: required"),
    (_suite(suite_name=""), DETAILS, 1, "suite.suite_name: required"),
    (_suite(), [], 1, "suite_detail_list: at least one component is required"),
    (_suite(), [{"num": 1}], 1, "suite_detail_list[0].spec_no: required"),
    (_suite(), [{"spec_no": "P1"}], 1, "suite_detail_list[0].num: required"),
    (_suite(), [{"spec_no": "P1", "num": 0}], 1, "suite_detail_list[0].num: must be > 0"),
    (_suite(), [{"spec_no": "P1", "num": "0.00001"}], 1,
     "suite_detail_list[0].num: not a decimal with at most 4 places"),
    (_suite(), [*DETAILS, {"spec_no": "P1", "num": 1}], 1,
     "suite_detail_list[2].spec_no: duplicate spec_no 'P1'"),
    (_suite(), [{"spec_no": "NOPE", "num": 1}], 100,
     "suite_detail_list[0].spec_no: 商家编码:NOPE 单品不存在"),
    (_suite(brand_name="Nope"), DETAILS, 100, "suite.brand_name: unknown brand 'Nope'"),
]  # fmt: skip


def test_refused_suite_uploads_name_the_field_and_write_nothing(feed: Feed) -> None:
    feed.call(PUSH, _goods(), SPECS)
    for suite, details, status, message in REFUSED_SUITES:
        got_status, got_message = feed.refused(SUITE, suite, details)
        assert (got_status, got_message[: len(message)]) == (status, message), got_message


def test_concurrent_pushes_that_race_for_new_ids_all_succeed(feed: Feed) -> None:
    method = feed.registry.get(PUSH)
    assert method is not None
    credential = feed.client_credential()
    results: list[Any] = []

    def push(worker: int) -> None:
        for n in range(4):
            context = CallContext(credential, PUSH, None, None, False, time.time(), f"{worker}")
            goods = _goods(goods_no=f"G{worker}-{n}", brand_name=f"B{n}", auto_create_bc=True)
            specs = [{"spec_no": f"S{worker}-{n}-{k}"} for k in range(3)]
            results.append(method.handler(context, method.decode([goods, specs])))

    threads = [threading.Thread(target=push, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(1, 17))
    assert len(_specs(feed)) == 1 + 16 * 3
