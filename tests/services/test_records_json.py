"""The calcStock record as JSON text (`records.listing_record_json`), without a database: the
same bytes as encoding the record dict, whatever the listing's text and quantities hold."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stocksync import jsoncodec
from stocksync.db.types import from_scaled
from stocksync.domain.model import RuleParams
from stocksync.services import records
from stocksync.services.records import AppliedRule, RuleEntry, listing_record, listing_record_json

_SCALED = st.integers(min_value=-(9 * 10**18), max_value=9 * 10**18)
_TEXT = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(['a"b', "a\\b", "\x00", "卖"]))
_TIME = st.one_of(st.none(), st.integers(min_value=0, max_value=2**33))
_ENTRY = RuleEntry(
    AppliedRule(
        7,
        "R7",
        RuleParams("1,2", 17024, Decimal("12.5"), Decimal(1), Decimal(0), Decimal(9), True, False),
    )
)


def _raw(texts: list[str | None], scaled: tuple[int, int], times: list[int | None]) -> tuple:
    goods_id, spec_id, outer_id, spec_outer_id, match_code, reserve_s = texts
    return (
        2447, 69, 127, 0, goods_id, spec_id, outer_id, spec_outer_id, match_code, 1, 12581, 1,
        scaled[0], scaled[1], *times, 2, 0, reserve_s,
    )  # fmt: skip


@given(
    st.lists(_TEXT, min_size=6, max_size=6),
    st.tuples(_SCALED, _SCALED),
    st.lists(_TIME, min_size=3, max_size=3),
    st.integers(min_value=-(2**40), max_value=2**40),
)
def test_the_record_text_is_the_records_encoding_byte_for_byte(
    texts: list[str | None], scaled: tuple[int, int], times: list[int | None], syn_stock: int
) -> None:
    raw = _raw(texts, scaled, times)
    expected = jsoncodec.dumps(listing_record(raw, _ENTRY.fields, syn_stock))
    assert listing_record_json(raw, _ENTRY, syn_stock) == expected


@given(_SCALED)
def test_a_quantity_is_written_as_its_four_place_decimal(scaled: int) -> None:
    assert (
        jsoncodec.dumps([records._quantity_json(scaled)])
        == b"[%s]" % str(from_scaled(scaled)).encode()
    )


def test_the_kept_quantity_texts_are_bounded() -> None:
    for scaled in range(records._QUANTITY_JSON_MAX + 10):
        records._quantity_json(scaled)
    assert 0 < len(records._QUANTITY_JSON) <= records._QUANTITY_JSON_MAX
    assert jsoncodec.dumps(records._quantity_json(5)) == b"0.0005"
