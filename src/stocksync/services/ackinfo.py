"""The `info` object of syncSuccess / syncFail: decoded liberally, as real clients send it.

Clients echo calcStock's record back (JSON integers, 4-place decimals, booleans) or send strings
and 1/0 flags instead; every documented field is checked, and a field that cannot be read refuses
the call naming it. The sync record keeps `info` whole, unknown fields included (`info_json`).
The decoders take the common JSON types first: an ack decodes 16 fields on every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from stocksync import jsoncodec
from stocksync.domain.errors import InvalidArgument
from stocksync.domain.syncstate import INT32_MAX

_INT32_MIN = -INT32_MAX - 1


class SyncInfo(NamedTuple):
    """The documented fields of a syncSuccess/syncFail `info`, decoded; None = not sent.

    A named tuple, not a frozen dataclass: one is built on every acknowledgement.
    """

    syn_stock: int | None = None
    stock_change_count: int | None = None
    stock_syn_rule_id: int | None = None
    stock_syn_rule_no: str | None = None
    stock_syn_other: str | None = None
    stock_syn_warehouses: str | None = None
    stock_syn_mask: int | None = None
    stock_syn_percent: Decimal | None = None
    stock_syn_plus: Decimal | None = None
    stock_syn_min: Decimal | None = None
    stock_syn_max: Decimal | None = None
    is_auto_listing: bool | None = None
    is_auto_delisting: bool | None = None
    is_syn_success: bool | None = None
    is_manual: bool | None = None
    syn_result: str | None = None


def decode_info(info: Mapping[str, Any]) -> SyncInfo:
    """Decode `info` liberally, as real clients send it; InvalidArgument names a bad field.

    Numbers may come as strings, flags as true/false, 1/0 or their strings, text as numbers
    (`stock_syn_warehouses`: 6); null or missing means absent, unknown fields are ignored here
    (the sync record keeps them). `syn_stock` must be a whole number ≥ 0 ("12.0000" is 12).
    """
    if not isinstance(info, Mapping):
        raise InvalidArgument("argument type mismatch: info must be an object")
    return SyncInfo(
        _integer(info, "syn_stock", 0),
        _integer(info, "stock_change_count"),
        _integer(info, "stock_syn_rule_id"),
        _text(info, "stock_syn_rule_no"),
        _text(info, "stock_syn_other"),
        _text(info, "stock_syn_warehouses"),
        _integer(info, "stock_syn_mask", 0),
        _decimal(info, "stock_syn_percent"),
        _decimal(info, "stock_syn_plus"),
        _decimal(info, "stock_syn_min"),
        _decimal(info, "stock_syn_max"),
        _flag(info, "is_auto_listing"),
        _flag(info, "is_auto_delisting"),
        _flag(info, "is_syn_success"),
        _flag(info, "is_manual"),
        _text(info, "syn_result"),
    )


def info_json(info: Mapping[str, Any]) -> str:
    """`info` as the sync record keeps it: JSON text of every field the client sent."""
    try:
        return jsoncodec.dumps(info if type(info) is dict else dict(info)).decode()
    except TypeError:  # not from a JSON body (a direct caller): keep it readable anyway
        return jsoncodec.dumps({str(k): repr(v) for k, v in info.items()}).decode()


def _bad(info: Mapping[str, Any], name: str, expected: str) -> InvalidArgument:
    value = info[name]
    return InvalidArgument(f"argument type mismatch: info.{name} must be {expected}, got {value!r}")


def _decimal(info: Mapping[str, Any], name: str) -> Decimal | None:
    value = info.get(name)
    if value is None:
        return None
    if isinstance(value, Decimal) and value.is_finite():  # a JSON fraction
        return value
    number = _to_decimal(value)
    if number is None:
        raise _bad(info, name, "a number")
    return number


def _integer(info: Mapping[str, Any], name: str, minimum: int = _INT32_MIN) -> int | None:
    value = info.get(name)
    if value is None:
        return None
    if type(value) is int:  # a JSON integer: no detour through Decimal
        if minimum <= value <= INT32_MAX:
            return value
        raise _bad(info, name, f"a whole number from {minimum} to {INT32_MAX}")
    number = _decimal(info, name)
    assert number is not None
    if number != number.to_integral_value() or not minimum <= number <= INT32_MAX:
        raise _bad(info, name, f"a whole number from {minimum} to {INT32_MAX}")
    return int(number)


_TRUE, _FALSE = frozenset({"1", "true"}), frozenset({"0", "false"})


def _flag(info: Mapping[str, Any], name: str) -> bool | None:
    value = info.get(name)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise _bad(info, name, "true/false or 1/0")


def _text(info: Mapping[str, Any], name: str) -> str | None:
    value = info.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise _bad(info, name, "a string")


def _to_decimal(value: object) -> Decimal | None:
    """A finite Decimal from an int, Decimal, float or numeric string; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None
