"""JSON with exact decimals: Decimal out as an exact JSON number, JSON fractions in as Decimal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"not a finite number: {value}")
        return orjson.Fragment(str(value))
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise with orjson; Decimals become exact JSON numbers (never binary floats)."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    return orjson.dumps(value, default=_default, option=option)


def encoded(text: str | bytes) -> Any:
    """JSON text that `dumps` writes as it is where the value stands (orjson's `Fragment`)."""
    return orjson.Fragment(text)


def loads(data: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become `Decimal`, integers `int`."""
    return json.loads(data, parse_float=Decimal)
