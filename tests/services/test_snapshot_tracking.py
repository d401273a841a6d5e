"""Re-importing marks stored listings changed exactly as the live changes would (semantics §6).

Each test imports the full fixture, marks every listing synced (pending cleared), changes one
thing in the document, imports it again, and checks exactly which listings were bumped once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from test_snapshot_import import NOW, counters, full_doc, listings, tid_of

from stocksync.db.engine import write_tx
from stocksync.domain.model import MATCH_SPEC, UNBOUND
from stocksync.services.snapshot import import_snapshot

Doc = dict[str, Any]


def bumped_by(engine: Engine, sid: str, change: Callable[[Doc], None]) -> set[int]:
    """Import the fixture, settle it, import it changed; the listings bumped (each by one)."""
    import_snapshot(engine, full_doc(sid), now=NOW)
    with write_tx(engine) as conn:
        conn.execute(
            text("UPDATE api_goods_spec SET is_stock_changed = :f WHERE tenant_id = :t"),
            {"f": False, "t": tid_of(engine, sid)},
        )
    doc = full_doc(sid)
    change(doc)
    report = import_snapshot(engine, doc, now=NOW + 60)
    after = counters(engine, sid)
    bumped = {rec for rec, (count, _) in after.items() if count != 1}
    assert all(after[rec] == (2, True) for rec in bumped)  # once, and pending again
    assert all(not pending for rec, (_, pending) in after.items() if rec not in bumped)
    assert report.changed_listings == len(bumped)
    return bumped


def by_no(doc: Doc, section: str, key: str, value: Any) -> dict[str, Any]:
    found: dict[str, Any] = next(rec for rec in doc[section] if rec[key] == value)
    return found


def test_a_changed_stock_row_bumps_listings_of_the_spec_and_of_suites_containing_it(
    engine: Engine, sid: str
) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "stock", "spec_no", "P")["stock_num"] = 6

    assert bumped_by(engine, sid, change) == {2449, 2450, 2453}


def test_a_new_stock_row_bumps_the_listings_of_its_spec(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        doc["stock"].append({"warehouse_id": 1, "spec_no": "TEE"})

    assert bumped_by(engine, sid, change) == {2452}


def test_a_changed_rule_bumps_the_listings_it_applies_to(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "rules", "rule_no", "R1")["min_stock"] = 2

    assert bumped_by(engine, sid, change) == {2450, 2451}


def test_disabling_a_rule_re_resolves_and_bumps_its_listings(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "rules", "rule_no", "R3")["is_disabled"] = True

    assert bumped_by(engine, sid, change) == {2449, 2452, 2453}
    assert {rec: row["rule_id"] for rec, row in listings(engine, sid).items()} == {
        2447: 2, 2448: -10000, 2449: 1, 2450: 1, 2451: 1, 2452: 1, 2453: 1,
    }  # fmt: skip


def test_a_new_spec_code_rematches_the_unbound_listing(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        doc["specs"].append({"spec_id": 14, "spec_no": "NOPE"})

    assert bumped_by(engine, sid, change) == {2451}
    row = listings(engine, sid)[2451]
    assert (row["match_target_type"], row["match_target_id"]) == (MATCH_SPEC, 14)


def test_renaming_a_spec_unbinds_its_auto_matched_listings(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "specs", "spec_no", "TEE")["spec_no"] = "TEE2"
        by_no(doc, "stock", "spec_no", "TEE")["spec_no"] = "TEE2"

    assert bumped_by(engine, sid, change) == {2452}
    assert listings(engine, sid)[2452]["match_target_type"] == UNBOUND


def test_a_changed_suite_composition_bumps_the_suite_listings(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "suites", "suite_no", "KIT")["details"][1]["num"] = 2

    assert bumped_by(engine, sid, change) == {2449, 2453}


def test_a_defect_flag_change_bumps_listings_whose_rule_names_the_warehouse(
    engine: Engine, sid: str
) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "warehouses", "warehouse_no", "O")["is_defect"] = True

    assert bumped_by(engine, sid, change) == {2447, 2448}  # rule R2 "1,4"; custom "1,3,4"


def test_moving_a_class_re_resolves_the_listings_below_it(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "classes", "class_id", 2)["parent_id"] = -1

    assert bumped_by(engine, sid, change) == {2447}
    assert listings(engine, sid)[2447]["rule_id"] == 1


def test_a_listing_changed_twice_over_is_bumped_once(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "listings", "rec_id", 2447)["goods_name"] = "renamed"
        by_no(doc, "stock", "spec_no", "lz38")["stock_num"] = 1
        by_no(doc, "rules", "rule_no", "R2")["percent"] = 50

    assert bumped_by(engine, sid, change) == {2447, 2448}


def test_a_changed_custom_rule_or_manual_match_bumps_that_listing(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        by_no(doc, "listings", "rec_id", 2448)["custom_rule"]["percent"] = 100
        by_no(doc, "listings", "rec_id", 2450)["match"] = {"type": 1, "code": "Q"}

    assert bumped_by(engine, sid, change) == {2448, 2450}
    assert listings(engine, sid)[2450]["match_target_id"] == 12


def test_names_and_brands_that_move_no_number_bump_nothing(engine: Engine, sid: str) -> None:
    def change(doc: Doc) -> None:
        doc["brands"][0]["brand_name"] = "Acme Corp"
        doc["shops"][1]["shop_name"] = "Older"
        by_no(doc, "specs", "spec_no", "P")["goods_name"] = "Round laces"
        doc["apps"][0]["secret"] = "rotated"

    assert bumped_by(engine, sid, change) == set()
