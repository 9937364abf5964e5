"""Tasks: to-dos, calls to make, video meetings and scheduled SMS, for oneself or (with the right) others.

Who may do what: a task is seen by its assignee, its creator, its participants and users with the
"see other calendars" right; it is changed (completed, reopened, edited) by its assignee, its creator
or a user who may edit others' records; putting a task in someone else's calendar (as assignee or
participant) needs the "create tasks for other users" right.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, delete, exists, func, or_
from sqlmodel import Session, col, select

from tscrm.core.errors import NotFound, PermissionDenied, ValidationError
from tscrm.core.models import ActivityKind, Task, TaskParticipant, TaskType, User
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity
from tscrm.core.timeutil import TimeZoneLike, local_date, local_midnight, optional_aware, week_first_day
from tscrm.core.validation import required_text
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

MEETING_URL = "https://meet.jit.si/tscrm-{token}"

Bucket = Literal["overdue", "today", "tomorrow", "this_week", "later", "done", "no_date"]
BUCKETS: tuple[Bucket, ...] = ("overdue", "today", "tomorrow", "this_week", "later", "done", "no_date")


def new_meeting_url() -> str:
    """A hard-to-guess video room, one per meeting."""
    return MEETING_URL.format(token=secrets.token_urlsafe(9))


# --- validation -------------------------------------------------------------------------------


def _title(value: str) -> str:
    return required_text(value, "title")


def _type(value: TaskType | str) -> TaskType:
    try:
        return TaskType(str(value).strip().lower())
    except ValueError as exc:
        raise ValidationError(
            _("type: {value!r} is not one of {choices}").format(value=value, choices=", ".join(t.value for t in TaskType)),
            "type",
        ) from exc


def _user(session: Session, user_id: int, field: str) -> int:
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise ValidationError(_("{field}: no active user with id {id}").format(field=field, id=user_id), field)
    return user_id


def _check_assignee(session: Session, actor: Actor, user_id: int) -> int:
    if user_id != actor.id:
        if not actor.can(Right.ASSIGN_TASKS):
            raise PermissionDenied(_("{user} may not create tasks for other users").format(user=actor.name))
        _user(session, user_id, "assignee_id")
    return user_id


def _check_participants(session: Session, actor: Actor, user_ids: Any) -> list[int]:
    out: list[int] = []
    for user_id in user_ids or ():
        if user_id in out:
            continue
        if user_id != actor.id:
            if not actor.can(Right.ASSIGN_TASKS):
                raise PermissionDenied(_("{user} may not add other users to a task").format(user=actor.name))
            _user(session, user_id, "participant_ids")
        out.append(user_id)
    return out


def _check_consistent(task: Task) -> None:
    """Rules that hold whatever was changed: dates in order, SMS complete, video has a room."""
    if task.start_at is not None and task.due_at is not None and task.due_at < task.start_at:
        raise ValidationError(_("due_at: must not be before start_at"), "due_at")
    if task.type == TaskType.SMS:
        if not (task.sms_text or "").strip():
            raise ValidationError(_("sms_text: an SMS task needs the text to send"), "sms_text")
        if task.due_at is None:
            raise ValidationError(_("due_at: an SMS task needs a send time"), "due_at")
    elif task.sms_text:
        raise ValidationError(_("sms_text: only SMS tasks carry a text"), "sms_text")
    if task.type == TaskType.VIDEO and not task.meeting_url:
        task.meeting_url = new_meeting_url()


def _links(
    session: Session, actor: Actor, client_id: int | None, lead_id: int | None, deal_id: int | None
) -> tuple[int | None, int | None, int | None]:
    """Check the actor can see every linked record; a deal's task also belongs to the deal's client."""
    from tscrm.core.services.clients import get_client
    from tscrm.core.services.deals import get_deal
    from tscrm.core.services.leads import get_lead

    if client_id is not None:
        get_client(session, actor, client_id)
    if lead_id is not None:
        get_lead(session, actor, lead_id)
    if deal_id is not None:
        deal = get_deal(session, actor, deal_id)
        if client_id is None:
            client_id = deal.client_id
        elif client_id != deal.client_id:
            raise ValidationError(
                _("deal_id: deal {deal} belongs to another client than {client}").format(deal=deal_id, client=client_id),
                "deal_id",
            )
    return client_id, lead_id, deal_id


def _record(session: Session, actor: Actor, task: Task, kind: ActivityKind, text: Phrase, **data: Any) -> None:
    """One feed entry shown on every record the task is linked to (none when it is linked to nothing)."""
    if task.client_id is None and task.lead_id is None and task.deal_id is None:
        return
    activity.record(
        session,
        kind,
        author_id=actor.id,
        client_id=task.client_id,
        lead_id=task.lead_id,
        deal_id=task.deal_id,
        text=text,
        data={
            "task_id": task.id,
            "type": task.type.value,
            "due_at": task.due_at.isoformat() if task.due_at else None,
            **data,
        },
    )


# --- create, read, change ---------------------------------------------------------------------


def create_task(
    session: Session,
    actor: Actor,
    *,
    title: str,
    type: TaskType | str = TaskType.TASK,  # noqa: A002 - the field's name everywhere else
    description: str | None = None,
    start_at: datetime | None = None,
    due_at: datetime | None = None,
    assignee_id: int | None = None,
    participant_ids: Any = (),
    client_id: int | None = None,
    lead_id: int | None = None,
    deal_id: int | None = None,
    sms_text: str | None = None,
    external_ref: str | None = None,
    created_at: datetime | None = None,
) -> Task:
    """Add a task for the actor (or, with the right, for another user)."""
    kind = _type(type)
    assignee = _check_assignee(session, actor, actor.id if assignee_id is None else assignee_id)
    participants = _check_participants(session, actor, participant_ids)
    client_id, lead_id, deal_id = _links(session, actor, client_id, lead_id, deal_id)
    task = Task(
        type=kind,
        title=_title(title),
        description=(description or "").strip() or None,
        start_at=optional_aware(start_at, "start_at"),
        due_at=optional_aware(due_at, "due_at"),
        assignee_id=assignee,
        created_by_id=actor.id,
        client_id=client_id,
        lead_id=lead_id,
        deal_id=deal_id,
        sms_text=(sms_text or "").strip() or None,
        external_ref=external_ref,
        created_at=optional_aware(created_at, "created_at") or utcnow(),
    )
    _check_consistent(task)
    session.add(task)
    session.flush()
    _set_participants(session, task.id, participants)  # type: ignore[arg-type]
    _record(session, actor, task, ActivityKind.TASK, Phrase(N_("Task: {title}"), {"title": task.title}))
    session.flush()
    return task


def _set_participants(session: Session, task_id: int, user_ids: list[int]) -> None:
    session.execute(delete(TaskParticipant).where(col(TaskParticipant.task_id) == task_id))
    for user_id in user_ids:
        session.add(TaskParticipant(task_id=task_id, user_id=user_id))


def participant_ids(session: Session, task_id: int) -> list[int]:
    rows = session.exec(
        select(TaskParticipant.user_id).where(TaskParticipant.task_id == task_id).order_by(col(TaskParticipant.user_id))
    )
    return list(rows)


def _is_participant(session: Session, task_id: int, user_id: int) -> bool:
    query = select(TaskParticipant.user_id).where(TaskParticipant.task_id == task_id, TaskParticipant.user_id == user_id)
    return session.exec(query).first() is not None


def get_task(session: Session, actor: Actor, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is not None and (
        actor.id in (task.assignee_id, task.created_by_id)
        or actor.can(Right.SEE_OTHER_CALENDARS)
        or _is_participant(session, task_id, actor.id)
    ):
        return task
    raise NotFound(_("No task with id {id}").format(id=task_id))


def _require_change(actor: Actor, task: Task) -> None:
    if actor.id in (task.assignee_id, task.created_by_id):
        return
    if actor.can(Right.EDIT) and actor.can(Right.SEE_ALL):
        return
    raise PermissionDenied(_("{user} may not change task {title}").format(user=actor.name, title=task.title))


def complete_task(session: Session, actor: Actor, task_id: int, *, at: datetime | None = None) -> Task:
    task = get_task(session, actor, task_id)
    _require_change(actor, task)
    if task.completed_at is None:
        task.completed_at = optional_aware(at, "at") or utcnow()
        _record(session, actor, task, ActivityKind.TASK_DONE, Phrase(N_("Task done: {title}"), {"title": task.title}))
        session.flush()
    return task


def reopen_task(session: Session, actor: Actor, task_id: int) -> Task:
    task = get_task(session, actor, task_id)
    _require_change(actor, task)
    if task.completed_at is not None:
        task.completed_at = None
        _record(session, actor, task, ActivityKind.TASK, Phrase(N_("Task reopened: {title}"), {"title": task.title}), reopened=True)
        session.flush()
    return task


_EDITABLE = (
    "title",
    "type",
    "description",
    "start_at",
    "due_at",
    "assignee_id",
    "participant_ids",
    "sms_text",
    "client_id",
    "lead_id",
    "deal_id",
)


def update_task(session: Session, actor: Actor, task_id: int, **changes: Any) -> Task:
    """Change any of the fields a task is created with (``participant_ids`` replaces the list)."""
    task = get_task(session, actor, task_id)
    _require_change(actor, task)
    unknown = set(changes) - set(_EDITABLE)
    if unknown:
        raise ValidationError(
            _("Unknown task field: {field}").format(field=", ".join(sorted(unknown))), sorted(unknown)[0]
        )
    if "title" in changes:
        task.title = _title(changes["title"])
    if "type" in changes:
        task.type = _type(changes["type"])
    if "description" in changes:
        task.description = (changes["description"] or "").strip() or None
    for key in ("start_at", "due_at"):
        if key in changes:
            setattr(task, key, optional_aware(changes[key], key))
    if "sms_text" in changes:
        task.sms_text = (changes["sms_text"] or "").strip() or None
    if "assignee_id" in changes:
        wanted = actor.id if changes["assignee_id"] is None else changes["assignee_id"]
        if wanted != task.assignee_id:
            task.assignee_id = _check_assignee(session, actor, wanted)
    if "participant_ids" in changes:
        _set_participants(session, task_id, _check_participants(session, actor, changes["participant_ids"]))
    if {"client_id", "lead_id", "deal_id"} & set(changes):
        _relink(session, actor, task, changes)
    _check_consistent(task)
    session.flush()
    return task


def _relink(session: Session, actor: Actor, task: Task, changes: dict[str, Any]) -> None:
    """Change links; only the newly linked records are checked for visibility."""
    client_id = changes.get("client_id", task.client_id)
    if changes.get("deal_id") is not None and "client_id" not in changes:
        client_id = None  # taken from the new deal
    lead_id = changes.get("lead_id", task.lead_id)
    deal_id = changes.get("deal_id", task.deal_id)
    checked = _links(
        session,
        actor,
        client_id if client_id != task.client_id else None,
        lead_id if lead_id != task.lead_id else None,
        deal_id if deal_id != task.deal_id else None,
    )
    task.client_id = checked[0] if checked[0] is not None else client_id
    task.lead_id, task.deal_id = lead_id, deal_id


def delete_task(session: Session, actor: Actor, task_id: int) -> None:
    """Assignee and creator may delete their tasks; other people's tasks need the delete right too."""
    task = get_task(session, actor, task_id)
    _require_change(actor, task)
    if actor.id not in (task.assignee_id, task.created_by_id):
        actor.require(Right.DELETE)
    session.delete(task)
    session.flush()


# --- listing ----------------------------------------------------------------------------------


@dataclass
class TaskFilter:
    assignee_id: int | None = None  # None: the actor (unless all_users)
    all_users: bool = False  # everybody's tasks (needs the "see other calendars" right)
    types: tuple[TaskType, ...] = ()
    open_only: bool = True
    overdue: bool = False  # open and due before now
    client_id: int | None = None
    lead_id: int | None = None
    deal_id: int | None = None
    due_from: datetime | None = None  # half-open: due_from <= due_at < due_to
    due_to: datetime | None = None
    include_participating: bool = False  # also tasks where the user is a participant


def _filtered(actor: Actor, filt: TaskFilter, query: Select, now: datetime) -> Select:
    if filt.all_users:
        actor.require(Right.SEE_OTHER_CALENDARS)
    else:
        user_id = actor.id if filt.assignee_id is None else filt.assignee_id
        if user_id != actor.id:
            actor.require(Right.SEE_OTHER_CALENDARS)
        if filt.include_participating:
            participating = exists().where(TaskParticipant.task_id == Task.id, TaskParticipant.user_id == user_id)
            query = query.where(or_(Task.assignee_id == user_id, participating))
        else:
            query = query.where(Task.assignee_id == user_id)
    if filt.types:
        query = query.where(col(Task.type).in_([_type(t).value for t in filt.types]))
    if filt.open_only or filt.overdue:
        query = query.where(col(Task.completed_at).is_(None))
    if filt.overdue:
        query = query.where(col(Task.due_at) < now)
    for key in ("client_id", "lead_id", "deal_id"):
        value = getattr(filt, key)
        if value is not None:
            query = query.where(getattr(Task, key) == value)
    if filt.due_from is not None:
        query = query.where(col(Task.due_at) >= optional_aware(filt.due_from, "due_from"))
    if filt.due_to is not None:
        query = query.where(col(Task.due_at) < optional_aware(filt.due_to, "due_to"))
    return query


def list_tasks(
    session: Session,
    actor: Actor,
    filt: TaskFilter | None = None,
    *,
    now: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Task]:
    """Tasks by due time, undated ones last."""
    moment = optional_aware(now, "now") or utcnow()
    query = (
        _filtered(actor, filt or TaskFilter(), select(Task), moment)
        .order_by(col(Task.due_at).is_(None), col(Task.due_at), col(Task.id))
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(query))


def count_tasks(session: Session, actor: Actor, filt: TaskFilter | None = None, *, now: datetime | None = None) -> int:
    moment = optional_aware(now, "now") or utcnow()
    query = _filtered(actor, filt or TaskFilter(), select(func.count()).select_from(Task), moment)
    return int(session.exec(query).one())


# --- kanban buckets ---------------------------------------------------------------------------


def task_bucket(task: Task, now: datetime, tz: TimeZoneLike, week_start: int = 0) -> Bucket:
    """Where a task goes on the kanban, by its due time in the user's zone and week."""
    if task.completed_at is not None:
        return "done"
    if task.due_at is None:
        return "no_date"
    if task.due_at < now:
        return "overdue"
    today = local_date(now, tz)
    due_day = local_date(task.due_at, tz)
    if due_day == today:
        return "today"
    if due_day == today + timedelta(days=1):
        return "tomorrow"
    if due_day < week_first_day(today, week_start) + timedelta(days=7):
        return "this_week"
    return "later"


# --- calendar ---------------------------------------------------------------------------------


def calendar_time(task: Task) -> datetime | None:
    """When a task sits on the calendar: its start if it has one (a meeting), else its due time."""
    return task.start_at or task.due_at


def calendar_tasks(
    session: Session,
    actor: Actor,
    start: datetime,
    end: datetime,
    *,
    user_id: int | None = None,
    all_users: bool = False,
    include_done: bool = True,
    limit: int = 5000,
) -> list[Task]:
    """Tasks whose calendar time (``calendar_time``) falls in ``[start, end)``, in time order.

    A user's calendar holds the tasks assigned to them and those they take part in. ``user_id``
    None is the actor's own; another user's calendar, or everybody's (``all_users``), needs the
    "see other calendars" right.
    """
    start_utc = optional_aware(start, "start")
    end_utc = optional_aware(end, "end")
    if all_users or (user_id is not None and user_id != actor.id):
        actor.require(Right.SEE_OTHER_CALENDARS)
    starts_in = and_(col(Task.start_at).is_not(None), col(Task.start_at) >= start_utc, col(Task.start_at) < end_utc)
    due_in = and_(col(Task.start_at).is_(None), col(Task.due_at) >= start_utc, col(Task.due_at) < end_utc)
    query = select(Task).where(or_(starts_in, due_in))
    if not all_users:
        who = actor.id if user_id is None else user_id
        participating = exists().where(TaskParticipant.task_id == Task.id, TaskParticipant.user_id == who)
        query = query.where(or_(Task.assignee_id == who, participating))
    if not include_done:
        query = query.where(col(Task.completed_at).is_(None))
    when = func.coalesce(col(Task.start_at), col(Task.due_at))
    return list(session.exec(query.order_by(when, col(Task.id)).limit(limit)))


def list_done_tasks(session: Session, actor: Actor, filt: TaskFilter | None = None, *, limit: int = 50) -> list[Task]:
    """Completed tasks (matching ``filt``), most recently completed first: the kanban's "done" column."""
    wanted = replace(filt or TaskFilter(), open_only=False, overdue=False)
    query = _filtered(actor, wanted, select(Task), utcnow()).where(col(Task.completed_at).is_not(None))
    return list(session.exec(query.order_by(col(Task.completed_at).desc(), col(Task.id).desc()).limit(limit)))


CalendarView = Literal["month", "week", "day"]


def calendar_days(view: CalendarView, day: date, week_start: int = 0) -> tuple[date, date]:
    """The local days a calendar view of ``day`` shows, as ``[first, end)``.

    A month view shows whole weeks (starting on the user's week start) around the month.
    """
    if view == "day":
        return day, day + timedelta(days=1)
    if view == "week":
        first = week_first_day(day, week_start)
        return first, first + timedelta(days=7)
    month_first = day.replace(day=1)
    next_month = (month_first + timedelta(days=32)).replace(day=1)
    return week_first_day(month_first, week_start), week_first_day(next_month - timedelta(days=1), week_start) + timedelta(days=7)


def calendar_bounds(view: CalendarView, day: date, tz: TimeZoneLike, week_start: int = 0) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of what a calendar view of ``day`` shows, from local midnights (DST-safe)."""
    first, end = calendar_days(view, day, week_start)
    return local_midnight(first, tz), local_midnight(end, tz)
