"""The machine-calibration app of `bench.calibrate`: issue 3's "realistic request", without
stocksync.

A raw RSGI and a raw ASGI app that do what issue 3 measured a raw app doing per request: parse
the query string, MD5 over ~200 bytes, read one listing by primary key from SQLite, answer ~1 KB
of JSON with orjson. No protocol checks, no framework, no stocksync code: what any Python
server on this machine must spend at least, so that stocksync's figures can be read against the
machine they ran on.

The database is `CALIBRATE_DB` (the open-API benchmark's SQLite file), the seller
`CALIBRATE_TENANT`. `stocksync.bootstrap.run_server` serves `rsgi_factory` with the very
settings `stocksync serve` uses.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from typing import Any
from urllib.parse import parse_qsl

import orjson

_SQL = "SELECT * FROM api_goods_spec WHERE tenant_id = ? AND rec_id = ?"
_HEADERS = [("content-type", "application/json; charset=utf-8")]
_FILLER = "x" * 600  # pads the answer to ~1 KB, as a calcStock record is


class _Reader:
    """One SQLite connection of this worker process, opened on first use."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._names: list[str] = []
        self._tenant = int(os.environ.get("CALIBRATE_TENANT", "1"))

    def answer(self, query: str, body: bytes) -> bytes:
        params = dict(parse_qsl(query))
        digest = hashlib.md5(query.encode() + body).hexdigest()
        if self._db is None:
            self._db = sqlite3.connect(os.environ["CALIBRATE_DB"], check_same_thread=False)
        comma = body.find(b",")  # a calcStock body: [rec_id,false]
        rec_id = int(body[1:comma]) if comma > 1 else 0
        cursor = self._db.execute(_SQL, (self._tenant, rec_id))
        row = cursor.fetchone()
        if not self._names:
            self._names = [column[0] for column in cursor.description]
        data = dict(zip(self._names, row, strict=True)) if row else {}
        data.update(sign=digest, method=params.get("method", ""), filler=_FILLER)
        return orjson.dumps({"status": 0, "data": data})


_READER = _Reader()


async def rsgi_app(scope: Any, protocol: Any) -> None:
    """The RSGI app (granian's native interface)."""
    body = await protocol()
    protocol.response_bytes(200, _HEADERS, _READER.answer(scope.query_string, body))


def rsgi_factory() -> Any:
    """The app `run_server` serves (it calls a factory in each worker)."""
    return rsgi_app


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """The same work as an ASGI app."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    payload = _READER.answer(scope["query_string"].decode(), body)
    headers = [(b"content-type", b"application/json; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
