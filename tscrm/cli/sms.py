"""``tscrm sms``: send one SMS or a bulk SMS (templates, preview, progress, delivery report); templates."""

from typing import Annotated, Any

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    new_table,
    print_json,
    print_ok,
    reading,
    state_of,
    text,
    writing,
)
from tscrm.i18n import _

app = typer.Typer(help=_("SMS: send one or many (templates, delivery report), manage templates."), no_args_is_help=True)
templates_app = typer.Typer(help=_("SMS templates: add, list, remove."), no_args_is_help=True)
app.add_typer(templates_app, name="templates")

PREVIEW_COUNT = 3


def sms_backend(db: Any) -> Any:
    """The company's SMS service (Zadarma); ConfigError / TelephonyError saying what to set up."""
    from tscrm.telephony.sms_factory import sms_backend_for

    with db.read() as session:
        return sms_backend_for(session)


def _read_numbers(path: str | None) -> str | None:
    if path is None:
        return None
    import sys
    from pathlib import Path

    if path == "-":
        return sys.stdin.read()
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise fail(_("--file: cannot read {path}: {error}").format(path=path, error=exc.strerror), "file") from exc
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _stderr():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@app.command("send")
def send(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option("--tag", help=_("Every client and open lead with this tag."))] = None,
    filter_spec: Annotated[
        str | None, typer.Option("--filter", metavar="NAME|SPEC", help=_("Clients matching a saved filter (tscrm clients filters) or a filter like tag=vip,source=web,owner=me,mine,field.KEY=value."))
    ] = None,
    client: Annotated[list[int] | None, typer.Option("--client", metavar="ID", help=_("A client (repeatable)."))] = None,
    lead: Annotated[list[int] | None, typer.Option("--lead", metavar="ID", help=_("A lead (repeatable)."))] = None,
    number: Annotated[list[str] | None, typer.Option("--number", metavar="NUMBER", help=_("A phone number (repeatable)."))] = None,
    file: Annotated[str | None, typer.Option("--file", metavar="PATH", help=_("Numbers, one per line (CSV: number,name); - for stdin."))] = None,
    template: Annotated[str | None, typer.Option("--template", metavar="NAME", help=_("The template to send."))] = None,
    message: Annotated[str | None, typer.Option("--text", help=_("The text to send (may use the template fields)."))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Show recipients, the first messages and their parts; send nothing."))] = False,
    auto_lead: Annotated[bool, typer.Option("--auto-lead", help=_("Make a lead of every number that is no client or lead."))] = False,
    rate: Annotated[float, typer.Option("--rate", help=_("At most this many SMS per second."))] = 5.0,
    as_json: JsonOption = False,
) -> None:
    """Send an SMS to one recipient or many; prints a delivery report per recipient."""
    from tscrm.core.services import saved_filters, sms

    if (template is None) == (message is None):
        raise fail(_("Give either --template or --text"), "text")
    if rate <= 0:
        raise fail(_("--rate: must be above 0"), "rate")
    numbers_text = "\n".join(number or []) + "\n" + (_read_numbers(file) or "")
    db = state_of(ctx).database()
    with db.read() as session:
        actor = state_of(ctx).actor(session)
        body = sms.get_template(session, template).text if template is not None else message or ""
        selection = sms.select_recipients(
            session,
            actor,
            client_ids=client or [],
            lead_ids=lead or [],
            tag=tag,
            client_filter=saved_filters.resolve_filter(session, actor, filter_spec) if filter_spec else None,
            numbers_text=numbers_text.strip() or None,
        )
        if not selection.recipients:
            for bad in selection.bad_lines:
                _stderr().print(_("line {line}: {reason}").format(line=bad.line, reason=bad.reason))
            raise fail(_("No recipient: nothing to send"), "recipients")
        rows = sms.preview(session, actor, selection.recipients, body, limit=PREVIEW_COUNT)
        parts_total = sum(p.parts.parts for p in sms.preview(session, actor, selection.recipients, body, limit=len(selection.recipients)))
    skipped = [(who, _(sms.SKIP_LABELS.get(why, why))) for who, why in selection.skipped]
    if dry_run:
        _print_dry_run(selection, rows, parts_total, skipped, as_json)
        return
    backend = sms_backend(db)
    err = _stderr()
    total = len(selection.recipients)
    with _progress(total, enabled=not as_json and err.is_terminal) as advance:
        report = sms.send_bulk(
            db, actor, selection.recipients, body, backend, rate_per_s=rate, auto_lead=auto_lead, progress=lambda i, n, row: advance(), skipped=selection.skipped
        )
    _print_report(report, skipped, selection.bad_lines, as_json)
    if report.failed:
        raise typer.Exit(1)


def _progress(total: int, *, enabled: bool):
    from contextlib import contextmanager

    @contextmanager
    def bar():
        if not enabled:
            yield lambda: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=_stderr(), transient=True
        ) as progress:
            task = progress.add_task(_("Sending"), total=total)
            yield lambda: progress.advance(task)

    return bar()


def _print_dry_run(selection, rows, parts_total: int, skipped, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "recipients": len(selection.recipients),
                "parts": parts_total,
                "preview": [
                    {"number": r.recipient.number, "name": r.recipient.name, "text": r.text, "encoding": r.parts.encoding, "parts": r.parts.parts}
                    for r in rows
                ],
                "skipped": [{"who": w, "reason": why} for w, why in skipped],
                "bad_lines": [{"line": b.line, "text": b.text, "reason": b.reason} for b in selection.bad_lines],
            }
        )
        return
    out = console()
    out.print(_("{n} recipients, {parts} SMS parts in all (nothing sent: --dry-run)").format(n=len(selection.recipients), parts=parts_total))
    for row in rows:
        out.print(
            f"[bold]{text(row.recipient.name or row.recipient.number)}[/bold] {text(row.recipient.number)} "
            + _("({encoding}, {parts} part(s), {units} characters)").format(encoding=row.parts.encoding, parts=row.parts.parts, units=row.parts.units)
        )
        out.print("  " + text(row.text))
    for who, why in skipped:
        out.print(_("skipped: {who}: {why}").format(who=text(who), why=text(why)))
    for bad in selection.bad_lines:
        out.print(_("line {line}: {reason}").format(line=bad.line, reason=text(bad.reason)))


def _print_report(report, skipped, bad_lines, as_json: bool) -> None:
    from tscrm.core.services import sms

    if as_json:
        print_json(
            {
                "batch_id": report.batch_id,
                "sent": report.sent,
                "failed": report.failed,
                "cost": {k: v for k, v in report.cost_by_currency().items()},
                "recipients": [
                    {
                        "number": r.number,
                        "name": r.name,
                        "status": r.status,
                        "error": r.error or None,
                        "parts": r.parts,
                        "cost": r.cost,
                        "currency": r.currency,
                    }
                    for r in report.rows
                ],
                "skipped": [{"who": w, "reason": why} for w, why in skipped],
                "bad_lines": [{"line": b.line, "text": b.text, "reason": b.reason} for b in bad_lines],
            }
        )
        return
    table = new_table(_("Delivery report"), [_("Number"), _("Name"), _("Status"), _("Parts"), _("Cost"), _("Reason")], keep_whole=[_("Number")], right=[_("Parts"), _("Cost")])
    for r in report.rows:
        cost = f"{r.cost} {r.currency or ''}".strip() if r.cost is not None else ""
        table.add_row(text(r.number), text(r.name), text(_(sms.STATUS_LABELS[r.status])), str(r.parts), text(cost), text(r.error))
    for who, why in skipped:
        table.add_row("", text(who), _("skipped"), "", "", text(why))
    out = console()
    out.print(table)
    costs = ", ".join(f"{v} {k}".strip() for k, v in report.cost_by_currency().items())
    summary = _("{sent} sent, {failed} failed").format(sent=report.sent, failed=report.failed)
    if costs:
        summary += " — " + _("cost {cost}").format(cost=costs)
    out.print(summary)
    for bad in bad_lines:
        out.print(_("line {line}: {reason}").format(line=bad.line, reason=text(bad.reason)))


# --- templates ----------------------------------------------------------------------------------


@templates_app.command("add")
def add_template(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("The template's name."))],
    body: Annotated[str, typer.Argument(metavar="TEXT", help=_("The text, with fields like {first_name}, {company}, {owner}."))],
    as_json: JsonOption = False,
) -> None:
    """Add a template. Fields: {name} {first_name} {last_name} {company} {position} {phone} {owner} {agent} {our_company}."""
    from tscrm.core.services import sms

    with writing(ctx) as (session, actor):
        template = sms.add_template(session, actor, name, body)
        parts = sms.sms_parts(template.text)
        record = {"id": template.id, "name": template.name, "text": template.text, "fields": sms.template_fields(template.text)}
    if as_json:
        print_json(record)
    else:
        print_ok(_("Template {name} added ({encoding}, {parts} part(s) before the fields are filled in)").format(name=name, encoding=parts.encoding, parts=parts.parts))


@templates_app.command("list")
def list_templates(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The SMS templates."""
    from tscrm.core.services import sms

    with reading(ctx) as (session, _actor):
        rows = [{"id": t.id, "name": t.name, "text": t.text} for t in sms.list_templates(session)]
    if as_json:
        print_json(rows)
        return
    table = new_table(_("SMS templates"), [_("Name"), _("Text")])
    for row in rows:
        table.add_row(text(row["name"]), text(row["text"]))
    console().print(table)


@templates_app.command("remove")
def remove_template(ctx: typer.Context, name: Annotated[str, typer.Argument(help=_("The template's name or id."))]) -> None:
    """Remove a template."""
    from tscrm.core.services import sms

    with writing(ctx) as (session, actor):
        sms.remove_template(session, actor, name)
    print_ok(_("Template {name} removed").format(name=name))
