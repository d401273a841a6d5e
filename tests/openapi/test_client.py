"""The Python client: signs like the SDKs, unwraps answers, raises ApiError; two transports."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openapi_harness import KEY, NOW, SALT, SECRET, SID, Harness

from stocksync.client import ApiError, Client, HttpTransport, _query
from stocksync.openapi.signature import sign, to_wdt
from support.http_stub import serving

CALC = "sales.StockSync.calcStock"


class Spy:
    """A transport that records what the client sent and forwards it to the app."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.sent: list[tuple[str, str, Mapping[str, str], bytes]] = []

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        self.sent.append((method, target, headers, body))
        return self.harness.transport(method, target, headers, body)


@pytest.fixture
def spy(harness: Harness) -> Spy:
    return Spy(harness)


@pytest.fixture
def client(spy: Spy) -> Client:
    return Client(
        "http://stocksync.test", SID, KEY, f"{SECRET}:{SALT}", transport=spy, clock=lambda: NOW
    )


def test_call_returns_the_data_of_the_answer(client: Client, spy: Spy) -> None:
    assert client.call(CALC, 2447, False) == {"method": CALC, "args": [2447, False]}
    assert client.call("sales.StockSync.syncSuccess", 2447, {"syn_stock": 1}) is None
    [(method, args, _), (ack, info, _)] = spy.harness.recorder.calls
    assert (method, args, ack, info) == (
        CALC,
        [2447, False],
        "sales.StockSync.syncSuccess",
        [2447, {"syn_stock": 1}],
    )


def test_the_request_is_signed_like_the_vendor_sdks(client: Client, spy: Spy) -> None:
    client.call("setting.Shop.queryShop", {"shop_no": "店铺/01", "qty": Decimal("1.5000")})
    [(method, target, headers, body)] = spy.sent
    assert method == "POST" and headers["Content-Type"] == "application/json"
    assert body == '[{"shop_no":"店铺/01","qty":1.5000}]'.encode()
    url = urlsplit(target)
    params = dict(parse_qsl(url.query))
    assert url.path == "/openapi"
    assert params["timestamp"] == str(to_wdt(NOW)) and params["v"] == "1.0"
    assert (params["sid"], params["key"], params["salt"]) == (SID, KEY, SALT)
    assert params["sign"] == sign({k: v for k, v in params.items() if k != "sign"}, body, SECRET)


def test_errors_raise_api_error_with_status_and_message(client: Client) -> None:
    with pytest.raises(ApiError) as raised:
        client.call("test.business")
    assert (raised.value.status, raised.value.message) == (100, "取消失败")
    with pytest.raises(ApiError) as raised:
        client.call(CALC, "abc", False)
    assert (raised.value.status, raised.value.message) == (1, "argument type mismatch")


def test_a_wrong_appsecret_is_refused_by_the_server(spy: Spy) -> None:
    client = Client("http://x", SID, KEY, f"wrong:{SALT}", transport=spy, clock=lambda: NOW)
    with pytest.raises(ApiError, match="验证失败"):
        client.call(CALC, 1, False)


def test_page_call_sends_the_page_parameters(client: Client, spy: Spy) -> None:
    data = client.page_call("setting.Shop.queryShop", 20, 3, {"shop_no": "a"}, calc_total=True)
    assert data == {"total_count": 42, "details": [], "page": [20, 3]}
    params = dict(parse_qsl(urlsplit(spy.sent[0][1]).query))
    assert (params["page_size"], params["page_no"], params["calc_total"]) == ("20", "3", "1")
    [(_, args, context)] = spy.harness.recorder.calls
    assert (args, context.calc_total) == ([{"shop_no": "a"}], True)
    client.page_call("setting.Shop.queryShop", 20, 0)
    assert dict(parse_qsl(urlsplit(spy.sent[1][1]).query))["calc_total"] == "0"


def test_decimals_in_answers_parse_as_decimals(client: Client) -> None:
    value = client.call("test.decimal", Decimal("550.1200"))
    assert value == Decimal("550.1200") and str(value) == "550.1200"
    assert type(client.call("test.decimal", 3)) is int


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("http://h", "/openapi"),
        ("http://h/", "/openapi"),
        ("http://h/wdt/", "/wdt/openapi"),
        ("http://h/openapi", "/openapi"),
        ("http://h/openapi/openapi", "/openapi/openapi"),
    ],
)
def test_the_endpoint_path_is_appended_unless_the_url_ends_with_it(url: str, path: str) -> None:
    assert Client(url, SID, KEY, "s:t", transport=lambda *a: (200, b"")).path == path


def test_an_answer_that_is_not_an_envelope_raises_api_error_99() -> None:
    client = Client("http://h", SID, KEY, "s:t", transport=lambda *a: (502, b"<html>bad gateway"))
    with pytest.raises(ApiError) as raised:
        client.call("x")
    assert (raised.value.status, raised.value.http_status) == (99, 502)
    assert "bad gateway" in raised.value.message


def test_an_oversize_body_raises_api_error_with_the_http_status() -> None:
    with Harness(max_body=10) as harness:
        client = Client("http://h", SID, KEY, f"{SECRET}:{SALT}", transport=harness.transport)
        with pytest.raises(ApiError) as raised:
            client.call(CALC, "x" * 20, False)
    assert (raised.value.status, raised.value.http_status) == (1, 413)


class _Answering(BaseHTTPRequestHandler):
    """Answers every POST with a fixed envelope; drops the connection when the path asks."""

    protocol_version = "HTTP/1.1"
    connections: list[int] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        payload = b'{"status":0,"data":1.5}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.close_connection = "drop" in self.path  # without telling the client

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    _Answering.connections = []
    with serving(_Answering) as url:
        yield url


def test_the_http_transport_keeps_one_connection_alive(http_server: str) -> None:
    with Client(http_server, SID, KEY, "s:t") as client:
        assert [client.call("x") for _ in range(3)] == [Decimal("1.5")] * 3
    assert len(_Answering.connections) == 1


def test_the_http_transport_reconnects_when_the_server_dropped_the_connection(
    http_server: str,
) -> None:
    transport = HttpTransport(http_server, timeout=5)
    try:
        for _ in range(3):
            status, body = transport("POST", "/drop", {}, b"[]")
            assert (status, body) == (200, b'{"status":0,"data":1.5}')
    finally:
        transport.close()
    assert len(_Answering.connections) == 3


@given(st.dictionaries(st.sampled_from(["sid", "key", "salt", "method"]), st.text(max_size=8)))
def test_the_query_string_is_exactly_what_urlencode_makes(params: dict[str, str]) -> None:
    assert _query(params) == urlencode(params)
