"""Reading documents piecewise and checking records field by field (no database)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.services import snapshot_read
from stocksync.services.snapshot_fields import Literal, Problems, quantity
from stocksync.services.snapshot_listings import LISTINGS
from stocksync.services.snapshot_read import DocumentError, open_document
from stocksync.services.snapshot_stock import STOCK

DOC = (
    '{"format": "stocksync-snapshot/1",\n "sid" : "s",  "specs": [ {"spec_no": "跑鞋",'
    ' "n": 12345.6789}, {"a": [1, 2.5, {"b": null}]} ,\n{"big": 123456789012}],'
    ' "empty": [], "obj": {"x": 1e2}}'
)


def plain(value: Any) -> Any:
    """A parsed value with `Literal`s replaced by their Decimal, to compare with json.loads."""
    if isinstance(value, Literal):
        return value.decimal
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def read_all(source: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for member in open_document(source)():
        found[member.name] = list(member.elements()) if member.is_array else member.value
    return plain(found)


@pytest.mark.parametrize("window", [1, 3, 7, 1 << 22])
def test_a_file_is_read_in_windows_of_any_size_exactly_like_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    monkeypatch.setattr(snapshot_read, "_WINDOW", window)
    path = tmp_path / "doc.json"
    path.write_text(DOC, encoding="utf-8")
    assert read_all(path) == json.loads(DOC, parse_float=Decimal)


def test_text_bytes_and_mappings_read_the_same() -> None:
    expected = json.loads(DOC, parse_float=Decimal)
    assert read_all(DOC) == read_all(DOC.encode()) == read_all(expected) == expected


def test_numbers_with_a_fraction_are_exact_and_integers_stay_ints() -> None:
    member = next(open_document('{"a": [0.1, 7, 1.00000, 0.12345]}')())
    values = list(member.elements())
    assert isinstance(values[0], Literal) and values[0].decimal == Decimal("0.1")
    assert [quantity(v) for v in values[:3]] == [1000, 70000, 10000]
    assert values[1] == 7 and type(values[1]) is int
    with pytest.raises(ValueError, match="more than 4 decimal places"):
        quantity(values[3])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "line 1, column 1: expected the document to be a JSON object"),
        ('{"a": [1 2]}', "line 1, column 10: expected ',' or ']'"),
        ('{"a": 1}  {', "line 1, column 11: extra data after the document"),
        ('{\n"a": [{"b": tru}]}', "line 2, column 13: Expecting value"),
        ('{"a": "unterminated', "line 1, column 7: Unterminated string starting at"),
    ],
)
def test_broken_json_is_reported_with_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.setattr(snapshot_read, "_WINDOW", 4)
    path = tmp_path / "doc.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError, match="document: invalid JSON at " + message):
        read_all(path)


def test_a_file_that_is_not_utf8_or_missing_is_a_document_error(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    path.write_bytes(b'{"sid": "\xff"}')
    with pytest.raises(DocumentError, match="not UTF-8"):
        read_all(path)
    with pytest.raises(DocumentError, match="cannot read"):
        read_all(tmp_path / "missing.json")


_text = st.text(max_size=5)
_qty = st.one_of(
    st.integers(-5, 5),
    st.decimals(-10, 10, places=4).map(lambda d: Literal(str(d))),
    st.sampled_from(["1.5", "x", True, None, [], Literal("0.00001")]),
)
_LISTING_VALUES = {
    "rec_id": st.one_of(st.integers(-1, 3), st.none(), st.just("2")),
    "shop_id": st.integers(0, 3),
    "shop_no": _text,
    "goods_id": st.one_of(_text, st.integers()),
    "spec_id": _text,
    "status": st.integers(-1, 3),
    "stock_num": _qty,
    "is_disable_syn": st.sampled_from([True, False, 0, 1, 2, "no"]),
    "match": st.none(),
    "colour": _text,
}


def _slow(shape: Any, record: dict[str, Any]) -> tuple[list[Any], bool, list[str]]:
    problems = Problems()
    values, ok = shape._check_slowly(record, "x", problems)
    return values, ok, problems.errors


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=_LISTING_VALUES))
def test_the_one_pass_check_agrees_with_the_field_by_field_check(record: dict[str, Any]) -> None:
    problems = Problems()
    values, ok = LISTINGS.check(record, problems, "x")
    slow_values, slow_ok, slow_errors = _slow(LISTINGS, record)
    assert (values, ok, problems.errors) == (slow_values, slow_ok, slow_errors)


@settings(max_examples=200, deadline=None)
@given(st.fixed_dictionaries({"spec_no": _text}, optional={"stock_num": _qty, "lock_num": _qty}))
def test_stock_quantities_agree_between_both_checks(record: dict[str, Any]) -> None:
    problems = Problems()
    result = STOCK.check(record, problems, "x")
    assert (*result, problems.errors) == _slow(STOCK, record)


@pytest.mark.parametrize("window", [16, 64, 1000])
@pytest.mark.parametrize("indent", [None, 2])
def test_canonical_and_pretty_documents_read_alike_through_small_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int, indent: int | None
) -> None:
    monkeypatch.setattr(snapshot_read, "_WINDOW", window)
    fixture = Path(__file__).parents[1] / "data" / "snapshot_full.json"
    expected = json.loads(fixture.read_text(encoding="utf-8"), parse_float=Decimal)
    path = tmp_path / "doc.json"
    if indent is None:
        path.write_bytes(fixture.read_bytes())
    else:
        path.write_text(json.dumps(expected, indent=indent, default=str), encoding="utf-8")
        expected = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    assert read_all(path) == expected
