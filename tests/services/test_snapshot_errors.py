"""Snapshot import refuses bad documents whole: every problem reported by path, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from test_snapshot_import import NOW, database_rows, exported, full_doc, small_doc

from stocksync.services.snapshot import SnapshotInvalid, dump_snapshot, import_snapshot


def refused(engine: Engine, source: Any) -> list[str]:
    with pytest.raises(SnapshotInvalid) as caught:
        import_snapshot(engine, source, now=NOW)
    return caught.value.errors


def broken_doc(sid: str) -> dict[str, Any]:
    """The full fixture with one problem of each kind planted in it."""
    doc = full_doc(sid)
    doc["warehouses"].append({"warehouse_id": 1, "warehouse_no": "A2"})
    doc["classes"][0]["parent_id"] = 3
    doc["classes"][2]["parent_id"] = 1
    doc["specs"].append({"spec_id": 2**31, "spec_no": "X" * 65, "brand_id": 9, "class_id": 8})
    doc["specs"].append({"goods_name": "no code"})
    doc["suites"][0]["details"].append({"spec_no": "nope", "num": 0})
    doc["stock"].append({"warehouse_id": 77, "spec_no": "lz38", "stock_num": "1.00001"})
    doc["stock"].append({"warehouse_id": 1, "spec_no": "lz38", "order_num": True})
    doc["stock"].append({"warehouse_no": "A", "spec_no": "lz38"})
    doc["shops"][0]["is_disabled"] = "yes"
    doc["apps"][1]["shop_ids"] = [69, 71]
    doc["rules"][0].update(min_stock=-1, stock_flag=65536, percent="-5")
    doc["rules"][1]["brand_id"] = 5
    doc["listings"][0]["shop_id"] = 71
    doc["listings"][1]["match"] = {"type": 1, "code": "missing"}
    doc["listings"][2]["custom_rule"] = {"warehouse_list": "1", "max_stock": "-2"}
    doc["listings"][3]["colour"] = "red"
    doc["listings"].append(dict(doc["listings"][4], rec_id=9999))
    doc["listings"].append({"shop_id": 69})
    return doc


EXPECTED = [
    "warehouses[5].warehouse_id: duplicate warehouse_id 1 (also warehouses[0])",
    "classes[0].parent_id: class cycle 1 → 3 → 1",
    "classes[2].parent_id: class cycle 3 → 1 → 3",
    "specs[4].spec_id: 2147483648 is outside 1..2147483647",
    "specs[4].spec_no: longer than 64 characters",
    "specs[4].brand_id: unknown brand 9",
    "specs[4].class_id: unknown class 8",
    "specs[5].spec_no: required",
    "suites[0].details[2].spec_no: unknown spec 'nope'",
    "suites[0].details[2].num: must be greater than 0",
    "stock[7].stock_num: more than 4 decimal places: 1.00001",
    "stock[7].warehouse_id: unknown warehouse 77",
    "stock[8].order_num: expected a number, got a boolean",
    "stock[9]: duplicate stock row for spec 'lz38' in warehouse 1",
    "shops[0].is_disabled: expected true/false or 0/1, got 'yes'",
    "apps[1].shop_ids[1]: unknown shop 71",
    "rules[0].stock_flag: 65536 is outside 0..65535",
    "rules[0].percent: must not be negative",
    "rules[0].min_stock: must not be negative",
    "rules[1].brand_id: unknown brand 5",
    "listings[0].shop_id: unknown shop 71",
    "listings[1].match.code: unknown spec 'missing'",
    "listings[2].custom_rule.max_stock: must not be negative",
    "listings[3].colour: unknown field",
    "listings[7]: duplicate listing: shop 69 goods_id 'ghost' spec_id '' appears twice",
    "listings[8].goods_id: required",
]


def test_a_bad_document_reports_every_problem_with_its_path(engine: Engine, sid: str) -> None:
    errors = refused(engine, broken_doc(sid))
    assert sorted(errors) == sorted(EXPECTED)


def test_a_bad_document_writes_nothing_to_a_new_seller(engine: Engine, sid: str) -> None:
    before = database_rows(engine)
    refused(engine, broken_doc(sid))
    assert database_rows(engine) == before


def test_a_bad_document_leaves_a_stored_seller_exactly_as_it_was(engine: Engine, sid: str) -> None:
    import_snapshot(engine, full_doc(sid), now=NOW)
    doc = full_doc(sid)
    doc["stock"][0]["stock_num"] = 999  # a valid change before the problem...
    doc["listings"][-1]["shop_id"] = 404  # ...and one problem at the very end
    rows, text = database_rows(engine), exported(engine, sid)
    assert refused(engine, doc) == ["listings[6].shop_id: unknown shop 404"]
    assert database_rows(engine) == rows and exported(engine, sid) == text


def test_a_document_of_another_format_is_refused_at_format(sqlite_engine: Engine) -> None:
    doc = {"format": "stocksync-snapshot/2", "sid": "x", "specs": [{"bad": 1}]}
    assert refused(sqlite_engine, doc) == [
        "format: expected 'stocksync-snapshot/1', got 'stocksync-snapshot/2'"
    ]


def test_a_missing_or_bad_sid_is_reported_with_the_other_problems(
    sqlite_engine: Engine,
) -> None:
    doc = {"format": "stocksync-snapshot/1", "sid": "", "specs": [{"spec_no": 5}]}
    assert refused(sqlite_engine, doc) == [
        "sid: expected a non-empty string of at most 64 characters",
        "specs[0].spec_no: expected a string, got a number",
    ]
    assert refused(sqlite_engine, {"format": "stocksync-snapshot/1"}) == ["sid: required"]


def test_unknown_sections_and_repeated_sections_are_errors(sqlite_engine: Engine, sid: str) -> None:
    text = dump_snapshot(small_doc(sid, goods=[])) + b""
    text = text[:-2] + b',\n"shops":[]\n}'
    assert refused(sqlite_engine, text) == ["goods: unknown section", "shops: section given twice"]


def test_invalid_json_is_reported_with_line_and_column(sqlite_engine: Engine, sid: str) -> None:
    text = dump_snapshot(small_doc(sid)).replace(b'"self-1"}', b'"self-1",}')
    [error] = refused(sqlite_engine, text)
    assert error == (
        "document: invalid JSON at line 7, column 34: "
        "Expecting property name enclosed in double quotes"
    )


def test_a_section_that_is_not_an_array_is_an_error(sqlite_engine: Engine, sid: str) -> None:
    assert refused(sqlite_engine, small_doc(sid, specs={"spec_no": "x"})) == [  # type: ignore[arg-type]
        "specs: expected an array"
    ]


def test_a_stored_code_cannot_move_to_another_id(engine: Engine, sid: str) -> None:
    import_snapshot(engine, small_doc(sid, specs=[{"spec_id": 1, "spec_no": "P"}]), now=NOW)
    doc = small_doc(sid, specs=[{"spec_id": 2, "spec_no": "P"}])
    assert refused(engine, doc) == ["specs[0].spec_no: 'P' already belongs to spec 1"]


def test_a_listing_key_stored_under_another_rec_id_is_an_error(engine: Engine, sid: str) -> None:
    listing = {"rec_id": 5, "shop_id": 69, "goods_id": "g", "spec_id": "s"}
    import_snapshot(engine, small_doc(sid, listings=[listing]), now=NOW)
    doc = small_doc(sid, listings=[dict(listing, rec_id=6)])
    assert refused(engine, doc) == [
        "listings[0].rec_id: shop 69 goods_id 'g' spec_id 's' is already listing 5"
    ]


def test_unknown_warehouses_in_warehouse_lists_are_warnings(engine: Engine, sid: str) -> None:
    rule = {"rec_id": 1, "warehouse_list": "1,9,x"}
    listing = {"shop_id": 69, "goods_id": "g", "custom_rule": {"warehouse_list": "8"}}
    report = import_snapshot(engine, small_doc(sid, rules=[rule], listings=[listing]), now=NOW)
    assert report.warnings == [
        "rules[0].warehouse_list: unknown warehouse 9 (ignored by the formula)",
        "rules[0].warehouse_list: 'x' is not a warehouse id (ignored)",
        "listings[0].custom_rule.warehouse_list: unknown warehouse 8 (ignored by the formula)",
    ]
    assert report.created["rules"] == 1 and report.created["listings"] == 1


def test_a_huge_number_of_problems_is_capped(sqlite_engine: Engine, sid: str) -> None:
    doc = small_doc(sid, specs=[{"spec_no": n} for n in range(1500)])
    errors = refused(sqlite_engine, doc)
    assert len(errors) == 1001 and errors[-1] == "... and 500 more error(s)"


def test_a_malformed_match_or_custom_rule_is_an_error(sqlite_engine: Engine, sid: str) -> None:
    listings = [
        {"shop_id": 69, "goods_id": "a", "match": {}},
        {"shop_id": 69, "goods_id": "b", "match": {"type": 3, "code": "x"}},
        {"shop_id": 69, "goods_id": "c", "custom_rule": {"stock_flag": -1, "extra": 1}},
        {"shop_id": 69, "goods_id": "d", "custom_rule": []},
    ]
    assert refused(sqlite_engine, small_doc(sid, listings=listings)) == [
        "listings[0].match.type: required",
        "listings[0].match.code: required",
        "listings[1].match.type: 3 is not one of 1, 2",
        "listings[2].custom_rule.extra: unknown field",
        "listings[2].custom_rule.stock_flag: -1 is outside 0..65535",
        "listings[3].custom_rule: expected an object, got an array",
    ]
