"""The 27 signature vectors from real PHP and Go clients: signed alike, accepted, decoded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_harness import VECTORS, Harness

from stocksync.openapi.ports import AppCredential
from stocksync.openapi.signature import EPOCH, sign, split_appsecret

CASES = [pytest.param(case, id=f"{i}-{case['params']['method']}") for i, case in enumerate(VECTORS)]

# Decoded arguments where they differ from the body's JSON (strings coerced to the declared kind).
COERCED: dict[str, list[Any]] = {'["500","0"]': [500, 0]}


def _harness_for(case: dict[str, Any]) -> Harness:
    params = case["params"]
    secret, salt = split_appsecret(case["appsecret"])
    harness = Harness([AppCredential(params["sid"], 3, params["key"], secret, salt, None, None)])
    harness.now = float(EPOCH + int(params["timestamp"]))
    return harness


def test_there_are_27_vectors_from_two_clients() -> None:
    assert len(VECTORS) == 27
    assert {case["client"].split()[0] for case in VECTORS} == {"official", "Go"}


@pytest.mark.parametrize("case", CASES)
def test_sign_reproduces_the_clients_sign(case: dict[str, Any]) -> None:
    secret, salt = split_appsecret(case["appsecret"])
    assert (secret, salt) == (case["secret"], case["params"]["salt"])
    assert sign(case["params"], case["body"], secret) == case["sign"]
    assert sign(case["params"], case["body"].encode(), secret) == case["sign"]


@pytest.mark.parametrize("case", CASES)
def test_the_app_accepts_each_vector_and_decodes_its_arguments(case: dict[str, Any]) -> None:
    params, body = case["params"], case["body"]
    with _harness_for(case) as harness:
        status, answer = harness.post(f"{case['url_path']}?{case['query_string']}", body.encode())
    assert status == 200
    if body == "[]":  # calcStock without its two arguments: verified, then refused
        assert answer == {"status": 1, "message": "invalid argument count"}
        assert harness.recorder.calls == []
        return
    assert answer["status"] == 0, answer
    [(method, args, context)] = harness.recorder.calls
    assert method == params["method"]
    expected = [] if method == "system.Core.now" else COERCED.get(body, json.loads(body))
    assert args == expected
    assert [type(a) for a in args] == [type(e) for e in expected]
    assert context.credential.sid == params["sid"]
    assert context.page_size == (int(params["page_size"]) if "page_size" in params else None)
    assert context.page_no == (int(params["page_no"]) if "page_no" in params else None)
    assert context.calc_total is (params.get("calc_total") == "1")


def test_go_escapes_reach_the_handler_as_the_characters_they_encode() -> None:
    case = next(c for c in VECTORS if c["body"].startswith('[2447,{"stock_change_count":9'))
    with _harness_for(case) as harness:
        status, answer = harness.post(f"/openapi?{case['query_string']}", case["body"].encode())
    assert (status, answer) == (200, {"status": 0})
    [(_, args, _)] = harness.recorder.calls
    assert args[1]["syn_result"] == "<timeout> & retry 'later' = ok"
    assert type(args[1]["syn_stock"]) is int


def test_a_vector_with_one_byte_of_its_body_changed_fails_verification() -> None:
    case = VECTORS[0]
    with _harness_for(case) as harness:
        status, answer = harness.post(f"/openapi?{case['query_string']}", b"[2447,false] ")
    assert (status, answer) == (200, {"status": 1, "message": "验证失败"})


def test_the_worked_example_of_the_spec_signs_as_documented() -> None:
    params = {"sid": "wdtapi3", "key": "appkey", "salt": "testsalt", "v": "1.0"}
    params |= {"method": "sales.StockSync.getSelfWaitSyncIdListOpen", "timestamp": "400000000"}
    assert sign(params, "[100,0]", "testsecret") == "f15d084f20e6ff64d1ce3f3881e85d04"
