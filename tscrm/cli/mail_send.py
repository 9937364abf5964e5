"""``tscrm mail send|resume|report`` and ``tscrm mail signatures``: sending mail and mailings.

These commands join the ``tscrm mail`` group of tscrm.cli.mail through ``register(app)``. The rules
(limit of 100 recipients, personalisation, resumable sending) live in tscrm.core.services.mailing.
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from tscrm.cli.common import (
    JsonOption,
    console,
    fail,
    new_table,
    parse_fields,
    print_json,
    print_ok,
    reading,
    show_time,
    state_of,
    stdin_is_terminal,
    text,
    user_id_by_email,
    writing,
)
from tscrm.i18n import _

signatures_app = typer.Typer(help=_("Signatures: add, list, remove."), no_args_is_help=True)

# exit code when any recipient failed (MailError's)
FAILED_EXIT_CODE = 9


def _body(body: str | None, body_file: Path | None) -> str:
    if body is not None and body_file is not None:
        raise fail(_("--body and --body-file: give one of them"), "--body")
    if body_file is not None:
        try:
            return body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(_("--body-file: cannot read {path}: {reason}").format(path=body_file, reason=exc), "--body-file") from None
    if body is None:
        raise fail(_("--body or --body-file: the text of the message is needed"), "--body")
    return body


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _progress(total: int, enabled: bool):
    """A progress bar on stderr (stdout stays clean for --json); a no-op when not on a terminal."""
    from contextlib import contextmanager

    @contextmanager
    def bar():
        err = _stderr_console()
        if not enabled or not err.is_terminal:
            yield lambda _entry: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
        ) as progress:
            task = progress.add_task(_("Sending"), total=total)
            yield lambda _entry: progress.advance(task)

    return bar()


def _report_records(entries) -> list[dict[str, Any]]:
    from tscrm.core.services.mailing import interrupted_note

    return [
        {
            "id": e.recipient_id,
            "address": e.address,
            "status": e.status,
            "error": interrupted_note() if e.status == "sending" else e.error,
            "client_id": e.client_id,
            "lead_id": e.lead_id,
            "message_id": e.message_id,
            "sent_at": e.sent_at,
        }
        for e in entries
    ]


def _print_report(mailing_id: int, records: list[dict[str, Any]], tz: str) -> None:
    labels = {"pending": _("pending"), "sending": _("interrupted"), "sent": _("sent"), "failed": _("failed")}
    table = new_table(
        _("Mailing {id}: one row per recipient").format(id=mailing_id),
        [_("Address"), _("Record"), _("Status"), _("Sent"), _("Note")],
        keep_whole=[_("Address"), _("Sent")],
    )
    for r in records:
        record = f"client {r['client_id']}" if r["client_id"] else f"lead {r['lead_id']}" if r["lead_id"] else ""
        style = {"sent": "green", "failed": "red", "sending": "yellow"}.get(r["status"], "")
        status = labels.get(r["status"], r["status"])
        table.add_row(text(r["address"]), record, f"[{style}]{text(status)}[/{style}]" if style else text(status), show_time(r["sent_at"], tz), text(r["error"]))
    console().print(table)
    sent = sum(1 for r in records if r["status"] == "sent")
    failed = len(records) - sent
    summary = _("{sent} sent, {failed} not sent, of {total}.").format(sent=sent, failed=failed, total=len(records))
    console().print(f"[bold]{text(summary)}[/bold]")


def _finish(ctx: typer.Context, mailing_id: int, entries, as_json: bool, tz: str) -> None:
    records = _report_records(entries)
    if as_json:
        print_json({"mailing_id": mailing_id, "recipients": records}, tz)
    else:
        _print_report(mailing_id, records, tz)
        if any(r["status"] == "sending" for r in records) or any(r["status"] == "pending" for r in records):
            console().print(text(_("Resume the rest with: tscrm mail resume {id}").format(id=mailing_id)))
    if any(r["status"] != "sent" for r in records):
        raise typer.Exit(FAILED_EXIT_CODE)


def _send(ctx: typer.Context, mailing_id: int, total: int, as_json: bool, retry_failed: bool = False) -> None:
    from tscrm.core.services import mailing
    from tscrm.mail.smtp import open_transport

    state = state_of(ctx)
    db = state.database()
    with db.read() as session:
        actor = state.actor(session)
    with _progress(total, not as_json) as advance:
        entries = mailing.send_mailing(db, actor, mailing_id, open_transport, progress=advance, retry_failed=retry_failed)
    _finish(ctx, mailing_id, entries, as_json, actor.timezone)


def send(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option("--subject", help=_("Subject; may use fields like {first_name}."))],
    tag: Annotated[list[str] | None, typer.Option("--tag", help=_("Every client with this tag. Repeatable."))] = None,
    client_id: Annotated[list[int] | None, typer.Option("--client", metavar="ID", help=_("This client. Repeatable."))] = None,
    lead_id: Annotated[list[int] | None, typer.Option("--lead", metavar="ID", help=_("This lead. Repeatable."))] = None,
    to: Annotated[list[str] | None, typer.Option("--to", metavar="ADDRESS", help=_("This address. Repeatable."))] = None,
    owner: Annotated[str | None, typer.Option("--owner", help=_("Every client of this user (email or extension)."))] = None,
    source: Annotated[str | None, typer.Option("--source", help=_("Every client from this source."))] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help=_("Every client whose custom field has this value (key=value). Repeatable."))] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", metavar="ADDRESS", help=_("Leave this address out. Repeatable."))] = None,
    body: Annotated[str | None, typer.Option("--body", help=_("The text; may use fields like {first_name}."))] = None,
    body_file: Annotated[Path | None, typer.Option("--body-file", help=_("Read the text from this file (UTF-8)."))] = None,
    signature: Annotated[str | None, typer.Option("--signature", help=_("Add this signature (name or id)."))] = None,
    account: Annotated[int | None, typer.Option("--account", metavar="ID", help=_("Send from this mail account; default: your first."))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=_("Show the recipients and the first messages; send nothing."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Send a mail or a mailing (at most 100 recipients, one personal message each)."""
    from tscrm.core.services import mailing
    from tscrm.core.services.clients import ClientFilter

    text_body = _body(body, body_file)
    state = state_of(ctx)
    db = state.database()
    # a dry run builds the mailing in a transaction that is rolled back
    with (db.read() if dry_run else db.write()) as session:
        actor = state.actor(session)
        filt = None
        if owner or source or field:
            filt = ClientFilter(owner_id=user_id_by_email(session, owner), source=source, custom=parse_fields(field))
        audience = mailing.Audience(
            client_ids=list(client_id or []),
            lead_ids=list(lead_id or []),
            tags=list(tag or []),
            filter=filt,
            addresses=list(to or []),
            exclude_addresses=list(exclude or []),
        )
        plan = mailing.create_mailing(session, actor, audience, subject=subject, body=text_body, signature=signature, account_id=account)
        mailing_id = plan.mailing.id
        total = len(plan.recipients)
        skipped = [{"what": k.what, "reason": k.reason} for k in plan.skipped]
        if dry_run:
            recipients = [{"address": r.address, "client_id": r.client_id, "lead_id": r.lead_id} for r in plan.recipients]
            samples = [
                {"to": m.to, "from": f"{m.from_name} <{m.from_addr}>", "subject": m.subject, "body": m.body}
                for m in mailing.preview(session, plan.mailing, 3)
            ]
            session.rollback()
    if dry_run:
        if as_json:
            print_json({"dry_run": True, "recipients": recipients, "skipped": skipped, "messages": samples}, actor.timezone)
            return
        summary = _("Dry run: {count} recipients, nothing sent").format(count=total)
        console().print(f"[bold]{text(summary)}[/bold]", soft_wrap=True)
        table = new_table("", [_("Address"), _("Record")], keep_whole=[_("Address")])
        for r in recipients:
            table.add_row(text(r["address"]), f"client {r['client_id']}" if r["client_id"] else f"lead {r['lead_id']}" if r["lead_id"] else "")
        console().print(table)
        for k in skipped:
            console().print(text(_("Left out: {what}: {reason}").format(what=k["what"], reason=k["reason"])))
        for m in samples:
            console().rule(text(", ".join(m["to"])))
            console().print(text(_("From: {sender}").format(sender=m["from"])))
            console().print(text(_("Subject: {subject}").format(subject=m["subject"])))
            console().print(text("\n" + m["body"]))
        return
    if not as_json:
        for k in skipped:
            console().print(text(_("Left out: {what}: {reason}").format(what=k["what"], reason=k["reason"])))
    _send(ctx, mailing_id, total, as_json)  # type: ignore[arg-type]


def resume(
    ctx: typer.Context,
    mailing_id: Annotated[int, typer.Argument(metavar="ID", help=_("Mailing id."))],
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help=_("Try the recipients that failed again."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Send what a mailing has not sent yet (never a message twice)."""
    from tscrm.core.services import mailing

    with reading(ctx) as (session, actor):
        mailing.get_mailing(session, actor, mailing_id)
        total = sum(1 for r in mailing.recipients_of(session, mailing_id) if r.status == "pending" or (retry_failed and r.status == "failed"))
    _send(ctx, mailing_id, total, as_json, retry_failed)


def show_report(
    ctx: typer.Context,
    mailing_id: Annotated[int, typer.Argument(metavar="ID", help=_("Mailing id."))],
    as_json: JsonOption = False,
) -> None:
    """The report of a mailing: one row per recipient."""
    from tscrm.core.services import mailing

    with reading(ctx) as (session, actor):
        mailing.get_mailing(session, actor, mailing_id)
        entries = mailing.report(session, mailing_id)
    records = _report_records(entries)
    if as_json:
        print_json({"mailing_id": mailing_id, "recipients": records}, actor.timezone)
    else:
        _print_report(mailing_id, records, actor.timezone)


# --- signatures -----------------------------------------------------------------------------------


@signatures_app.command("add")
def add_signature(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("Name of the signature."))],
    sig_text: Annotated[str | None, typer.Option("--text", help=_("The signature; may use fields like {sender}."))] = None,
    file: Annotated[Path | None, typer.Option("--file", help=_("Read the signature from this file (UTF-8)."))] = None,
    shared: Annotated[bool, typer.Option("--shared", help=_("For everyone (needs the right to manage the team)."))] = False,
) -> None:
    """Add a signature."""
    from tscrm.core.services import mailing

    if sig_text is None and file is None and not stdin_is_terminal():
        import sys

        sig_text = sys.stdin.read()
    value = _body(sig_text, file) if (sig_text is not None or file is not None) else None
    if value is None:
        raise fail(_("--text or --file: the signature's text is needed"), "--text")
    with writing(ctx) as (session, actor):
        row = mailing.add_signature(session, actor, name, value, shared=shared)
    print_ok(_("Signature {id} added: {name}").format(id=row.id, name=row.name))


@signatures_app.command("list")
def list_signatures(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your signatures and the shared ones."""
    from tscrm.core.services import mailing

    with reading(ctx) as (session, actor):
        rows = [{"id": r.id, "name": r.name, "shared": r.owner_id is None, "text": r.text} for r in mailing.list_signatures(session, actor)]
    if as_json:
        print_json(rows, actor.timezone)
        return
    table = new_table(_("Signatures"), [_("ID"), _("Name"), _("Shared"), _("Text")], keep_whole=[_("ID")])
    for r in rows:
        table.add_row(str(r["id"]), text(r["name"]), _("yes") if r["shared"] else "", text(r["text"]))
    console().print(table)


@signatures_app.command("remove")
def remove_signature(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help=_("Name or id of the signature."))],
) -> None:
    """Remove a signature."""
    from tscrm.core.services import mailing

    with writing(ctx) as (session, actor):
        mailing.remove_signature(session, actor, name)
    print_ok(_("Signature removed: {name}").format(name=name))


def register(app: typer.Typer) -> None:
    """Add the sending commands to the ``tscrm mail`` group."""
    app.command("send")(send)
    app.command("resume")(resume)
    app.command("report")(show_report)
    app.add_typer(signatures_app, name="signatures")
