"""Calendar sync, the core half: tasks as events, the sync status, and the rules that decide.

tscrm.calendar.sync does the network (CalDAV) and calls these functions, one transaction per
item. Nothing here imports a network or iCalendar library: an event is an :class:`EventData`.

Which tasks: those assigned to the account's owner that have a time (``start_at`` or ``due_at``),
done ones included. A task becomes a VEVENT (not a VTODO: every calendar app shows events, few show
to-dos, and a CRM task with a time is an appointment): DTSTART is its calendar time, DTEND its due
time when it has a start, else DTSTART + 30 minutes; the type goes in X-TSCRM-TYPE and CATEGORIES,
a video meeting's link in URL and LOCATION. A task spanning whole days of the owner's time zone
(local midnight to local midnight, 23 or 25 hours across DST) is an all-day event.

The rules (vdirsyncer's): a side changed only if its content hash differs from the one saved when
the item was last in sync; an item was deleted on a side only if the status has it and that side
no longer has it. Both sides changed: the most recent change wins (the task's ``updated_at`` against
the event's LAST-MODIFIED, else DTSTAMP; a tie keeps the CRM's), and the losing version is written
in the feed of the task's client/lead/deal and in the sync report. Deleted on one side and changed
on the other: the change wins (the item comes back).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from tscrm.core.models import ActivityKind, Task, TaskType, User
from tscrm.core.models_calendar import CalendarAccount, CalendarItem
from tscrm.core.permissions import Actor
from tscrm.core.services import activity
from tscrm.core.services import tasks as task_service
from tscrm.core.timeutil import TimeZoneLike, local_midnight, zone
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

DEFAULT_DURATION = timedelta(minutes=30)  # the event length of a task that has only a due time
MIN_ITEMS_FOR_EMPTY_CHECK = 2  # refuse when every one of at least this many known items vanished from a side
IMPORTABLE_TYPES = (TaskType.TASK, TaskType.CALL, TaskType.VIDEO)  # an event cannot make an SMS task


@dataclass(frozen=True)
class EventData:
    """What tscrm syncs of an event. All-day events have ``date`` start/end (end exclusive), others
    UTC datetimes."""

    uid: str
    summary: str = ""
    description: str = ""
    start: datetime | date | None = None
    end: datetime | date | None = None
    kind: str | None = None  # a TaskType value (X-TSCRM-TYPE / CATEGORIES), None for foreign events
    url: str | None = None  # a meeting link (URL, or a LOCATION that is a link)
    last_modified: datetime | None = None  # not part of the content hash

    @property
    def all_day(self) -> bool:
        return isinstance(self.start, date) and not isinstance(self.start, datetime)

    def content_hash(self) -> str:
        """The hash the status keeps: summary, description, times, type and link."""

        def iso(value: datetime | date | None) -> str | None:
            if value is None:
                return None
            if isinstance(value, datetime):
                return value.astimezone(UTC).isoformat()
            return value.isoformat()

        payload = [self.summary, self.description, iso(self.start), iso(self.end), self.all_day, self.kind, self.url]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()

    def same_content(self, other: EventData) -> bool:
        return self.content_hash() == other.content_hash()


def is_link(value: str | None) -> bool:
    text = (value or "").strip().lower()
    return text.startswith(("https://", "http://")) and " " not in text


# --- task -> event --------------------------------------------------------------------------------


def task_span(task: Task) -> tuple[datetime, datetime] | None:
    """(start, end) of a task on the calendar, None for a task without a time."""
    start = task.start_at or task.due_at
    if start is None:
        return None
    if task.start_at is not None and task.due_at is not None and task.due_at > task.start_at:
        return start, task.due_at
    return start, start + DEFAULT_DURATION


def _whole_days(start: datetime, end: datetime, tz: TimeZoneLike) -> tuple[date, date] | None:
    """The local days [first, end) when start and end are both local midnights, else None."""
    local_start, local_end = start.astimezone(zone(tz)), end.astimezone(zone(tz))
    first, last = local_start.date(), local_end.date()
    if last <= first or local_midnight(first, tz) != start or local_midnight(last, tz) != end:
        return None
    return first, last


def event_from_task(task: Task, uid: str, tz: TimeZoneLike) -> EventData:
    """The event a task becomes in the owner's calendar (``tz``: the owner's time zone)."""
    span = task_span(task)
    if span is None:
        raise ValueError(f"task {task.id} has no time")
    start: datetime | date = span[0]
    end: datetime | date = span[1]
    if task.start_at is not None:
        days = _whole_days(span[0], span[1], tz)
        if days is not None:
            start, end = days
    return EventData(
        uid=uid,
        summary=task.title,
        description=task.description or "",
        start=start,
        end=end,
        kind=task.type.value,
        url=task.meeting_url if task.type == TaskType.VIDEO else None,
        last_modified=task.updated_at or task.created_at,
    )


# --- event -> task --------------------------------------------------------------------------------


def event_times(event: EventData, tz: TimeZoneLike) -> tuple[datetime | None, datetime]:
    """(start_at, due_at) of the task an event becomes: a 30-minute (or zero-length) event is a task
    due at its start; a longer one starts at its start and is due at its end; an all-day event runs
    from the local midnight of its first day to that of the day after its last (``tz``: the owner's)."""
    if event.all_day:
        first = event.start
        last = event.end if isinstance(event.end, date) and event.end > first else first + timedelta(days=1)  # type: ignore[operator]
        return local_midnight(first, tz), local_midnight(last, tz)  # type: ignore[arg-type]
    start = event.start
    end = event.end if isinstance(event.end, datetime) else None
    assert isinstance(start, datetime)
    if end is None or end <= start or end - start == DEFAULT_DURATION:
        return None, start
    return start, end


def _title(event: EventData) -> str:
    text = " ".join(event.summary.split())
    return text[:300] if text else _("(no title)")


def _kind(event: EventData, current: TaskType | None = None) -> TaskType:
    """The task type of an event: its X-TSCRM-TYPE if it is one an event may have, else (a new task)
    video when it carries a meeting link, else task; an existing task keeps its type."""
    if event.kind in {t.value for t in IMPORTABLE_TYPES}:
        wanted = TaskType(event.kind)
        return current if current == TaskType.SMS and wanted == current else wanted
    if current is not None:
        return current
    return TaskType.VIDEO if event.url else TaskType.TASK


def owner_of(session: Session, account: CalendarAccount) -> tuple[User, Actor]:
    from tscrm.core.services.users import actor_for

    user = session.get(User, account.owner_id)
    if user is None:
        raise ValueError(f"calendar account {account.id} has no owner")
    return user, actor_for(session, user)


def create_task_from_event(session: Session, actor: Actor, event: EventData, tz: TimeZoneLike) -> Task:
    """A new task of the owner for an event created in the calendar."""
    start_at, due_at = event_times(event, tz)
    kind = _kind(event)
    task = task_service.create_task(
        session, actor, title=_title(event), type=kind, description=event.description or None,
        start_at=start_at, due_at=due_at,
    )
    if kind == TaskType.VIDEO and event.url:
        task.meeting_url = event.url[:500]
        session.flush()
    return task


def update_task_from_event(session: Session, actor: Actor, task: Task, event: EventData, tz: TimeZoneLike) -> Task:
    """Apply an event's changes to its task (the times only if they moved: a task's own start/due
    split survives a change of title made in the calendar)."""
    current = event_from_task(task, event.uid, tz)
    changes: dict[str, Any] = {}
    if _title(event) != task.title:
        changes["title"] = _title(event)
    if (event.description or None) != task.description:
        changes["description"] = event.description or None
    if (current.start, current.end) != (event.start, event.end):
        changes["start_at"], changes["due_at"] = event_times(event, tz)
    kind = _kind(event, task.type)
    if kind != task.type:
        changes["type"] = kind
        if task.type == TaskType.SMS:
            changes["sms_text"] = None
    if changes:
        task_service.update_task(session, actor, task.id, **changes)  # type: ignore[arg-type]
    if task.type == TaskType.VIDEO and event.url and event.url != task.meeting_url:
        task.meeting_url = event.url[:500]
    session.flush()
    return task


def delete_task_for_event(session: Session, actor: Actor, task: Task, account_name: str) -> None:
    """The event was deleted in the calendar: delete the task, and say so in its records' feed."""
    activity.record(
        session,
        ActivityKind.TASK,
        author_id=actor.id,
        client_id=task.client_id,
        lead_id=task.lead_id,
        deal_id=task.deal_id,
        text=Phrase(N_("Task deleted in the calendar {calendar}: {title}"), {"calendar": account_name, "title": task.title}),
        data={"task_id": task.id, "type": task.type.value, "calendar_deleted": True},
    )
    task_service.delete_task(session, actor, task.id)  # type: ignore[arg-type]


def record_conflict(session: Session, actor: Actor, task: Task, kept: str, lost: EventData, account_name: str) -> None:
    """Both sides changed: say in the task's feed which side won and what the other side had."""
    when = lost.start.isoformat() if lost.start is not None else ""
    msgid = N_("Calendar conflict in {calendar}: the calendar's change was kept over the CRM's ({title}, {when})")
    if kept == "local":
        msgid = N_("Calendar conflict in {calendar}: the CRM's change was kept over the calendar's ({title}, {when})")
    activity.record(
        session,
        ActivityKind.TASK,
        author_id=actor.id,
        client_id=task.client_id,
        lead_id=task.lead_id,
        deal_id=task.deal_id,
        text=Phrase(msgid, {"calendar": account_name, "title": lost.summary, "when": when}),
        data={
            "task_id": task.id,
            "calendar_conflict": kept,
            "lost": {"summary": lost.summary, "description": lost.description, "start": when, "kind": lost.kind, "url": lost.url},
        },
    )


def local_wins_times(local_time: datetime | None, remote_time: datetime | None) -> bool:
    """Both sides changed: the most recent change wins (the task's ``updated_at``, else its creation,
    against the event's LAST-MODIFIED, else DTSTAMP); a tie, or an event without a date, keeps the CRM's."""
    if remote_time is None or local_time is None:
        return remote_time is None
    return local_time >= remote_time


# --- the status -------------------------------------------------------------------------------


@dataclass
class StatusRow:
    """A detached copy of a ``CalendarItem``."""

    id: int
    task_id: int | None
    uid: str
    href: str
    etag: str | None
    local_hash: str | None
    remote_hash: str | None
    ignored: bool

    @property
    def confirmed(self) -> bool:
        """Both sides were in sync after the last write (not a write left half-done by a killed run)."""
        return self.etag is not None and self.local_hash is not None and not self.ignored


def status_rows(session: Session, account_id: int) -> list[StatusRow]:
    rows = session.exec(select(CalendarItem).where(CalendarItem.account_id == account_id).order_by(col(CalendarItem.id)))
    return [
        StatusRow(r.id, r.task_id, r.uid, r.href, r.etag, r.local_hash, r.remote_hash, r.ignored)  # type: ignore[arg-type]
        for r in rows
    ]


def local_tasks(session: Session, owner_id: int) -> list[Task]:
    """The owner's tasks that have a time: what their calendar gets."""
    query = (
        select(Task)
        .where(Task.assignee_id == owner_id, or_(col(Task.due_at).is_not(None), col(Task.start_at).is_not(None)))
        .order_by(col(Task.id))
    )
    return list(session.exec(query))


def save_status(
    session: Session,
    account_id: int,
    *,
    row_id: int | None = None,
    task_id: int | None = None,
    uid: str,
    href: str,
    etag: str | None,
    local_hash: str | None,
    remote_hash: str | None,
    ignored: bool = False,
) -> int:
    """Insert or update one status row (in the caller's transaction, with the change it records)."""
    row = session.get(CalendarItem, row_id) if row_id is not None else None
    if row is None:
        row = CalendarItem(account_id=account_id, uid=uid, href=href)
        session.add(row)
    row.task_id, row.uid, row.href = task_id, uid, href
    row.etag, row.local_hash, row.remote_hash, row.ignored = etag, local_hash, remote_hash, ignored
    row.synced_at = utcnow()
    session.flush()
    return row.id  # type: ignore[return-value]


def drop_status(session: Session, row_id: int) -> None:
    row = session.get(CalendarItem, row_id)
    if row is not None:
        session.delete(row)
        session.flush()


def empty_side(rows: list[StatusRow], local_ids: set[int], remote_hrefs: set[str]) -> str | None:
    """"local" or "remote" when every item the status knows (at least MIN_ITEMS_FOR_EMPTY_CHECK)
    vanished from that side at once: a wiped calendar or a wrong database, not a user's deletions."""
    known = [r for r in rows if r.confirmed]
    if len(known) < MIN_ITEMS_FOR_EMPTY_CHECK:
        return None
    if not any(r.href in remote_hrefs for r in known):
        return "remote"
    if not any(r.task_id in local_ids for r in known):
        return "local"
    return None


@dataclass
class SyncCounts:
    created_local: int = 0
    updated_local: int = 0
    deleted_local: int = 0
    created_remote: int = 0
    updated_remote: int = 0
    deleted_remote: int = 0
    unchanged: int = 0
    ignored: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # items left for the next sync, and why

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def with_uid(event: EventData, uid: str) -> EventData:
    return replace(event, uid=uid)
