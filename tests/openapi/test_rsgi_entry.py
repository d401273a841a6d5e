"""The RSGI entry (`stocksync.openapi.rsgi`) in process, with a stand-in for granian's protocol:
the same answers as the ASGI entry byte for byte, and the same transport rules."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from granian._granian import RSGIProtocolClosed
from openapi_harness import JSON_HEADERS, Harness, signed_query

from stocksync.openapi.rsgi import RsgiEntry

CALC = "sales.StockSync.calcStock"


class FakeScope:
    """The attributes of granian's RSGI HTTP scope the entry reads."""

    def __init__(self, method: str, target: str, headers: dict[str, str]) -> None:
        self.proto, self.method = "http", method
        self.path, _, self.query_string = target.partition("?")
        self.headers = {name.lower(): value for name, value in headers.items()}


class FakeProtocol:
    """granian's RSGI HTTP protocol as the entry sees it: the whole body (`await protocol()`)
    or its chunks, each chunk counted when pulled, ended by one empty chunk, or by two when the
    client went away (`gone`, which also makes `await protocol()` raise)."""

    def __init__(self, body: bytes | Iterable[bytes], *, gone: bool = False) -> None:
        self.body, self.gone = body, gone
        self.chunks_read = 0
        self.answer: tuple[int, list[tuple[str, str]], bytes] | None = None

    async def __call__(self) -> bytes:
        if self.gone:
            raise RSGIProtocolClosed("RSGI transport is closed")
        return self.body if isinstance(self.body, bytes) else b"".join(self.body)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        for chunk in [self.body] if isinstance(self.body, bytes) else self.body:
            self.chunks_read += 1
            yield chunk
        yield b""
        if self.gone:
            yield b""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        assert self.answer is None, "answered twice"
        self.answer = (status, headers, body)


def _rsgi(
    harness: Harness,
    target: str,
    body: bytes | Iterable[bytes],
    headers: dict[str, str] = JSON_HEADERS,
    method: str = "POST",
    gone: bool = False,
) -> FakeProtocol:
    """One request through the RSGI entry of the harness's app; the protocol holds the answer."""
    protocol = FakeProtocol(body, gone=gone)
    scope = FakeScope(method, target, headers)
    asyncio.run(RsgiEntry(harness.app)(scope, protocol))  # type: ignore[arg-type]
    return protocol


def _with_length(body: bytes) -> dict[str, str]:
    return JSON_HEADERS | {"Content-Length": str(len(body))}


def _without_id(status: int, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    request_id = headers.pop("x-request-id")
    return status, headers, body.replace(request_id.encode(), b"<id>")


REQUESTS = [
    ("POST", f"/openapi?{signed_query(CALC, b'[2447,true]')}", b"[2447,true]"),
    ("POST", f"/openapi/openapi/?{signed_query(CALC, b'[2447,true]')}", b"[2447,true]"),
    ("POST", f"/openapi?{signed_query(CALC, b'[1]')}", b"[1]"),
    ("POST", f"/openapi?{signed_query(CALC, b'[1,false]', sign='0' * 32)}", b"[1,false]"),
    ("POST", f"/openapi?{signed_query('test.boom', b'[]')}", b"[]"),
    ("POST", f"/openapi?{signed_query('system.Core.now', b'[]')}", b"[]"),
    ("POST", "/openapi?sid=a&sid=b", b"[]"),
    ("POST", "/elsewhere", b"[]"),
    ("GET", "/openapi", b""),
    ("POST", "/openapi", b"[" + b" " * 200),
]


@pytest.mark.parametrize(("method", "target", "body"), REQUESTS)
def test_the_rsgi_entry_answers_what_the_asgi_entry_answers_byte_for_byte(
    method: str, target: str, body: bytes
) -> None:
    with Harness(max_body=100) as harness:
        asgi_status, asgi_body = harness.transport(method, target, _with_length(body), body)
        asgi = _without_id(asgi_status, dict(harness.transport.last_headers), asgi_body)
        protocol = _rsgi(harness, target, body, _with_length(body), method)
        assert protocol.answer is not None
        status, headers, payload = protocol.answer
        assert _without_id(status, dict(headers), payload) == asgi


def test_every_rsgi_answer_has_a_request_id_json_type_and_length(harness: Harness) -> None:
    answers = [_rsgi(harness, target, body, _with_length(body), method).answer
               for method, target, body in REQUESTS]  # fmt: skip
    ids = set()
    for answer in answers:
        assert answer is not None
        status, headers, payload = answer
        named = dict(headers)
        assert named["content-type"] == "application/json; charset=utf-8"
        assert named["content-length"] == str(len(payload))
        ids.add(named["x-request-id"])
        assert ("allow" in named) == (status == 405)
    assert len(ids) == len(REQUESTS)


def test_a_chunked_body_is_read_chunk_by_chunk_and_answered(harness: Harness) -> None:
    target = f"/openapi?{signed_query(CALC, b'[2447,true]')}"
    protocol = _rsgi(harness, target, [b"[24", b"47,", b"true]"])
    assert protocol.answer is not None and protocol.answer[0] == 200
    assert protocol.answer[2] == b'{"status":0,"data":{"method":"%s","args":[2447,true]}}' % (
        CALC.encode()
    )
    assert protocol.chunks_read == 3


def test_a_body_announced_above_the_limit_is_refused_before_reading() -> None:
    with Harness(max_body=100) as harness:
        headers = JSON_HEADERS | {"Content-Length": "101"}
        protocol = _rsgi(
            harness, f"/openapi?{signed_query(CALC, b'')}", [b"[1,", b"false]"], headers
        )
        assert protocol.answer is not None
        assert (protocol.answer[0], protocol.answer[2]) == (
            413,
            b'{"status":1,"message":"request body too large"}',
        )
        assert protocol.chunks_read == 0 and harness.recorder.calls == []


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    with Harness(max_body=100) as harness:
        chunks = (b"[" + b" " * 39 for _ in range(1000))
        protocol = _rsgi(harness, f"/openapi?{signed_query(CALC, b'')}", chunks)
        assert protocol.answer is not None and protocol.answer[0] == 413
        assert protocol.chunks_read == 3  # 120 bytes > 100: no fourth chunk pulled
        assert harness.recorder.calls == []


def test_a_client_gone_before_its_body_arrived_gets_no_answer_and_runs_nothing(
    harness: Harness,
) -> None:
    body = b"[2447,true]"
    target = f"/openapi?{signed_query(CALC, body)}"
    protocol = _rsgi(harness, target, body, _with_length(body), gone=True)
    assert protocol.answer is None
    assert harness.recorder.calls == []


def test_a_chunked_body_that_did_not_end_cleanly_answers_bad_arguments_and_runs_nothing(
    harness: Harness,
) -> None:
    """A broken stream and a body with trailers look alike to granian: a clear status 1, never
    granian's empty 500, and the handler never sees what may be a cut body."""
    body = b"[2447,true]"
    target = f"/openapi?{signed_query(CALC, body)}"
    protocol = _rsgi(harness, target, [body], JSON_HEADERS, gone=True)
    assert protocol.answer is not None
    status, headers, payload = protocol.answer
    assert status == 200
    assert json.loads(payload) == {"status": 1, "message": "参数错误"}
    assert any(name == "x-request-id" for name, _ in headers)
    assert harness.recorder.calls == []


def test_the_query_text_reaches_the_app_as_granian_gives_it_without_a_bytes_round_trip(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[object] = []
    answer = harness.app.answer

    def spy(query: str | bytes, body: bytes, request_id: str) -> bytes:
        seen.append(query)
        return answer(query, body, request_id)

    monkeypatch.setattr(harness.app, "answer", spy)
    query = signed_query(CALC, b"[2447,true]")
    protocol = _rsgi(harness, f"/openapi?{query}", b"[2447,true]", _with_length(b"[2447,true]"))
    assert seen == [query]
    assert protocol.answer is not None and protocol.answer[2].startswith(b'{"status":0,')
