"""Malformed queries and bodies thrown at the real app over a real database (every backend):
always a well-formed envelope, never a 500 or an internal error, and never a change in the
database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from test_methods_support import (
    BATCH,
    CALC,
    CALC_AUTH,
    NOW_METHOD,
    WRITING,
    demo_tenant,
    server_app,
    tenant_rows,
)

from stocksync.bootstrap import ServerApp
from stocksync.openapi.arguments import parse_body
from stocksync.openapi.errors import ProtocolError
from stocksync.openapi.signature import sign, to_wdt
from stocksync.openapi.testing import AsgiTransport
from stocksync.services.demo import DEMO_KEY, DEMO_SALT, DEMO_SECRET

#: Bodies each read-only method accepts, or nearly.
READING_BODIES = {
    CALC: [b"[2447,false]", b'["1007","true"]', b"[1006]", b"[-1,1]", b"[99999,false]"],
    CALC_AUTH: [b"[2447,true]", b'["2447"]'],
    BATCH: [b'[[{"api_goods_id":2447}]]', b'[[{"api_goods_id":"x"}]]', b"[[]]", b"[[1,2]]"],
    NOW_METHOD: [b"[]", b"[{}]"],
}
METHODS = [*READING_BODIES, *WRITING]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip
random_bodies = st.one_of(
    st.binary(max_size=30),
    st.lists(json_values, max_size=3).map(lambda v: json.dumps(v, default=str).encode()),
    json_values.map(lambda v: json.dumps(v, default=str).encode()),
)
junk = st.one_of(st.text(max_size=6), st.sampled_from(["", "0", "1.0 ", "-1", "%ff"]))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes, bool]:
    """(method, query params but `timestamp`/`sign`, body, sign right?) — mostly well-formed,
    every part sometimes wrong or missing."""
    good = {"sid": "", "key": DEMO_KEY, "salt": DEMO_SALT, "v": "1.0"}
    params = {}
    for name, value in good.items():
        roll = draw(st.integers(0, 19))  # hypothesis favours 0: make it the usual case
        if roll != 19:
            params[name] = value if roll != 18 else draw(junk)
    method = draw(st.sampled_from(METHODS)) if draw(st.integers(0, 9)) != 9 else draw(junk)
    params["method"] = method
    if draw(st.integers(0, 4)) == 4:
        params[draw(st.sampled_from(["page_size", "page_no", "calc_total"]))] = draw(junk)
    valid = st.sampled_from(READING_BODIES.get(method, [b"[]"]))
    usual = method in READING_BODIES and draw(st.integers(0, 3)) != 3
    body = draw(valid) if usual else draw(random_bodies)
    return method, params, body, draw(st.integers(0, 9)) != 9


@pytest.fixture
def app(engine: Engine) -> Iterator[ServerApp]:
    with server_app(engine) as app:
        yield app


def _would_run(app: ServerApp, method: str, body: bytes) -> bool:
    """Whether `method` accepts `body` (its handler would run on a signed call)."""
    found = app.api.registry.get(method)
    try:
        return found is not None and found.decode(parse_body(body)) is not None
    except ProtocolError:
        return False


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests(), skew=st.sampled_from([5, -300, 400]), roll=st.integers(0, 9))
def test_malformed_requests_answer_an_envelope_and_change_nothing(
    engine: Engine, sid: str, app: ServerApp, request: tuple[str, dict[str, str], bytes, bool],
    skew: int, roll: int,
) -> None:  # fmt: skip
    method, params, body, right_sign = request
    assume(method not in WRITING or not _would_run(app, method, body))
    tid = _tenant(engine, sid)
    before = tenant_rows(engine, tid)
    if "sid" in params and not params["sid"]:
        params["sid"] = sid
    params["timestamp"] = str(to_wdt(time.time()) + (skew if roll == 8 else 0))
    params["sign"] = sign(params, body, DEMO_SECRET) if right_sign else "0" * 32
    path = "/openapi/x" if roll == 9 else "/openapi"
    with AsgiTransport(app) as transport:
        status, payload = transport("POST", f"{path}?{urlencode(params)}", {}, body)
    answer: Any = json.loads(payload)
    assert status == (404 if roll == 9 else 200)
    assert isinstance(answer, dict) and type(answer["status"]) is int and answer["status"] >= 0
    event(f"status {answer['status']}")
    if answer["status"]:
        assert set(answer) == {"status", "message"} and isinstance(answer["message"], str)
        assert answer["status"] in {1, 7, 8, 100}, answer
    assert tenant_rows(engine, tid) == before


_tenants: dict[tuple[str, str], int] = {}


def _tenant(engine: Engine, sid: str) -> int:
    """The demo seller `sid`, imported once per test (hypothesis calls the test many times)."""
    key = (str(engine.url), sid)
    if key not in _tenants:
        _tenants[key] = demo_tenant(engine, sid)
    return _tenants[key]
