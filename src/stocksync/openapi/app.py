"""The open-API server: a lean raw ASGI app answering the flagship protocol (spec §1–§4).

No web framework on this path: a request is a handful of dict lookups, one MD5 and the handler.
Checks run in this order, the first failure answering (every answer HTTP 200 unless noted):

1. path `/openapi` or `/openapi/openapi` (trailing `/` tolerated), else HTTP 404; POST, else 405;
2. body within `max_body` (by Content-Length at once, else counted while streaming), else 413;
3. query string parsed (`参数错误` on a repeated parameter, one named `body`, or bad UTF-8);
4. `sid key salt method v timestamp sign` all present, else status 1 `参数错误`;
5. `v` == `1.0`, else 8; `timestamp` whole seconds within ±`skew` of the clock, else 7;
6. credential of sid+key found, salt equal, sign right, else 1 `验证失败` (one answer for all);
7. rate limit of the key, else 100 with the vendor's sentence;
8. method registered, else 1 `method not found: <name>`;
9. body a JSON array (UTF-8), else 1 `参数错误`; arguments decoded per the method's params
   (1 `invalid argument count` / `argument type mismatch`); paging parameters well-formed;
10. the handler; domain errors map to 100 / 1, anything else to 99 with a logged request id.

Checks 1–2 and the answer's headers are the transport's: `refusal`, `read_body`,
`OpenApiApp.reply` and `answer_headers` below, shared by the ASGI entry (`OpenApiApp.__call__`,
used in process by the tests) and the RSGI entry `stocksync.openapi.rsgi` (what `stocksync
serve` runs under granian), so both answer alike. Every answer carries `x-request-id`; a client
that disconnects before its body arrived gets no answer and runs nothing.

Handlers are called inline on the event loop: each worker process serves one call at a time,
so scale with worker processes (the handlers are synchronous database work anyway).
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from stocksync.openapi import envelope
from stocksync.openapi.arguments import parse_body, to_bool
from stocksync.openapi.errors import (
    BadArguments,
    BadVersion,
    Internal,
    MethodNotAllowed,
    MethodNotFound,
    NotFound,
    PayloadTooLarge,
    ProtocolError,
    RateLimited,
    VerificationFailed,
    from_exception,
)
from stocksync.openapi.ports import AppCredential, CallContext, CredentialStore
from stocksync.openapi.ratelimit import RateLimiter
from stocksync.openapi.registry import Method, MethodRegistry
from stocksync.openapi.signature import check_timestamp, parse_query, verify

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
#: A transport's next body chunk and whether more follow (see `read_body`).
NextChunk = Callable[[], Awaitable[tuple[bytes, bool]]]

PATHS = frozenset({"/openapi", "/openapi/", "/openapi/openapi", "/openapi/openapi/"})
REQUIRED = frozenset({"sid", "key", "salt", "method", "v", "timestamp", "sign"})
_JSON = ("content-type", "application/json; charset=utf-8")
_ALLOW = ("allow", "POST")
_NOBODY_SECRET = secrets.token_hex(16)  # signs for unknown keys, so they cost what a miss costs


class ClientGone(Exception):
    """The client disconnected before its body arrived: no answer, nothing runs."""


class OpenApiApp:
    """The ASGI callable; `answer` is the transport-free core (query + body → envelope bytes)."""

    def __init__(
        self,
        registry: MethodRegistry,
        credentials: CredentialStore,
        *,
        max_body: int,
        clock: Callable[[], float],
        skew: int,
        logger: logging.Logger,
        limiter: RateLimiter,
    ) -> None:
        self.registry, self.credentials, self.limiter = registry, credentials, limiter
        self.max_body, self.clock, self.skew, self.logger = max_body, clock, skew, logger
        self._prefix = f"{os.getpid():x}{secrets.token_hex(2)}-"
        self._counter = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    def next_request_id(self) -> str:
        """A cheap id unique in this process, prefixed with the pid and a random tag."""
        return f"{self._prefix}{next(self._counter)}"

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = self.next_request_id()
        declared = -1
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = max(declared, content_length(value))
        error = refusal(_asgi_path(scope), scope["method"], declared, self.max_body)
        try:
            body = None if error else await read_body(_AsgiBody(receive).chunk, self.max_body)
        except ClientGone:
            return
        status, payload = self.reply(error, scope["query_string"], body, request_id)
        headers = [(k.encode(), v.encode()) for k, v in answer_headers(status, payload, request_id)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def reply(
        self,
        error: ProtocolError | None,
        query: str | bytes,
        body: bytes | None,
        request_id: str,
    ) -> tuple[int, bytes]:
        """The HTTP status and envelope of a request the transport has judged: `error` is its
        `refusal` (or None), `body` None means refused or past the limit (`read_body`)."""
        if body is None:
            error = error or PayloadTooLarge()
            return error.http_status, envelope.failure(error)
        return 200, self.answer(query, body, request_id)

    def answer(self, query: str | bytes, body: bytes, request_id: str) -> bytes:
        """The envelope for one call; never raises (unexpected errors become status 99).

        `query` is the raw query string, or the same text decoded (`signature.parse_query`)."""
        try:
            method, context, args = self._admit(query, body, request_id)
            return envelope.success(method.handler(context, args), calc_total=context.calc_total)
        except Exception as exc:
            error = from_exception(exc, request_id)
            if isinstance(error, Internal):
                self.logger.exception("open-API request %s failed", request_id)
            return envelope.failure(error)

    def _admit(
        self, query: str | bytes, body: bytes, request_id: str
    ) -> tuple[Method, CallContext, list[Any]]:
        params = parse_query(query)
        if not params.keys() >= REQUIRED:
            raise BadArguments()
        if params["v"] != "1.0":
            raise BadVersion()
        now = self.clock()
        check_timestamp(params["timestamp"], now, self.skew)
        credential = self._authenticate(params, body)
        if not self.limiter.allow(credential, now):
            raise RateLimited()
        method = self.registry.get(params["method"])
        if method is None:
            raise MethodNotFound(params["method"])
        args = method.spec.decode(parse_body(body))
        page_size, page_no, calc_total = _paging(params)
        context = CallContext(
            credential, method.name, page_size, page_no, calc_total, now, request_id
        )
        return method, context, args

    def _authenticate(self, params: dict[str, str], body: bytes) -> AppCredential:
        credential = self.credentials.lookup(params["sid"], params["key"])
        secret, salt = (
            (_NOBODY_SECRET, "") if credential is None else (credential.secret, credential.salt)
        )
        salt_ok = hmac.compare_digest(params["salt"].encode(), salt.encode())
        sign_ok = verify(params, body, secret, params["sign"])
        if credential is None or not (salt_ok and sign_ok):
            raise VerificationFailed()
        return credential


def create_openapi_app(
    registry: MethodRegistry,
    credentials: CredentialStore,
    *,
    max_body: int = 4 * 1024 * 1024,
    clock: Callable[[], float] = time.time,
    skew: int = 120,
    logger: logging.Logger | None = None,
    default_rate_limit: int | None = None,
) -> OpenApiApp:
    """Build the open-API ASGI app over a method registry and a credential store.

    `default_rate_limit` (calls per minute) applies to keys without their own `rate_limit`;
    None leaves them unlimited.
    """
    return OpenApiApp(
        registry,
        credentials,
        max_body=max_body,
        clock=clock,
        skew=skew,
        logger=logger or logging.getLogger("stocksync.openapi"),
        limiter=RateLimiter(default_rate_limit),
    )


def refusal(path: str, method: str, declared: int, max_body: int) -> ProtocolError | None:
    """The transport's refusal of a request, judged before reading its body: a path not in
    `PATHS` (404), a method other than POST (405), a declared length over `max_body` (413)."""
    if path not in PATHS:
        return NotFound()
    if method != "POST":
        return MethodNotAllowed()
    if declared > max_body:
        return PayloadTooLarge()
    return None


def content_length(value: str | bytes | None) -> int:
    """A `Content-Length` value as an int; -1 when absent or not a plain number."""
    return int(value) if value is not None and value.isdigit() else -1


async def read_body(chunk: NextChunk, limit: int) -> bytes | None:
    """The whole body, or None as soon as more than `limit` bytes arrived (reading stops, the
    rest is never read). `chunk()` is the transport's next chunk and whether more follow; it
    raises `ClientGone` when the client left."""
    parts: list[bytes] = []
    size = 0
    while True:
        data, more = await chunk()
        size += len(data)
        if size > limit:
            return None
        if not more:
            return b"".join((*parts, data)) if parts else data
        parts.append(data)


def answer_headers(status: int, payload: bytes, request_id: str) -> list[tuple[str, str]]:
    """The headers of every answer: JSON type and length, the request id, `Allow` on a 405."""
    headers = [_JSON, ("content-length", str(len(payload))), ("x-request-id", request_id)]
    if status == MethodNotAllowed.http_status:
        headers.append(_ALLOW)
    return headers


def _asgi_path(scope: Scope) -> str:
    """The ASGI request path, without the `root_path` the app is mounted under."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class _AsgiBody:
    """The body chunks of ASGI `http.request` messages; `ClientGone` on `http.disconnect`."""

    __slots__ = ("_receive",)

    def __init__(self, receive: Receive) -> None:
        self._receive = receive

    async def chunk(self) -> tuple[bytes, bool]:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        return message.get("body", b""), message.get("more_body", False)


def _paging(params: dict[str, str]) -> tuple[int | None, int | None, bool]:
    """`page_size`, `page_no` (non-negative ints when sent) and `calc_total` (1/0/true/false)."""
    if len(params) == len(REQUIRED):  # nothing but the required parameters (most calls)
        return _NO_PAGING
    page_size, page_no = params.get("page_size"), params.get("page_no")
    try:
        calc_total = to_bool(params.get("calc_total", "0"))
    except ProtocolError:
        raise BadArguments() from None
    return _page_int(page_size), _page_int(page_no), calc_total


_NO_PAGING: tuple[int | None, int | None, bool] = (None, None, False)


def _page_int(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise BadArguments()
    return int(text)


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; the app holds no resources of its own."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
