"""Property: the batch path answers every listing exactly as the single-listing path does.

Random small tenants (suites with fractional nums, negative and fractional quantities, masks,
defect and outer warehouses, duplicate and unknown warehouse ids, competing and disabled rules,
custom rules, disabled and deleted listings, unbound listings, disabled shops, delayed
listings, shops the caller may not see) are imported through `import_snapshot`; then for every
listing `batch_syn_stock` must give `calc_listing`'s syn_stock or its error message.
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, update

from stocksync.db.engine import read_tx, write_tx
from stocksync.db.schema import listing
from stocksync.domain.errors import BusinessError
from stocksync.services.batch import batch_syn_stock
from stocksync.services.calc import calc_listing
from stocksync.services.clock import WDT_EPOCH
from stocksync.services.snapshot import import_snapshot

NOW = float(WDT_EPOCH + 1_000_000)
SPECS = ("P0", "P1", "P2", "P3")
SUITES = ("K0", "K1")
STOCK_FIELDS = ("stock_num", "order_num", "sending_num", "purchase_num", "lock_num")

quantities = st.one_of(
    st.integers(-20, 40).map(str),
    st.decimals(min_value=-20, max_value=40, places=4).map(str),
    st.sampled_from(["0.1", "0.2", "-0.0001", "99999999999999.9999"]),
)
warehouse_lists = st.lists(
    st.sampled_from(["1", "2", "3", "4", "9", "1", " 2", "4"]), min_size=1, max_size=5
).map(",".join)
rarely = st.sampled_from([False, False, False, False, True])
params = st.fixed_dictionaries(
    {
        "warehouse_list": warehouse_lists,
        "stock_flag": st.sampled_from([0, 128, 640, 1 | 128 | 16384, 65535, 512]),
        "percent": st.sampled_from(["100", "80", "50", "0", "150.5", "33.3333"]),
        "plus_value": st.sampled_from(["0", "0.5", "1", "-2", "0.9999"]),
        "min_stock": st.sampled_from(["0", "1", "5", "2.5"]),
        "max_stock": st.sampled_from(["0", "3", "500", "7.5"]),
        "is_auto_listing": st.booleans(),
        "is_auto_delisting": st.booleans(),
    }
)


@st.composite
def tenants(draw: st.DrawFn) -> dict[str, Any]:
    """A snapshot document with a little of everything."""
    warehouses = [
        {
            "warehouse_id": wid,
            "warehouse_no": f"W{wid}",
            "is_defect": draw(st.booleans()) if wid == 3 else False,
            "is_outer_stock": draw(st.booleans()) if wid >= 2 else False,
        }
        for wid in (1, 2, 3, 4)
    ]
    specs = [
        {"spec_id": 10 + i, "spec_no": code, "brand_id": draw(st.sampled_from([0, 1, 2])),
         "class_id": draw(st.sampled_from([0, 1, 2]))}
        for i, code in enumerate(SPECS)
    ]  # fmt: skip
    suites = [
        {"suite_id": 20 + i, "suite_no": code, "brand_id": draw(st.sampled_from([0, 1])),
         "class_id": draw(st.sampled_from([0, 2])),
         "details": [{"spec_no": s, "num": draw(st.sampled_from(["1", "2", "0.5", "1.5", "3"]))}
                     for s in draw(st.sets(st.sampled_from(SPECS), min_size=2 - i, max_size=3))]}
        for i, code in enumerate(SUITES)
    ]  # fmt: skip
    stock = [
        {"warehouse_id": wid, "spec_no": code, "wms_stock_diff": draw(quantities),
         **{name: draw(quantities) for name in draw(st.sets(st.sampled_from(STOCK_FIELDS)))}}
        for code in SPECS
        for wid in sorted(draw(st.sets(st.sampled_from([1, 2, 3, 4]))))
    ]  # fmt: skip
    rules = [
        {"rec_id": i + 1, "rule_no": f"R{i + 1}", "priority": draw(st.integers(0, 3)),
         "shop_list": draw(st.sampled_from(["", "69", "70", "69,70"])),
         "class_id": draw(st.sampled_from([-1, 1, 2])), "brand_id": draw(st.sampled_from([-1, 1])),
         "is_disable_syn": draw(rarely), "is_disabled": draw(rarely), **draw(params)}
        for i in range(draw(st.integers(0, 3)))
    ]  # fmt: skip
    catch_all = {"rec_id": 9, "rule_no": "R9", "priority": 0, "shop_list": "", **draw(params)}
    rules.extend([catch_all] if draw(st.sampled_from([True, True, False])) else [])
    listings = [
        {"rec_id": 100 + i, "shop_id": draw(st.sampled_from([69, 70, 71])),
         "goods_id": f"g{i}", "spec_id": f"s{i}",
         "spec_outer_id": draw(st.sampled_from(["K0", "P0", "K1", "P1", "P2", "P3", "none"])),
         "status": draw(st.sampled_from([1, 2, 1, 0, 1])), "is_disable_syn": draw(rarely),
         "custom_rule": draw(st.none() | st.none() | params)}
        for i in range(draw(st.integers(1, 8)))
    ]  # fmt: skip
    return {
        "format": "stocksync-snapshot/1",
        "sid": f"prop-{uuid.uuid4().hex[:12]}",
        "warehouses": warehouses,
        "brands": [{"brand_id": 1}, {"brand_id": 2}],
        "classes": [{"class_id": 1, "parent_id": -1}, {"class_id": 2, "parent_id": 1}],
        "specs": specs,
        "suites": suites,
        "stock": stock,
        "shops": [
            {"shop_id": 69, "shop_no": "S69"},
            {"shop_id": 70, "shop_no": "S70", "is_disabled": draw(rarely)},
            {"shop_id": 71, "shop_no": "S71"},
        ],
        "rules": rules,
        "listings": listings,
    }


def _delay(conn: Connection, tid: int, rec_ids: list[int], until: int) -> None:
    """Mark listings delayed after a failure (mask bit 1) until `until` (WDT seconds)."""
    if rec_ids:
        c = listing.c
        query = update(listing).where(c.tenant_id == tid, c.rec_id.in_(rec_ids))
        conn.execute(query.values(mask=2, disable_syn_until=until))


def _single(conn: Connection, tid: int, rec_id: int, **options: Any) -> tuple[Any, Any]:
    try:
        record = calc_listing(conn, tid, rec_id, now=NOW, **options).record
    except BusinessError as exc:
        return None, exc.message
    return record["syn_stock"], None


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    doc=tenants(),
    delayed=st.sets(st.integers(100, 107)),
    delay_passed=st.booleans(),
    force_sync=st.booleans(),
    shop_ids=st.none() | st.just(frozenset({69, 70})),
)
def test_batch_answers_every_listing_as_calc_listing_does(
    engine: Engine,
    doc: dict[str, Any],
    delayed: set[int],
    delay_passed: bool,
    force_sync: bool,
    shop_ids: frozenset[int] | None,
) -> None:
    tid = import_snapshot(engine, doc, now=NOW).tenant_id
    with write_tx(engine) as conn:
        until = int(NOW) - WDT_EPOCH + (-5 if delay_passed else 300)
        _delay(conn, tid, sorted(delayed & {r["rec_id"] for r in doc["listings"]}), until)
    options: dict[str, Any] = {"force_sync": force_sync, "shop_ids": shop_ids}
    with read_tx(engine) as conn:
        everything = batch_syn_stock(conn, tid, now=NOW, **options)
        asked = [107, 999, 100, 100, -5]
        chosen = batch_syn_stock(conn, tid, asked, now=NOW, **options)
        expected = {rid: _single(conn, tid, rid, **options) for rid in {*asked, *range(100, 108)}}
    existing = sorted(r["rec_id"] for r in doc["listings"])
    assert [item.rec_id for item in everything] == existing
    assert {i.rec_id: (i.syn_stock, i.error) for i in everything} == {
        rid: expected[rid] for rid in existing
    }
    assert [(i.rec_id, i.syn_stock, i.error) for i in chosen] == [
        (rid, *expected[rid]) for rid in asked
    ]


def test_the_generator_reaches_numbers_and_every_kind_of_error(sqlite_engine: Engine) -> None:
    """Guard against a property that only ever compares errors: sample the generator."""
    seen: set[str] = set()
    numbers = 0

    @settings(max_examples=30, deadline=None, database=None, derandomize=True)
    @given(doc=tenants())
    def sample(doc: dict[str, Any]) -> None:
        nonlocal numbers
        tid = import_snapshot(sqlite_engine, doc, now=NOW).tenant_id
        with read_tx(sqlite_engine) as conn:
            for item in batch_syn_stock(conn, tid, now=NOW):
                if item.error is None:
                    numbers += 1
                else:
                    seen.add(item.error[:4])

    sample()
    assert numbers > 0
    assert {"未匹配货品"[:4], "货品id"[:4]} <= seen
