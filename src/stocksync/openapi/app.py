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

PATHS = frozenset({"/openapi", "/openapi/", "/openapi/openapi", "/openapi/openapi/"})
REQUIRED = frozenset({"sid", "key", "salt", "method", "v", "timestamp", "sign"})
_JSON = (b"content-type", b"application/json; charset=utf-8")
_ALLOW = (b"allow", b"POST")
_NOBODY_SECRET = secrets.token_hex(16)  # signs for unknown keys, so they cost what a miss costs


class _ClientGone(Exception):
    """The client disconnected before its body arrived."""


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
        error = _refusal(scope, self.max_body)
        try:
            body = None if error else await _read_body(receive, self.max_body)
        except _ClientGone:
            return
        if body is None:  # refused before reading, or the body passed the limit
            error = error or PayloadTooLarge()
            payload, status = envelope.failure(error), error.http_status
        else:
            payload, status = self.answer(scope["query_string"], body, request_id), 200
        headers = [_JSON, (b"content-length", str(len(payload)).encode())]
        headers.append((b"x-request-id", request_id.encode()))
        if status == MethodNotAllowed.http_status:
            headers.append(_ALLOW)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def answer(self, query: bytes, body: bytes, request_id: str) -> bytes:
        """The envelope for one call; never raises (unexpected errors become status 99)."""
        try:
            method, context, args = self._admit(query, body, request_id)
            return envelope.success(method.handler(context, args), calc_total=context.calc_total)
        except Exception as exc:
            error = from_exception(exc, request_id)
            if isinstance(error, Internal):
                self.logger.exception("open-API request %s failed", request_id)
            return envelope.failure(error)

    def _admit(
        self, query: bytes, body: bytes, request_id: str
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
        args = method.decode(parse_body(body))
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


def _refusal(scope: Scope, max_body: int) -> ProtocolError | None:
    """The transport-level refusal of a request, judged before reading its body."""
    path = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if path not in PATHS:
        return NotFound()
    if scope["method"] != "POST":
        return MethodNotAllowed()
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > max_body:
            return PayloadTooLarge()
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as more than `limit` bytes arrived (reading stops)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _paging(params: dict[str, str]) -> tuple[int | None, int | None, bool]:
    """`page_size`, `page_no` (non-negative ints when sent) and `calc_total` (1/0/true/false)."""
    page_size, page_no = params.get("page_size"), params.get("page_no")
    try:
        calc_total = to_bool(params.get("calc_total", "0"))
    except ProtocolError:
        raise BadArguments() from None
    return _page_int(page_size), _page_int(page_no), calc_total


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
