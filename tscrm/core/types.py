"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Integer, Numeric, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 4  # decimal places kept of every amount


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; ``timestamptz`` on PostgreSQL, ISO text in UTC on SQLite.

    Naive datetimes are refused: a naive time is a bug waiting to show the wrong hour.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """Exact decimals: NUMERIC(24, scale) on PostgreSQL, text on SQLite (whose NUMERIC is a float)."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 24, scale: int = MONEY_SCALE) -> None:
        super().__init__(precision, scale)
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        value = Decimal(value)
        if dialect.name == "sqlite":
            return format(value.quantize(Decimal(1).scaleb(-self.scale)), "f")
        return value

    def process_result_value(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        exact = Decimal(value)
        cents = exact.quantize(Decimal("0.01"))
        return cents if cents == exact else exact


class StrEnumType(TypeDecorator[StrEnum]):
    """A ``StrEnum`` stored as its lower-case value in a VARCHAR (no database enum types to migrate)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_class: type[StrEnum], length: int = 20) -> None:
        super().__init__(length)
        self.enum_class = enum_class

    def process_bind_param(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        return self.enum_class(value).value

    def process_result_value(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        return self.enum_class(value)


class _MoneySum(TypeDecorator[Decimal]):
    """What ``money_sum`` returns: a Decimal on both databases."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Integer())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_result_value(self, value, dialect):  # type: ignore[override]
        if value is None:
            return None
        if dialect.name == "sqlite":  # whole units of the last decimal place, see money_sum
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return Decimal(value)


class money_sum(FunctionElement):  # noqa: N801  (used like a SQL function)
    """SUM of a Money column, exact on both databases. SQLite would add its text values up as floats, so
    there the sum runs over whole ten-thousandths (the column's scale) as 64-bit integers."""

    type = _MoneySum()
    name = "money_sum"
    inherit_cache = True


@compiles(money_sum)
def _money_sum_generic(element: Any, compiler: Any, **kw: Any) -> str:
    return f"SUM({compiler.process(element.clauses, **kw)})"


@compiles(money_sum, "sqlite")
def _money_sum_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    # a stored amount has at most MONEY_SCALE decimals: times 10^scale it is a whole number, which the
    # double nearly is and ROUND makes exact (for amounts below 9 * 10^11)
    return f"SUM(CAST(ROUND(CAST({compiler.process(element.clauses, **kw)} AS REAL) * {10 ** MONEY_SCALE}) AS INTEGER))"
