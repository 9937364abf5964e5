"""``tscrm mail``: accounts (add, list, test, remove), the sync (cron-safe), exceptions.

Sending and signatures come from tscrm.cli.mail_send (registered at the end of this module).
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from tscrm.cli import accounts as shared
from tscrm.cli.common import (
    JsonOption,
    console,
    new_table,
    print_json,
    print_ok,
    reading,
    show_time,
    text,
    writing,
)
from tscrm.i18n import _

if TYPE_CHECKING:
    from sqlmodel import Session

    from tscrm.core.models_mail import MailAccount

app = typer.Typer(help=_("Mail: accounts, sync into the feeds, sending, mailings, signatures."), no_args_is_help=True)
accounts_app = typer.Typer(help=_("Mail accounts: add, list, test, remove."), no_args_is_help=True)
exceptions_app = typer.Typer(help=_("Addresses and domains whose mail is never imported."), no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(exceptions_app, name="exceptions")

# exit code of a sync or a test where something failed (MailError's)
FAILED_EXIT_CODE = 9


def account_record(session: "Session", account: "MailAccount") -> dict[str, Any]:
    from tscrm.core.models import User
    from tscrm.core.services.mail_accounts import shared_user_ids

    owner = session.get(User, account.owner_id) if account.owner_id is not None else None
    shared_with = []
    for uid in shared_user_ids(session, account.id):  # type: ignore[arg-type]
        user = session.get(User, uid)
        if user is not None:
            shared_with.append(user.email)
    return {
        "id": account.id,
        "name": account.name,
        "email": account.email,
        "preset": account.preset.value,
        "imap": f"{account.imap_host}:{account.imap_port}",
        "imap_security": account.imap_security.value,
        "smtp": f"{account.smtp_host}:{account.smtp_port}",
        "smtp_security": account.smtp_security.value,
        "username": account.username,
        "owner": owner.email if owner else None,
        "shared": account.shared,
        "shared_with": shared_with,
        "auto_lead": account.auto_lead,
        "active": account.active,
        "last_sync_at": account.last_sync_at,
        "last_error": account.last_error,
    }


def _user_ids(session: "Session", emails: list[str] | None) -> list[int]:
    from tscrm.core.services.users import find_user

    return [find_user(session, e).id for e in (emails or [])]  # type: ignore[misc]


# --- accounts ---------------------------------------------------------------------------------


@accounts_app.command("add")
def add_account(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("A name for the account, e.g. 'Sales inbox'."))],
    email: Annotated[str, typer.Option("--email", help=_("The account's address."))],
    password: Annotated[
        str, typer.Option("--password", prompt=True, hide_input=True, envvar="TSCRM_MAIL_PASSWORD", help=_("Password (an app password for Gmail, Yahoo, Yandex)."))
    ],
    preset: Annotated[str, typer.Option("--preset", help=_("gmail, outlook, yahoo, zoho, yandex or custom."))] = "custom",
    imap_host: Annotated[str | None, typer.Option("--imap-host")] = None,
    imap_port: Annotated[int | None, typer.Option("--imap-port")] = None,
    imap_security: Annotated[str | None, typer.Option("--imap-security", help=_("ssl, starttls or none."))] = None,
    smtp_host: Annotated[str | None, typer.Option("--smtp-host")] = None,
    smtp_port: Annotated[int | None, typer.Option("--smtp-port")] = None,
    smtp_security: Annotated[str | None, typer.Option("--smtp-security", help=_("ssl, starttls or none."))] = None,
    username: Annotated[str | None, typer.Option("--username", help=_("Login name (default: the address)."))] = None,
    owner: Annotated[str | None, typer.Option("--owner", help=_("Owner's email or extension (default: you)."))] = None,
    share_with: Annotated[list[str] | None, typer.Option("--share-with", help=_("Share with this user (repeatable)."))] = None,
    auto_lead: Annotated[bool, typer.Option("--auto-lead", help=_("Make a lead of every unknown address that writes or is written to."))] = False,
    as_json: JsonOption = False,
) -> None:
    """Add an IMAP + SMTP account (at most 20 per CRM); the password goes to the keyring or the encrypted store."""
    from tscrm.core.services import mail_accounts

    with writing(ctx) as (session, actor):
        owner_id = _user_ids(session, [owner])[0] if owner else None
        account = mail_accounts.add_account(
            session,
            actor,
            name=name,
            email=email,
            preset=preset,
            imap_host=imap_host,
            imap_port=imap_port,
            imap_security=imap_security,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            smtp_security=smtp_security,
            username=username,
            password=password,
            owner_id=owner_id,
            shared=bool(share_with),
            shared_with=_user_ids(session, share_with),
            auto_lead=auto_lead,
        )
        record = account_record(session, account)
    if as_json:
        print_json(record)
        return
    print_ok(_("Mail account {id} added: {name} <{email}>").format(id=record["id"], name=record["name"], email=record["email"]))
    note = mail_accounts.PRESETS.get(record["preset"])
    if note is not None and note.note:
        console().print(text(_(note.note)))


@accounts_app.command("list")
def list_accounts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The accounts you see: yours, those shared with you (all of them for admins)."""
    from tscrm.core.services import mail_accounts

    with reading(ctx) as (session, actor):
        records = [account_record(session, a) for a in mail_accounts.list_accounts(session, actor)]
        tz = actor.timezone
    if as_json:
        print_json(records, tz)
        return
    if not records:
        console().print(text(_("No mail accounts yet: tscrm mail accounts add NAME --email ADDRESS --preset gmail")))
        return
    table = new_table(
        _("Mail accounts"),
        [_("ID"), _("Name"), _("Email"), "IMAP", "SMTP", _("Owner"), _("Shared with"), _("Auto-lead"), _("Last sync"), _("Last error")],
    )
    for r in records:
        table.add_row(
            str(r["id"]),
            text(r["name"]),
            text(r["email"]),
            text(f"{r['imap']} ({r['imap_security']})"),
            text(f"{r['smtp']} ({r['smtp_security']})"),
            text(r["owner"] or ""),
            text(", ".join(r["shared_with"])),
            _("yes") if r["auto_lead"] else "",
            show_time(r["last_sync_at"], tz) if r["last_sync_at"] else "",
            text(r["last_error"] or ""),
        )
    console().print(table)


@accounts_app.command("test")
def test_account(
    ctx: typer.Context,
    account_id: Annotated[int, typer.Argument(help=_("Account ID (tscrm mail accounts list)."))],
    as_json: JsonOption = False,
) -> None:
    """Log in to the IMAP and the SMTP server and say exactly what failed (DNS, connect, TLS, login)."""
    from tscrm.core.services import mail_accounts
    from tscrm.mail.check import check_account

    account, password = shared.account_to_check(ctx, mail_accounts, account_id)
    shared.print_check(check_account(account, password), "server", as_json, FAILED_EXIT_CODE)


@accounts_app.command("remove")
def remove_account(
    ctx: typer.Context,
    account_id: Annotated[int, typer.Argument(help=_("Account ID (tscrm mail accounts list)."))],
) -> None:
    """Remove an account, its password and its stored messages (the feeds keep their entries)."""
    from tscrm.core.services import mail_accounts

    name = shared.remove_account(ctx, mail_accounts, account_id)
    print_ok(_("Mail account {id} removed: {name}").format(id=account_id, name=name))


# --- sync -------------------------------------------------------------------------------------


@app.command("sync")
def sync(
    ctx: typer.Context,
    account: Annotated[list[int] | None, typer.Option("--account", help=_("Only this account ID (repeatable)."))] = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch new mail of every active account into the feeds (safe to run from cron; re-runs continue)."""
    from tscrm.core.services import mail_accounts
    from tscrm.mail.sync import sync_all

    db, ids, tz = shared.accounts_to_sync(ctx, mail_accounts, account)
    err = Console(stderr=True, highlight=False)
    if as_json or not err.is_terminal:
        reports = sync_all(db, ids)  # type: ignore[arg-type]
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True,
        ) as bar:
            tasks: dict[tuple[str, str], Any] = {}

            def on_progress(p) -> None:
                key = (p.account, p.folder)
                if key not in tasks:
                    tasks[key] = bar.add_task(f"{p.account} · {p.folder}", total=p.total)
                bar.update(tasks[key], completed=p.done, total=p.total)

            reports = sync_all(db, ids, progress=on_progress)  # type: ignore[arg-type]
    records = [
        {
            "account_id": r.account_id,
            "name": r.name,
            "ok": r.ok,
            "error": r.error,
            "stored": r.total("stored"),
            "duplicates": r.total("duplicates"),
            "excepted": r.total("excepted"),
            "feed_entries": r.total("feed_entries"),
            "leads_created": r.total("leads_created"),
            "notifications": r.total("notifications"),
            "folders": [vars(f) for f in r.folders],
        }
        for r in reports
    ]
    if as_json:
        print_json(records, tz)
    elif not records:
        console().print(text(_("No active mail accounts to sync.")))
    else:
        table = new_table(
            _("Mail sync"),
            [_("ID"), _("Account"), _("Result"), _("New"), _("Duplicates"), _("Excepted"), _("Feed entries"), _("New leads")],
        )
        for r in records:
            table.add_row(
                str(r["account_id"]),
                text(r["name"]),
                "[green]" + escape(_("ok")) + "[/green]" if r["ok"] else "[red]" + escape(r["error"] or _("failed")) + "[/red]",
                str(r["stored"]),
                str(r["duplicates"]),
                str(r["excepted"]),
                str(r["feed_entries"]),
                str(r["leads_created"]),
            )
        console().print(table)
    if shared.print_sync_errors(records):
        raise typer.Exit(FAILED_EXIT_CODE)


@app.command("attachment")
def attachment(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(help=_("The mail message's ID (in a feed entry's data: mail_message_id)."))],
    part: Annotated[str, typer.Argument(help=_("The attachment's part (as listed with the message)."))],
    out: Annotated[str | None, typer.Option("--out", "-o", help=_("File to write (default: the attachment's name, here)."))] = None,
) -> None:
    """Fetch one attachment of a synced message from the mail server (attachments are not stored)."""
    from pathlib import Path

    from tscrm.core.models_mail import MailAccount
    from tscrm.core.services import mail
    from tscrm.mail.sync import fetch_attachment

    with reading(ctx) as (session, actor):
        message = mail.get_message(session, actor, message_id)
        account = session.get(MailAccount, message.account_id)
        filename, _ctype, data = fetch_attachment(session, account, message, part)  # type: ignore[arg-type]
    target = Path(out) if out else Path(Path(filename).name or f"part-{part}")
    target.write_bytes(data)
    print_ok(_("Saved {name} ({size} bytes)").format(name=str(target), size=len(data)))


# --- exceptions -------------------------------------------------------------------------------


@exceptions_app.command("add")
def add_exception(
    ctx: typer.Context,
    pattern: Annotated[str, typer.Argument(help=_("An address (who@example.com) or a domain (example.com)."))],
) -> None:
    """Never import mail from or to this address or domain (subdomains included)."""
    from tscrm.core.services import mail

    with writing(ctx) as (session, actor):
        row = mail.add_exception(session, actor, pattern)
        value = row.pattern
    print_ok(_("Mail from or to {pattern} will not be imported.").format(pattern=value))


@exceptions_app.command("list")
def list_exceptions(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The addresses and domains never imported."""
    from tscrm.core.services import mail

    with reading(ctx) as (session, _actor):
        rows = [{"id": e.id, "pattern": e.pattern, "created_at": e.created_at} for e in mail.list_exceptions(session)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console().print(text(_("No exceptions: all mail with known addresses is imported.")))
        return
    for r in rows:
        console().print(text(r["pattern"]))


@exceptions_app.command("remove")
def remove_exception(
    ctx: typer.Context,
    pattern: Annotated[str, typer.Argument(help=_("The address or domain to import again."))],
) -> None:
    """Import mail of this address or domain again (from the next new message on)."""
    from tscrm.core.services import mail

    with writing(ctx) as (session, actor):
        mail.remove_exception(session, actor, pattern)
    print_ok(_("Exception removed: {pattern}").format(pattern=pattern.strip().lower()))


# Sending, mailings and signatures (tscrm.cli.mail_send) join this group.
from tscrm.cli import mail_send

mail_send.register(app)
