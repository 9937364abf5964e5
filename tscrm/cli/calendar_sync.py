"""``tscrm calendar accounts|sync``: CalDAV calendar accounts and the two-way sync of your tasks.

Registered on the ``tscrm calendar`` group by tscrm.cli.calendar (plain ``tscrm calendar`` still
shows your calendar). Exit codes: 10 a server failed (login, network), 11 the sync refused to run
because one side looked wiped (nothing was changed), 3 no such account.
"""

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from tscrm.cli import accounts as shared
from tscrm.cli.common import JsonOption, console, new_table, print_json, print_ok, reading, show_time, text, writing
from tscrm.i18n import _

if TYPE_CHECKING:
    from tscrm.core.models_calendar import CalendarAccount

accounts_app = typer.Typer(help=_("Calendar accounts (CalDAV: Google, iCloud, Nextcloud, ...): add, list, test, remove."), no_args_is_help=True)

FAILED_EXIT_CODE = 10  # CalendarError.exit_code
REFUSED_EXIT_CODE = 11  # CalendarSyncRefused.exit_code


def account_record(account: "CalendarAccount") -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "url": account.url,
        "username": account.username,
        "calendar": account.calendar,
        "calendar_url": account.calendar_url,
        "active": account.active,
        "last_sync_at": account.last_sync_at,
        "last_error": account.last_error,
    }


@accounts_app.command("add")
def add_account(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=_("A name for the account, e.g. 'Work calendar'."))],
    url: Annotated[str, typer.Option("--url", help=_("The CalDAV address (or google, icloud)."))],
    username: Annotated[str, typer.Option("--username", help=_("Login name."))],
    password: Annotated[
        str, typer.Option("--password", prompt=True, hide_input=True, envvar="TSCRM_CALENDAR_PASSWORD", help=_("Password (an app password for Google and iCloud)."))
    ],
    calendar: Annotated[str, typer.Option("--calendar", help=_("The calendar to sync: its name or URL (default: the first one)."))] = "",
    as_json: JsonOption = False,
) -> None:
    """Add a CalDAV calendar of yours; the password goes to the keyring or the encrypted store."""
    from tscrm.core.services import calendar_accounts

    with writing(ctx) as (session, actor):
        record = account_record(calendar_accounts.add_account(session, actor, name=name, url=url, username=username, password=password, calendar=calendar))
    if as_json:
        print_json(record)
        return
    print_ok(_("Calendar account {id} added: {name}").format(id=record["id"], name=record["name"]))


@accounts_app.command("list")
def list_accounts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your calendar accounts (each user sees only their own)."""
    from tscrm.core.services import calendar_accounts

    with reading(ctx) as (session, actor):
        records = [account_record(a) for a in calendar_accounts.list_accounts(session, actor)]
        tz = actor.timezone
    if as_json:
        print_json(records, tz)
        return
    if not records:
        console().print(text(_("No calendar accounts yet: tscrm calendar accounts add NAME --url URL --username USER")))
        return
    table = new_table(_("Calendar accounts"), [_("ID"), _("Name"), _("Server"), _("Login"), _("Calendar"), _("Last sync"), _("Last error")])
    for r in records:
        table.add_row(
            str(r["id"]), text(r["name"]), text(r["url"]), text(r["username"]), text(r["calendar_url"] or r["calendar"] or _("(the first)")),
            show_time(r["last_sync_at"], tz) if r["last_sync_at"] else "", text(r["last_error"] or ""),
        )
    console().print(table)


@accounts_app.command("test")
def test_account(
    ctx: typer.Context,
    account_id: Annotated[int, typer.Argument(help=_("Account ID (tscrm calendar accounts list)."))],
    as_json: JsonOption = False,
) -> None:
    """Log in, find the calendar and count its events; say exactly what failed."""
    from tscrm.calendar.check import check_account
    from tscrm.core.services import calendar_accounts

    account, password = shared.account_to_check(ctx, calendar_accounts, account_id)
    shared.print_check(check_account(account, password), "step", as_json, FAILED_EXIT_CODE)


@accounts_app.command("remove")
def remove_account(
    ctx: typer.Context,
    account_id: Annotated[int, typer.Argument(help=_("Account ID (tscrm calendar accounts list)."))],
) -> None:
    """Remove an account, its password and its sync status (tasks and the server's events stay)."""
    from tscrm.core.services import calendar_accounts

    name = shared.remove_account(ctx, calendar_accounts, account_id)
    print_ok(_("Calendar account {id} removed: {name}").format(id=account_id, name=name))


def sync(
    ctx: typer.Context,
    account: Annotated[list[int] | None, typer.Option("--account", help=_("Only this account ID (repeatable)."))] = None,
    force_delete: Annotated[
        bool, typer.Option("--force-delete", help=_("Go on when one side looks wiped, applying its deletions (after checking it really was)."))
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Sync your tasks with your calendars, both ways (safe to run from cron; re-runs continue)."""
    from tscrm.calendar.sync import sync_all
    from tscrm.core.services import calendar_accounts

    db, ids, tz = shared.accounts_to_sync(ctx, calendar_accounts, account)
    reports = sync_all(db, ids, force_delete=force_delete) if ids else []  # type: ignore[arg-type]
    records = [r.record() for r in reports]
    if as_json:
        print_json(records, tz)
    elif not records:
        console().print(text(_("No active calendar accounts to sync.")))
    else:
        table = new_table(
            _("Calendar sync"),
            [_("ID"), _("Account"), _("Result"), _("New tasks"), _("Tasks changed"), _("Tasks deleted"), _("New events"), _("Events changed"), _("Events deleted"), _("Conflicts")],
        )
        for r in records:
            table.add_row(
                str(r["account_id"]), text(r["name"]),
                "[green]" + escape(_("ok")) + "[/green]" if r["ok"] else "[red]" + escape(_("refused") if r["refused"] else _("failed")) + "[/red]",
                str(r["created_local"]), str(r["updated_local"]), str(r["deleted_local"]),
                str(r["created_remote"]), str(r["updated_remote"]), str(r["deleted_remote"]), str(len(r["conflicts"])),
            )
        out = console()
        out.print(table)
        for r in records:
            for conflict in r["conflicts"]:
                kept = _("the CRM's") if conflict["kept"] == "crm" else _("the calendar's")
                out.print(text(_("task {task}: changed on both sides; kept {kept} version (the other is in the feed)").format(task=conflict["task_id"], kept=kept)))
            for skipped in r["skipped"]:
                out.print(text(skipped))
    failed = shared.print_sync_errors(records)
    if any(r["refused"] for r in failed):
        raise typer.Exit(REFUSED_EXIT_CODE)
    if failed:
        raise typer.Exit(FAILED_EXIT_CODE)


def register(app: typer.Typer) -> None:
    """Add ``accounts`` and ``sync`` to the ``tscrm calendar`` group."""
    app.add_typer(accounts_app, name="accounts")
    app.command("sync")(sync)
