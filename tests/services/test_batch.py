"""The batch path (`services.batch.batch_syn_stock`) on worked examples and edge cases.

Tenants are imported as snapshot documents; each test uses its own seller.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, update

from builders import add_listing
from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing
from stocksync.db.tenants import ensure_tenant
from stocksync.domain.checks import ListingGate
from stocksync.domain.errors import BusinessError
from stocksync.services import batch_checks
from stocksync.services.batch import BatchItem, batch_syn_stock
from stocksync.services.batch_fetch import fetch_ints
from stocksync.services.calc import calc_listing
from stocksync.services.clock import WDT_EPOCH
from stocksync.services.snapshot import import_snapshot

NOW = float(WDT_EPOCH + 5_000_000)
NOT_FOUND = "平台货品不存在"
EMPTY = "仓库列表为空"
WAREHOUSES = [
    {"warehouse_id": 1, "warehouse_no": "A"},
    {"warehouse_id": 2, "warehouse_no": "B"},
    {"warehouse_id": 3, "warehouse_no": "D", "is_defect": True},
    {"warehouse_id": 4, "warehouse_no": "O", "is_outer_stock": True},
    {"warehouse_id": 6, "warehouse_no": "V"},
]


def disabled(rec_id: int) -> str:
    return f"货品id:g{rec_id}规格Id:s{rec_id} 已停用或者未开启同步"


def custom(warehouse_list: str = "1,2", **params: Any) -> dict[str, Any]:
    return {"warehouse_list": warehouse_list, "percent": 100, **params}


def item(rec_id: int, code: str, shop_id: int = 69, **fields: Any) -> dict[str, Any]:
    return {"rec_id": rec_id, "shop_id": shop_id, "goods_id": f"g{rec_id}",
            "spec_id": f"s{rec_id}", "spec_outer_id": code, **fields}  # fmt: skip


def tenant(engine: Engine, sid: str, listings: list[dict[str, Any]], **sections: Any) -> int:
    """Import a tenant: specs named by the stock rows and suites, shops 69 and 70 (disabled)."""
    stock = sections.pop("stock", [])
    suites = sections.pop("suites", [])
    codes = sorted({row["spec_no"] for row in stock} | sections.pop("specs", set()))
    codes += sorted({d["spec_no"] for s in suites for d in s["details"]} - set(codes))
    doc = {
        "format": "stocksync-snapshot/1",
        "sid": sid,
        "warehouses": WAREHOUSES,
        "specs": [{"spec_id": 1000 + i, "spec_no": code} for i, code in enumerate(codes)],
        "suites": [{"suite_id": 500 + i, **s} for i, s in enumerate(suites)],
        "stock": stock,
        "shops": [{"shop_id": 69, "shop_no": "S69"}, {"shop_id": 70, "shop_no": "S70"}],
        "listings": listings,
        **sections,
    }
    return import_snapshot(engine, doc, now=NOW).tenant_id


def answers(items: list[BatchItem]) -> dict[int, int | str | None]:
    return {i.rec_id: i.syn_stock if i.error is None else i.error for i in items}


def run(engine: Engine, tid: int, *args: Any, **options: Any) -> list[BatchItem]:
    with read_tx(engine) as conn:
        return batch_syn_stock(conn, tid, *args, now=NOW, **options)


def stock(wid: int, code: str, stock_num: str | int, **quantities: Any) -> dict[str, Any]:
    return {"warehouse_id": wid, "spec_no": code, "stock_num": stock_num, **quantities}


def test_every_worked_example_of_the_semantics_gives_its_number(engine: Engine, sid: str) -> None:
    suite = [
        {"suite_no": "KIT", "details": [{"spec_no": "P", "num": 2}, {"spec_no": "Q", "num": 1}]}
    ]
    suites = [
        {"suite_no": f"KIT{n}",
         "details": [{"spec_no": f"P{n}", "num": 2}, {"spec_no": f"Q{n}", "num": 1}]}
        for n in (9, 10)
    ]  # fmt: skip
    rows = [
        stock(1, "E1", 10), stock(2, "E1", 5),
        stock(1, "E2", 10, order_num=3, sending_num=2), stock(2, "E2", 5, sending_num=6),
        stock(1, "E3", 10), stock(3, "E3", 100), stock(4, "E3", 20, wms_stock_diff=-3),
        stock(1, "E4", 10), stock(2, "E4", 5), stock(1, "E5", -3), stock(1, "E6", 3),
        stock(1, "E7", 3), stock(1, "P", 5), stock(1, "Q", 10), stock(2, "P", 3), stock(2, "Q", 0),
        stock(1, "P9", 5), stock(1, "Q9", 10), stock(2, "P9", 3),
        stock(1, "P10", -1), stock(1, "Q10", 10), stock(2, "P10", 4), stock(2, "Q10", 3),
        stock(1, "E11", 800), stock(1, "E13", 10),
    ]  # fmt: skip
    listings = [
        item(1, "E1", custom_rule=custom()),
        item(2, "E2", custom_rule=custom(stock_flag=640)),
        item(3, "E3", custom_rule=custom("1,3,4")),
        item(4, "E4", custom_rule=custom(percent=80, plus_value="0.5")),
        item(5, "E5", custom_rule=custom(percent=50, is_auto_delisting=True)),
        item(6, "E6", custom_rule=custom(min_stock=5, is_auto_delisting=True)),
        item(7, "E7", custom_rule=custom(min_stock=5)),
        item(8, "KIT", custom_rule=custom()),
        item(9, "KIT9", custom_rule=custom()),
        item(10, "KIT10", custom_rule=custom()),
        item(11, "E11", custom_rule=custom(max_stock=500, min_stock=1)),
        item(12, "E12", custom_rule=custom("6", plus_value=1, min_stock=1, max_stock=550)),
        item(13, "E13", custom_rule=custom("1,1")),
    ]
    tid = tenant(engine, sid, listings, stock=rows, suites=suite + suites, specs={"E12"})
    expected = {
        1: 15,
        2: 4,
        3: 27,
        4: 12,
        5: 0,
        6: 0,
        7: 5,
        8: 2,
        9: 2,
        10: 1,
        11: 500,
        12: 1,
        13: 10,
    }
    assert answers(run(engine, tid)) == expected
    assert answers(run(engine, tid, list(expected))) == expected


def test_huge_quantities_are_exact_beyond_int64(engine: Engine, sid: str) -> None:
    rows = [stock(1, "BIG", "99999999999999.9999"), stock(1, "T", "800000000000000"),
            stock(2, "T", "800000000000000")]  # fmt: skip
    suites = [{"suite_no": "TINY", "details": [{"spec_no": "T", "num": "0.0001"}]}]
    listings = [
        item(1, "BIG", custom_rule=custom("1", percent=10000)),
        item(2, "TINY", custom_rule=custom()),
        item(3, "BIG", shop_id=70, custom_rule=custom("1", percent="0.5", plus_value="0.4999")),
    ]
    tid = tenant(engine, sid, listings, stock=rows, suites=suites)
    # 99999999999999.9999 × 100 = 9999999999999999.99 (a float would round it to 10¹⁶)
    # suite: 8×10¹⁴ / 0.0001 = 8×10¹⁸ per warehouse, 1.6×10¹⁹ in all (past int64)
    # 99999999999999.9999 × 0.5 / 100 + 0.4999 = 500000000000.4998999…, floored
    expected = {1: 9999999999999999, 2: 16 * 10**18, 3: 500000000000}
    assert answers(run(engine, tid)) == expected
    with read_tx(engine) as conn:
        singles = {r: calc_listing(conn, tid, r, now=NOW).record["syn_stock"] for r in expected}
    assert singles == expected


def test_force_sync_skips_disabled_and_delayed_but_never_a_missing_rule(
    engine: Engine, sid: str
) -> None:
    rows = [stock(1, "P", 7)]
    listings = [
        item(1, "P", custom_rule=custom("1")),
        item(2, "P", is_disable_syn=True, custom_rule=custom("1")),
        item(3, "P", status=0, custom_rule=custom("1")),
        item(4, "P", custom_rule=custom("1")),  # delayed below
        item(5, "P"),  # no rule applies
        item(6, "P", custom_rule=custom("3,9")),  # only a defect and an unknown warehouse
        item(7, "NOPE", custom_rule=custom("1")),
    ]
    tid = tenant(engine, sid, listings, stock=rows)
    with write_tx(engine) as conn:
        until = int(NOW) - WDT_EPOCH + 60
        where = (listing.c.tenant_id == tid) & (listing.c.rec_id == 4)
        conn.execute(update(listing).where(where).values(mask=2, disable_syn_until=until))
    assert answers(run(engine, tid)) == {
        1: 7, 2: disabled(2), 3: disabled(3), 4: disabled(4), 5: disabled(5), 6: EMPTY,
        7: "未匹配货品",
    }  # fmt: skip
    assert answers(run(engine, tid, force_sync=True)) == {
        1: 7, 2: 7, 3: 7, 4: 7, 5: disabled(5), 6: EMPTY, 7: "未匹配货品",
    }  # fmt: skip
    assert answers(run(engine, tid, errors_only=True)) == {
        2: disabled(2), 3: disabled(3), 4: disabled(4), 5: disabled(5), 6: EMPTY,
        7: "未匹配货品",
    }  # fmt: skip


def test_listings_in_shops_the_caller_may_not_see_are_not_found(engine: Engine, sid: str) -> None:
    rows = [stock(1, "P", 4)]
    listings = [item(1, "P", custom_rule=custom("1")), item(2, "P", 70, custom_rule=custom("1"))]
    tid = tenant(engine, sid, listings, stock=rows)
    with write_tx(engine) as conn:
        add_listing(conn, tid, 3, 99, "P")  # a shop that does not exist
    visible = frozenset({69})
    assert answers(run(engine, tid, shop_ids=visible)) == {1: 4, 2: NOT_FOUND, 3: NOT_FOUND}
    assert answers(run(engine, tid, [2, 1, 3], shop_ids=visible)) == {
        2: NOT_FOUND, 1: 4, 3: NOT_FOUND,
    }  # fmt: skip
    with read_tx(engine) as conn, pytest.raises(BusinessError, match=NOT_FOUND):
        calc_listing(conn, tid, 2, shop_ids=visible, now=NOW)


def test_given_ids_keep_their_order_and_unknown_ids_are_not_found(engine: Engine, sid: str) -> None:
    rows = [stock(1, "P", 4), stock(1, "Q", 9)]
    listings = [item(1, "P", custom_rule=custom("1")), item(2, "Q", custom_rule=custom("1"))]
    tid = tenant(engine, sid, listings, stock=rows)
    got = run(engine, tid, [2, 77, 1, 2, 2**40, -1, 2**70])
    assert [(i.rec_id, i.syn_stock, i.error) for i in got] == [
        (2, 9, None), (77, None, NOT_FOUND), (1, 4, None), (2, 9, None),
        (2**40, None, NOT_FOUND), (-1, None, NOT_FOUND), (2**70, None, NOT_FOUND),
    ]  # fmt: skip
    assert run(engine, tid, []) == []
    assert [i.rec_id for i in run(engine, tid)] == [1, 2]


def test_pending_only_and_shop_id_narrow_the_listings(engine: Engine, sid: str) -> None:
    rows = [stock(1, "P", 4)]
    listings = [item(r, "P", 69 if r < 3 else 70, custom_rule=custom("1")) for r in (1, 2, 3, 4)]
    tid = tenant(engine, sid, listings, stock=rows)
    with write_tx(engine) as conn:
        where = (listing.c.tenant_id == tid) & listing.c.rec_id.in_([2, 4])
        conn.execute(update(listing).where(where).values(is_stock_changed=False))
    assert answers(run(engine, tid, pending_only=True)) == {1: 4, 3: 4}
    assert answers(run(engine, tid, shop_id=70)) == {3: 4, 4: 4}
    assert answers(run(engine, tid, shop_id=69, pending_only=True)) == {1: 4}
    assert answers(run(engine, tid, [4, 3, 2, 1, 8], pending_only=True)) == {
        3: 4, 1: 4, 8: NOT_FOUND,
    }  # fmt: skip
    hidden = run(engine, tid, [3, 1], shop_id=70, shop_ids=frozenset({69}))
    assert answers(hidden) == {3: NOT_FOUND}  # not visible: reported, not silently left out


def test_packed_pairs_of_32_bit_columns_keep_negative_and_extreme_values(engine: Engine) -> None:
    values = [(-(2**31), 2**31 - 1), (-1, -1), (2**31 - 1, -(2**31)), (0, -10000)]
    rows = " UNION ALL ".join(
        f"SELECT {a} AS a, {b} AS b, {a * 3 + b} AS c, {i} AS i" for i, (a, b) in enumerate(values)
    )
    with read_tx(engine) as conn:
        got = fetch_ints(conn, [("a", "b"), "c", ("i", "b")], f"FROM ({rows}) t WHERE 1 = ?", [1])
    ordered = sorted(zip(*(column.tolist() for column in got), strict=True), key=lambda r: r[3])
    assert ordered == [(a, b, a * 3 + b, i, b) for i, (a, b) in enumerate(values)]


def test_platform_ids_holding_the_text_separator_still_name_the_listing(
    engine: Engine, sid: str
) -> None:
    tid = tenant(engine, sid, [item(1, "P", custom_rule=custom("1"))], stock=[stock(1, "P", 4)])
    with write_tx(engine) as conn:
        add_listing(
            conn, tid, 2, 69, "P", goods_id="a\x1fb", spec_id="\x1f", is_disable_syn=True,
            is_manual_match=True, match_target_type=1, match_target_id=1000,
        )  # fmt: skip
    assert answers(run(engine, tid)) == {1: 4, 2: "货品id:a\x1fb规格Id:\x1f 已停用或者未开启同步"}


def test_messages_that_cannot_be_templated_are_asked_listing_by_listing(
    engine: Engine, sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def odd(gate: ListingGate | None, force_sync: bool) -> str | None:
        if gate is None or gate.status != 0:
            return None if gate is not None else NOT_FOUND
        return f"{gate.goods_id}|{gate.goods_id}|{gate.spec_id}"  # names goods_id twice

    monkeypatch.setattr(batch_checks, "check_listing", odd)
    listings = [item(r, "P", status=r % 2, custom_rule=custom("1")) for r in (1, 2, 3)]
    tid = tenant(engine, sid, listings, stock=[stock(1, "P", 4)])
    assert answers(run(engine, tid)) == {1: 4, 2: "g2|g2|s2", 3: 4}


def test_a_tenant_without_any_shop_finds_none_of_its_listings(engine: Engine, sid: str) -> None:
    with write_tx(engine) as conn:
        tid = ensure_tenant(conn, sid)
        add_listing(conn, tid, 1, 69, "P")
    assert answers(run(engine, tid)) == {1: NOT_FOUND}
    assert answers(run(engine, tid, [1, 2])) == {1: NOT_FOUND, 2: NOT_FOUND}
