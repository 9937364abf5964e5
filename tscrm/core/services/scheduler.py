"""``tscrm schedule run``: what is due, done once, safe under cron.

Overlap: a run holds a lock for its whole length and a second run that cannot get it does nothing
(``RunReport.ran`` is False). On PostgreSQL it is a session advisory lock on a connection of its
own; on a SQLite file, an exclusive ``flock`` on ``<database>.schedule-lock`` beside it
(tscrm.core.locks). Both are released when the process dies, so a killed run never leaves a lock behind.

Exactly once: *mark, then send*. A delayed SMS (a task of type SMS, due) first gets its
``sms_message`` row, committed, with the task's id in a unique column: no second run, thread or
process can ever queue the same task again. The row is ``queued``, becomes ``sending`` (committed)
just before the SMS service is called, then ``sent`` or ``failed``. A run killed while a message was
``sending`` leaves it so; the next run marks it ``uncertain`` and reports it instead of sending it
again (the service may or may not have taken it). A message still ``queued`` was never handed over
and is sent by the next run.

Other jobs (reminder emails, mail and calendar sync) are passed in by the caller as
``(name, function(db, now))`` pairs: core does not import the mail or network code; the CLI finds
them (see tscrm.cli.schedule). A failing job is reported and does not stop the others.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from tscrm.core.errors import TscrmError
from tscrm.core.locks import exclusive_lock
from tscrm.core.models import ActivityKind, Task, TaskType, User
from tscrm.core.models_dialer import SchedulerRun, SmsMessage, SmsStatus
from tscrm.core.services import activity, sms, users
from tscrm.core.timeutil import optional_aware
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

Job = tuple[str, Callable[[Any, datetime], Any]]


# --- the lock -----------------------------------------------------------------------------------


def scheduler_lock(db: Any) -> AbstractContextManager[bool]:
    """Hold the scheduler's lock for the block; yields False (at once) when another run holds it."""
    return exclusive_lock(db, "schedule")


# --- the run --------------------------------------------------------------------------------------


@dataclass
class SmsItem:
    task_id: int
    message_id: int | None
    number: str
    error: str = ""


@dataclass
class RunReport:
    ran: bool  # False: another run was in progress, nothing was done
    run_id: int | None = None
    sent: list[SmsItem] = field(default_factory=list)
    failed: list[SmsItem] = field(default_factory=list)
    uncertain: list[SmsItem] = field(default_factory=list)  # a killed run was sending these: not re-sent
    jobs: dict[str, str] = field(default_factory=dict)  # name -> "ok: ..." or "error: ..."
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "sms_sent": len(self.sent),
            "sms_failed": len(self.failed),
            "sms_uncertain": [i.message_id for i in self.uncertain],
            "jobs": self.jobs,
            "errors": self.errors,
        }


BackendSource = Callable[[], Any]


def run_due(
    db: Any,
    *,
    sms_backend: BackendSource | None = None,
    jobs: Sequence[Job] = (),
    now: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rate_per_s: float = 5.0,
) -> RunReport:
    """Do what is due now, once. ``sms_backend`` builds the SMS backend when there is an SMS to send
    (a ConfigError from it is reported; the SMS stay due)."""
    moment = optional_aware(now, "now") or utcnow()
    with scheduler_lock(db) as got:
        if not got:
            return RunReport(ran=False)
        report = RunReport(ran=True)
        with db.write() as session:
            run = SchedulerRun(started_at=utcnow(), host=socket.gethostname()[:200], pid=os.getpid())
            session.add(run)
            session.flush()
            report.run_id = run.id
        status = "finished"
        try:
            _delayed_sms(db, moment, sms_backend, report, sleep, rate_per_s)
            for name, job in jobs:
                try:
                    result = job(db, moment)
                    report.jobs[name] = "ok" if result is None else f"ok: {result}"
                except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the others
                    report.jobs[name] = f"error: {exc}"
        except BaseException:
            status = "failed"
            raise
        finally:
            with db.write() as session:
                run = session.get(SchedulerRun, report.run_id)
                if run is not None:
                    run.finished_at = utcnow()
                    run.status = status
                    run.summary = report.summary()
        return report


def _recover(db: Any, report: RunReport) -> list[int]:
    """Messages of delayed SMS left by a killed run: ``sending`` → uncertain (reported, not re-sent),
    ``queued`` → sent now (returned)."""
    to_send: list[int] = []
    with db.write() as session:
        rows = session.exec(
            select(SmsMessage).where(
                col(SmsMessage.task_id).is_not(None),
                col(SmsMessage.status).in_([SmsStatus.SENDING.value, SmsStatus.QUEUED.value]),
            )
        ).all()
        for message in rows:
            if message.status == SmsStatus.SENDING:
                message.status = SmsStatus.UNCERTAIN
                message.error = _("interrupted while sending: it may or may not have been sent; not sent again")
                report.uncertain.append(SmsItem(message.task_id, message.id, message.number, message.error))  # type: ignore[arg-type]
                if message.client_id is not None or message.lead_id is not None:
                    activity.record(
                        session,
                        ActivityKind.SMS,
                        author_id=message.author_id,
                        client_id=message.client_id,
                        lead_id=message.lead_id,
                        text=Phrase(N_("SMS maybe not sent (interrupted)"), tail=f"\n{message.text}"),
                        data={"sms_id": message.id, "status": SmsStatus.UNCERTAIN.value, "task_id": message.task_id},
                    )
            else:
                to_send.append(message.id)  # type: ignore[arg-type]
    return to_send


def _due_task_ids(db: Any, moment: datetime) -> list[int]:
    with db.read() as session:
        taken = select(SmsMessage.task_id).where(col(SmsMessage.task_id).is_not(None))
        return list(
            session.exec(
                select(Task.id)
                .where(
                    Task.type == TaskType.SMS,
                    col(Task.completed_at).is_(None),
                    col(Task.due_at) <= moment,
                    col(Task.id).not_in(taken),
                )
                .order_by(col(Task.due_at), col(Task.id))
            )
        )


def _queue_task(db: Any, task_id: int, report: RunReport) -> int | None:
    """Write the task's message (unique on task id). None: nothing to send (another run has it, or no phone)."""
    try:
        with db.write() as session:
            task = session.get(Task, task_id)
            if task is None or task.completed_at is not None:
                return None
            user = session.get(User, task.assignee_id or task.created_by_id) if (task.assignee_id or task.created_by_id) else None
            actor = users.actor_for(session, user) if user is not None else None
            selection = sms.Selection([])
            if task.client_id is not None:
                sms._record_recipients(session, "client", [task.client_id], selection)
            elif task.lead_id is not None:
                sms._record_recipients(session, "lead", [task.lead_id], selection)
            if not selection.recipients or actor is None:
                message = SmsMessage(
                    number="",
                    client_id=task.client_id,
                    lead_id=task.lead_id,
                    author_id=user.id if user else None,
                    text=task.sms_text or "",
                    status=SmsStatus.FAILED,
                    error=_("no phone number to send to"),
                    task_id=task.id,
                )
                session.add(message)
                session.flush()
                sms._feed(session, message)
                report.failed.append(SmsItem(task_id, message.id, "", message.error or ""))
                return None
            with session.begin_nested():
                (message,) = sms.queue(session, actor, selection.recipients, _escape_braces(task.sms_text or ""), task_id=task.id)
            return message.id
    except IntegrityError:
        return None  # another run queued this task first
    except TscrmError as exc:
        report.errors.append(_("task {id}: {error}").format(id=task_id, error=exc))
        return None


def _escape_braces(text: str) -> str:
    """A task's SMS text is sent as written (it is not a template)."""
    return text.replace("{", "{{").replace("}", "}}")


def _complete(db: Any, message_id: int) -> None:
    with db.write() as session:
        message = session.get(SmsMessage, message_id)
        if message is None or message.task_id is None or message.status != SmsStatus.SENT:
            return
        task = session.get(Task, message.task_id)
        if task is None or task.completed_at is not None:
            return
        task.completed_at = message.sent_at or utcnow()
        if task.client_id is not None or task.lead_id is not None or task.deal_id is not None:
            activity.record(
                session,
                ActivityKind.TASK_DONE,
                author_id=task.assignee_id,
                client_id=task.client_id,
                lead_id=task.lead_id,
                deal_id=task.deal_id,
                text=Phrase(N_("Task done: {title}"), {"title": task.title}),
                data={"task_id": task.id, "type": task.type.value, "sms_id": message.id},
            )


def _sent_but_open(db: Any) -> list[int]:
    """Messages sent by a run that died before closing their task."""
    with db.read() as session:
        return list(
            session.exec(
                select(SmsMessage.id)
                .join(Task, col(Task.id) == col(SmsMessage.task_id))
                .where(SmsMessage.status == SmsStatus.SENT, col(Task.completed_at).is_(None))
            )
        )


def _delayed_sms(db: Any, moment: datetime, source: BackendSource | None, report: RunReport, sleep, rate_per_s: float) -> None:
    for message_id in _sent_but_open(db):
        _complete(db, message_id)
    to_send = _recover(db, report)
    due = _due_task_ids(db, moment)
    if not to_send and not due:
        return
    if source is None:
        report.errors.append(_("SMS are due but no SMS service is configured"))
        return
    try:
        backend = source()
    except TscrmError as exc:
        report.errors.append(str(exc))
        return
    for task_id in due:
        message_id = _queue_task(db, task_id, report)
        if message_id is not None:
            to_send.append(message_id)
    pacer = sms._Pacer(rate_per_s, sleep, time.monotonic)
    for message_id in to_send:
        pacer.wait()
        message = sms.deliver(db, message_id, backend, sleep=sleep)
        item = SmsItem(message.task_id, message.id, message.number, message.error or "")  # type: ignore[arg-type]
        if message.status == SmsStatus.SENT:
            _complete(db, message_id)
            report.sent.append(item)
        else:
            report.failed.append(item)


def last_runs(db: Any, limit: int = 10) -> list[SchedulerRun]:
    with db.read() as session:
        return list(session.exec(select(SchedulerRun).order_by(col(SchedulerRun.id).desc()).limit(limit)))


def uncertain_messages(db: Any) -> list[SmsMessage]:
    with db.read() as session:
        return list(session.exec(select(SmsMessage).where(SmsMessage.status == SmsStatus.UNCERTAIN).order_by(col(SmsMessage.id))))
