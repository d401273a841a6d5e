"""The `info` decoder's fast paths for JSON types answer exactly as the general path."""

from decimal import Decimal
from typing import Any

import pytest

from stocksync.domain.errors import InvalidArgument
from stocksync.domain.syncstate import INT32_MAX
from stocksync.services.ackinfo import SyncInfo, decode_info, info_json


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0), (INT32_MAX, INT32_MAX), ("7", 7), (Decimal("12.0000"), 12), (3.0, 3),
        (" 4 ", 4),
    ],
)  # fmt: skip
def test_syn_stock_is_read_from_every_numeric_form(value: Any, expected: int) -> None:
    assert decode_info({"syn_stock": value}).syn_stock == expected


@pytest.mark.parametrize(
    ("value", "bound"),
    [(-(2**31), True), (INT32_MAX, True), (-(2**31) - 1, False), (2**31, False)],
)
def test_integers_are_signed_32_bit(value: int, bound: bool) -> None:
    info = {"stock_change_count": value}
    if bound:
        assert decode_info(info).stock_change_count == value
    else:
        with pytest.raises(InvalidArgument, match="info.stock_change_count must be a whole"):
            decode_info(info)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (Decimal("NaN"), "a number"), (Decimal("Infinity"), "a number"), (True, "a number"),
        ("1e400000", "a whole number"), (Decimal("2.5"), "a whole number"),
    ],
)  # fmt: skip
def test_a_number_that_is_not_a_32_bit_whole_number_is_refused(value: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=f"info.stock_syn_mask must be {message}"):
        decode_info({"stock_syn_mask": value})


def test_decimals_keep_their_exact_value_and_places() -> None:
    decoded = decode_info(
        {"stock_syn_plus": Decimal("0.5000"), "stock_syn_min": 3, "stock_syn_max": "7.25"}
    )
    assert decoded == SyncInfo(
        stock_syn_plus=Decimal("0.5000"), stock_syn_min=Decimal(3), stock_syn_max=Decimal("7.25")
    )
    assert str(decoded.stock_syn_plus) == "0.5000"


def test_the_record_keeps_info_as_sent_with_exact_decimals() -> None:
    info = {"syn_stock": 1, "stock_syn_plus": Decimal("0.5000"), "x": [1, None]}
    assert info_json(info) == '{"syn_stock":1,"stock_syn_plus":0.5000,"x":[1,null]}'
