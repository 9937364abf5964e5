"""iCalendar <-> EventData (icalendar): parse what a server holds, write what a task becomes.

A resource tscrm does not import is returned as ``None``: no VEVENT (a to-do, a journal), a
recurring event (RRULE, RDATE or overrides: a task happens once) or an event without a start.
Writing an event the server already has keeps everything tscrm does not manage (alarms, attendees,
the organizer, other properties): only the synced properties are replaced.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event

from tscrm.core.services.calendar_sync import EventData, is_link
from tscrm.core.timeutil import TimeZoneLike, zone

PRODID = "-//tscrm//calendar sync//EN"
TYPE_PROPERTY = "X-TSCRM-TYPE"
SYNCED = ("SUMMARY", "DESCRIPTION", "DTSTART", "DTEND", "DURATION", "CATEGORIES", TYPE_PROPERTY, "URL", "LAST-MODIFIED", "DTSTAMP")


def _utc(value: datetime, tz: TimeZoneLike) -> datetime:
    """An event time in UTC; a floating time (no zone) is the owner's local time."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=zone(tz))
    return value.astimezone(UTC)


def _when(component, name: str, tz: TimeZoneLike) -> datetime | date | None:
    if name not in component:
        return None
    value = component.decoded(name)
    if isinstance(value, datetime):
        return _utc(value, tz)
    if isinstance(value, date):
        return value
    return None


def _text(component, name: str) -> str:
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value).strip()


def parse(ics: str, tz: TimeZoneLike) -> EventData | None:
    """The one event of a calendar resource, or None when tscrm leaves the resource alone."""
    try:
        calendar = Calendar.from_ical(ics)
    except Exception:  # noqa: BLE001 - whatever a server holds, a resource tscrm cannot read is left alone
        return None
    events = list(calendar.walk("VEVENT"))
    if len(events) != 1:
        return None
    event = events[0]
    if any(name in event for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
        return None
    uid = _text(event, "UID")
    start = _when(event, "DTSTART", tz)
    if not uid or start is None:
        return None
    end = _when(event, "DTEND", tz)
    if end is None and "DURATION" in event:
        duration = event.decoded("DURATION")
        if isinstance(duration, timedelta):
            end = start + duration
    if end is None and isinstance(start, date) and not isinstance(start, datetime):
        end = start + timedelta(days=1)
    if isinstance(start, datetime) != isinstance(end, datetime):
        end = None  # a date end on a timed start (or the reverse): ignore it
    kind = _text(event, TYPE_PROPERTY).lower() or None
    if kind is None:
        categories = event.get("CATEGORIES")
        if categories is not None:
            names = [str(c).lower() for group in (categories if isinstance(categories, list) else [categories]) for c in group.cats]
            kind = next((n for n in names if n in ("task", "call", "video", "sms")), None)
    url = _text(event, "URL") or None
    if not is_link(url):
        location = _text(event, "LOCATION")
        url = location if is_link(location) else None
    modified = _when(event, "LAST-MODIFIED", tz) or _when(event, "DTSTAMP", tz)
    return EventData(
        uid=uid,
        summary=_text(event, "SUMMARY"),
        description=_text(event, "DESCRIPTION"),
        start=start,
        end=end,
        kind=kind,
        url=url,
        last_modified=modified if isinstance(modified, datetime) else None,
    )


def render(data: EventData, base: str | None = None, *, now: datetime | None = None) -> str:
    """The resource to PUT: ``base`` (what the server holds) with the synced properties replaced, or a
    new VCALENDAR with one VEVENT."""
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    calendar = None
    if base:
        try:
            calendar = Calendar.from_ical(base)
        except ValueError:
            calendar = None
    event = None
    if calendar is not None:
        events = list(calendar.walk("VEVENT"))
        event = events[0] if len(events) == 1 else None
    if calendar is None or event is None:
        calendar = Calendar()
        calendar.add("PRODID", PRODID)
        calendar.add("VERSION", "2.0")
        event = Event()
        event.add("UID", data.uid)
        calendar.add_component(event)
    for name in SYNCED:
        event.pop(name, None)
    if data.url or is_link(_text(event, "LOCATION")):
        event.pop("LOCATION", None)  # a meeting link tscrm wrote; a room or an address stays
    event.add("DTSTAMP", stamp)
    event.add("LAST-MODIFIED", stamp)
    event.add("SUMMARY", data.summary)
    if data.description:
        event.add("DESCRIPTION", data.description)
    event.add("DTSTART", data.start)
    if data.end is not None:
        event.add("DTEND", data.end)
    if data.kind:
        event.add(TYPE_PROPERTY, data.kind)
        event.add("CATEGORIES", [data.kind])
    if data.url:
        event.add("URL", data.url)
        event.add("LOCATION", data.url)
    return calendar.to_ical().decode()
