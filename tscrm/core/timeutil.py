"""Calendar arithmetic in a user's time zone: "today" and "this week" as UTC bounds.

Bounds are half-open ``[start, end)`` intervals in UTC, computed from local midnights, so a day is
23 or 25 hours long across a DST change and a query ``start <= t < end`` matches exactly what the
user calls today (or this week). Shared by the dashboard, the calendar, tasks and analytics.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from tscrm.core.errors import ValidationError
from tscrm.i18n import _

TimeZoneLike = str | tzinfo


def zone(tz: TimeZoneLike) -> tzinfo:
    """A tzinfo from a name like "Europe/Madrid" (or a tzinfo, returned as is)."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def local_date(moment: datetime, tz: TimeZoneLike) -> date:
    """The calendar date ``moment`` falls on for someone living in ``tz``."""
    return require_aware(moment, "now").astimezone(zone(tz)).date()


def local_midnight(day: date, tz: TimeZoneLike) -> datetime:
    """The UTC instant a local calendar day begins.

    A midnight skipped by a DST jump (some zones switch at 00:00) resolves, with ``fold=0``, to the
    instant of the jump, which is indeed when that day begins.
    """
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(UTC)


def day_bounds(now: datetime, tz: TimeZoneLike) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of the local day containing ``now``."""
    today = local_date(now, tz)
    return local_midnight(today, tz), local_midnight(today + timedelta(days=1), tz)


def week_first_day(day: date, week_start: int) -> date:
    """The first day of the week containing ``day`` (``week_start`` 0 = Monday ... 6 = Sunday)."""
    return day - timedelta(days=(day.weekday() - week_start) % 7)


def week_bounds(now: datetime, tz: TimeZoneLike, week_start: int = 0) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of the local week containing ``now``."""
    first = week_first_day(local_date(now, tz), week_start)
    return local_midnight(first, tz), local_midnight(first + timedelta(days=7), tz)


def require_aware(value: datetime, field: str) -> datetime:
    """Refuse naive datetimes: without a zone nobody knows which hour was meant."""
    if not isinstance(value, datetime):
        raise ValidationError(_("{field}: {value!r} is not a date and time").format(field=field, value=value), field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            _("{field}: {value} has no time zone (give e.g. 2025-03-30T10:00+02:00)").format(
                field=field, value=value.isoformat(timespec="minutes")
            ),
            field,
        )
    return value


def optional_aware(value: datetime | None, field: str) -> datetime | None:
    """``require_aware`` for optional values, returned in UTC."""
    return None if value is None else require_aware(value, field).astimezone(UTC)
