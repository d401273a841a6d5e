"""A Python client for the flagship open API, signing exactly as the vendor's SDKs do.

    client = Client("http://127.0.0.1:8000", sid, key, "secret:salt")
    ids = client.call("sales.StockSync.getSelfWaitSyncIdListOpen", 500, 0)["id_list"]

The body is the compact JSON of the positional arguments (UTF-8, no `\\u` escapes, Decimals as
exact numbers), the common parameters go in the query string, and answers are parsed with
Decimal numbers. The default transport keeps one HTTP connection alive; pass
`transport=AsgiTransport(app)` (from `stocksync.openapi.testing`) to call an app in-process.
"""

from __future__ import annotations

import http.client
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import quote_plus, urlsplit

from stocksync import jsoncodec
from stocksync.openapi.arguments import loads_exact
from stocksync.openapi.signature import sign, split_appsecret, to_wdt

_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


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


class HttpTransport:
    """`http.client` over one kept-alive connection, reopened when the server dropped it."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "localhost", parts.port
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def __call__(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Send the request; a kept-alive connection the server had closed is retried once."""
        reused = self._conn is not None
        conn = self._conn or self._open()
        self._conn = conn
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            response = conn.getresponse()
            payload = response.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            return self(method, target, headers, body)  # the idle connection had gone stale
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, payload

    def _open(self) -> http.client.HTTPConnection:
        factory = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return factory(self._host, self._port, timeout=self._timeout)

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


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

    def call(self, method: str, *args: Any) -> Any:
        """Call `method` with positional `args`; the answer's `data` (None when it has none)."""
        return self._send(method, args, {})

    def page_call(
        self, method: str, page_size: int, page_no: int, *args: Any, calc_total: bool = False
    ) -> Any:
        """Call a paged method (`page_no` 0-based); with `calc_total` the data has total_count."""
        paging = {"page_size": str(page_size), "page_no": str(page_no)}
        paging["calc_total"] = "1" if calc_total else "0"
        return self._send(method, args, paging)

    def close(self) -> None:
        """Release the transport's connection, if it holds one."""
        close = getattr(self.transport, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, method: str, args: tuple[Any, ...], extra: dict[str, str]) -> Any:
        body = jsoncodec.dumps(list(args))
        params = {"sid": self.sid, "key": self.key, "salt": self._salt, "method": method}
        params |= {"v": "1.0", "timestamp": str(to_wdt(self.clock())), **extra}
        params["sign"] = sign(params, body, self._secret)
        target = f"{self.path}?{_query(params)}"
        headers = {"Content-Type": "application/json"}
        return _unwrap(*self.transport("POST", target, headers, body))


def _query(params: dict[str, str]) -> str:
    """`urlencode(params)` for plain keys, skipping the quoting of values that need none."""
    return "&".join(
        f"{key}={value if _PLAIN.fullmatch(value) else quote_plus(value)}"
        for key, value in params.items()
    )


def _unwrap(http_status: int, payload: bytes) -> Any:
    """The `data` of a success answer; ApiError for an error or a malformed answer."""
    try:
        answer = loads_exact(payload)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict) or type(answer.get("status")) is not int:
        text = payload[:200].decode(errors="replace")
        raise ApiError(99, f"not a flagship answer (HTTP {http_status}): {text}", http_status)
    if answer["status"] != 0:
        raise ApiError(answer["status"], str(answer.get("message", "")), http_status)
    return answer.get("data")
