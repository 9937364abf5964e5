"""``tscrm calls``: the call log (the Calls section's twin)."""

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    get_zone,
    new_table,
    parse_day,
    print_json,
    reading,
    show_time,
    text,
    user_id_by_email,
    user_names,
)
from tscrm.cli.labels import CALL_DIRECTIONS, CALL_OUTCOMES, label
from tscrm.i18n import _

if TYPE_CHECKING:
    from datetime import datetime

    from sqlmodel import Session

    from tscrm.core.models import Call
    from tscrm.core.permissions import Actor

app = typer.Typer(help=_("Calls: the log of inbound, outbound and internal calls."), no_args_is_help=True)

# tscrm.core.models.CallDirection / CallOutcome; a test keeps them equal
DirectionChoice = Literal["inbound", "outbound", "internal"]
OutcomeChoice = Literal["answered", "no_answer", "busy", "rejected", "failed"]
DIRECTION_ARROWS = {"inbound": "←", "outbound": "→", "internal": "↔"}


def duration_text(seconds: int) -> str:
    """Talk time as m:ss (h:mm:ss from an hour on); empty for a call nobody answered."""
    if seconds <= 0:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number_text(number: str, region: str | None) -> str:
    """A stored number as people read it; extensions and withheld ids stay as the PBX gave them."""
    from tscrm.core.phones import format_phone

    return format_phone(number, region) if number.startswith("+") else number


def _visible_names(session: "Session", actor: "Actor", model: Any, ids: set[int]) -> dict[int, str]:
    """Names of the clients (or leads) the actor may see; others stay nameless in the log."""
    if not ids:
        return {}
    from sqlmodel import col, select

    rows = session.exec(select(model.id, model.name, model.owner_id).where(col(model.id).in_(ids)))
    return {row_id: name for row_id, name, owner_id in rows if actor.can_see(owner_id)}


def call_records(session: "Session", actor: "Actor", rows: "list[Call]") -> list[dict[str, Any]]:
    """The calls as plain records (JSON output, tables, the app), with agent and client/lead names."""
    from tscrm.core.models import Client, Lead
    from tscrm.core.services.calls import call_duration

    agents = user_names(session, (c.agent_id for c in rows))
    clients = _visible_names(session, actor, Client, {c.client_id for c in rows if c.client_id is not None})
    leads = _visible_names(session, actor, Lead, {c.lead_id for c in rows if c.lead_id is not None})
    return [
        {
            "id": c.id,
            "started_at": c.started_at,
            "answered_at": c.answered_at,
            "ended_at": c.ended_at,
            "direction": c.direction.value,
            "outcome": c.outcome.value if c.outcome else None,
            "their_number": c.their_number,
            "our_number": c.our_number,
            "agent_id": c.agent_id,
            "agent": agents.get(c.agent_id) if c.agent_id is not None else None,
            "client_id": c.client_id,
            "client": clients.get(c.client_id) if c.client_id is not None else None,
            "lead_id": c.lead_id,
            "lead": leads.get(c.lead_id) if c.lead_id is not None else None,
            "duration": call_duration(c),
            "recording_ref": c.recording_ref,
            "transcript": c.transcript,
        }
        for c in rows
    ]


def contact_text(record: dict[str, Any]) -> str:
    """Who was on the line: the client's or lead's name (marked as lead), else nothing."""
    if record["client"]:
        return record["client"]
    if record["lead"]:
        return _("{name} (lead)").format(name=record["lead"])
    return ""


def _day_end(raw: str | None, tz: str, option: str) -> "datetime | None":
    """The end of the day typed (inclusive: the whole day counts), as UTC."""
    start = parse_day(raw, tz, option)
    if start is None:
        return None
    from datetime import date

    from tscrm.core.timeutil import local_midnight

    return local_midnight(date.fromisoformat(raw.strip()) + timedelta(days=1), get_zone(tz))  # type: ignore[union-attr]


@app.command("list")
def list_calls(
    ctx: typer.Context,
    from_day: Annotated[str | None, typer.Option("--from", metavar="DATE", help=_("From this day on (YYYY-MM-DD, your time zone)."))] = None,
    to_day: Annotated[str | None, typer.Option("--to", metavar="DATE", help=_("Up to and including this day (YYYY-MM-DD)."))] = None,
    agent: Annotated[str | None, typer.Option("--agent", metavar="EMAIL", help=_("Only calls of this agent (email or extension)."))] = None,
    direction: Annotated[DirectionChoice | None, typer.Option("--direction", help=_("Only calls in this direction."))] = None,
    outcome: Annotated[OutcomeChoice | None, typer.Option("--outcome", help=_("Only calls that ended this way."))] = None,
    number: Annotated[str | None, typer.Option("--number", help=_("A full number in any format, or some of its digits."))] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help=_("At most this many rows."))] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0, help=_("Skip this many rows first."))] = 0,
    as_json: JsonOption = False,
) -> None:
    """List calls, newest first (yours, or everybody's with the right to see all)."""
    from tscrm.core.services import calls
    from tscrm.core.services.company import get_company

    with reading(ctx) as (session, actor):
        filt = calls.CallFilter(
            direction=direction,  # type: ignore[arg-type]
            outcome=outcome,  # type: ignore[arg-type]
            agent_id=user_id_by_email(session, agent),
            started_from=parse_day(from_day, actor.timezone, "--from"),
            started_to=_day_end(to_day, actor.timezone, "--to"),
            number=number,
        )
        total = calls.count_calls(session, actor, filt)
        records = call_records(session, actor, calls.list_calls(session, actor, filt, limit=limit, offset=offset))
        region = get_company(session).default_region
    if as_json:
        print_json({"total": total, "offset": offset, "limit": limit, "calls": records}, actor.timezone)
        return
    headers = [_("ID"), _("Time"), _("Direction"), _("Number"), _("Client / lead"), _("Agent"), _("Outcome"), _("Duration"), _("Recording")]
    table = new_table(
        _("Calls ({shown} of {total})").format(shown=len(records), total=total),
        headers,
        keep_whole=[_("ID"), _("Time"), _("Number"), _("Duration")],
        right=[_("Duration")],
    )
    for r in records:
        table.add_row(
            str(r["id"]),
            show_time(r["started_at"], actor.timezone),
            f"{DIRECTION_ARROWS[r['direction']]} {text(label(CALL_DIRECTIONS, r['direction']))}",
            text(number_text(r["their_number"], region)),
            text(contact_text(r)),
            text(r["agent"]),
            text(label(CALL_OUTCOMES, r["outcome"]) if r["outcome"] else ""),
            duration_text(r["duration"]),
            _("yes") if r["recording_ref"] else "",
        )
    console().print(table)
