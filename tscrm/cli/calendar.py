"""``tscrm calendar``: a day, week or month of tasks, in your time zone, starting on your week start.

It is also a group: ``tscrm calendar accounts ...`` and ``tscrm calendar sync`` (tscrm.cli.calendar_sync)
sync the tasks with CalDAV calendars; plain ``tscrm calendar [--week|--month|--day]`` shows them.
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tscrm.cli.common import JsonOption, console, fail, get_zone, print_json, reading, user_id_by_email
from tscrm.cli.labels import TASK_TYPES, label
from tscrm.i18n import _
from tscrm.present import TASK_MARKERS, day_label, period_title, task_marker  # noqa: F401  (re-exported)

MONTH_CELL_LINES = 4  # tasks written in a day of the month grid before "+N more"

app = typer.Typer(
    help=_("Your tasks of a day, a week or a month; CalDAV calendar accounts and their two-way sync."),
    invoke_without_command=True,
    no_args_is_help=False,
)


def show_calendar(
    ctx: typer.Context,
    week: Annotated[bool, typer.Option("--week", help=_("A week, from your first day of the week (the default)."))] = False,
    month: Annotated[bool, typer.Option("--month", help=_("A month, in whole weeks."))] = False,
    day: Annotated[bool, typer.Option("--day", help=_("One day, in detail."))] = False,
    on: Annotated[str | None, typer.Option("--date", metavar="YYYY-MM-DD", help=_("A day in the period (default: today)."))] = None,
    user: Annotated[
        str | None, typer.Option("--user", metavar="EMAIL", help=_("Whose calendar (email or extension; needs the right)."))
    ] = None,
    all_users: Annotated[bool, typer.Option("--all", help=_("Everybody's tasks (needs the right)."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Your tasks of a day, a week or a month, in your time zone."""
    if ctx.invoked_subcommand is not None:
        return  # tscrm calendar accounts|sync
    from tscrm.core.services import tasks
    from tscrm.core.timeutil import local_date
    from tscrm.core.types import utcnow

    if sum((week, month, day)) > 1:
        raise fail(_("Choose one of --day, --week and --month"), "--week")
    if user and all_users:
        raise fail(_("Choose either --user or --all"), "--user")
    view = "month" if month else "day" if day else "week"
    with reading(ctx) as (session, actor):
        zone = get_zone(actor.timezone)
        anchor = _parse_date(on) if on else local_date(utcnow(), zone)
        first, end = tasks.calendar_days(view, anchor, actor.week_start)  # type: ignore[arg-type]
        start_at, end_at = tasks.calendar_bounds(view, anchor, zone, actor.week_start)  # type: ignore[arg-type]
        whose = user_id_by_email(session, user)
        rows = tasks.calendar_tasks(session, actor, start_at, end_at, user_id=whose, all_users=all_users)
        from tscrm.cli.tasks import task_records

        records = task_records(session, rows, utcnow())
    for record, row in zip(records, rows, strict=True):
        record["at"] = tasks.calendar_time(row)
    by_day = _by_day(records, zone, first, end)
    if as_json:
        print_json(
            {
                "view": view,
                "from": first,
                "to": end - timedelta(days=1),
                "timezone": actor.timezone,
                "user": "all" if all_users else (user or actor.email),
                "days": [{"date": d, "tasks": items} for d, items in by_day.items()],
            },
            actor.timezone,
        )
        return
    out = console()
    out.print(Text(period_title(view, first, end, anchor), style="bold"))
    if view == "month":
        out.print(_month_grid(by_day, anchor, actor.week_start, zone))
    elif view == "week":
        out.print(_week_table(by_day, zone))
    else:
        out.print(_day_table(by_day[anchor], zone, show_assignee=all_users or bool(user)))
    if not records:
        out.print(Text(_("No tasks in this period."), style="dim"))


def _parse_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise fail(_("{option}: {value!r} is not a date like 2026-12-01").format(option="--date", value=raw), "--date") from None


def _by_day(records: list[dict[str, Any]], zone, first: date, end: date) -> dict[date, list[dict[str, Any]]]:
    """Every day of the period (empty ones too), each with its tasks in time order."""
    days: dict[date, list[dict[str, Any]]] = {first + timedelta(days=i): [] for i in range((end - first).days)}
    for record in records:
        local_day = record["at"].astimezone(zone).date()
        if local_day in days:
            days[local_day].append(record)
    return days


def _line(record: dict[str, Any], zone, *, with_time: bool = True) -> Text:
    """One task: time and type marker, title; done ones struck through, overdue ones red."""
    line = Text(no_wrap=True, overflow="ellipsis")
    if with_time:
        line.append(record["at"].astimezone(zone).strftime("%H:%M") + " ", style="cyan")
        line.append(task_marker(record["type"]) + " ")
    line.append(record["title"], style="strike dim" if record["completed_at"] else "red" if record["overdue"] else "")
    return line


def _week_table(by_day: dict[date, list[dict[str, Any]]], zone) -> Table:
    table = Table(show_lines=True, expand=True)
    for d in by_day:
        table.add_column(day_label(d), overflow="fold", ratio=1)
    cells = []
    for items in by_day.values():
        cell = Text()
        for i, record in enumerate(items):
            if i:
                cell.append("\n")
            cell.append_text(_line(record, zone))
        cells.append(cell)
    table.add_row(*cells)
    return table


def _month_grid(by_day: dict[date, list[dict[str, Any]]], anchor: date, week_start: int, zone) -> Table:
    table = Table(show_lines=True, expand=True)
    days = list(by_day)
    for d in days[:7]:
        table.add_column(day_label(d, "EEE"), ratio=1)
    for start in range(0, len(days), 7):
        cells = []
        for d in days[start : start + 7]:
            cell = Text(str(d.day), style="bold" if d.month == anchor.month else "dim")
            items = by_day[d]
            for record in items[:MONTH_CELL_LINES]:
                cell.append("\n")
                cell.append_text(_line(record, zone))
            if len(items) > MONTH_CELL_LINES:
                cell.append("\n" + _("+{n} more").format(n=len(items) - MONTH_CELL_LINES), style="dim")
            cells.append(cell)
        table.add_row(*cells)
    return table


def _day_table(items: list[dict[str, Any]], zone, *, show_assignee: bool) -> Table:
    table = Table(expand=True)
    table.add_column(_("Time"), no_wrap=True)
    table.add_column(_("Type"), no_wrap=True)
    table.add_column(_("Title"))
    if show_assignee:
        table.add_column(_("Assignee"))
    table.add_column(_("Details"))
    for record in items:
        at: datetime = record["at"].astimezone(zone)
        row = [
            at.strftime("%H:%M"),
            Text(f"{task_marker(record['type'])} {label(TASK_TYPES, record['type'])}"),
            _line(record, zone, with_time=False),
        ]
        if show_assignee:
            row.append(Text(record["assignee"] or ""))
        row.append(Text(task_details(record, zone)))
        table.add_row(*row)
    return table


def task_details(record: dict[str, Any], zone) -> str:
    """What a type of task adds: the meeting link, the SMS text and when it goes, completion."""
    parts = []
    if record["type"] == "video" and record["meeting_url"]:
        parts.append(record["meeting_url"])
    if record["type"] == "sms" and record["sms_text"]:
        parts.append(_("SMS scheduled: {text}").format(text=record["sms_text"]))
    if record["completed_at"]:
        parts.append(_("done {when}").format(when=record["completed_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M")))
    return " · ".join(parts)


app.callback(invoke_without_command=True)(show_calendar)
from tscrm.cli import calendar_sync  # noqa: E402

calendar_sync.register(app)
