"""Every refusal path of the app answers the right status and message, and runs no handler."""

from __future__ import annotations

import logging

import pytest
from openapi_harness import (
    JSON_HEADERS,
    SID,
    TIMESTAMP,
    Harness,
    credential,
    signed_query,
)

CALC = "sales.StockSync.calcStock"
VERIFICATION_FAILED = {"status": 1, "message": "验证失败"}
BAD_ARGUMENTS = {"status": 1, "message": "参数错误"}


def _refused(
    harness: Harness,
    expected: dict[str, object],
    body: bytes = b"[1,false]",
    **overrides: str | None,
) -> None:
    """The call answers `expected` and no handler ran."""
    assert harness.call(CALC, body, **overrides) == (200, expected)
    assert harness.recorder.calls == []


def test_a_correct_call_reaches_the_handler_with_typed_arguments(harness: Harness) -> None:
    assert harness.call(CALC, b'["2447","true"]') == (
        200,
        {"status": 0, "data": {"method": CALC, "args": [2447, True]}},
    )
    [(_, _, context)] = harness.recorder.calls
    assert (context.credential.sid, context.now, context.page_size) == (SID, harness.now, None)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sign": "0" * 32},
        {"sign": "BD717CC5674D037AC547862DB0E76A1C"},
        {"sign": "签名"},
        {"salt": "other"},
        {"sid": "nobody"},
        {"key": "no-such-key"},
    ],
    ids=[
        "wrong-sign",
        "upper-case-sign",
        "non-ascii-sign",
        "wrong-salt",
        "unknown-sid",
        "unknown-key",
    ],
)
def test_every_credential_failure_answers_the_same_verification_failed(
    harness: Harness, overrides: dict[str, str]
) -> None:
    _refused(harness, VERIFICATION_FAILED, **overrides)


def test_a_sign_made_with_another_secret_fails_verification(harness: Harness) -> None:
    _refused(harness, VERIFICATION_FAILED, secret="not-the-secret")


@pytest.mark.parametrize("missing", ["sid", "key", "salt", "method", "v", "timestamp", "sign"])
def test_a_missing_common_parameter_is_bad_arguments(harness: Harness, missing: str) -> None:
    _refused(harness, BAD_ARGUMENTS, **{missing: None})


@pytest.mark.parametrize(
    "timestamp",
    [
        str(TIMESTAMP - 121),
        str(TIMESTAMP + 121),
        str(TIMESTAMP * 1000),
        "1764000000",
        "-5",
        "x1",
        "",
        "４７０５２４６０６",
        str(10**30),
    ],
)
def test_a_timestamp_off_by_more_than_120_seconds_or_not_seconds_is_status_7(
    harness: Harness, timestamp: str
) -> None:
    _refused(harness, {"status": 7, "message": "时间戳错误"}, timestamp=timestamp)


@pytest.mark.parametrize("delta", [-120, 120])
def test_a_timestamp_120_seconds_off_is_still_accepted(harness: Harness, delta: int) -> None:
    assert harness.call(CALC, b"[1,false]", timestamp=str(TIMESTAMP + delta))[1]["status"] == 0


@pytest.mark.parametrize("version", ["2.0", "1", "1.0 ", ""])
def test_a_version_other_than_1_0_is_status_8(harness: Harness, version: str) -> None:
    _refused(harness, {"status": 8, "message": "版本错误"}, v=version)


def test_checks_run_in_the_documented_order(harness: Harness) -> None:
    _refused(harness, BAD_ARGUMENTS, v="2.0", sign=None)
    _refused(harness, {"status": 8, "message": "版本错误"}, v="2.0", timestamp="0")
    _refused(harness, {"status": 7, "message": "时间戳错误"}, sid="nobody", timestamp="0")
    _refused(harness, VERIFICATION_FAILED, method="no.such.method", sign="bad")
    _refused(harness, VERIFICATION_FAILED, body=b"not json", sign="bad")
    answer = harness.call("no.such.method", b"not json")[1]
    assert answer == {"status": 1, "message": "method not found: no.such.method"}


def test_an_unknown_method_names_itself(harness: Harness) -> None:
    _refused(
        harness, {"status": 1, "message": "method not found: sales.Nope.x"}, method="sales.Nope.x"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"a":1}',
        b"2447",
        b'"[1,false]"',
        b"[1,false",
        b'["\xff\xfe",1]',
        b"\xef\xbb\xbf[1,false]",
        b"[NaN,false]",
        b'["\\ud800",1]',
        b"[1,false]]",
    ],
)
def test_a_body_that_is_not_a_json_array_in_utf8_is_bad_arguments(
    harness: Harness, body: bytes
) -> None:
    _refused(harness, BAD_ARGUMENTS, body=body)


@pytest.mark.parametrize("body", [b"[]", b"[1]", b"[1,false,3]", b"[{}]"])
def test_a_wrong_number_of_arguments_is_invalid_argument_count(
    harness: Harness, body: bytes
) -> None:
    _refused(harness, {"status": 1, "message": "invalid argument count"}, body=body)


@pytest.mark.parametrize(
    "body",
    [
        b'["abc",false]',
        b"[1,2]",
        b'[1,"yes"]',
        b"[1.5,false]",
        b"[true,false]",
        b"[null,false]",
        b"[1,null]",
        b"[2147483648,false]",
        b"[[1],false]",
        b'[{"id":1},false]',
    ],
)
def test_an_uncoercible_argument_is_argument_type_mismatch(harness: Harness, body: bytes) -> None:
    _refused(harness, {"status": 1, "message": "argument type mismatch"}, body=body)


def test_a_method_without_arguments_accepts_an_empty_list_and_the_go_clients_empty_object(
    harness: Harness,
) -> None:
    assert harness.call("system.Core.now", b"[]")[1] == {"status": 0, "data": harness.now}
    assert harness.call("system.Core.now", b"[{}]")[1] == {"status": 0, "data": harness.now}
    assert harness.call("system.Core.now", b"[1]")[1]["message"] == "invalid argument count"
    assert harness.call("system.Core.now", b'[{"a":1}]')[1]["message"] == "invalid argument count"


@pytest.mark.parametrize(
    "extra", ["&sid=" + SID, "&v=1.0", "&body=%5B1%2Cfalse%5D", "&sid=%FF", "&x=%E5%8D"]
)
def test_a_parameter_sent_twice_or_named_body_or_not_utf8_is_bad_arguments(
    harness: Harness, extra: str
) -> None:
    query = signed_query(CALC, b"[1,false]")
    assert harness.post(f"/openapi?{query}{extra}", b"[1,false]") == (200, BAD_ARGUMENTS)
    assert harness.recorder.calls == []


def test_an_extra_query_parameter_is_signed_like_the_others(harness: Harness) -> None:
    assert harness.call(CALC, b"[1,false]", format="json")[1]["status"] == 0
    query = signed_query(CALC, b"[1,false]")
    assert harness.post(f"/openapi?{query}&format=json", b"[1,false]")[1] == VERIFICATION_FAILED


def test_a_seller_id_with_spaces_and_unicode_is_signed_decoded(harness: Harness) -> None:
    harness.store.add(credential(sid="卖家 one+two"))
    status, answer = harness.call(CALC, b"[1,false]", sid="卖家 one+two")
    assert (status, answer["status"]) == (200, 0)
    assert harness.recorder.calls[0][2].credential.sid == "卖家 one+two"


def test_a_handler_that_raises_answers_99_with_the_logged_request_id(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="stocksync.openapi"):
        status, answer = harness.call("test.boom", b"[]")
    assert status == 200 and answer["status"] == 99
    request_id = harness.transport.last_headers["x-request-id"]
    assert answer["message"] == f"其他错误 (request id {request_id})"
    [record] = caplog.records
    assert request_id in record.getMessage()
    assert record.exc_info is not None and "kaboom" in str(record.exc_info[1])


def test_each_request_gets_its_own_request_id(harness: Harness) -> None:
    harness.call("test.boom", b"[]")
    first = harness.transport.last_headers["x-request-id"]
    harness.call("test.boom", b"[]")
    assert harness.transport.last_headers["x-request-id"] != first


def test_an_unencodable_result_is_99_not_a_crash(harness: Harness) -> None:
    harness.app.registry.register("test.object", lambda context, args: object())
    assert harness.call("test.object", b"[]")[1]["status"] == 99


def test_domain_errors_map_to_100_and_1_with_their_message(harness: Harness) -> None:
    assert harness.call("test.business", b"[]")[1] == {"status": 100, "message": "取消失败"}
    assert harness.call("test.invalid", b"[]")[1] == {"status": 1, "message": "shop_no 不存在"}


def test_the_rate_limit_answers_the_vendors_exact_sentence_after_n_calls() -> None:
    with Harness([credential(rate_limit=3)]) as harness:
        answers = [harness.call(CALC, b"[1,false]")[1] for _ in range(5)]
        assert [a["status"] for a in answers] == [0, 0, 0, 100, 100]
        assert answers[3]["message"] == "超过每分钟最大调用频率限制，请稍后重试"
        assert len(harness.recorder.calls) == 3
        assert harness.call("no.such.method", b"[]")[1]["status"] == 100  # limit comes first
        harness.now += 60
        assert harness.call(CALC, b"[1,false]")[1]["status"] == 0


def test_failed_verifications_do_not_use_up_the_rate_limit() -> None:
    with Harness([credential(rate_limit=1)]) as harness:
        for _ in range(3):
            assert harness.call(CALC, b"[1,false]", sign="bad")[1] == VERIFICATION_FAILED
        assert harness.call(CALC, b"[1,false]")[1]["status"] == 0


def test_the_app_wide_default_rate_limit_applies_to_keys_without_their_own() -> None:
    with Harness(default_rate_limit=1) as harness:
        assert harness.call(CALC, b"[1,false]")[1]["status"] == 0
        assert harness.call(CALC, b"[1,false]")[1]["status"] == 100


def test_a_paged_call_passes_its_page_parameters_and_repeats_the_total(harness: Harness) -> None:
    extra = {"page_size": "50", "page_no": "2", "calc_total": "1"}
    status, answer = harness.call("setting.Shop.queryShop", b'[{"shop_no":"a"}]', **extra)
    assert answer == {
        "status": 0,
        "data": {"total_count": 42, "details": [], "page": [50, 2]},
        "total": 42,
    }
    [(_, args, context)] = harness.recorder.calls
    assert (args, context.calc_total) == ([{"shop_no": "a"}], True)


def test_a_paged_call_without_calc_total_has_no_top_level_total(harness: Harness) -> None:
    answer = harness.call("setting.Shop.queryShop", b"[]", page_size="10", page_no="0")[1]
    assert "total" not in answer and answer["data"]["page"] == [10, 0]
    assert harness.recorder.calls[0][1] == [{}]  # the omitted optional argument's default


@pytest.mark.parametrize(
    "extra",
    [{"page_size": "ten"}, {"page_no": "-1"}, {"calc_total": "maybe"}, {"page_size": "1" * 12}],
)
def test_malformed_page_parameters_are_bad_arguments(
    harness: Harness, extra: dict[str, str]
) -> None:
    assert harness.call("setting.Shop.queryShop", b"[]", **extra)[1] == BAD_ARGUMENTS


def test_decimal_answers_are_exact_json_numbers_and_ints_stay_ints(harness: Harness) -> None:
    assert harness.raw("test.decimal", b"[1.0000]") == b'{"status":0,"data":1.0000}'
    assert harness.raw("test.decimal", b'["550.1200"]') == b'{"status":0,"data":550.1200}'
    assert harness.raw("test.decimal", b"[7]") == b'{"status":0,"data":7}'
    echoed = harness.raw(CALC, b"[2447,false]")
    assert echoed == b'{"status":0,"data":{"method":"%s","args":[2447,false]}}' % CALC.encode()
    assert harness.call("test.decimal", b"[0.00001]")[1]["message"] == "argument type mismatch"


@pytest.mark.parametrize("path", ["/openapi", "/openapi/", "/openapi/openapi", "/openapi/openapi/"])
def test_both_endpoint_paths_answer(harness: Harness, path: str) -> None:
    status, answer = harness.post(f"{path}?{signed_query(CALC, b'[1,false]')}", b"[1,false]")
    assert (status, answer["status"]) == (200, 0)


def test_other_paths_are_404_and_other_methods_405_in_json(harness: Harness) -> None:
    assert harness.post("/api", b"[]") == (404, {"status": 1, "message": "not found"})
    assert harness.post("/openapi", b"", http_method="GET") == (
        405,
        {"status": 1, "message": "method not allowed"},
    )
    assert harness.transport.last_headers["allow"] == "POST"


def test_every_answer_is_json_in_utf8(harness: Harness) -> None:
    harness.call(CALC, b"[1,false]")
    assert harness.transport.last_headers["content-type"] == "application/json; charset=utf-8"


def test_a_body_announced_above_the_limit_is_refused_before_reading() -> None:
    with Harness(max_body=100) as harness:
        headers = JSON_HEADERS | {"Content-Length": "101"}
        chunks = iter([b"[1,", b"false]"])
        status, answer = harness.post(f"/openapi?{signed_query(CALC, b'')}", chunks, headers)
        assert (status, answer) == (413, {"status": 1, "message": "request body too large"})
        assert harness.transport.chunks_read == 0 and harness.recorder.calls == []


def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    with Harness(max_body=100) as harness:
        chunks = (b"[" + b" " * 39 for _ in range(1000))
        status, answer = harness.post(f"/openapi?{signed_query(CALC, b'')}", chunks)
        assert (status, answer["status"]) == (413, 1)
        assert harness.transport.chunks_read == 3  # 120 bytes > 100: no fourth chunk pulled
        assert harness.recorder.calls == []


def test_a_body_of_exactly_the_limit_is_read() -> None:
    body = b"[1,false]"
    with Harness(max_body=len(body)) as harness:
        assert harness.call(CALC, body)[1]["status"] == 0
