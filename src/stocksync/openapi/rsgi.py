"""The open API's RSGI entry: granian's native interface, which `stocksync serve` runs.

The transport rules are the ASGI entry's, through the same functions of `stocksync.openapi.app`
(`refusal`, `read_body`, `OpenApiApp.reply`, `answer_headers`), so both give the same answers
byte for byte. What differs is how granian hands over a request:

- A body with a `Content-Length` is taken whole (`await protocol()`, one hand-over instead of
  one per chunk): hyper delivers exactly the declared bytes, a declared length over the limit
  was refused before reading, and hyper drops the header when the body is chunked.
- A chunked body is read chunk by chunk and reading stops past the limit. granian ends the
  chunks with one empty chunk and sends a second one when the stream broke (the client left)
  or the body came with trailers (granian cannot tell them apart). Such a request runs
  nothing and is answered status 1 `参数错误` (HTTP 200): a client still there gets a clear
  answer, never granian's empty 500 for an app that did not answer. The vendor SDKs never send
  trailers.
- The query string goes to the app as the text granian gives (`OpenApiApp.answer` takes text
  or bytes): no encoding to bytes for `parse_query` to decode again.
- granian adds its own `server` and `date` headers; they cannot be turned off.
"""

from __future__ import annotations

from typing import Any

from granian._granian import RSGIHTTPProtocol as HTTPProtocol
from granian._granian import RSGIProtocolClosed
from granian.rsgi import Scope

from stocksync.openapi.app import (
    ClientGone,
    OpenApiApp,
    answer_headers,
    content_length,
    read_body,
    refusal,
)
from stocksync.openapi.errors import BadArguments


class RsgiEntry:
    """The RSGI request handler of an `OpenApiApp` (`await entry(scope, protocol)`)."""

    def __init__(self, api: OpenApiApp) -> None:
        self.api = api

    async def __call__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        api = self.api
        request_id = api.next_request_id()
        length = scope.headers.get("content-length")
        error = refusal(scope.path, scope.method, content_length(length), api.max_body)
        if error is None and length is not None:  # every SDK call: one hand-over, one answer
            try:
                whole = await protocol()
            except RSGIProtocolClosed:
                return
            payload = api.answer(scope.query_string, whole, request_id)
            protocol.response_bytes(200, answer_headers(200, payload, request_id), payload)
            return
        try:
            body = None if error else await read_body(_Chunks(protocol).chunk, api.max_body)
        except ClientGone:
            return
        except _BrokenChunks:
            error, body = BadArguments(), None
        status, payload = api.reply(error, scope.query_string, body, request_id)
        protocol.response_bytes(status, answer_headers(status, payload, request_id), payload)


class _Chunks:
    """A chunked body's chunks as granian yields them; `_BrokenChunks` when they did not end
    cleanly."""

    __slots__ = ("_chunks",)

    def __init__(self, protocol: HTTPProtocol) -> None:
        self._chunks: Any = protocol.__aiter__()

    async def chunk(self) -> tuple[bytes, bool]:
        data: bytes = await self._chunks.__anext__()
        if data:
            return data, True
        try:  # the empty chunk that ends the body must be the last one
            await self._chunks.__anext__()
        except StopAsyncIteration:
            return b"", False
        raise _BrokenChunks()  # a second empty chunk: the stream broke, or trailers came


class _BrokenChunks(Exception):
    """A chunked body that did not end cleanly (a broken stream, or trailers)."""
