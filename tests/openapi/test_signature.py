"""Signature, query parsing and timestamps, without the app."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.openapi.errors import BadArguments, BadTimestamp
from stocksync.openapi.signature import (
    EPOCH,
    check_timestamp,
    from_wdt,
    parse_query,
    sign,
    signing_bytes,
    split_appsecret,
    to_wdt,
    verify,
)

PARAMS = {"sid": "s", "key": "k", "salt": "x", "method": "m", "v": "1.0", "timestamp": "5"}


def test_the_signed_text_is_secret_sorted_pairs_with_the_body_then_secret() -> None:
    text = signing_bytes(PARAMS | {"sign": "ignored", "page_no": "0"}, "[1]", "S")
    assert text == b"Sbody[1]keykmethodmpage_no0saltxsidstimestamp5v1.0S"
    assert sign(PARAMS, "[1]", "S") == hashlib.md5(signing_bytes(PARAMS, "[1]", "S")).hexdigest()


def test_a_body_given_as_bytes_is_signed_byte_for_byte() -> None:
    assert sign(PARAMS, '["卖"]', "S") == sign(PARAMS, '["卖"]'.encode(), "S")
    assert signing_bytes(PARAMS, b"\xff", "S").startswith(b"Sbody\xffkey")


def test_verify_accepts_the_right_sign_only() -> None:
    right = sign(PARAMS, "[]", "S")
    assert verify(PARAMS, "[]", "S", right)
    assert not verify(PARAMS, "[]", "S", right.upper())
    assert not verify(PARAMS, "[] ", "S", right)
    assert not verify(PARAMS, "[]", "S", "签名")


@pytest.mark.parametrize(
    ("appsecret", "parts"),
    [("a:b", ("a", "b")), ("a:b:c", ("a", "b:c")), (":b", ("", "b")), ("a:", ("a", ""))],
)
def test_an_appsecret_splits_at_the_first_colon(appsecret: str, parts: tuple[str, str]) -> None:
    assert split_appsecret(appsecret) == parts


def test_an_appsecret_without_a_colon_is_refused() -> None:
    with pytest.raises(ValueError, match="secret:salt"):
        split_appsecret("nocolon")


def test_timestamps_count_seconds_from_2012_china_time() -> None:
    assert EPOCH == 1325347200
    assert to_wdt(EPOCH + 470524606.9) == 470524606
    assert from_wdt(470524606) == EPOCH + 470524606


def test_query_parsing_decodes_plus_and_utf8_escapes_in_any_order() -> None:
    query = b"sign=abc&sid=%E5%8D%96%E5%AE%B6+1&salt=b%3Ac&empty=&flag&&v=1.0"
    expected = {"sign": "abc", "sid": "卖家 1", "salt": "b:c", "empty": "", "flag": ""}
    assert parse_query(query) == expected | {"v": "1.0"}


def test_query_parsing_keeps_malformed_escapes_literally() -> None:
    assert parse_query(b"a=%zz&b=100%") == {"a": "%zz", "b": "100%"}


def test_raw_utf8_in_a_query_is_accepted() -> None:
    assert parse_query("sid=卖家".encode()) == {"sid": "卖家"}


@pytest.mark.parametrize(
    "query", [b"a=1&a=2", b"a=1&a=1", b"body=[]", b"sid=%FF", b"sid=\xff", b"%E5%8D=1"]
)
def test_query_parsing_refuses_repeats_body_and_bytes_that_are_not_utf8(query: bytes) -> None:
    with pytest.raises(BadArguments):
        parse_query(query)


@given(st.dictionaries(st.text(min_size=1).filter(lambda k: k != "body"), st.text(), max_size=8))
def test_any_urlencoded_mapping_parses_back_to_itself(params: dict[str, str]) -> None:
    assert parse_query(urlencode(params).encode()) == params


@pytest.mark.parametrize("offset", [-120, 0, 120])
def test_a_timestamp_within_the_skew_passes(offset: int) -> None:
    check_timestamp(str(1000 + offset), float(EPOCH + 1000), 120)


@pytest.mark.parametrize("timestamp", ["879", "1121", "1000000000000", "+1000", " 1000", "1e3"])
def test_a_timestamp_outside_the_skew_or_not_plain_digits_is_refused(timestamp: str) -> None:
    with pytest.raises(BadTimestamp):
        check_timestamp(timestamp, float(EPOCH + 1000), 120)


def _reference_signing_bytes(params: dict[str, str], body: bytes, secret: str) -> bytes:
    entries = {key: value.encode() for key, value in params.items() if key != "sign"}
    entries["body"] = body
    inner = b"".join(key.encode() + entries[key] for key in sorted(entries))
    return secret.encode() + inner + secret.encode()


@given(
    st.dictionaries(
        st.one_of(st.sampled_from(["body", "sign", "bod", "bodz", "a", "Z", "卖"]), st.text()),
        st.text(),
    ),
    st.binary(max_size=8),
    st.text(max_size=4),
)
def test_the_signed_text_is_every_pair_but_sign_in_order_with_the_body(
    params: dict[str, str], body: bytes, secret: str
) -> None:
    try:
        expected = _reference_signing_bytes(params, body, secret)
    except UnicodeEncodeError:  # a lone surrogate (no parsed query carries one)
        with pytest.raises(UnicodeEncodeError):
            signing_bytes(params, body, secret)
        return
    assert signing_bytes(params, body, secret) == expected


def test_a_query_given_as_text_parses_as_its_utf8_bytes_do() -> None:
    query = "sign=abc&sid=%E5%8D%96%E5%AE%B6+1&salt=b%3Ac&key=卖&v=1.0"
    assert parse_query(query) == parse_query(query.encode())
    with pytest.raises(BadArguments):
        parse_query("a=1&a=2")


@given(
    st.fixed_dictionaries(
        dict.fromkeys(["key", "method", "salt", "sid", "timestamp", "v"], st.text())
    ),
    st.sampled_from([{}, {"sign": "x"}]),
    st.binary(max_size=8),
    st.text(max_size=4),
)
def test_the_usual_parameters_are_signed_in_order_without_sorting(
    usual: dict[str, str], sign_param: dict[str, str], body: bytes, secret: str
) -> None:
    params = usual | sign_param
    try:
        expected = _reference_signing_bytes(params, body, secret)
    except UnicodeEncodeError:  # a lone surrogate (no parsed query carries one)
        return
    assert signing_bytes(params, body, secret) == expected
