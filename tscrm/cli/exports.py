"""``tscrm export``: clients, leads, deals or calls to CSV, Excel or vCard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from tscrm.cli.common import (
    JsonOption,
    parse_day,
    print_json,
    print_ok,
    state_of,
    user_id_by_email,
)
from tscrm.cli.imports import row_progress
from tscrm.i18n import _

app = typer.Typer(help=_("Export clients, leads, deals or calls to CSV, Excel (.xlsx) or vCard (.vcf)."), no_args_is_help=True)

Kind = Literal["clients", "leads", "deals", "calls"]
Format = Literal["csv", "xlsx", "vcf"]


OutputOpt = Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help=_("The file to write."))]
FormatOpt = Annotated[Format | None, typer.Option("--format", help=_("csv, xlsx or vcf (default: from the file name, else csv)."))]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help=_("Only records with this tag (repeat: all of them)."))]
OwnerOpt = Annotated[str | None, typer.Option("--owner", help=_("Only records of this user (email or extension)."))]
SourceOpt = Annotated[str | None, typer.Option("--source", help=_("Only records from this source."))]
SinceOpt = Annotated[str | None, typer.Option("--since", help=_("Only records created on or after this day (YYYY-MM-DD)."))]
UntilOpt = Annotated[str | None, typer.Option("--until", help=_("Only records created before this day (YYYY-MM-DD)."))]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help=_("No progress bar."))]


def _export(
    ctx: typer.Context,
    kind: Kind,
    output: Path,
    fmt: str | None,
    *,
    tags: list[str] | None = None,
    owner: str | None = None,
    source: str | None = None,
    statuses: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    pool: bool = False,
    quiet: bool = False,
    as_json: bool = False,
) -> None:
    from tscrm.core.exports import FORMATS, ExportFilter
    from tscrm.core.exports import export as run

    suffix = output.suffix.lower().lstrip(".")
    chosen = fmt or (suffix if suffix in FORMATS else "csv")
    state = state_of(ctx)
    with state.database().read() as session:
        actor = state.actor(session)
        filt = ExportFilter(
            tags=list(tags or []),
            owner_id=user_id_by_email(session, owner),
            source=source,
            created_from=parse_day(since, actor.timezone, "--since"),
            created_to=parse_day(until, actor.timezone, "--until"),
            statuses=tuple(statuses or ()),
            lead_scope="pool" if pool else "all",
        )
        with row_progress(_("Exporting {kind}").format(kind=kind), not quiet and not as_json) as update:
            report = run(session, actor, kind, chosen, output, filt, progress=lambda p: update(p.rows, total=p.total))
    if as_json:
        print_json(report.as_dict(), actor.timezone)
    else:
        print_ok(_("{n} {kind} written to {file} ({seconds:.1f} s)").format(n=report.rows, kind=kind, file=output, seconds=report.seconds))


@app.command("clients")
def export_clients(
    ctx: typer.Context,
    output: OutputOpt,
    fmt: FormatOpt = None,
    tag: TagOpt = None,
    owner: OwnerOpt = None,
    source: SourceOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Export clients (the columns import back as they are)."""
    _export(ctx, "clients", output, fmt, tags=tag, owner=owner, source=source, since=since, until=until, quiet=quiet, as_json=as_json)


@app.command("leads")
def export_leads(
    ctx: typer.Context,
    output: OutputOpt,
    fmt: FormatOpt = None,
    tag: TagOpt = None,
    owner: OwnerOpt = None,
    source: SourceOpt = None,
    status: Annotated[list[str] | None, typer.Option("--status", help=_("Only leads in this status (unprocessed, in_progress, finished, bad_quality). Repeatable."))] = None,
    pool: Annotated[bool, typer.Option("--pool", help=_("Only the pool."))] = False,
    since: SinceOpt = None,
    until: UntilOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Export leads (all statuses unless --status)."""
    _export(ctx, "leads", output, fmt, tags=tag, owner=owner, source=source, statuses=list(status or []), pool=pool, since=since, until=until, quiet=quiet, as_json=as_json)


@app.command("deals")
def export_deals(
    ctx: typer.Context,
    output: OutputOpt,
    fmt: FormatOpt = None,
    owner: OwnerOpt = None,
    status: Annotated[list[str] | None, typer.Option("--status", help=_("Only deals in this stage (new, in_progress, decision_pending, payment_expected, won, cancelled). Repeatable."))] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Export deals."""
    _export(ctx, "deals", output, fmt, owner=owner, statuses=list(status or []), since=since, until=until, quiet=quiet, as_json=as_json)


@app.command("calls")
def export_calls(
    ctx: typer.Context,
    output: OutputOpt,
    fmt: FormatOpt = None,
    agent: Annotated[str | None, typer.Option("--agent", "--owner", help=_("Only calls of this agent (email or extension)."))] = None,
    since: Annotated[str | None, typer.Option("--since", help=_("Only calls started on or after this day (YYYY-MM-DD)."))] = None,
    until: Annotated[str | None, typer.Option("--until", help=_("Only calls started before this day (YYYY-MM-DD)."))] = None,
    quiet: QuietOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Export the call log."""
    _export(ctx, "calls", output, fmt, owner=agent, since=since, until=until, quiet=quiet, as_json=as_json)
