"""The HTTP transport's own request writer and answer reader do what http.client does."""

from __future__ import annotations

import http.client
import io
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.client import Client, HttpTransport, _read_answer, _request_parts
from support.http_stub import serving


class Recording:
    """A socket stand-in that records what http.client sends."""

    def __init__(self) -> None:
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += bytes(data)


def http_client_bytes(host: str, port: int | None, method: str, target: str, headers: Any,
                      body: bytes) -> bytes:  # fmt: skip
    conn = http.client.HTTPConnection(host, port)
    conn.sock = Recording()  # type: ignore[assignment]
    conn.request(method, target, body=body, headers=headers)
    return conn.sock.sent  # type: ignore[attr-defined, no-any-return]


names = st.sampled_from(["Content-Type", "X-Trace", "accept", "Host", "Content-Length",
    "Transfer-Encoding", "Accept-Encoding", "bad name", "x:y", "é"])  # fmt: skip
values = st.sampled_from(["application/json", "", " a ", "é", "\u4e2d", "a\r\n b", "x\ny"])


@given(
    host=st.sampled_from(["127.0.0.1", "localhost", "::1", "h\u00e9.test"]),
    port=st.sampled_from([None, 80, 8000]),  # ("[fe80::1%eth0]" has no http.client port)
    method=st.sampled_from(["POST", "GET", "HEAD", "P\x01", "PO ST"]),
    target=st.sampled_from(["/openapi?a=1&b=%20", "/", "", "/a b", "/é", "http://x/y", "/\x7f"]),
    headers=st.dictionaries(names, values, max_size=3),
    body=st.binary(max_size=20),
)
def test_a_request_is_written_byte_for_byte_as_http_client_writes_it(
    host: str, port: int | None, method: str, target: str, headers: dict[str, str], body: bytes
) -> None:
    conn = http.client.HTTPConnection(host, port)
    transport = HttpTransport("http://unused", 5)
    request = transport._request(conn, method, target, headers, body)
    if request is not None:  # None: left to http.client, which writes (or refuses) it itself
        assert request == http_client_bytes(host, port, method, target, headers, body)


def test_the_client_request_is_written_by_the_transport_itself() -> None:
    assert _request_parts("127.0.0.1", 8000, "POST", {"Content-Type": "application/json"})


class Fragments:
    """A socket stand-in whose `recv` hands out an answer in the given pieces."""

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        points = sorted({0, len(data), *(c for c in cuts if 0 < c < len(data))})
        self.pieces = [data[a:b] for a, b in zip(points, points[1:], strict=False)]

    def recv(self, size: int) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        if len(piece) > size:
            piece, rest = piece[:size], piece[size:]
            self.pieces.insert(0, rest)
        return piece

    def recv_into(self, buffer: Any) -> int:
        piece = self.recv(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(b"".join(self.pieces)))  # type: ignore[arg-type]


def by_http_client(data: bytes, method: str) -> Any:
    response = http.client.HTTPResponse(Fragments(data, []), method=method)  # type: ignore[arg-type]
    response.begin()
    return response.status, response.read(), response.will_close


def outcome(read: Any) -> Any:
    try:
        return read()
    except Exception as error:  # the same kind of failure is the same behaviour
        return type(error).__name__


status_lines = st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.1 413 Payload Too Large",
    b"HTTP/1.1 404", b"HTTP/1.1 204 No Content", b"HTTP/1.1 304 x", b"HTTP/1.0 200 OK",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", b"HTTP/1.1  200 OK", b"HTTP/2 200",
    b"HTTP/1.1 2000 x", b"ICY 200 OK", b""])  # fmt: skip
header_lines = st.sampled_from([b"content-type: application/json", b"Content-Length: {n}",
    b"content-length:{n}", b"Content-Length: {n} ", b"Content-Length: +{n}", b"Content-Length: 3",
    b"Content-Length: -1", b"Transfer-Encoding: chunked", b"Connection: close",
    b"connection: Keep-Alive, CLOSE", b"Connection: keep-alive", b"Keep-Alive: timeout=5",
    b"server: granian", b" folded", b"X-A:\tb", b"Bad Header: 1", b":", b"X: a\rb",
    b"From nobody", b"X-Big: " + b"a" * 70000])  # fmt: skip


# Answers the transport reads itself (plain ones), beside any of the above.
plain_status = st.sampled_from([b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found", b"HTTP/1.1 413"])
plain_lines = st.sampled_from([b"content-type: application/json", b"Content-Length: {n}",
    b"content-length:{n}", b"Content-Length:  {n}", b"Content-Length: 3", b"Connection: close",
    b"connection: Keep-Alive, CLOSE", b"Connection: keep-alive", b"server: granian",
    b"X-A:\tb", b"X-Empty:", b"Connection:"])  # fmt: skip

with_length = st.tuples(st.lists(plain_lines, max_size=5), st.integers(0, 5)).map(
    lambda drawn: [*drawn[0][: drawn[1]], b"Content-Length: {n}", *drawn[0][drawn[1] :]]
)


@settings(max_examples=400)
@given(
    status=plain_status | plain_status | status_lines,
    lines=with_length | st.lists(plain_lines | header_lines, max_size=6),
    body=st.binary(max_size=40),
    chunked_body=st.booleans(),
    bare_lf=st.sampled_from([False, False, False, True]),
    trailer=st.sampled_from([b"", b"HTTP/1.1 200 OK\r\n", b"junk"]),
    truncate=st.sampled_from([0, 0, 0, 1, 2, 4, 30]),
    cuts=st.lists(st.integers(0, 200), max_size=6),
    method=st.sampled_from(["POST", "POST", "POST", "HEAD"]),
)
def test_an_answer_is_read_as_http_client_reads_it(
    status: bytes, lines: list[bytes], body: bytes, chunked_body: bool, bare_lf: bool,
    trailer: bytes, truncate: int, cuts: list[int], method: str,
) -> None:  # fmt: skip
    end = b"\n" if bare_lf else b"\r\n"
    head = end.join([status, *(line.replace(b"{n}", b"%d" % len(body)) for line in lines)])
    payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if chunked_body and body else body
    data = head + end + end + payload + trailer
    data = data[: len(data) - truncate]
    expected = outcome(lambda: by_http_client(data, method))
    assert outcome(lambda: _read_answer(Fragments(data, cuts), method)) == expected


class _Serving(BaseHTTPRequestHandler):
    """Answers by the path: plain, chunked, `Connection: close`, 404, trickled, or dropped."""

    protocol_version = "HTTP/1.1"
    connections: list[int] = []
    PAYLOAD = b'{"status":0,"data":[1.5,"\xe5\xba\x97"]}'

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        code, head, body = self._answer()
        self.wfile.write(b"HTTP/1.1 %d X\r\n%s\r\n" % (code, head))
        for at in range(0, len(body), 3 if "trickle" in self.path else len(body) or 1):
            self.wfile.write(body[at : at + (3 if "trickle" in self.path else len(body))])
            self.wfile.flush()
            if "trickle" in self.path:
                time.sleep(0.002)
        self.close_connection = "close" in self.path or "drop" in self.path

    def _answer(self) -> tuple[int, bytes, bytes]:
        payload = self.PAYLOAD
        if "chunked" in self.path:
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (payload[:5], payload[5:]))
            return 200, b"Transfer-Encoding: chunked\r\n", chunks + b"0\r\n\r\n"
        length = b"Content-Length: %d\r\n" % len(payload)
        if "close" in self.path:
            return 200, length + b"Connection: close\r\n", payload
        if "404" in self.path:
            return 404, b"Content-Length: 34\r\n", b'{"status":1,"message":"not found"}'
        return 200, length, payload

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Serving.connections = []
    with serving(_Serving) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "connections"),
    [("/plain", 1), ("/chunked", 1), ("/trickle", 1), ("/close", 3), ("/drop", 3)],
)
def test_each_kind_of_answer_is_read_on_a_real_socket(
    server: str, path: str, connections: int
) -> None:
    transport = HttpTransport(server, timeout=5)
    try:
        for _ in range(3):
            assert transport("POST", path, {}, b"[]") == (200, _Serving.PAYLOAD)
    finally:
        transport.close()
    assert len(_Serving.connections) == connections


def test_an_http_error_answer_is_returned_with_its_status(server: str) -> None:
    transport = HttpTransport(server, timeout=5)
    assert transport("POST", "/404", {}, b"[]") == (404, b'{"status":1,"message":"not found"}')
    assert transport("POST", "/plain", {}, b"[]") == (200, _Serving.PAYLOAD)
    transport.close()
    assert len(_Serving.connections) == 1


def test_plain_requests_skip_http_client_and_the_rest_still_use_it(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    used: list[str] = []
    request = http.client.HTTPConnection.request

    def spy(self: http.client.HTTPConnection, method: str, url: str, *a: Any, **k: Any) -> None:
        used.append(url)
        request(self, method, url, *a, **k)

    monkeypatch.setattr(http.client.HTTPConnection, "request", spy)
    with Client(server, "s", "k", "a:b") as client:
        assert client.call("x") == [Decimal("1.5"), "店"]
        transport = client.transport
        assert isinstance(transport, HttpTransport)
        assert transport("POST", "/plain", {"X-Odd": "a\r\n b"}, b"[]")[0] == 200
    assert used == ["/plain"] and len(_Serving.connections) == 1


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        transport = HttpTransport(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=0.2)
        with pytest.raises(TimeoutError):
            transport("POST", "/openapi", {}, b"[]")
    assert transport._conn is None


def test_a_granian_answer_is_read_without_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stocksync.client._read_by_http_client", None)
    body = '{"status":1,"message":"参数错误"}'.encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\n"
    head += b"content-length: %d\r\nx-request-id: 1cf8d525-3003\r\nserver: granian\r\n" % len(body)
    data = head + b"date: Sat, 28 Nov 2026 19:08:32 GMT\r\n\r\n" + body
    assert _read_answer(Fragments(data, [5, 100, len(head) + 3]), "POST") == (200, body, False)
    closing = data.replace(b"server:", b"Connection: close\r\nserver:")
    assert _read_answer(Fragments(closing, []), "POST") == (200, body, True)


def test_https_goes_through_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str, bytes]] = []

    class Answer:
        status, will_close = 200, False

        def read(self) -> bytes:
            return b'{"status":0}'

    class Connection:
        def __init__(self, host: str, port: int | None, timeout: float) -> None:
            self.args = (host, port, timeout)

        def request(self, method: str, url: str, body: bytes, headers: Any) -> None:
            sent.append((method, url, body))

        def getresponse(self) -> Answer:
            return Answer()

        def close(self) -> None:
            pass

    monkeypatch.setattr(http.client, "HTTPSConnection", Connection)
    with Client("https://secure.test/wdt", "s", "k", "a:b") as client:
        assert client.call("x") is None
    [(method, url, body)] = sent
    assert (method, body) == ("POST", b"[]") and url.startswith("/wdt/openapi?sid=s&key=k")
