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
)
from tscrm.cli.labels import CALL_DIRECTIONS, CALL_OUTCOMES, label
from tscrm.i18n import _
from tscrm.present.calls import (  # noqa: F401  (re-exported: they moved there for the TUI too)
    DIRECTION_ARROWS,
    call_records,
    contact_text,
    duration_text,
    number_text,
)

if TYPE_CHECKING:
    from datetime import datetime

app = typer.Typer(help=_("Calls: the log of inbound, outbound and internal calls."), no_args_is_help=True)

# tscrm.core.models.CallDirection / CallOutcome; a test keeps them equal
DirectionChoice = Literal["inbound", "outbound", "internal"]
OutcomeChoice = Literal["answered", "no_answer", "busy", "rejected", "failed"]


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


# --- sync: back-fill the log from the Zadarma PBX's history -------------------------------------------


def _sync_day(raw: str, tz: str, option: str) -> Any:
    from datetime import date

    parse_day(raw, tz, option)  # the usual message naming the option for a bad date
    return date.fromisoformat(raw.strip())


@app.command("sync")
def sync_calls(
    ctx: typer.Context,
    from_day: Annotated[str, typer.Option("--from", metavar="DATE", help=_("From this day on (YYYY-MM-DD, the PBX's time zone)."))],
    to_day: Annotated[str, typer.Option("--to", metavar="DATE", help=_("Up to and including this day (YYYY-MM-DD)."))],
    key: Annotated[str | None, typer.Option("--key", help=_("Zadarma API key (default: the telephony settings, else TSCRM_ZADARMA_KEY)."))] = None,
    secret: Annotated[str | None, typer.Option("--secret", help=_("Zadarma API secret (default: the telephony settings, else TSCRM_ZADARMA_SECRET)."))] = None,
    base_url: Annotated[str, typer.Option("--base-url", envvar="TSCRM_ZADARMA_URL", help=_("API address."))] = "https://api.zadarma.com",
    timezone: Annotated[str | None, typer.Option("--timezone", help=_("Time zone of the PBX account (default: the telephony settings, else the company's)."))] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=_("No progress bar."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Fill the call log from the Zadarma PBX's call history (safe to run again: nothing is logged twice)."""
    from datetime import datetime, time

    from tscrm.cli.common import fail, print_ok, state_of
    from tscrm.cli.imports import row_progress
    from tscrm.core.services.call_sync import SyncReport, check_may_sync, sync_pbx_calls
    from tscrm.core.services.users import check_timezone
    from tscrm.telephony.zadarma import (
        ZadarmaClient,
        call_from_statistics,
        iter_pbx_statistics,
        pbx_timezone,
        zadarma_credentials,
    )

    state = state_of(ctx)
    database = state.database()
    with database.read() as session:
        actor = state.actor(session)
        check_may_sync(actor)
        zone = check_timezone(timezone) if timezone else pbx_timezone(session)
        first = _sync_day(from_day, zone, "--from")
        last = _sync_day(to_day, zone, "--to")
        if last < first:
            raise fail(_("--to: {to} is before --from {start}").format(to=last, start=first), "--to")
        if key and secret:
            credentials = (key, secret)
        elif key or secret:
            raise fail(_("--key and --secret go together"), "--key" if not key else "--secret")
        else:
            credentials = zadarma_credentials(session)
    report = SyncReport()
    skipped = 0
    with (
        ZadarmaClient(*credentials, base_url=base_url) as client,
        row_progress(_("Reading the PBX's call history"), not quiet and not as_json) as update,
    ):
        seen = 0
        for page, fraction in iter_pbx_statistics(client, datetime.combine(first, time.min), datetime.combine(last, time(23, 59, 59))):
            rows = [call_from_statistics(item, zone) for item in page]
            skipped += sum(1 for r in rows if r is None)
            with database.write() as session:
                report.add(sync_pbx_calls(session, actor, [r for r in rows if r is not None]))
            seen += len(page)
            update(seen, fraction)
    if as_json:
        print_json({**report.as_dict(), "skipped": skipped}, actor.timezone)
        return
    table = new_table(_("Calls from the PBX, {start} to {end}").format(start=first, end=last), [_("Created"), _("Updated"), _("Unchanged"), _("Errors")])
    table.add_row(str(report.created), str(report.updated), str(report.unchanged), str(len(report.errors)))
    console().print(table)
    for error in report.errors[:20]:
        console().print(f"{text(error.external_id)}: {text(error.message)}", soft_wrap=True)
    if skipped:
        console().print(_("{n} rows without a start time were skipped").format(n=skipped))
    print_ok(_("Call log up to date"))
