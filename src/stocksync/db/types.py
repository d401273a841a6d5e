"""Column types shared by every backend.

Quantities are stored as scaled integers (value × 10⁴ in a BIGINT) on SQLite, PostgreSQL and
MariaDB alike: SQLite has no decimal type and SQLAlchemy's `Numeric` passes through binary floats
there. One representation everywhere also lets the batch path read raw integers.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

SCALE = 10_000
#: Largest magnitude a quantity may have (Decimal(19,4) that still fits a signed BIGINT scaled).
QTY_LIMIT = Decimal("900000000000000")


class QuantityError(ValueError):
    """A value that is not an exact decimal with at most 4 places within range."""


def to_scaled(value: Decimal) -> int:
    """Exact Decimal → scaled int; refuses more than 4 decimal places or out-of-range values."""
    if not value.is_finite():
        raise QuantityError(f"not a finite number: {value}")
    if abs(value) >= QTY_LIMIT:
        raise QuantityError(f"out of range: {value}")
    scaled = value * SCALE
    if scaled != scaled.to_integral_value():
        raise QuantityError(f"more than 4 decimal places: {value}")
    return int(scaled)


def from_scaled(value: int) -> Decimal:
    """Scaled int → Decimal with exactly 4 places (`Decimal("1.0000")`); on the hot paths, so
    one exponent shift rather than a division and a quantize (same digits, same exponent)."""
    return Decimal(value).scaleb(-4)


class Qty(TypeDecorator[Decimal]):
    """An exact quantity with 4 decimal places, stored as a scaled BIGINT."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_scaled(Decimal(value))

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return from_scaled(int(value))
