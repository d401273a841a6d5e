"""Snapshot import: sections upserted, ids assigned, matching and rules filled, idempotence.

Also holds the small helpers the other `test_snapshot_*` modules share.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from stocksync.db.engine import read_tx
from stocksync.db.schema import metadata
from stocksync.db.tenants import tenant_id
from stocksync.domain.model import CUSTOM_RULE_ID, MATCH_SPEC, MATCH_SUITE, UNBOUND
from stocksync.services.snapshot import dump_snapshot, export_snapshot, import_snapshot

DATA = Path(__file__).parents[1] / "data"
NOW = 1_700_000_000.0


def full_doc(sid: str) -> dict[str, Any]:
    """The fixture document with everything in it, for seller `sid`."""
    raw = (DATA / "snapshot_full.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(raw, parse_float=Decimal)
    doc["sid"] = sid
    return doc


def small_doc(sid: str, **sections: list[dict[str, Any]]) -> dict[str, Any]:
    """A document with one warehouse, one shop and whatever sections are given."""
    doc: dict[str, Any] = {
        "format": "stocksync-snapshot/1",
        "sid": sid,
        "warehouses": [{"warehouse_id": 1, "warehouse_no": "A"}],
        "shops": [{"shop_id": 69, "shop_no": "self-1"}],
    }
    doc.update(sections)
    return doc


def exported(engine: Engine, sid: str) -> bytes:
    with read_tx(engine) as conn:
        return dump_snapshot(export_snapshot(conn, sid))


def tid_of(engine: Engine, sid: str) -> int:
    with read_tx(engine) as conn:
        found = tenant_id(conn, sid)
    assert found is not None
    return found


def listings(engine: Engine, sid: str) -> dict[int, dict[str, Any]]:
    """Every listing of the seller as a dict of its columns (raw values)."""
    with read_tx(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM api_goods_spec WHERE tenant_id = :t ORDER BY rec_id"),
            {"t": tid_of(engine, sid)},
        )
        return {row.rec_id: dict(row._mapping) for row in rows}


def counters(engine: Engine, sid: str) -> dict[int, tuple[int, bool]]:
    return {
        rec: (row["stock_change_count"], bool(row["is_stock_changed"]))
        for rec, row in listings(engine, sid).items()
    }


def database_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: to prove an import wrote nothing at all."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with read_tx(engine) as conn:
        for name in sorted(metadata.tables):
            rows = conn.execute(text(f"SELECT * FROM {name}"))
            found[name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def test_import_creates_every_section_and_counts_it(engine: Engine, sid: str) -> None:
    report = import_snapshot(engine, full_doc(sid), now=NOW)
    assert report.sid == sid and report.tenant_id == tid_of(engine, sid)
    assert report.created == {
        "apps": 2, "warehouses": 5, "brands": 2, "classes": 3, "specs": 4, "suites": 2,
        "stock": 7, "shops": 2, "rules": 4, "listings": 7,
    }  # fmt: skip
    assert set(report.updated.values()) == {0} and set(report.unchanged.values()) == {0}
    assert report.changed_listings == 7
    assert report.warnings == []


def test_importing_the_same_document_twice_changes_nothing(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    before, rows_before = exported(engine, sid), listings(engine, sid)
    report = import_snapshot(engine, full_doc(sid), now=NOW + 60)
    assert set(report.created.values()) == {0} and set(report.updated.values()) == {0}
    assert report.unchanged["listings"] == 7 and report.unchanged["stock"] == 7
    assert report.changed_listings == 0
    assert exported(engine, sid) == before
    assert listings(engine, sid) == rows_before  # no counter bumped, no `modified` touched


def test_new_listings_start_pending_never_synced_with_count_one(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    for row in listings(engine, sid).values():
        assert row["stock_change_count"] == 1 and bool(row["is_stock_changed"])
        assert row["last_syn_num"] == -10_000  # -1.0000 scaled
        assert row["created"] == row["modified"] == int(NOW)


def test_import_fills_matches_and_resolved_rules(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    rows = listings(engine, sid)
    got = {
        rec: (r["match_code"], r["match_target_type"], r["match_target_id"],
              bool(r["is_manual_match"]), r["rule_id"])
        for rec, r in rows.items()
    }  # fmt: skip
    assert got == {
        2447: ("lz38", MATCH_SPEC, 10, False, 2),  # Acme shoe in shop 69: R2 (priority 5)
        2448: ("lz38", MATCH_SPEC, 10, False, CUSTOM_RULE_ID),
        2449: ("WHATEVER", MATCH_SUITE, 20, True, 3),  # Globex kit: R3 (brand set)
        2450: ("NOT-P", MATCH_SPEC, 11, True, 1),
        2451: ("NOPE", UNBOUND, 0, False, 1),
        2452: ("TEE", MATCH_SPEC, 13, False, 3),
        2453: ("KIT", MATCH_SUITE, 20, False, 3),
    }


def test_records_without_ids_get_max_plus_one_in_document_order(engine: Engine, sid: str) -> None:
    doc = small_doc(
        sid,
        specs=[{"spec_no": "A1"}, {"spec_id": 40, "spec_no": "B1"}, {"spec_no": "C1"}],
        listings=[
            {"shop_id": 69, "goods_id": "g1", "outer_id": "A1"},
            {"rec_id": 500, "shop_id": 69, "goods_id": "g2", "outer_id": "B1"},
            {"shop_no": "self-1", "goods_id": "g3", "outer_id": "C1"},
        ],
    )
    import_snapshot(engine, doc, now=NOW)
    exp = export_snapshot_doc(engine, sid)
    assert [(s["spec_id"], s["spec_no"]) for s in exp["specs"]] == [
        (40, "B1"),
        (41, "A1"),
        (42, "C1"),
    ]
    assert [(r["rec_id"], r["goods_id"]) for r in exp["listings"]] == [
        (500, "g2"), (501, "g1"), (502, "g3"),
    ]  # fmt: skip
    assert listings(engine, sid)[501]["match_target_id"] == 41


def export_snapshot_doc(engine: Engine, sid: str) -> dict[str, Any]:
    with read_tx(engine) as conn:
        return export_snapshot(conn, sid)


def test_records_given_without_id_update_the_stored_one_with_that_code(
    engine: Engine, sid: str
) -> None:
    import_snapshot(engine, small_doc(sid, specs=[{"spec_id": 7, "spec_no": "X"}]), now=NOW)
    doc = small_doc(
        sid,
        warehouses=[{"warehouse_no": "A", "name": "renamed"}],
        specs=[{"spec_no": "X", "goods_name": "new name"}],
    )
    report = import_snapshot(engine, doc, now=NOW)
    assert report.updated["specs"] == 1 and report.created["specs"] == 0
    exp = export_snapshot_doc(engine, sid)
    assert exp["specs"][0]["spec_id"] == 7 and exp["specs"][0]["goods_name"] == "new name"
    assert exp["warehouses"][0] == {
        "warehouse_id": 1, "warehouse_no": "A", "name": "renamed", "is_defect": False,
        "is_outer_stock": False, "is_disabled": False,
    }  # fmt: skip


def test_records_missing_from_the_document_are_kept(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    before = exported(engine, sid)
    report = import_snapshot(engine, {"format": "stocksync-snapshot/1", "sid": sid}, now=NOW)
    assert report.created == {} and report.changed_listings == 0
    assert exported(engine, sid) == before


def test_decimal_quantities_stay_exact_through_import_and_export(engine: Engine, sid: str) -> None:
    doc = small_doc(
        sid,
        warehouses=[
            {"warehouse_id": 1, "warehouse_no": "A"},
            {"warehouse_id": 2, "warehouse_no": "B"},
        ],
        specs=[{"spec_no": "S"}],
        stock=[
            {"warehouse_id": 1, "spec_no": "S", "stock_num": "0.1"},
            {"warehouse_no": "B", "spec_no": "S", "stock_num": Decimal("0.2"), "lock_num": 0.3},
        ],
    )
    import_snapshot(engine, doc, now=NOW)
    exp = export_snapshot_doc(engine, sid)
    amounts = [row["stock_num"] for row in exp["stock"]]
    assert amounts == [Decimal("0.1000"), Decimal("0.2000")]
    assert sum(amounts) == Decimal("0.3")  # no binary float on the way
    assert exp["stock"][1]["lock_num"] == Decimal("0.3")
    assert b'"stock_num":0.1000,' in exported(engine, sid)


def test_source_may_be_a_path_text_bytes_or_a_mapping(
    sqlite_engine: Engine, sid: str, tmp_path: Path
) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(dump_snapshot(full_doc(sid)))
    sources: list[Any] = [
        path,
        str(path),
        path.read_text("utf-8"),
        path.read_bytes(),
        full_doc(sid),
    ]
    import_snapshot(sqlite_engine, sources[0], now=NOW)
    first = exported(sqlite_engine, sid)
    for source in sources[1:]:
        report = import_snapshot(sqlite_engine, source, now=NOW)
        assert report.changed_listings == 0 and set(report.created.values()) == {0}
    assert exported(sqlite_engine, sid) == first


def test_sections_in_any_order_are_imported_in_dependency_order(
    sqlite_engine: Engine, sid: str
) -> None:
    doc = full_doc(sid)
    reordered = {name: doc[name] for name in reversed(list(doc))}  # listings first, sid last
    import_snapshot(sqlite_engine, dump_snapshot(reordered), now=NOW)
    assert exported(sqlite_engine, sid) == dump_snapshot(doc)


def test_progress_reports_every_section(sqlite_engine: Engine, sid: str) -> None:
    calls: list[tuple[str, int, int]] = []
    import_snapshot(sqlite_engine, full_doc(sid), now=NOW, progress=lambda *a: calls.append(a))
    last = {section: (done, total) for section, done, total in calls}
    assert last["listings"] == (7, 7) and last["stock"] == (7, 7) and last["specs"] == (4, 4)
    assert set(last) == set(full_doc(sid)) - {"format", "sid"}
