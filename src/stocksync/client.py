"""A Python client for the flagship open API, signing exactly as the vendor's SDKs do.

    client = Client("http://127.0.0.1:8000", sid, key, "secret:salt")
    ids = client.call("sales.StockSync.getSelfWaitSyncIdListOpen", 500, 0)["id_list"]

The body is the compact JSON of the positional arguments (`jsoncodec.dumps`: UTF-8, no `\\u`
escapes, Decimals as exact numbers); the query string carries sid, key, salt, method, v,
timestamp (from the `clock` hook), the page parameters of `page_call`, then sign. Answers are
parsed with exact numbers (`loads_exact`: Decimal, never float); a non-zero status raises
`ApiError(status, message, http_status)`, an answer that is no flagship envelope status 99.
`transport=AsgiTransport(app)` (`stocksync.openapi.testing`) calls an app in-process; a
transport gets a read-only headers mapping.

The sync loop's clients spend as much CPU per call as the server, so `call` is lean, each
shortcut giving what the general code gives (tests/openapi/test_client_*.py prove it):

- the query string joins its constant part once per client (the sign is `signature.sign`,
  whose usual seven parameters need no sorting);
- answers are read by the stdlib's C JSON scanner with Decimal numbers, falling back to
  `loads_exact` for anything it does not read whole at once (errors included);
- `HttpTransport` keeps one `http.client` connection alive (timeouts per socket operation),
  reopened once when the server had dropped an idle one. On plain HTTP it writes a plain
  request (bytes body, token headers) as one `sendall` of the bytes http.client would send,
  and reads a plain answer (HTTP/1.1, Content-Length, ≤ 100 simple header lines) off the
  socket itself. HTTPS, other requests and other answers (chunked, no length, 1xx, 204/304,
  HEAD, odd header lines) go through http.client, on the same socket, the bytes already read
  replayed to it.
"""

from __future__ import annotations

import http.client
import io
import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

from stocksync import jsoncodec
from stocksync.openapi.arguments import EXACT_SCAN, loads_exact
from stocksync.openapi.signature import sign, split_appsecret, to_wdt

_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")
_JSON_HEADERS: Mapping[str, str] = MappingProxyType({"Content-Type": "application/json"})


class ApiError(Exception):
    """The server answered a non-zero status (or something that is not a flagship answer)."""

    def __init__(self, status: int, message: str, http_status: int = 200) -> None:
        super().__init__(f"status {status}: {message}")
        self.status, self.message, self.http_status = status, message, http_status


class Transport(Protocol):
    """Sends one request (method, path + query, headers, body) and returns (status, body)."""

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]: ...


class Client:
    """Calls flagship open-API methods as seller `sid` with app key `key`."""

    def __init__(
        self,
        url: str,
        sid: str,
        key: str,
        appsecret: str,
        *,
        timeout: float = 30.0,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sid, self.key = sid, key
        self._secret, self._salt = split_appsecret(appsecret)
        path = urlsplit(url).path.rstrip("/")
        self.path = path if path.endswith("/openapi") else f"{path}/openapi"
        self.transport: Transport = transport or HttpTransport(url, timeout)
        self.clock = clock
        self._target_head = f"{self.path}?{_query({'sid': sid, 'key': key, 'salt': self._salt})}"

    def call(self, method: str, *args: Any) -> Any:
        """Call `method` with positional `args`; the answer's `data` (None when it has none)."""
        body = jsoncodec.dumps(list(args))
        timestamp = str(to_wdt(self.clock()))
        quoted = method if _PLAIN.fullmatch(method) else quote_plus(method)
        digest = self._sign(method, timestamp, body)
        target = f"{self._target_head}&method={quoted}&v=1.0&timestamp={timestamp}&sign={digest}"
        return _unwrap(*self.transport("POST", target, _JSON_HEADERS, body))

    def _sign(self, method: str, timestamp: str, body: bytes) -> str:
        """`sign` over `call`'s params: sid, key, salt, method, v 1.0, timestamp."""
        params = {"sid": self.sid, "key": self.key, "salt": self._salt, "method": method}
        params |= {"v": "1.0", "timestamp": timestamp}
        return sign(params, body, self._secret)

    def page_call(
        self, method: str, page_size: int, page_no: int, *args: Any, calc_total: bool = False
    ) -> Any:
        """Call a paged method (`page_no` 0-based); with `calc_total` the data has total_count."""
        paging = {"page_size": str(page_size), "page_no": str(page_no)}
        paging["calc_total"] = "1" if calc_total else "0"
        body = jsoncodec.dumps(list(args))
        params = {"sid": self.sid, "key": self.key, "salt": self._salt, "method": method}
        params |= {"v": "1.0", "timestamp": str(to_wdt(self.clock())), **paging}
        params["sign"] = sign(params, body, self._secret)
        target = f"{self.path}?{_query(params)}"
        return _unwrap(*self.transport("POST", target, _JSON_HEADERS, body))

    def close(self) -> None:
        """Release the transport's connection, if it holds one."""
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _query(params: dict[str, str]) -> str:
    """`urlencode(params)` for plain keys, skipping the quoting of values that need none."""
    return "&".join(
        f"{key}={value if _PLAIN.fullmatch(value) else quote_plus(value)}"
        for key, value in params.items()
    )


def _unwrap(http_status: int, payload: bytes) -> Any:
    """The `data` of a success answer; ApiError for an error or a malformed answer."""
    try:
        answer = _loads(payload)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or type(answer.get("status")) is not int:
        text = payload[:200].decode(errors="replace")
        raise ApiError(99, f"not a flagship answer (HTTP {http_status}): {text}", http_status)
    if answer["status"] != 0:
        raise ApiError(answer["status"], str(answer.get("message", "")), http_status)
    return answer.get("data")


#: orjson refuses documents nested deeper; one that deep has more brackets, and twice the bytes.
_ORJSON_DEPTH = 1024


def _loads(payload: bytes) -> Any:
    """`loads_exact(payload)`, read by the C scanner when it takes the whole text at once.

    Such a text holds no `\\u` escape (orjson refuses lone surrogates, the scanner does not)
    and does not nest deeper than orjson reads (the scanner may, under a raised recursion
    limit), so `loads_exact` would return the same value, by orjson or by the very same
    scanner. Anything else, errors included, is `loads_exact`'s to judge.
    """
    if b"\\u" not in payload and (
        len(payload) <= 2 * _ORJSON_DEPTH
        or payload.count(b"[") + payload.count(b"{") <= _ORJSON_DEPTH
    ):
        try:
            text = payload.decode()
            value, end = EXACT_SCAN(text, 0)
        except (StopIteration, ValueError, RecursionError):
            pass
        else:
            if end == len(text):
                return value
    return loads_exact(payload)


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TARGET = re.compile(r"[\x21-\x7e]+")  # http.client refuses controls and spaces in the target
_VALUE = re.compile(r"[^\r\n]*")
_OWN = frozenset({"host", "accept-encoding", "content-length", "transfer-encoding"})
# An HTTP/1.1 head of ≤ 100 header lines that http.client and its email parser read as plain
# `name: value` pairs: CRLF line ends only, no folding, nothing odd before a colon.
_ANSWER_HEAD = re.compile(
    rb"HTTP/1\.1 [0-9]{3}(?: [^\r\n]*)?\r\n(?:[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r\n){0,100}\r\n"
)
_MAX_HEAD = 65536  # http.client's longest line: a longer head may hold one, let it judge
_RECV = 65536
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class HttpTransport:
    """HTTP/1.1 over one kept-alive `http.client` connection, reopened when the server dropped
    it; plain requests and answers skip http.client's machinery (see the module docstring)."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "localhost", parts.port
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        # (method, *headers) → the request's bytes around the target and the length, or None
        # when http.client must write that request.
        self._heads: dict[tuple[Any, ...], tuple[bytes, bytes, bytes] | None] = {}

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Send the request; a kept-alive connection the server had closed is retried once."""
        reused = self._conn is not None
        conn = self._conn or self._open()
        self._conn = conn
        try:
            status, payload, will_close = self._exchange(conn, method, target, headers, body)
        except _STALE:
            self.close()
            if not reused:
                raise
            return self(method, target, headers, body)  # the idle connection had gone stale
        except BaseException:
            self.close()
            raise
        if will_close:
            self.close()
        return status, payload

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, bytes, bool]:
        request = None if self._https else self._request(conn, method, target, headers, body)
        if request is None:
            conn.request(method, target, body=body, headers=dict(headers))
            response = conn.getresponse()
            return response.status, response.read(), response.will_close
        if conn.sock is None:
            conn.connect()
        sock = conn.sock
        sock.sendall(request)
        return _read_answer(sock, method)

    def _request(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> bytes | None:
        """The bytes http.client would send for this request, or None to let it send them."""
        if type(body) is not bytes or not _TARGET.fullmatch(target) or target.startswith("http"):
            return None  # (http.client takes the Host header from an absolute target)
        key = (method, *headers.items())
        if key in self._heads:
            parts = self._heads[key]
        else:
            parts = _request_parts(conn.host, conn.port, method, headers)
            if len(self._heads) < 64:
                self._heads[key] = parts
        if parts is None:
            return None
        start, middle, end = parts
        return b"%s%s%s%d%s%s" % (start, target.encode(), middle, len(body), end, body)

    def _open(self) -> http.client.HTTPConnection:
        factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return factory(self._host, self._port, timeout=self._timeout)

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _request_parts(
    host: str, port: int, method: str, headers: Mapping[str, str]
) -> tuple[bytes, bytes, bytes] | None:
    """What http.client writes before the target, between it and the Content-Length value, and
    after that up to the body, for `method` and `headers` (in `http.client.HTTPConnection`'s
    `host` and `port`); None for a request it writes otherwise or refuses."""
    if not _TOKEN.fullmatch(method) or not _TARGET.fullmatch(host) or "%" in host:
        return None  # (an IPv6 zone, which http.client strips)
    lines = []
    for name, value in headers.items():
        if type(value) is not str or not _TOKEN.fullmatch(name) or name.lower() in _OWN:
            return None
        if not _VALUE.fullmatch(value):
            return None
        lines.append(f"{name}: {value}\r\n")
    try:
        fields = "".join(lines).encode("latin-1")
    except UnicodeError:
        return None
    host_text = host.encode()
    if ":" in host:
        host_text = b"[%s]" % host_text
    if port != http.client.HTTP_PORT:
        host_text += b":%d" % port
    middle = b" HTTP/1.1\r\nHost: %s\r\nAccept-Encoding: identity\r\nContent-Length: " % host_text
    return method.encode() + b" ", middle, b"\r\n" + fields + b"\r\n"


def _read_answer(sock: Any, method: str) -> tuple[int, bytes, bool]:
    """Read one answer from `sock` (whose `recv` may return any fragment): (status, body,
    whether the server will close), as http.client would read it."""
    data = sock.recv(_RECV)
    end = data.find(b"\r\n\r\n")
    while end < 0 and data and len(data) <= _MAX_HEAD:
        more = sock.recv(_RECV)
        if not more:
            break
        data += more
        end = data.find(b"\r\n\r\n", max(len(data) - len(more) - 3, 0))
    plain = _plain_head(data[: end + 4], method) if end >= 0 else None
    if plain is None:
        return _read_by_http_client(data, sock, method)
    status, length, will_close = plain
    body = bytearray(data[end + 4 : end + 4 + length])  # grown in place: a batch is megabytes
    while len(body) < length:
        more = sock.recv(_RECV)
        if not more:
            raise http.client.IncompleteRead(bytes(body), length - len(body))
        body += more
    return status, bytes(body[:length]), will_close  # bytes past the body dropped, as there


def _plain_head(head: bytes, method: str) -> tuple[int, int, bool] | None:
    """(status, Content-Length, Connection has "close") of a plain answer head, else None."""
    if method == "HEAD" or len(head) > _MAX_HEAD or not _ANSWER_HEAD.fullmatch(head):
        return None
    status = int(head[9:12])
    lower = head.lower()
    if status < 200 or status in (204, 304) or b"\r\ntransfer-encoding:" in lower:
        return None
    length = _field(lower, b"\r\ncontent-length:")
    if length is None or not length.isdigit():
        return None
    connection = _field(lower, b"\r\nconnection:")
    return status, int(length), connection is not None and b"close" in connection


def _field(head: bytes, name: bytes) -> bytes | None:
    """The value of the first header line `name` (CRLF before it, colon after) in `head`."""
    start = head.find(name)
    if start < 0:
        return None
    start += len(name)
    return head[start : head.find(b"\r\n", start)].lstrip(b" \t")


def _read_by_http_client(data: bytes, sock: Any, method: str) -> tuple[int, bytes, bool]:
    response = http.client.HTTPResponse(_Replay(data, sock), method=method)  # type: ignore[arg-type]
    response.begin()
    return response.status, response.read(), response.will_close


class _Replay:
    """A socket for `http.client.HTTPResponse`: the bytes already read, then the socket's."""

    def __init__(self, data: bytes, sock: Any) -> None:
        self._raw = _ReplayIO(data, sock)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self._raw)


class _ReplayIO(io.RawIOBase):
    def __init__(self, data: bytes, sock: Any) -> None:
        self._data, self._sock = data, sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._data:
            return int(self._sock.recv_into(buffer))
        size = min(len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size
