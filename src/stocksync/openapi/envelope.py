"""The answer envelope (spec §3): `{"status":0,"data":…}`, `{"status":0}` or an error.

Encoded with orjson through `stocksync.jsoncodec`, so a `Decimal` is written as the exact JSON
number it holds (`1.0000`), never through a binary float, and ints stay ints.
"""

from __future__ import annotations

from typing import Any

from stocksync import jsoncodec
from stocksync.openapi.errors import ProtocolError
from stocksync.openapi.ports import NO_DATA

NO_DATA_ANSWER = b'{"status":0}'


def success(data: Any, *, calc_total: bool = False) -> bytes:
    """The answer for a handler's result; `NO_DATA` gives `{"status":0}`.

    With `calc_total` and a `total_count` in `data`, a top-level `total` repeats it (§3: no
    known client minds, and some read it there).
    """
    if data is NO_DATA:
        return NO_DATA_ANSWER
    if calc_total and isinstance(data, dict) and "total_count" in data:
        return jsoncodec.dumps({"status": 0, "data": data, "total": data["total_count"]})
    return jsoncodec.dumps({"status": 0, "data": data})


def failure(error: ProtocolError) -> bytes:
    """The answer for a refused call: a positive status and a string message."""
    return jsoncodec.dumps({"status": error.status, "message": error.message})
