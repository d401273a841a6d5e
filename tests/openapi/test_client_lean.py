"""The client's lean per-call path gives what the general code gives: sign, target, answers."""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from openapi_harness import VECTORS

from stocksync import jsoncodec
from stocksync.client import ApiError, Client, _loads, _query
from stocksync.openapi.arguments import loads_exact
from stocksync.openapi.signature import EPOCH, sign, to_wdt

texts = st.text(max_size=12)


def reference_request(client: Client, method: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
    """The target and body `Client.call` sent before the lean path: a params dict, `sign`,
    `_query` (itself proven equal to `urlencode` in test_client.py)."""
    body = jsoncodec.dumps(list(args))
    params = {"sid": client.sid, "key": client.key, "salt": client._salt, "method": method}
    params |= {"v": "1.0", "timestamp": str(to_wdt(client.clock()))}
    params["sign"] = sign(params, body, client._secret)
    return f"{client.path}?{_query(params)}", body


def sent_by(client: Client, method: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
    sent: list[tuple[str, bytes]] = []

    def transport(verb: str, target: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        assert verb == "POST" and dict(headers) == {"Content-Type": "application/json"}
        sent.append((target, body))
        return 200, b'{"status":0}'

    client.transport = transport
    assert client.call(method, *args) is None
    return sent[0]


@given(
    sid=texts,
    key=texts,
    secret=texts.filter(lambda s: ":" not in s),
    salt=texts,
    method=texts,
    now=st.floats(0, 4e9),
    args=st.lists(
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.booleans(), texts, st.decimals(places=4))
    ),
)
@example(sid="s", key="k", secret="\ud800", salt="t", method="m", now=0.0, args=[])
def test_call_sends_the_target_and_body_of_the_general_code(
    sid: str, key: str, secret: str, salt: str, method: str, now: float, args: list[Any]
) -> None:
    args = [a for a in args if not isinstance(a, Decimal) or a.is_finite()]
    client = Client("http://h/x/", sid, key, f"{secret}:{salt}", clock=lambda: now)
    try:
        expected: Any = reference_request(client, method, tuple(args))
    except UnicodeEncodeError as error:  # a lone surrogate cannot be signed either way
        expected = type(error)
    try:
        assert sent_by(client, method, tuple(args)) == expected
    except UnicodeEncodeError as error:
        assert type(error) is expected


@pytest.mark.parametrize("case", [c for c in VECTORS if "page_no" not in c["params"]])
def test_the_lean_sign_matches_every_sdk_vector(case: dict[str, Any]) -> None:
    params = case["params"]
    client = Client("http://h", params["sid"], params["key"], case["appsecret"])
    signed = client._sign(params["method"], params["timestamp"], case["body"].encode())
    assert signed == case["sign"] and params["v"] == "1.0"


def test_a_vector_call_sends_the_vector_query_string() -> None:
    [case] = [c for c in VECTORS if c["body"] == "[2447,false]" and "PHP" in c["client"]][:1]
    params = case["params"]
    now = float(EPOCH + int(params["timestamp"]))
    client = Client("http://h", params["sid"], params["key"], case["appsecret"], clock=lambda: now)
    target, body = sent_by(client, params["method"], (2447, False))
    order = ["sid", "key", "salt", "method", "v", "timestamp", "sign"]
    assert body == b"[2447,false]"
    assert target == f"/openapi?{_query({k: params[k] for k in order})}"


# JSON documents: exact decimals, big and small ints, any text, nested; written in several styles.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**25), 10**25),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def write(value: Any, ascii_only: bool, spaced: bool) -> bytes:
    """JSON text with Decimals as their exact text (which `json.dumps` cannot write)."""
    return _text(value, ascii_only, ", " if spaced else ",").encode("utf-8", "surrogatepass")


def _text(value: Any, ascii_only: bool, comma: str) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + comma.join(_text(v, ascii_only, comma) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (
            f"{_text(k, ascii_only, comma)}:{_text(v, ascii_only, comma)}" for k, v in value.items()
        )
        return "{" + comma.join(pairs) + "}"
    return json.dumps(value, ensure_ascii=ascii_only)


def outcome(parse: Any, payload: bytes) -> Any:
    """What `parse` makes of `payload`: the value with every number's exact type and text, or
    that it refused the payload."""
    try:
        return _exact(parse(payload))
    except (ValueError, RecursionError):
        return "refused"


def _exact(value: Any) -> Any:
    if isinstance(value, list):
        return ["list", *[_exact(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", *[(k, _exact(v)) for k, v in value.items()]]
    return (type(value).__name__, str(value))


@given(documents, st.booleans(), st.booleans())
def test_answers_parse_as_loads_exact_and_the_stdlib_with_decimals_parse_them(
    value: Any, ascii_only: bool, spaced: bool
) -> None:
    payload = write(value, ascii_only, spaced)
    exact = outcome(_loads, payload)
    assert exact == outcome(loads_exact, payload)
    stdlib = outcome(lambda p: json.loads(p.decode(), parse_float=Decimal), payload)
    if exact != "refused" or "\\ud" not in payload.decode(errors="replace").lower():
        assert exact == stdlib  # (loads_exact alone refuses lone surrogates)


@given(documents, st.data())
def test_damaged_answers_are_refused_or_read_exactly_as_loads_exact_reads_them(
    value: Any, data: st.DataObject
) -> None:
    payload = bytearray(write(value, False, False))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(payload)))
        junk = data.draw(st.sampled_from([b"", b" ", b"{", b"]", b",", b"\\", b"\xff", b".5"]))
        payload[at : at + data.draw(st.integers(0, 2))] = junk
    assert outcome(_loads, bytes(payload)) == outcome(loads_exact, bytes(payload))


@pytest.mark.parametrize(
    "payload",
    [
        b'{"status":0,"data":1.5}',
        b' {"status":0}',
        b'{"status":0} ',
        b'{"status":0}x',
        b"\xef\xbb\xbf{}",
        b'["\\ud800"]',
        b'["\\ud83d\\ude00", 1.50]',
        b"[NaN]",
        b"[1.5,Infinity]",
        b"[-Infinity]",
        b"[1E400, 1e-5, -0.0, -0]",
        b"[12345678901234567890123]",
        b"[0.1]" + b"\xff",
        b"[" * 300 + b"1.5" + b"]" * 300,
        b"[" * 2000 + b"]" * 2000,
        b"",
        b"[01]",
        b'["a\x01"]',
        b'{"a":1.5,"a":2.50,"b":3}',
    ],
)
def test_edge_answers_parse_as_loads_exact_parses_them(payload: bytes) -> None:
    assert outcome(_loads, payload) == outcome(loads_exact, payload)


@pytest.mark.parametrize("depth", [1024, 1025])
def test_deep_answers_parse_as_loads_exact_parses_them_whatever_the_recursion_limit(
    depth: int,
) -> None:
    payload = b"[" * depth + b"1.5" + b"]" * depth, b"[" * depth + b"]" * depth
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # the scanner then reads what orjson refuses
    try:
        assert [outcome(_loads, p) for p in payload] == [outcome(loads_exact, p) for p in payload]
    finally:
        sys.setrecursionlimit(limit)


def test_answers_with_decimals_are_read_by_the_scanner_not_by_loads_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("stocksync.client.loads_exact", None)  # the fast path must not need it
    client = Client("http://h", "s", "k", "a:b")
    client.transport = lambda *a: (200, b'{"status":0,"data":{"max":550.0000,"n":3}}')
    data = client.call("sales.StockSync.calcStock", 1, False)
    assert data == {"max": Decimal("550.0000"), "n": 3} and str(data["max"]) == "550.0000"
    client.transport = lambda *a: (502, b"<html>bad")
    monkeypatch.undo()
    with pytest.raises(ApiError) as raised:
        client.call("x")
    assert (raised.value.status, raised.value.http_status) == (99, 502)
