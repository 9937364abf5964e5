"""How values look to a person, shared by the CLI and the TUI: times in the user's zone, money in
their language, names of users, presence, days and periods of the calendar.

Kept free of rich, typer and textual, so that both front ends (and nothing else) depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tscrm.core.errors import ValidationError
from tscrm.i18n import _, current_language

if TYPE_CHECKING:
    from sqlmodel import Session

# One symbol per task type, the same in the app and on the command line (keys: tscrm.core.models.TaskType).
TASK_MARKERS: dict[str, str] = {"task": "•", "call": "☎", "video": "▶", "sms": "✉"}


def task_marker(task_type: object) -> str:
    return TASK_MARKERS.get(str(getattr(task_type, "value", task_type)), "•")


def format_money(amount: Decimal, currency: str) -> str:
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale=current_language())


def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def show_time(value: datetime | None, tz: str) -> str:
    """A stored UTC time, as the user reads it in their own zone."""
    if value is None:
        return ""
    return value.astimezone(get_zone(tz)).strftime("%Y-%m-%d %H:%M")


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Names of the given users, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    from sqlmodel import col, select

    from tscrm.core.models import User

    return {uid: name for uid, name in session.exec(select(User.id, User.name).where(col(User.id).in_(wanted)))}  # type: ignore[misc]


def day_label(day: date, pattern: str = "EEE d MMM") -> str:
    """A day as the user's language writes it ("Mon 24 Mar", "lun 24 mar")."""
    from babel.dates import format_date

    return format_date(day, pattern, locale=current_language())


def period_title(view: str, first: date, end: date, anchor: date) -> str:
    """"March 2025", "24 Mar – 30 Mar 2025" or "Sunday 30 March 2025"."""
    from babel.dates import format_date

    language = current_language()
    if view == "month":
        return _upper_first(format_date(anchor, "LLLL y", locale=language))
    if view == "week":
        last = end - timedelta(days=1)
        return f"{format_date(first, 'd MMM', locale=language)} – {format_date(last, 'd MMM y', locale=language)}"
    return _upper_first(format_date(anchor, "EEEE d MMMM y", locale=language))


def _upper_first(value: str) -> str:
    return value[:1].upper() + value[1:]


def presence_text(online: bool) -> str:
    return "● " + _("online") if online else "○ " + _("offline")


def parse_time(raw: str | None, tz: str, option: str) -> datetime | None:
    """A time typed in the user's zone ("2026-12-01 10:00"; a date alone means 00:00) -> UTC."""
    if raw is None or not raw.strip():
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationError(
            _("{option}: {value!r} is not a date and time like 2026-12-01 10:00").format(option=option, value=raw),
            option,
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=get_zone(tz))
    return value.astimezone(UTC)
