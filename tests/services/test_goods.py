"""push_goods / upload_suite: upserts by merchant code, re-matching and re-resolving, bumps."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Connection, Engine, select

from builders import (
    add_brand,
    add_listing,
    add_rule,
    add_shop,
    add_spec,
    add_suite,
    add_warehouse,
    listing_state,
    settle,
)
from stocksync.db import schema
from stocksync.db.engine import write_tx
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.errors import BusinessError
from stocksync.services.goods import (
    GoodsInfo,
    SpecInfo,
    SuiteInfo,
    SuiteItem,
    push_goods,
    upload_suite,
)
from stocksync.services.tracking import refresh_matches, refresh_rules

NOW = 1_700_000_000.0


@pytest.fixture
def conn(engine: Engine, sid: str) -> Iterator[Connection]:
    """A transaction on a tenant with shop 1, warehouse 1, brands 5 "B" and 6 "B" (same name),
    rule 1 (every listing) and rule 2 (brand 5, priority 9); rolled back afterwards."""
    with write_tx(engine) as c:
        tid = ensure_tenant(c, sid)
    connection = engine.connect()
    transaction = connection.begin()
    connection.info["tid"] = tid
    add_shop(connection, tid, 1)
    add_warehouse(connection, tid, 1)
    add_brand(connection, tid, 5, "B")
    add_brand(connection, tid, 6, "B")
    add_rule(connection, tid, 1, warehouse_list="1")
    add_rule(connection, tid, 2, warehouse_list="1", brand_id=5, priority=9)
    yield connection
    transaction.rollback()
    connection.close()


def _tid(conn: Connection) -> int:
    return int(conn.info["tid"])


def _push(conn: Connection, *codes: str, **goods: object) -> frozenset[int]:
    info = GoodsInfo(**({"goods_no": "G", "goods_name": "Tea"} | goods))  # type: ignore[arg-type]
    return push_goods(conn, _tid(conn), info, [SpecInfo(code) for code in codes], NOW).bumped


def test_a_new_spec_takes_the_listings_of_a_suite_with_the_same_code(conn: Connection) -> None:
    tid = _tid(conn)
    add_spec(conn, tid, 10, "P")
    add_suite(conn, tid, 20, "K", {10: 1})
    add_listing(conn, tid, 100, 1, "K")
    settle(conn, tid)
    assert _push(conn, "K") == {100}
    assert listing_state(conn, tid)[100] == (1, True, 1, 1, 11)


def test_a_manual_match_is_neither_rematched_nor_bumped(conn: Connection) -> None:
    tid = _tid(conn)
    add_spec(conn, tid, 10, "P")
    add_listing(conn, tid, 100, 1, "N", is_manual_match=True, match_target_type=1,
                match_target_id=10)  # fmt: skip
    settle(conn, tid)
    assert _push(conn, "N") == frozenset()
    assert listing_state(conn, tid)[100][3:] == (1, 10)


def test_goods_fields_reach_specs_the_push_does_not_list(conn: Connection) -> None:
    tid = _tid(conn)
    _push(conn, "P1", "P2")
    add_listing(conn, tid, 100, 1, "P2")
    settle(conn, tid)
    assert _push(conn, "P1", goods_name="Green tea", brand_name="B") == {100}
    spec = schema.spec.c
    rows = conn.execute(select(spec.spec_no, spec.goods_name, spec.brand_id)
                        .where(spec.tenant_id == tid).order_by(spec.spec_no)).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("P1", "Green tea", 5), ("P2", "Green tea", 5)]
    assert listing_state(conn, tid)[100][2] == 2  # the smallest brand id named "B" is 5


def test_a_spec_without_goods_is_adopted_and_one_of_another_goods_is_refused(
    conn: Connection,
) -> None:
    tid = _tid(conn)
    add_spec(conn, tid, 10, "LOOSE")
    add_spec(conn, tid, 11, "TAKEN", goods_no="H")
    _push(conn, "LOOSE")
    spec = schema.spec.c
    goods_of = select(spec.goods_no).where(spec.tenant_id == tid, spec.spec_id == 10)
    assert conn.execute(goods_of).scalar_one() == "G"
    with pytest.raises(BusinessError, match=r"specInfoList\[1\].spec_no: 商家编码已存在"):
        _push(conn, "NEW", "TAKEN")


def test_the_vendors_none_name_means_no_brand_unless_one_is_called_so(conn: Connection) -> None:
    _push(conn, "P", brand_name="无")
    spec = schema.spec.c
    brand_of = select(spec.brand_id).where(spec.tenant_id == _tid(conn), spec.spec_no == "P")
    assert conn.execute(brand_of).scalar_one() == 0
    add_brand(conn, _tid(conn), 8, "无")
    _push(conn, "P", brand_name="无")
    assert conn.execute(brand_of).scalar_one() == 8


def test_push_results_agree_with_a_full_rematch_and_reresolve(conn: Connection) -> None:
    tid = _tid(conn)
    for rec_id, code in enumerate(("P1", "P2", "P3", "X"), start=100):
        add_listing(conn, tid, rec_id, 1, code)
    settle(conn, tid)
    assert _push(conn, "P1", "P3", brand_name="B") == {100, 102}
    assert refresh_matches(conn, tid) == set() and refresh_rules(conn, tid) == set()


# -- suites ---------------------------------------------------------------------------------


def _upload(conn: Connection, *parts: tuple[str, str], **suite: object) -> frozenset[int]:
    info = SuiteInfo(**({"suite_no": "K", "suite_name": "Pack"} | suite))  # type: ignore[arg-type]
    items = [SuiteItem(code, Decimal(num)) for code, num in parts]
    return upload_suite(conn, _tid(conn), info, items, NOW).bumped


def test_a_new_suite_matches_waiting_listings_but_not_those_of_a_spec(conn: Connection) -> None:
    tid = _tid(conn)
    _push(conn, "P", "K")  # a spec already has the code K: it keeps winning
    add_listing(conn, tid, 100, 1, "K")
    add_listing(conn, tid, 101, 1, "K2")
    settle(conn, tid)
    assert _upload(conn, ("P", "1")) == frozenset()
    assert _upload(conn, ("P", "2"), suite_no="K2") == {101}
    state = listing_state(conn, tid)
    assert state[100][3] == 1 and state[101][3:] == (2, 2)


def test_a_suites_brand_change_re_resolves_its_listings_only(conn: Connection) -> None:
    tid = _tid(conn)
    _push(conn, "P")
    _upload(conn, ("P", "1"))
    add_listing(conn, tid, 100, 1, "K")
    add_listing(conn, tid, 101, 1, "P")
    settle(conn, tid)
    assert _upload(conn, ("P", "1"), brand_name="B") == {100}
    assert listing_state(conn, tid)[100][:3] == (1, True, 2)
    assert _upload(conn, ("P", "1"), brand_name="B", remark="x") == frozenset()


def test_a_changed_quantity_is_a_new_composition(conn: Connection) -> None:
    tid = _tid(conn)
    _push(conn, "P", "Q")
    _upload(conn, ("P", "1"), ("Q", "1"))
    add_listing(conn, tid, 100, 1, "K")
    settle(conn, tid)
    assert _upload(conn, ("Q", "1"), ("P", "1.0000")) == frozenset()
    assert _upload(conn, ("P", "1.5"), ("Q", "1")) == {100}
    detail = schema.suite_detail.c
    nums = conn.execute(select(detail.num).where(detail.tenant_id == tid).order_by(detail.spec_id))
    assert list(nums.scalars()) == [Decimal("1.5"), Decimal(1)]
