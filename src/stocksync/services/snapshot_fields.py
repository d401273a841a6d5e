"""Checking snapshot records field by field, collecting every problem with its path.

Each coercer turns a JSON value into what the database stores (quantities as integers scaled by
10⁴, exactly; booleans as bool; ids as ints) or raises `FieldError`. A `Shape` checks one record
against its fields and reports each problem as `section[index].field: message`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from operator import call, itemgetter
from typing import Any

from stocksync.db.types import QuantityError, to_scaled

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
_QTY_INT_LIMIT = 900_000_000_000_000

Coerce = Callable[[Any], Any]


class FieldError(ValueError):
    """One value that does not fit its field; the message is shown after the field's path."""


class Required:
    """Marker default: the field must be present."""


REQUIRED = Required()


class Problems:
    """Every error and warning of one import, each prefixed by its path (capped when huge)."""

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.error_count = 0
        self.warning_count = 0

    def error(self, path: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.limit:
            self.errors.append(f"{path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.limit:
            self.warnings.append(f"{path}: {message}")

    def all_errors(self) -> list[str]:
        return self.errors + _more(self.error_count - len(self.errors), "error")

    def all_warnings(self) -> list[str]:
        return self.warnings + _more(self.warning_count - len(self.warnings), "warning")


def _more(count: int, what: str) -> list[str]:
    return [f"... and {count} more {what}(s)"] if count > 0 else []


def _kind(value: Any) -> str:
    return {bool: "a boolean", str: "a string", list: "an array", dict: "an object"}.get(
        type(value), "a number"
    )


def text(length: int, *, nonempty: bool = False) -> Coerce:
    """A string of at most `length` characters (the column's length)."""

    def coerce(value: Any) -> str:
        if type(value) is not str:
            raise FieldError(f"expected a string, got {_kind(value)}")
        if len(value) > length:
            raise FieldError(f"longer than {length} characters")
        if nonempty and not value:
            raise FieldError("must not be empty")
        return value

    return coerce


def integer(low: int = INT32_MIN, high: int = INT32_MAX) -> Coerce:
    """A whole number within [low, high] (JSON number or numeric string)."""

    def coerce(value: Any) -> int:
        number = _as_int(value)
        if not low <= number <= high:
            raise FieldError(f"{number} is outside {low}..{high}")
        return number

    return coerce


def _as_int(value: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is Literal:
        value = value.decimal
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if isinstance(value, (Decimal, float)) and not isinstance(value, bool):
        exact = Decimal(repr(value)) if isinstance(value, float) else value
        if exact.is_finite() and exact == exact.to_integral_value():
            return int(exact)
    raise FieldError(f"expected a whole number, got {_shown(value)}")


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, (str, bool)) else _kind(value)


#: A record's own id: a positive signed 32-bit int.
ident = integer(1, INT32_MAX)
#: A reference that may be "none" (-1 or 0).
ref_id = integer(-1, INT32_MAX)
int32 = integer()
#: A rule's mask: any of the 16 quantity bits.
mask = integer(0, 0xFFFF)


class Literal:
    """A JSON number with a fraction or an exponent, exactly as written: its `Decimal` and, only
    when it is a valid quantity, `scaled` (its value × 10⁴). One object per distinct text."""

    __slots__ = ("decimal", "scaled")

    def __init__(self, literal: str) -> None:
        self.decimal = Decimal(literal)
        self.scaled: int
        with suppress(QuantityError):  # left unset: reading it raises AttributeError
            self.scaled = to_scaled(self.decimal)


class _Literals(dict[str, Literal]):
    """The `parse_float` hook: repeats of a number text share one `Literal` (a C dict hit)."""

    def __missing__(self, literal: str) -> Literal:
        if len(self) > _CACHE_LIMIT:
            self.clear()
            _SCALED.clear()
        found = self[literal] = Literal(literal)
        if hasattr(found, "scaled"):
            _SCALED[found] = found.scaled
        return found


class _Scaled(dict[Any, int]):
    """Each valid `Literal`'s scaled value, by identity (a C dict hit); any other value (an
    int, a string, a boolean...) misses and goes through `quantity`."""

    def __missing__(self, value: Any) -> int:
        return quantity(value)


_SCALED = _Scaled()


#: `json.JSONDecoder(parse_float=...)`: numbers with a fraction become shared `Literal`s.
parse_float: Callable[[str], Literal] = _Literals().__getitem__
_CACHE_LIMIT = 200_000


def quantity(value: Any) -> int:
    """A quantity with at most 4 decimals, as its exact integer scaled by 10⁴.

    A float (from a mapping built in Python) counts as the decimal its shortest repr shows.
    """
    if type(value) is Literal:
        try:
            return value.scaled
        except AttributeError:  # not a valid quantity
            return _scaled(value.decimal)  # raises with the reason
    if type(value) is int:
        if -_QTY_INT_LIMIT < value < _QTY_INT_LIMIT:
            return value * 10_000
        raise FieldError(f"out of range: {value}")
    return _scaled(_decimal_of(value))


def _decimal_of(value: Any) -> Decimal:
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise FieldError(f"expected a decimal number, got {value!r}") from None
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, Literal):
        return value.decimal
    raise FieldError(f"expected a number, got {_kind(value)}")


def _scaled(value: Decimal) -> int:
    try:
        return to_scaled(value)
    except QuantityError as exc:
        raise FieldError(str(exc)) from None


def nonnegative(value: Any) -> int:
    """A quantity that must not be negative (rule min/max/percent)."""
    scaled = quantity(value)
    if scaled < 0:
        raise FieldError("must not be negative")
    return scaled


def flag(value: Any) -> bool:
    """A boolean: true/false, or 0/1."""
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise FieldError(f"expected true/false or 0/1, got {_shown(value)}")


def one_of(*allowed: int) -> Coerce:
    """An integer among `allowed`."""

    def coerce(value: Any) -> int:
        number = _as_int(value)
        if number not in allowed:
            raise FieldError(f"{number} is not one of {', '.join(map(str, allowed))}")
        return number

    return coerce


def id_list(value: Any) -> tuple[int, ...]:
    """An array of ids."""
    if not isinstance(value, list | tuple):
        raise FieldError(f"expected an array of ids, got {_kind(value)}")
    return tuple(ident(item) for item in value)


def anything(value: Any) -> Any:
    """Any value, None included: checked elsewhere (nested objects and arrays)."""
    return value


def _none_ok(coerce: Coerce) -> Coerce:
    """The coercer of an optional field whose absence means None."""

    def coerce_or_none(value: Any) -> Any:
        return None if value is None else coerce(value)

    return coerce_or_none


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    coerce: Coerce
    default: Any = REQUIRED


class Shape:
    """The fields of one kind of record; checks a record and reports each problem by path."""

    def __init__(self, section: str, fields: Sequence[Field]) -> None:
        self.section = section
        self.fields = tuple(fields)
        self.names = tuple(f.name for f in fields)
        self.allowed = frozenset(self.names)
        self._fast_defaults = tuple(_fast_default(f) for f in fields)
        self._fast_coercers = tuple(_fast_coercer(f) for f in fields)
        self._all = itemgetter(*self.names)
        self._position = {name: at for at, name in enumerate(self.names)}
        self._required = frozenset(f.name for f in fields if f.default is REQUIRED)
        self._default_values = [None if f.default is REQUIRED else f.default for f in fields]

    def index_of(self, name: str) -> int:
        return self.names.index(name)

    def check(
        self, record: Any, problems: Problems, prefix: str, index: int | None = None
    ) -> tuple[list[Any], bool]:
        """The record's values in field order (None where a value is bad) and whether all fit.

        Problems are reported under `prefix[index]` (or `prefix` when index is None).
        """
        # The common case in one pass at C speed: every field absent or of the right type. A
        # missing required field, an explicit null or anything unusual makes a coercer raise;
        # the record is then checked field by field to report exactly what is wrong.
        if type(record) is dict and self.allowed.issuperset(record):
            try:
                return self._check_quickly(record), True
            except (FieldError, TypeError):
                pass
        path = prefix if index is None else f"{prefix}[{index}]"
        return self._check_slowly(record, path, problems)

    def _check_quickly(self, record: dict[str, Any]) -> list[Any]:
        """The values of a record with known fields only; raises at the first problem."""
        present = len(record)
        if present == len(self.names):  # every field present: fetch all in one call
            return list(map(call, self._fast_coercers, self._all(record)))
        if present * 3 > len(self.names) or not self._required.issubset(record):
            values = map(record.get, self.names, self._fast_defaults)
            return list(map(call, self._fast_coercers, values))
        found = self._default_values.copy()  # a sparse record: coerce what it has
        coercers, position = self._fast_coercers, self._position
        for name, value in record.items():
            at = position[name]
            found[at] = coercers[at](value)
        return found

    def _check_slowly(self, record: Any, path: str, problems: Problems) -> tuple[list[Any], bool]:
        if type(record) is not dict:
            problems.error(path, f"expected an object, got {_kind(record)}")
            return [None] * len(self.fields), False
        ok = True
        if not self.allowed.issuperset(record):
            ok = False
            for name in record:
                if name not in self.allowed:
                    problems.error(f"{path}.{name}", "unknown field")
        values: list[Any] = []
        for field in self.fields:
            value = record.get(field.name)
            if value is None:
                if field.default is REQUIRED:
                    problems.error(f"{path}.{field.name}", "required")
                    ok = False
                values.append(None if field.default is REQUIRED else field.default)
                continue
            try:
                values.append(field.coerce(value))
            except FieldError as exc:
                problems.error(f"{path}.{field.name}", str(exc))
                values.append(None)
                ok = False
        return values, ok


def _fast_default(field: Field) -> Any:
    """A document value standing for the field's default: coercing it gives the default."""
    default = field.default
    if default is None or default is REQUIRED:
        return default
    if field.coerce in (quantity, nonnegative):
        raw: Any = parse_float(f"{Decimal(default).scaleb(-4):f}")
    else:
        raw = default
    if _fast_coercer(field)(raw) != default:
        raise AssertionError(f"{field.name}: no document value for the default {default!r}")
    return raw


def _fast_coercer(field: Field) -> Coerce:
    if field.coerce is quantity:
        return _SCALED.__getitem__  # raises TypeError for unhashable values
    if field.default is None and field.coerce is not anything:
        return _none_ok(field.coerce)
    return field.coerce


def id_tokens(listed: str) -> Iterable[tuple[str, int | None]]:
    """The tokens of a comma-separated id list with their int value (None when not an int)."""
    for token in listed.split(","):
        token = token.strip()
        if token:
            yield token, int(token) if token.lstrip("-").isdigit() else None
