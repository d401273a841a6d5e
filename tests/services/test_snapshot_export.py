"""Snapshot export: the spec's exact shape, exact decimals, canonical JSON, round trips."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from test_snapshot_import import DATA, NOW, exported, full_doc, small_doc

from stocksync.db.engine import read_tx
from stocksync.domain.errors import BusinessError
from stocksync.services.snapshot import (
    dump_snapshot,
    export_snapshot,
    import_snapshot,
    write_snapshot,
)

SECTIONS = ["apps", "warehouses", "brands", "classes", "specs", "suites", "stock", "shops",
            "rules", "listings"]  # fmt: skip


def test_export_gives_back_the_document_that_was_imported(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    with read_tx(engine) as conn:
        assert export_snapshot(conn, sid) == full_doc(sid)


def test_round_trip_import_export_import_export_is_stable(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    first = exported(engine, sid)
    import_snapshot(engine, first, now=NOW + 1)
    assert exported(engine, sid) == first
    fixture = (
        (DATA / "snapshot_full.json")
        .read_bytes()
        .replace(b'"sid":"full"', b'"sid":"%s"' % sid.encode())
    )
    assert first + b"\n" == fixture  # byte for byte the canonical fixture


def test_export_has_the_spec_shape_in_the_spec_order(sqlite_engine: Engine, sid: str) -> None:
    import_snapshot(sqlite_engine, full_doc(sid), now=NOW)
    with read_tx(sqlite_engine) as conn:
        doc = export_snapshot(conn, sid)
    assert list(doc) == ["format", "sid", *SECTIONS]
    assert list(doc["listings"][0]) == [
        "rec_id", "shop_id", "goods_id", "spec_id", "outer_id", "spec_outer_id", "goods_name",
        "spec_name", "status", "stock_num", "is_disable_syn", "match", "custom_rule",
    ]  # fmt: skip
    assert list(doc["stock"][0])[:3] == ["warehouse_id", "spec_no", "stock_num"]
    assert len(doc["stock"][0]) == 20 and list(doc["stock"][0])[-1] == "wms_stock_diff"
    assert doc["listings"][0]["match"] is None and doc["listings"][0]["custom_rule"] is None
    assert doc["listings"][2]["match"] == {"type": 2, "code": "KIT"}
    assert doc["listings"][1]["custom_rule"]["plus_value"] == Decimal("-1.2500")


def test_exported_quantities_have_four_places_and_exact_json_numbers(
    sqlite_engine: Engine, sid: str
) -> None:
    import_snapshot(sqlite_engine, full_doc(sid), now=NOW)
    with read_tx(sqlite_engine) as conn:
        doc = export_snapshot(conn, sid)
    lock = doc["stock"][0]["lock_num"]
    assert isinstance(lock, Decimal) and str(lock) == "0.0001"
    assert str(doc["rules"][0]["percent"]) == "80.0000"
    text = exported(sqlite_engine, sid)
    assert b'"lock_num":0.0001,' in text and b'"wms_stock_diff":-3.2500}' in text
    assert b'"num":2.5000}' in text and "东仓 East".encode() in text  # UTF-8, not \u escapes


def test_dump_writes_one_member_per_line_and_one_record_per_line() -> None:
    doc = {"format": "f", "sid": "s", "specs": [{"spec_no": "a"}, {"spec_no": "b"}], "stock": []}
    assert dump_snapshot(doc) == (
        b'{"format":"f",\n"sid":"s",\n"specs":[\n{"spec_no":"a"},\n{"spec_no":"b"}\n],\n'
        b'"stock":[]\n}'
    )
    assert json.loads(dump_snapshot(doc)) == doc


def test_dump_refuses_a_non_finite_decimal() -> None:
    with pytest.raises(TypeError):
        dump_snapshot({"x": [{"q": Decimal("NaN")}]})


def test_write_snapshot_streams_the_same_bytes_as_dump(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    out = io.BytesIO()
    with read_tx(engine) as conn:
        write_snapshot(conn, sid, out)
    assert out.getvalue() == exported(engine, sid)


def test_exporting_an_unknown_seller_is_a_business_error(sqlite_engine: Engine) -> None:
    with read_tx(sqlite_engine) as conn, pytest.raises(BusinessError, match="unknown seller"):
        export_snapshot(conn, "nobody")


def test_a_seller_with_nothing_exports_empty_sections(sqlite_engine: Engine, sid: str) -> None:
    import_snapshot(sqlite_engine, {"format": "stocksync-snapshot/1", "sid": sid}, now=NOW)
    with read_tx(sqlite_engine) as conn:
        doc = export_snapshot(conn, sid)
    assert doc == {"format": "stocksync-snapshot/1", "sid": sid} | dict.fromkeys(SECTIONS, [])


def test_defaults_are_exported_explicitly(sqlite_engine: Engine, sid: str) -> None:
    doc = small_doc(sid, rules=[{"rule_no": "R"}], listings=[{"shop_id": 69, "goods_id": "g"}])
    import_snapshot(sqlite_engine, doc, now=NOW)
    with read_tx(sqlite_engine) as conn:
        out = export_snapshot(conn, sid)
    assert out["rules"][0]["percent"] == Decimal(100) and out["rules"][0]["class_id"] == -1
    assert out["listings"][0] == {
        "rec_id": 1, "shop_id": 69, "goods_id": "g", "spec_id": "", "outer_id": "",
        "spec_outer_id": "", "goods_name": "", "spec_name": "", "status": 1,
        "stock_num": Decimal(0), "is_disable_syn": False, "match": None, "custom_rule": None,
    }  # fmt: skip
