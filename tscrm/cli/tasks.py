"""``tscrm tasks``: to-dos, calls to make, video meetings and scheduled SMS."""

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    new_table,
    parse_time,
    print_json,
    print_ok,
    reading,
    show_time,
    text,
    user_id_by_email,
    user_names,
    writing,
)
from tscrm.cli.labels import TASK_TYPES, label
from tscrm.i18n import _

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel import Session

    from tscrm.core.models import Task

app = typer.Typer(help=_("Tasks: add, list, mark done."), no_args_is_help=True)

TaskTypeChoice = Literal["task", "call", "video", "sms"]  # tscrm.core.models.TaskType; a test keeps them equal
TIME_HELP = _("in your time zone, e.g. \"2026-12-01 10:00\"")


def task_records(session: "Session", rows: "list[Task]", now: "datetime") -> list[dict[str, Any]]:
    assignees = user_names(session, (t.assignee_id for t in rows))
    return [
        {
            "id": t.id,
            "type": t.type.value,
            "title": t.title,
            "description": t.description,
            "start_at": t.start_at,
            "due_at": t.due_at,
            "assignee_id": t.assignee_id,
            "assignee": assignees.get(t.assignee_id) if t.assignee_id is not None else None,
            "client_id": t.client_id,
            "lead_id": t.lead_id,
            "deal_id": t.deal_id,
            "sms_text": t.sms_text,
            "meeting_url": t.meeting_url,
            "completed_at": t.completed_at,
            "overdue": t.completed_at is None and t.due_at is not None and t.due_at < now,
        }
        for t in rows
    ]


@app.command("add")
def add_task(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help=_("What is to be done."))],
    type_: Annotated[TaskTypeChoice, typer.Option("--type", help=_("Kind of task."))] = "task",
    due: Annotated[str | None, typer.Option("--due", help=_("Due time, {how}.").format(how=TIME_HELP))] = None,
    start: Annotated[str | None, typer.Option("--start", help=_("Start time, {how}.").format(how=TIME_HELP))] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help=_("Who does it (email or extension); default: you."))] = None,
    client_id: Annotated[int | None, typer.Option("--client", metavar="ID", help=_("Link to this client."))] = None,
    lead_id: Annotated[int | None, typer.Option("--lead", metavar="ID", help=_("Link to this lead."))] = None,
    deal_id: Annotated[int | None, typer.Option("--deal", metavar="ID", help=_("Link to this deal."))] = None,
    sms_text: Annotated[str | None, typer.Option("--sms-text", help=_("The text of an SMS task (sent at the due time)."))] = None,
    description: Annotated[str | None, typer.Option("--description", help=_("Details."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Add a task for yourself (or, with the right, for someone else)."""
    from tscrm.core.services import tasks
    from tscrm.core.types import utcnow

    with writing(ctx) as (session, actor):
        task = tasks.create_task(
            session,
            actor,
            title=title,
            type=type_,
            description=description,
            start_at=parse_time(start, actor.timezone, "--start"),
            due_at=parse_time(due, actor.timezone, "--due"),
            assignee_id=user_id_by_email(session, assignee),
            client_id=client_id,
            lead_id=lead_id,
            deal_id=deal_id,
            sms_text=sms_text,
        )
        record = task_records(session, [task], utcnow())[0]
    if as_json:
        print_json(record, actor.timezone)
        return
    when = show_time(task.due_at, actor.timezone)
    if when:
        print_ok(_("Task {id} added: {title} (due {when})").format(id=task.id, title=task.title, when=when))
    else:
        print_ok(_("Task {id} added: {title}").format(id=task.id, title=task.title))


@app.command("list")
def list_tasks(
    ctx: typer.Context,
    overdue: Annotated[bool, typer.Option("--overdue", help=_("Only open tasks past their due time."))] = False,
    all_users: Annotated[bool, typer.Option("--all-users", help=_("Everybody's tasks, not only yours (needs the right)."))] = False,
    done: Annotated[bool, typer.Option("--done", help=_("Include tasks already done."))] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help=_("At most this many rows."))] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help=_("Skip this many rows first."))] = 0,
    as_json: JsonOption = False,
) -> None:
    """List your open tasks by due time."""
    from tscrm.core.services import tasks
    from tscrm.core.types import utcnow

    now = utcnow()
    filt = tasks.TaskFilter(all_users=all_users, open_only=not done, overdue=overdue)
    with reading(ctx) as (session, actor):
        rows = tasks.list_tasks(session, actor, filt, now=now, limit=limit, offset=offset)
        total = tasks.count_tasks(session, actor, filt, now=now)
        records = task_records(session, rows, now)
    if as_json:
        print_json({"total": total, "offset": offset, "limit": limit, "tasks": records}, actor.timezone)
        return
    table = new_table(
        _("Tasks ({shown} of {total})").format(shown=len(records), total=total),
        [_("ID"), _("Type"), _("Title"), _("Due"), _("Assignee"), _("Linked to"), _("Done")],
        keep_whole=[_("ID"), _("Due"), _("Done")],
    )
    for r in records:
        due = show_time(r["due_at"], actor.timezone)
        table.add_row(
            str(r["id"]),
            text(label(TASK_TYPES, r["type"])),
            text(r["title"]),
            f"[red]{due}[/red]" if r["overdue"] else due,
            text(r["assignee"]),
            text(_links(r)),
            show_time(r["completed_at"], actor.timezone),
        )
    console().print(table)


def _links(record: dict[str, Any]) -> str:
    parts = []
    if record["client_id"]:
        parts.append(_("client {id}").format(id=record["client_id"]))
    if record["lead_id"]:
        parts.append(_("lead {id}").format(id=record["lead_id"]))
    if record["deal_id"]:
        parts.append(_("deal {id}").format(id=record["deal_id"]))
    return ", ".join(parts)


@app.command("done")
def complete(
    ctx: typer.Context,
    task_id: Annotated[int, typer.Argument(metavar="ID", help=_("Task id."))],
    as_json: JsonOption = False,
) -> None:
    """Mark a task done."""
    from tscrm.core.services import tasks
    from tscrm.core.types import utcnow

    with writing(ctx) as (session, actor):
        task = tasks.complete_task(session, actor, task_id)
        record = task_records(session, [task], utcnow())[0]
    if as_json:
        print_json(record, actor.timezone)
    else:
        print_ok(_("Task {id} done: {title}").format(id=task.id, title=task.title))


@app.command("remind")
def remind(
    ctx: typer.Context,
    before: Annotated[str, typer.Option("--before", help=_("How long before the due time, e.g. 15m, 1h."))] = "15m",
    account: Annotated[int | None, typer.Option("--account", metavar="ID", help=_("Send from this mail account; default: the first shared one."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Email each assignee whose task is due soon (once per task; for cron or the scheduler)."""
    from tscrm.cli.common import state_of
    from tscrm.core.services import mailing
    from tscrm.core.types import utcnow
    from tscrm.mail.smtp import open_transport

    lead = mailing.parse_duration(before, "--before")
    run = mailing.send_reminders(state_of(ctx).database(), utcnow(), lead, open_transport, account_id=account)
    if as_json:
        print_json(
            {
                "sent": [{"task_id": t, "to": a} for t, a in run.sent],
                "failed": [{"task_id": t, "error": e} for t, e in run.failed],
                "skipped": [{"task_id": t, "reason": r} for t, r in run.skipped],
                "unconfirmed": run.unconfirmed,
            }
        )
    else:
        print_ok(_("{count} reminders sent.").format(count=len(run.sent)))
        for task_id, error in run.failed:
            console().print(text(_("Task {id}: not sent, tried again next time: {error}").format(id=task_id, error=error)))
        for task_id, reason in run.skipped:
            console().print(text(_("Task {id}: no reminder: {reason}").format(id=task_id, reason=reason)))
        for task_id in run.unconfirmed:
            console().print(text(_("Task {id}: a reminder was being sent when a run stopped; it may not have arrived.").format(id=task_id)))
    if run.failed:
        raise typer.Exit(9)
