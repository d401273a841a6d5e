"""In-process helpers: call an ASGI app without a server, and an in-memory credential store.

`AsgiTransport` plugs into `stocksync.client.Client(transport=…)`, so tests and demos drive the
real app through the real client with no socket. It keeps one event loop for its lifetime: close
it, or use it as a context manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

from stocksync.openapi.app import Message, Receive, Scope, Send
from stocksync.openapi.ports import AppCredential

AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class AsgiTransport:
    """Runs one HTTP request through an ASGI app synchronously and returns (status, body).

    `body` may be bytes (sent in one message) or an iterable of chunks (sent as a streamed,
    chunked body); `chunks_read` then tells how many chunks the app pulled.
    """

    def __init__(self, app: AsgiApp) -> None:
        self.app = app
        self.chunks_read = 0
        self.last_headers: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()

    def __call__(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes],
    ) -> tuple[int, bytes]:
        """Send `method target` (path + query) with `headers` and `body`; the answer's status
        and body bytes."""
        return self._loop.run_until_complete(self._run(method, target, headers, body))

    def close(self) -> None:
        """Close the event loop (idempotent)."""
        if not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> AsgiTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A forgotten close() must not leak the loop (asyncio warns about unclosed loops).
        loop = getattr(self, "_loop", None)
        if loop is not None and not loop.is_closed():
            loop.close()

    async def _run(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes],
    ) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(path),
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        self.chunks_read = 0
        messages = self._messages(body)
        answer: dict[str, Any] = {"status": 0, "body": []}

        async def receive() -> Message:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                self.last_headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))

        await self.app(scope, receive, send)
        return answer["status"], b"".join(answer["body"])

    def _messages(self, body: bytes | Iterable[bytes]) -> Iterator[Message]:
        if isinstance(body, bytes):
            yield {"type": "http.request", "body": body, "more_body": False}
            return
        for chunk in body:
            self.chunks_read += 1
            yield {"type": "http.request", "body": chunk, "more_body": True}
        yield {"type": "http.request", "body": b"", "more_body": False}


class InMemoryCredentials:
    """A `CredentialStore` over a dict, for tests, demos and benchmarks."""

    def __init__(self, credentials: Iterable[AppCredential] = ()) -> None:
        self._by_key = {(c.sid, c.app_key): c for c in credentials}

    def add(self, credential: AppCredential) -> None:
        """Add or replace the credential of (sid, app key)."""
        self._by_key[(credential.sid, credential.app_key)] = credential

    def lookup(self, sid: str, app_key: str) -> AppCredential | None:
        """The credential of sid + app key, or None."""
        return self._by_key.get((sid, app_key))
