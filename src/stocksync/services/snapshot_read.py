"""Reading a snapshot document one top-level member and one array element at a time.

A tenant of a million listings makes a document of several hundred megabytes; parsing it whole
would hold every record as a Python dict at once. `open_document` instead walks the top-level
object through a sliding text window and decodes one array element at a time with
`json.JSONDecoder.raw_decode`, so memory stays bounded by the window and one record. Numbers with
a fraction or an exponent become exact `Literal`s (never a binary float). A document given as a
mapping (already parsed) is walked the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from stocksync.services.snapshot_fields import Literal, parse_float

_WINDOW = 1 << 22  # characters read at a time
_WS = re.compile(r"[ \t\n\r]*")


class DocumentError(Exception):
    """The document is not JSON, or not a JSON object; nothing can be read past this point."""


_DECODER = json.JSONDecoder(parse_float=parse_float, parse_constant=Literal)


def _scan(text: str, pos: int) -> tuple[Any, int]:
    """`raw_decode` without its Python wrapper: the value at `pos` and where it ends."""
    try:
        return _DECODER.scan_once(text, pos)  # type: ignore[attr-defined,no-any-return]
    except StopIteration as stop:
        raise json.JSONDecodeError("Expecting value", text, stop.value) from None


class Member:
    """One top-level member: `name`, and either a scalar/object `value` or array `elements()`."""

    def __init__(self, name: str, value: Any = None, elements: Iterator[Any] | None = None):
        self.name = name
        self.value = value
        self.is_array = elements is not None or isinstance(value, list)
        self._elements = elements

    def elements(self) -> Iterator[Any]:
        """The array's elements in order (once)."""
        if self._elements is not None:
            return self._elements
        return iter(self.value if isinstance(self.value, list) else ())


class _Window:
    """A sliding window over JSON text, read from a stream as needed."""

    def __init__(self, stream: IO[str] | None, text: str = "") -> None:
        self.stream = stream
        self.buf = text
        self.pos = 0
        self.eof = stream is None
        self.offset = 0  # characters dropped before `buf`
        self.dropped_lines = 0  # newlines among them
        self.line_start = 0  # where the line that was current when dropping began
        self.blocked = 0  # `run_of_lines` does not try text before this position

    def fill(self, size: int) -> bool:
        """Drop what was consumed and read up to `size` more characters; False at the end."""
        if self.eof or self.stream is None:
            return False
        last = self.buf.rfind("\n", 0, self.pos)
        if last >= 0:
            self.dropped_lines += self.buf.count("\n", 0, self.pos)
            self.line_start = self.offset + last + 1
        self.offset += self.pos
        self.blocked = max(self.blocked - self.pos, 0)
        more = self.stream.read(size)
        self.buf = self.buf[self.pos :] + more
        self.pos = 0
        self.eof = not more
        return bool(more)

    def peek(self) -> str:
        """The next character that is not whitespace, not consumed ("" at the end)."""
        if self.pos < len(self.buf) and self.buf[self.pos] not in " \t\n\r":
            return self.buf[self.pos]
        while True:
            match = _WS.match(self.buf, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill(_WINDOW):
                return ""

    def run_of_lines(self) -> list[Any]:
        """Many array elements in one decoder call, when the text allows it ([] otherwise).

        The text from here to a line break within one window's length, when it ends with a
        comma, is decoded as one array: it then holds whole elements only (JSON text cut at
        a line break inside an element leaves a bracket open). The position moves to that
        comma. Where the text stops fitting (the array's end, pretty-printed elements), one
        shorter try ends before that point; past two failures the stretch up to it is read
        element by element, so failing costs stay linear.
        """
        if len(self.buf) - self.pos < _WINDOW // 2:
            self.fill(_WINDOW)
        if self.pos < self.blocked:
            return []
        limit = min(len(self.buf), self.pos + _WINDOW)
        for _ in range(2):
            values, broke_at = self._run(limit)
            if values or broke_at is None:
                return values
            limit = broke_at
        self.blocked = limit
        return []

    def _run(self, limit: int) -> tuple[list[Any], int | None]:
        """The elements up to the last line break before `limit`, or where that text broke."""
        buf, pos = self.buf, self.pos
        cut = buf.rfind("\n", pos, limit)
        if cut <= pos:
            return [], None
        body = buf[pos:cut].rstrip()
        if not body.endswith(","):
            return [], cut
        text = "[" + body[:-1] + "]"
        try:
            values, end = _scan(text, 0)
        except json.JSONDecodeError as exc:
            return [], pos + max(exc.pos - 1, 0)
        if end != len(text) or type(values) is not list:
            return [], pos + max(end - 1, 0)
        self.pos = pos + len(body) - 1
        return values, None

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected {what}")
        self.pos += 1

    def value(self) -> Any:
        """Decode the JSON value at the current position, reading more text as needed."""
        grow = _WINDOW
        while True:
            try:
                value, end = _scan(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if not self._truncated(exc) or not self.fill(grow):
                    raise self.error(exc.msg, exc.pos) from None
                grow *= 2  # an element larger than the window: read geometrically more
                continue
            # A number at the very end of the window may go on in the text not yet read.
            if end >= len(self.buf) and self.fill(grow):
                continue
            self.pos = end
            return value

    def _truncated(self, exc: json.JSONDecodeError) -> bool:
        """Whether the decode failed only because the window ends inside the value."""
        if exc.msg.startswith("Unterminated string"):
            return True
        return exc.pos >= len(self.buf) - 16 or not self.buf[exc.pos :].strip()

    def error(self, message: str, at: int | None = None) -> DocumentError:
        at = self.pos if at is None else at
        line = self.dropped_lines + self.buf.count("\n", 0, at) + 1
        last = self.buf.rfind("\n", 0, at)
        column = at - last if last >= 0 else self.offset + at - self.line_start + 1
        return DocumentError(f"document: invalid JSON at line {line}, column {column}: {message}")


def _members(window: _Window) -> Iterator[Member]:
    window.expect("{", "the document to be a JSON object")
    first = True
    while window.peek() != "}":
        if not first:
            window.expect(",", "',' or '}'")
        if window.peek() != '"':
            raise window.error("expected a member name")
        name = window.value()
        window.expect(":", "':'")
        first = False
        if window.peek() == "[":
            window.pos += 1
            elements = _elements(window)
            yield Member(name, elements=elements)
            for _ in elements:  # skip whatever the reader left unread
                pass
        else:
            yield Member(name, window.value())
    window.pos += 1
    if window.peek() != "":
        raise window.error("extra data after the document")


def _elements(window: _Window) -> Iterator[Any]:
    if window.peek() == "]":
        window.pos += 1
        return
    while True:
        window.peek()
        run = window.run_of_lines()
        if run:
            yield from run
            window.pos += 1  # the comma after the run
            continue
        yield window.value()
        char = window.peek()
        window.pos += 1
        if char == "]":
            return
        if char != ",":
            window.pos -= 1
            raise window.error("expected ',' or ']'")


Opener = Callable[[], Iterator[Member]]


def open_document(source: str | Path | bytes | Mapping[str, Any]) -> Opener:
    """A function that walks the document's top-level members from the start, each call anew.

    `source` is a path (`Path`, or a `str` that does not start with `{`), JSON text (`str`
    starting with `{`, or `bytes`), or an already parsed mapping.
    """
    if isinstance(source, Mapping):
        doc = source
        return lambda: (Member(str(key), value) for key, value in doc.items())
    if isinstance(source, bytes):
        try:
            text = source.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"document: not UTF-8 text ({exc.reason})") from None
        return lambda: _members(_Window(None, text))
    if isinstance(source, str) and source.lstrip("\ufeff \t\r\n").startswith("{"):
        text = source.removeprefix("\ufeff")
        return lambda: _members(_Window(None, text))
    return lambda: _file_members(Path(source))


def _file_members(path: Path) -> Iterator[Member]:
    try:
        stream = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise DocumentError(f"document: cannot read {path}: {exc.strerror}") from None
    with stream:
        try:
            yield from _members(_Window(stream))
        except UnicodeDecodeError as exc:
            raise DocumentError(f"document: not UTF-8 text ({exc.reason})") from None
