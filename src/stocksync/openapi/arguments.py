"""Positional arguments: parse the JSON body and coerce each value to its declared kind (spec §4).

Decoding is liberal the way real clients need it: numbers may come as strings (`"500"`), bools
as `true/false`, `1/0`, `"true"/"false"` or `"1"/"0"`, ids as strings. It is never lossy: a
value that cannot be coerced exactly is `argument type mismatch`, and non-integer JSON numbers
are read as `Decimal`, never as binary floats. The `to_*` coercers are public so that handlers
can decode the fields of object arguments (e.g. the `info` of syncSuccess) the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from json.scanner import make_scanner
from typing import Any, Literal

import orjson

from stocksync.openapi.errors import ArgumentTypeMismatch, BadArguments, InvalidArgumentCount

Kind = Literal["int", "bool", "decimal", "str", "object", "list"]

#: Ids, positions and counters are signed 32-bit (the Java SDK's DTOs use `Integer`).
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
#: Quantities carry at most 4 decimal places (Decimal(19,4)).
_QUANTUM = Decimal("0.0001")
_INT_TEXT = re.compile(r"-?[0-9]{1,10}")
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,20})?")
# A fraction, an exponent or a 19+ digit integer: orjson would give a float there. The search
# for `[0-9][.eE]|[0-9]{19}` runs on the body with every digit turned into "0" (`_ZEROS`), as
# four substring searches: a sixth of the cost of the regex on a 5,000-item batch.
_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN = b"0" * 19
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class Param:
    """One positional argument: its name (for docs), kind, and whether it may be omitted.

    Optional params must come last; an omitted one (or a JSON `null`) is passed as `default`.
    """

    name: str
    kind: Kind
    required: bool = True
    default: Any = None


def parse_body(body: bytes) -> list[Any]:
    """The JSON array of arguments in `body`; `参数错误` for anything else (bad UTF-8 included)."""
    try:
        value = loads_exact(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise BadArguments() from None
    if not isinstance(value, list):
        raise BadArguments()
    return value


def loads_exact(data: bytes) -> Any:
    """Strict JSON (UTF-8, no NaN, no lone surrogates) with every number exact.

    Documents of integers, strings and bools go through orjson (fast). One that may hold a
    fraction, an exponent or a huge integer is parsed by the stdlib with `Decimal` numbers
    instead, so no value ever passes through a binary float. Raises ValueError.
    """
    if not _inexact_hint(data):
        return orjson.loads(data)
    text = data.decode()
    if _SURROGATE_ESCAPE.search(data):
        orjson.loads(data)  # refuses a lone surrogate, which the stdlib would let through
    return EXACT_DECODER.decode(text)


def _inexact_hint(data: bytes) -> bool:
    """Whether `data` has a digit followed by `.`, `e` or `E`, or 19 digits in a row (inside
    strings too: a false alarm only costs the slower exact parse)."""
    zeroed = data.translate(_ZEROS)
    # `find`, not `in`: `bytes.__contains__` first tries its argument as an int and formats a
    # TypeError for it, which costs more than the search in a calcStock body.
    find = zeroed.find
    return find(b"0.") >= 0 or find(b"0e") >= 0 or find(b"0E") >= 0 or find(_NINETEEN) >= 0


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


#: `json.loads(text, parse_float=Decimal, parse_constant=…)`'s decoder, built once instead of
#: per call; `EXACT_SCAN(text, 0)` is its C scanner (value, end), for callers that check the end.
EXACT_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)
EXACT_SCAN = make_scanner(EXACT_DECODER)  # type: ignore[arg-type]  # (typeshed: its own type)


class ArgSpec:
    """A method's positional params, checked once and ready to decode bodies quickly."""

    __slots__ = ("params", "required", "_coercers")

    def __init__(self, params: Sequence[Param] = ()) -> None:
        """Refuse a required param after an optional one (it could never be sent) and a kind
        without a coercer."""
        self.params = tuple(params)
        self.required = sum(1 for param in self.params if param.required)
        if any(param.required for param in self.params[self.required :]):
            raise ValueError("a required param follows an optional one")
        unknown = [param.kind for param in self.params if param.kind not in COERCERS]
        if unknown:
            raise ValueError(f"no such kind of param: {unknown[0]}")
        # Looked up once here rather than per value: decoding is on every call's path.
        self._coercers = tuple(COERCERS[param.kind] for param in self.params)

    def decode(self, raw: list[Any]) -> list[Any]:
        """Coerce `raw`: one value per param, omitted optional ones as their default.

        A method without params accepts `[]` and `[{}]` (the Go SDK sends the latter).
        """
        params = self.params
        if not self.required <= len(raw) <= len(params):
            if not params and raw == [{}]:
                return []
            raise InvalidArgumentCount()
        decoded = [
            _null(param) if value is None else coerce(value)
            for param, coerce, value in zip(params, self._coercers, raw, strict=False)
        ]
        if len(raw) < len(params):
            decoded.extend(_default(param) for param in params[len(raw) :])
        return decoded


def _null(param: Param) -> Any:
    """A JSON `null` sent for `param`: its default when optional, refused when required."""
    if param.required:
        raise ArgumentTypeMismatch()
    return _default(param)


def _default(param: Param) -> Any:
    # A fresh copy, so that a handler changing a default `{}` cannot leak into the next call.
    default = param.default
    return default.copy() if isinstance(default, (dict, list)) else default


def to_int(value: Any) -> int:
    """An int within signed 32 bits, from an int, an integral number or a numeric string."""
    if type(value) is not int:  # bool is not an int here
        value = _integral(value)
    if not INT_MIN <= value <= INT_MAX:
        raise ArgumentTypeMismatch()
    return int(value)


def _integral(value: Any) -> int:
    if isinstance(value, str):
        exact = _INT_TEXT.fullmatch(value) is not None
    else:
        exact = isinstance(value, Decimal) and value.is_finite() and value == int(value)
    if not exact:
        raise ArgumentTypeMismatch()
    return int(value)


def to_bool(value: Any) -> bool:
    """A bool from `true/false`, `1/0`, `"true"/"false"` or `"1"/"0"`; nothing else (not 2)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.lower() in _BOOL_TEXT:
        return _BOOL_TEXT[value.lower()]
    raise ArgumentTypeMismatch()


_BOOL_TEXT = {"true": True, "1": True, "false": False, "0": False}


def to_decimal(value: Any) -> Decimal:
    """An exact Decimal with at most 4 places, from a JSON number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise ArgumentTypeMismatch()
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ArgumentTypeMismatch()
    number = Decimal(value)
    try:
        if not number.is_finite() or number != number.quantize(_QUANTUM):
            raise ArgumentTypeMismatch()
    except InvalidOperation:  # too many digits to carry 4 places
        raise ArgumentTypeMismatch() from None
    return number


def to_str(value: Any) -> str:
    """A string; numbers become their JSON text (clients send codes such as `6` unquoted)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ArgumentTypeMismatch()


def to_object(value: Any) -> dict[str, Any]:
    """A JSON object, passed through; `[]` counts as `{}` (PHP encodes an empty array so)."""
    if isinstance(value, dict):
        return value
    if value == []:
        return {}
    raise ArgumentTypeMismatch()


def to_list(value: Any) -> list[Any]:
    """A JSON array, passed through."""
    if isinstance(value, list):
        return value
    raise ArgumentTypeMismatch()


COERCERS: dict[str, Callable[[Any], Any]] = {
    "int": to_int,
    "bool": to_bool,
    "decimal": to_decimal,
    "str": to_str,
    "object": to_object,
    "list": to_list,
}
