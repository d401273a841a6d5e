"""Random requests never crash the app, always get a well-formed envelope, and only a correctly
signed, well-formed request ever reaches a handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_harness import KEY, SALT, SECRET, SID, TIMESTAMP, Harness

from stocksync.openapi.app import PATHS
from stocksync.openapi.signature import sign

MAX_BODY = 300
#: Methods of the fake registry, each with bodies its params accept.
VALID_BODIES = {
    "sales.StockSync.calcStock": [b"[2447,false]", b'["1","true"]'],
    "sales.StockSync.getSelfWaitSyncIdListOpen": [b'["500","0"]', b"[10,0]"],
    "sales.StockSync.syncSuccess": [b'[1,{"syn_stock":1}]', b"[1,[]]"],
    "setting.Shop.queryShop": [b"[{}]", b"[]", b'[{"shop_no":"a"}]'],
    "system.Core.now": [b"[]", b"[{}]"],
}
METHODS = sorted(VALID_BODIES)
GOOD = {"sid": SID, "key": KEY, "salt": SALT, "v": "1.0", "timestamp": str(TIMESTAMP)}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
random_bodies = st.one_of(
    st.binary(max_size=40),
    st.lists(json_values, max_size=3).map(lambda v: json.dumps(v, ensure_ascii=False).encode()),
    st.just(b"[" + b"1," * 200 + b"1]"),
)
values = st.one_of(st.text(max_size=6), st.sampled_from(["0", "1", "10", "-1", "true"]))


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` three times out of four (one_of alone would pick each branch equally)."""
    return st.integers(0, 3).flatmap(lambda n: bad if n == 3 else good)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes, bool]:
    """(path, http method, query params, body, whether the sign is the right one).

    Mostly well-formed, so that a good share reaches the handlers, with every part sometimes
    wrong or missing.
    """
    params: dict[str, str] = {}
    for name, good in GOOD.items():
        if draw(st.integers(0, 19)) != 19:  # hypothesis favours small numbers
            params[name] = draw(_mostly(st.just(good), values))
    if draw(st.integers(0, 3)) == 3:
        params["timestamp"] = str(TIMESTAMP + draw(st.integers(-200, 200)))
    method = params["method"] = draw(_mostly(st.sampled_from(METHODS), values))
    for name in draw(st.sets(st.sampled_from(["page_size", "page_no", "calc_total", "x"]))):
        params[name] = draw(_mostly(st.sampled_from(["0", "1", "20"]), values))
    body = draw(_mostly(st.sampled_from(VALID_BODIES.get(method, [b"[]"])), random_bodies))
    right_sign = draw(st.integers(0, 3)) != 3
    params["sign"] = sign(params, body, SECRET) if right_sign else draw(st.text(max_size=32))
    path = draw(_mostly(st.sampled_from(sorted(PATHS)), st.sampled_from(["/", "/openapi/x"])))
    http_method = draw(_mostly(st.just("POST"), st.sampled_from(["GET", "PUT"])))
    return path, http_method, params, body, right_sign


@pytest.fixture(scope="module")
def shared() -> Iterator[Harness]:
    with Harness(max_body=MAX_BODY) as harness:
        yield harness


def _authentic(path: str, method: str, params: dict[str, str], body: bytes, right: bool) -> bool:
    """Whether the request passes every check up to and including verification."""
    skew_ok = (
        params.get("timestamp", "").isdigit() and abs(int(params["timestamp"]) - TIMESTAMP) <= 120
    )
    credentials_ok = all(params.get(k) == v for k, v in GOOD.items() if k != "timestamp")
    transport_ok = path in PATHS and method == "POST" and len(body) <= MAX_BODY
    return transport_ok and right and skew_ok and credentials_ok and "method" in params


@settings(max_examples=400, deadline=None)
@given(request=requests())
def test_random_requests_get_a_well_formed_answer_and_only_valid_ones_run_a_handler(
    shared: Harness, request: tuple[str, str, dict[str, str], bytes, bool]
) -> None:
    path, method, params, body, right_sign = request
    shared.recorder.calls.clear()
    status, payload = shared.transport(method, f"{path}?{urlencode(params)}", {}, body)
    answer: Any = json.loads(payload)
    expected_http = {200} if path in PATHS and method == "POST" else {404, 405}
    assert status in expected_http | {413}
    assert status != 413 or len(body) > MAX_BODY
    assert isinstance(answer, dict) and type(answer["status"]) is int and answer["status"] >= 0
    if answer["status"] > 0:
        assert isinstance(answer["message"], str) and answer["message"]
        assert answer["status"] != 99, answer
    ran = bool(shared.recorder.calls)
    assert ran == (answer["status"] == 0)
    if ran:
        assert _authentic(path, method, params, body, right_sign)
        assert params["method"] in METHODS


@settings(max_examples=200, deadline=None)
@given(query=st.binary(max_size=80), body=st.binary(max_size=40))
def test_random_query_bytes_never_crash_the_app(shared: Harness, query: bytes, body: bytes) -> None:
    shared.recorder.calls.clear()
    answer = json.loads(shared.app.answer(query, body, "r1"))
    assert type(answer["status"]) is int and answer["status"] in {1, 7, 8}
    assert shared.recorder.calls == []
