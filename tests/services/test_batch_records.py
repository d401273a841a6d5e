"""batchCalcStock's records (`batch_records`) against calcStock's, listing by listing.

The batch path reads each asked listing once (record fields, checks and custom rule together),
reads in each warehouse only the stock rows and columns its targets use, and builds records
from shared per-rule templates: every record and every error must still be exactly what
`calc_listing` answers, types included, in request order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_batch_property import NOW, tenants

from stocksync.db.engine import read_tx
from stocksync.db.tenants import tenant_id
from stocksync.domain.errors import BusinessError
from stocksync.services.batch_load import load_stock_of
from stocksync.services.batch_records import batch_records
from stocksync.services.calc import calc_listing
from stocksync.services.snapshot import import_snapshot

asked_ids = st.lists(
    st.tuples(st.sampled_from([*range(100, 108), 999, -5, 2**31, 2**40]), st.booleans()),
    max_size=14,
)


def _single(engine: Engine, tid: int, rec_id: int, force: bool, shops: Any) -> tuple[str, Any]:
    """("ok", record) or ("error", message), as calcStock answers one item."""
    with read_tx(engine) as conn:
        try:
            return "ok", calc_listing(conn, tid, rec_id, force_sync=force, shop_ids=shops,
                                      now=NOW).record  # fmt: skip
        except BusinessError as exc:
            return "error", exc.message


def _typed(value: Any) -> Any:
    """A record with each value's type next to it: `1 == True == Decimal(1)` in Python."""
    if isinstance(value, dict):
        return {key: (type(item).__name__, str(item)) for key, item in value.items()}
    return value


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    doc=tenants(),
    items=asked_ids,
    shop_ids=st.none() | st.just(frozenset({69, 70})),
)
def test_batch_records_are_the_calc_stock_records_in_request_order(
    engine: Engine,
    doc: dict[str, Any],
    items: list[tuple[int, bool]],
    shop_ids: frozenset[int] | None,
) -> None:
    tid = import_snapshot(engine, doc, now=NOW).tenant_id
    with read_tx(engine) as conn:
        success, errors = batch_records(conn, tid, items, shop_ids=shop_ids, now=NOW)
    singles = [(rec_id, *_single(engine, tid, rec_id, force, shop_ids)) for rec_id, force in items]
    assert [_typed(record) for record in success] == [
        _typed(value) for _, kind, value in singles if kind == "ok"
    ]
    assert [list(record) for record in success] == [
        list(value) for _, kind, value in singles if kind == "ok"
    ]  # the protocol's field order
    assert errors == [
        {"rec_id": rec_id, "err_msg": value} for rec_id, kind, value in singles if kind == "error"
    ]


def test_stock_is_read_per_warehouse_with_its_own_columns(engine: Engine, sid: str) -> None:
    doc = {
        "format": "stocksync-snapshot/1",
        "sid": sid,
        "warehouses": [{"warehouse_id": 1, "warehouse_no": "A"},
                       {"warehouse_id": 2, "warehouse_no": "O", "is_outer_stock": True}],
        "specs": [{"spec_id": 10, "spec_no": "P"}, {"spec_id": 11, "spec_no": "Q"}],
        "stock": [
            {"warehouse_id": w, "spec_no": code, "stock_num": f"{w}{s}.5", "order_num": 7,
             "lock_num": "0.0001", "wms_stock_diff": -3}
            for w in (1, 2) for s, code in ((0, "P"), (1, "Q"))
        ],
    }  # fmt: skip
    import_snapshot(engine, doc, now=NOW)
    wanted = {
        2: (np.array([10, 11, 12]), ["stock_num", "lock_num", "wms_stock_diff"]),
        1: (np.array([11]), ["stock_num", "order_num"]),
    }
    with read_tx(engine) as conn:
        tid = tenant_id(conn, sid)
        assert tid is not None
        table = load_stock_of(conn, tid, wanted)
    rows = sorted(
        zip(table.warehouse_id.tolist(), table.spec_id.tolist(),
            *(table.columns[name].tolist() for name in sorted(table.columns)), strict=True)
    )  # fmt: skip
    assert sorted(table.columns) == ["lock_num", "order_num", "stock_num", "wms_stock_diff"]
    # (warehouse, spec, lock_num, order_num, stock_num, wms_stock_diff), scaled; unread = 0
    assert rows == [
        (1, 11, 0, 70_000, 115_000, 0),
        (2, 10, 1, 0, 205_000, -30_000),
        (2, 11, 1, 0, 215_000, -30_000),
    ]
