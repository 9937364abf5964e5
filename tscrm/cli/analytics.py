"""``tscrm analytics``: calls, deals, leads and tasks per agent and period (the Analytics section's twin)."""

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from tscrm.cli.common import JsonOption, console, fail, new_table, print_json, reading, text
from tscrm.i18n import _

if TYPE_CHECKING:
    from datetime import date

    from sqlmodel import Session

    from tscrm.core.permissions import Actor

app = typer.Typer(help=_("Analytics: calls, deals, leads and tasks per agent and period."), no_args_is_help=True)

# tscrm.core.analytics.PeriodKind; a test keeps them equal
PeriodChoice = Literal["today", "week", "month", "30d", "custom"]

PeriodOption = Annotated[
    PeriodChoice | None,
    typer.Option("--period", help=_("today, week, month, 30d (the last 30 days) or custom (with --from and --to). Default: month.")),
]
FromOption = Annotated[str | None, typer.Option("--from", metavar="DATE", help=_("First day of a custom period (YYYY-MM-DD, your time zone)."))]
ToOption = Annotated[str | None, typer.Option("--to", metavar="DATE", help=_("Last day of a custom period, included (YYYY-MM-DD)."))]
AgentOption = Annotated[str | None, typer.Option("--agent", metavar="EMAIL", help=_("Only this agent (email or extension)."))]
GroupOption = Annotated[str | None, typer.Option("--group", metavar="NAME", help=_("Only the members of this group."))]


def _day(raw: str | None, option: str) -> "date | None":
    from datetime import date

    if raw is None or not raw.strip():
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise fail(_("{option}: {value!r} is not a date like 2026-12-01").format(option=option, value=raw), option) from None


def _options(session: "Session", actor: "Actor", period: str | None, from_day: str | None, to_day: str | None, agent: str | None, group: str | None) -> tuple[Any, Any]:
    """(Period, Scope) from the command line, each mistake named by its option."""
    from tscrm.core import analytics

    first, last = _day(from_day, "--from"), _day(to_day, "--to")
    kind = period or ("custom" if first or last else "month")
    if kind != "custom" and (first or last):
        raise fail(_("--from and --to go with --period custom"), "--period")
    if kind == "custom" and (first is None or last is None):
        raise fail(_("--period custom needs --from and --to"), "--from" if first is None else "--to")
    if first and last and last < first:
        raise fail(_("--to: {to} is before --from {start}").format(to=last, start=first), "--to")
    if first and last and (last - first).days + 1 > analytics.MAX_DAYS:
        raise fail(_("--to: a period is at most {n} days").format(n=analytics.MAX_DAYS), "--to")
    if agent and group:
        raise fail(_("--agent and --group do not go together"), "--agent")
    resolved = analytics.resolve_period(kind, timezone=actor.timezone, week_start=actor.week_start, first=first, last=last)
    return resolved, analytics.resolve_scope(session, agent=agent, group=group)


def _print(title: str, table: tuple[list[str], list[list[str]], set[int]]) -> None:
    headers, rows, figures = table
    out = new_table(title, headers, keep_whole=[headers[0]], right=[headers[i] for i in figures])  # names whole, headers may wrap
    for i, row in enumerate(rows):
        out.add_row(*(text(cell) for cell in row), end_section=i == len(rows) - 2)
    console().print(out)


def _heading(period: Any, scope_text: str) -> None:
    from tscrm.core.analytics import PERIOD_LABELS
    from tscrm.present.analytics import period_text

    line = _("{period}: {days}").format(period=_(PERIOD_LABELS[period.kind]), days=period_text(period))
    console().print(text(f"{line}{scope_text}"), style="bold")


def _report(ctx: typer.Context, what: str, period: str | None, from_day: str | None, to_day: str | None, agent: str | None, group: str | None, as_json: bool) -> None:
    import dataclasses

    from tscrm.core import analytics
    from tscrm.present import analytics as present

    with reading(ctx) as (session, actor):
        resolved, scope = _options(session, actor, period, from_day, to_day, agent, group)
        builders = {
            "calls": lambda: analytics.call_report(session, actor, resolved, scope),
            "deals": lambda: analytics.deal_report(session, actor, resolved, scope),
            "leads": lambda: analytics.lead_report(session, actor, resolved, scope),
            "tasks": lambda: analytics.task_report(session, actor, resolved, scope),
            "summary": lambda: analytics.summary(session, actor, resolved, scope),
        }
        report = builders[what]()
    if as_json:
        print_json(dataclasses.asdict(report), actor.timezone)
        return
    scope_text = f" — {agent}" if agent else (f" — {group}" if group else "")
    _heading(resolved, scope_text)
    parts = {
        "calls": lambda r: _print(_("Calls"), present.call_table(r)),
        "deals": lambda r: (_print(_("Deal funnel (created in the period)"), present.funnel_table(r)), _print(_("Deals"), present.deal_table(r))),
        "leads": lambda r: (_print(_("New leads by source"), present.source_table(r)), _print(_("Leads"), present.lead_table(r))),
        "tasks": lambda r: _print(_("Tasks"), present.task_table(r)),
    }
    if what == "summary":
        for name in ("calls", "deals", "leads", "tasks"):
            parts[name](getattr(report, name))
    else:
        parts[what](report)


@app.command("calls")
def calls(ctx: typer.Context, period: PeriodOption = None, from_day: FromOption = None, to_day: ToOption = None, agent: AgentOption = None, group: GroupOption = None, as_json: JsonOption = False) -> None:
    """Calls per agent: outbound, inbound, answered, missed, talk time (and per day in --json)."""
    _report(ctx, "calls", period, from_day, to_day, agent, group, as_json)


@app.command("deals")
def deals(ctx: typer.Context, period: PeriodOption = None, from_day: FromOption = None, to_day: ToOption = None, agent: AgentOption = None, group: GroupOption = None, as_json: JsonOption = False) -> None:
    """The deal funnel and, per agent, deals won and cancelled, win rate, average deal (base currency)."""
    _report(ctx, "deals", period, from_day, to_day, agent, group, as_json)


@app.command("leads")
def leads(ctx: typer.Context, period: PeriodOption = None, from_day: FromOption = None, to_day: ToOption = None, agent: AgentOption = None, group: GroupOption = None, as_json: JsonOption = False) -> None:
    """New leads by source and, per agent, leads claimed, converted to clients, bad quality."""
    _report(ctx, "leads", period, from_day, to_day, agent, group, as_json)


@app.command("tasks")
def tasks(ctx: typer.Context, period: PeriodOption = None, from_day: FromOption = None, to_day: ToOption = None, agent: AgentOption = None, group: GroupOption = None, as_json: JsonOption = False) -> None:
    """Tasks per agent: due in the period, done, overdue."""
    _report(ctx, "tasks", period, from_day, to_day, agent, group, as_json)


@app.command("summary")
def summary(ctx: typer.Context, period: PeriodOption = None, from_day: FromOption = None, to_day: ToOption = None, agent: AgentOption = None, group: GroupOption = None, as_json: JsonOption = False) -> None:
    """Calls, deals, leads and tasks together."""
    _report(ctx, "summary", period, from_day, to_day, agent, group, as_json)
