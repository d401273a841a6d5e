"""The ASGI surface: lifespan, client disconnects, mounting under a root path."""

from __future__ import annotations

import asyncio
from typing import Any

from openapi_harness import Harness, signed_query

from stocksync.openapi.app import Message


def _drive(harness: Harness, scope: dict[str, Any], incoming: list[Message]) -> list[Message]:
    sent: list[Message] = []
    queue = iter(incoming)

    async def receive() -> Message:
        return next(queue)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(harness.app(scope, receive, send))
    return sent


def _http_scope(path: str, query: str, root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": root_path,
        "query_string": query.encode(),
        "headers": [(b"content-type", b"application/json")],
    }


def test_lifespan_startup_and_shutdown_are_acknowledged(harness: Harness) -> None:
    sent = _drive(
        harness,
        {"type": "lifespan"},
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


def test_a_client_that_disconnects_before_its_body_gets_no_answer_and_runs_nothing(
    harness: Harness,
) -> None:
    scope = _http_scope("/openapi", signed_query("system.Core.now", b"[]"))
    incoming: list[Message] = [
        {"type": "http.request", "body": b"[", "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert _drive(harness, scope, incoming) == []
    assert harness.recorder.calls == []


def test_the_app_mounted_under_a_root_path_answers_there(harness: Harness) -> None:
    scope = _http_scope("/wdt/openapi", signed_query("system.Core.now", b"[]"), "/wdt")
    sent = _drive(harness, scope, [{"type": "http.request", "body": b"[]"}])
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b'{"status":0,"data":%r}' % harness.now
