"""Argument decoding: liberal where clients need it, never lossy, never through float."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.openapi.arguments import (
    INT_MAX,
    INT_MIN,
    ArgSpec,
    Param,
    _inexact_hint,
    parse_body,
    to_bool,
    to_decimal,
    to_int,
    to_list,
    to_object,
    to_str,
)
from stocksync.openapi.errors import ArgumentTypeMismatch, BadArguments, InvalidArgumentCount
from stocksync.openapi.registry import MethodRegistry


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (500, 500),
        ("500", 500),
        ("-1", -1),
        (Decimal("2447.0"), 2447),
        (INT_MAX, INT_MAX),
        (str(INT_MIN), INT_MIN),
    ],
)
def test_ints_come_from_ints_integral_numbers_and_numeric_strings(
    value: Any, expected: int
) -> None:
    assert to_int(value) == expected and type(to_int(value)) is int


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        1.5,
        Decimal("1.5"),
        Decimal("NaN"),
        "1.0",
        " 1",
        "1e3",
        "٣",
        "",
        None,
        [1],
        INT_MAX + 1,
        INT_MIN - 1,
        "99999999999",
    ],
)
def test_ints_refuse_bools_fractions_and_anything_out_of_32_bits(value: Any) -> None:
    with pytest.raises(ArgumentTypeMismatch):
        to_int(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        ("TRUE", True),
    ],
)
def test_bools_come_from_true_false_one_and_zero(value: Any, expected: bool) -> None:
    assert to_bool(value) is expected


@pytest.mark.parametrize("value", [2, -1, "yes", "2", "", None, Decimal("1.0"), [], {}])
def test_bools_refuse_everything_else(value: Any) -> None:
    with pytest.raises(ArgumentTypeMismatch):
        to_bool(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.0000"), Decimal("1.0000")),
        (7, Decimal(7)),
        ("1.5", Decimal("1.5")),
        ("-0.0001", Decimal("-0.0001")),
        (Decimal("2.50000"), Decimal("2.5")),
    ],
)
def test_decimals_come_exact_from_numbers_and_decimal_strings(
    value: Any, expected: Decimal
) -> None:
    assert to_decimal(value) == expected and isinstance(to_decimal(value), Decimal)


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.00001"),
        "0.00001",
        1.5,
        True,
        "1e3",
        "NaN",
        Decimal("Infinity"),
        "",
        "1.",
        Decimal("1E+40"),
        None,
    ],
)
def test_decimals_refuse_floats_more_than_4_places_and_non_numbers(value: Any) -> None:
    with pytest.raises(ArgumentTypeMismatch):
        to_decimal(value)


def test_strings_accept_numbers_as_their_text_but_not_bools() -> None:
    assert (to_str("lz38"), to_str(6), to_str(Decimal("1.50"))) == ("lz38", "6", "1.50")
    with pytest.raises(ArgumentTypeMismatch):
        to_str(True)


def test_objects_and_lists_pass_through_and_php_empty_arrays_count_as_objects() -> None:
    assert to_object({"a": 1}) == {"a": 1} and to_object([]) == {}
    assert to_list([1, {"a": 2}]) == [1, {"a": 2}]
    for coerce, wrong in ((to_object, [1]), (to_object, "{}"), (to_list, {}), (to_list, "[]")):
        with pytest.raises(ArgumentTypeMismatch):
            coerce(wrong)


def test_parse_body_reads_fractions_as_decimals_and_big_integers_exactly() -> None:
    assert parse_body(b"[1.10,2,true]") == [Decimal("1.10"), 2, True]
    assert parse_body(b"[1e2]") == [Decimal("1E+2")]
    assert parse_body(b"[12345678901234567890123]") == [12345678901234567890123]
    assert parse_body(b'[{"syn_stock":1,"stock_syn_max":550.0000}]') == [
        {"syn_stock": 1, "stock_syn_max": Decimal("550.0000")}
    ]
    assert type(parse_body(b'["v1.0", 3]')[1]) is int
    assert parse_body(b"[1e999]") == [Decimal("1e999")]  # valid JSON; no kind accepts it
    assert parse_body(b'["\\ud83d\\ude00",1.5]') == ["\U0001f600", Decimal("1.5")]


#: What `loads_exact` looked for with a regex before: where orjson could give a float.
_HINT = re.compile(rb"[0-9][.eE]|[0-9]{19}")


@given(st.lists(st.sampled_from([b"0", b"7", b"9", b".", b"e", b"E", b"a", b'"', b"-", b","])))
def test_the_inexact_hint_is_the_regex_it_replaces(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert _inexact_hint(data) is (_HINT.search(data) is not None)


@pytest.mark.parametrize("length", [18, 19, 40])
def test_nineteen_digits_in_a_row_take_the_exact_parse(length: int) -> None:
    digits = "9" * length
    assert _inexact_hint(f'[{{"api_goods_id":{digits}}}]'.encode()) is (length >= 19)
    assert parse_body(f"[{digits}]".encode()) == [int(digits)]


def test_a_batch_body_of_integers_and_bools_is_read_as_is() -> None:
    items = [{"api_goods_id": i, "force_sync": i % 3 == 0} for i in range(5000)]
    body = orjson.dumps([items])
    assert not _inexact_hint(body)
    assert parse_body(body) == [items]


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"1",
        b"",
        b"[",
        b"[" * 5000 + b"]" * 5000,
        b"[1.5,NaN]",
        b"[1.5,Infinity]",
        b'["\\ud800",1.5]',
        b'["\xff",1.5]',
        b"[1.5]]",
        b"[01.5]",
    ],
)
def test_parse_body_refuses_what_is_not_a_json_array(body: bytes) -> None:
    with pytest.raises(BadArguments):
        parse_body(body)


SPEC = ArgSpec((Param("id", "int"), Param("force", "bool", required=False, default=False)))


def test_omitted_or_null_optional_arguments_take_their_default() -> None:
    assert SPEC.decode([5]) == [5, False]
    assert SPEC.decode(["5", None]) == [5, False]
    assert SPEC.decode([5, "1"]) == [5, True]


def test_a_default_object_is_fresh_for_every_call() -> None:
    spec = ArgSpec((Param("params", "object", required=False, default={}),))
    spec.decode([])[0]["changed"] = True
    assert spec.decode([]) == [{}]


@pytest.mark.parametrize("raw", [[], [1, True, 3], [1, True, None, None]])
def test_too_few_or_too_many_arguments_is_invalid_argument_count(raw: list[Any]) -> None:
    with pytest.raises(InvalidArgumentCount):
        SPEC.decode(raw)


def test_a_method_without_params_accepts_an_empty_list_or_one_empty_object() -> None:
    assert ArgSpec().decode([]) == [] and ArgSpec().decode([{}]) == []
    with pytest.raises(InvalidArgumentCount):
        ArgSpec().decode([[]])


def test_the_registry_refuses_a_required_param_after_an_optional_one_and_duplicates() -> None:
    registry = MethodRegistry()
    with pytest.raises(ValueError, match="follows an optional"):
        registry.register("x", lambda c, a: None, (Param("a", "int", False), Param("b", "int")))
    registry.register("y", lambda c, a: None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("y", lambda c, a: None)
    registry.alias("z", "y")
    assert list(registry) == ["y", "z"] and "z" in registry and len(registry) == 2


@given(st.integers(INT_MIN, INT_MAX))
def test_every_int32_survives_as_number_and_as_string(value: int) -> None:
    assert to_int(value) == to_int(str(value)) == value


@given(st.decimals(min_value=-(10**14), max_value=10**14, places=4, allow_nan=False))
def test_every_4_place_decimal_survives_as_json_number_and_as_string(value: Decimal) -> None:
    assert parse_body(f"[{value}]".encode())[0] == value
    assert to_decimal(format(value, "f")) == value


def test_a_param_of_an_unknown_kind_is_refused_when_the_method_is_registered() -> None:
    with pytest.raises(ValueError, match="no such kind of param: float"):
        ArgSpec([Param("x", "float")])  # type: ignore[arg-type]


def test_a_null_argument_takes_the_default_only_where_the_param_is_optional() -> None:
    spec = ArgSpec([Param("id", "int"), Param("force", "bool", required=False, default=False)])
    assert spec.decode(["7", None]) == [7, False]
    with pytest.raises(ArgumentTypeMismatch):
        spec.decode([None, True])
