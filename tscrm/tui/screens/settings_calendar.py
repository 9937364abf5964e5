"""Settings → Calendar: the user's CalDAV calendar accounts; add, test (logs in, finds the calendar),
sync now, remove.

Keys (with the table focused): n adds an account, t tests the highlighted one, s syncs it now,
delete removes it (asks first), r reloads. Each user sees only their own calendars; passwords go to
the keyring or the encrypted store (tscrm.core.secrets), never to the table.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens import account_settings as accounts

TITLE = N_("Calendar")
ORDER = 15

COLUMNS = accounts.account_columns(("url", N_("Server")), ("username", N_("Login")), ("calendar", N_("Calendar")))


def account_rows(session, actor) -> list[dict[str, Any]]:
    from tscrm.core.services.calendar_accounts import list_accounts

    return [
        accounts.account_row(a, url=a.url, username=a.username, calendar=a.calendar_url or a.calendar or _("(the first)"))
        for a in list_accounts(session, actor)
    ]


def check_account(db, actor, account_id: int) -> list[tuple[bool, str]]:
    """Log in and find the calendar (tscrm.calendar.check): (ok, what happened) per step."""
    from tscrm.calendar.check import check_account as check
    from tscrm.core.services.calendar_accounts import account_password, get_account

    with db.read() as session:
        account = get_account(session, actor, account_id)
        password = account_password(session, account)
        session.expunge(account)
    return [(r.ok, f"{r.step}: {r.detail}") for r in check(account, password)]


def sync_now(db, actor, account_id: int) -> tuple[bool, str]:
    """Sync one account of the actor's now: (ok, a one-line summary or the error)."""
    from tscrm.calendar.sync import sync_account
    from tscrm.core.services.calendar_accounts import get_account

    with db.read() as session:
        get_account(session, actor, account_id)
    report = sync_account(db, account_id)
    if not report.ok:
        return False, report.error or _("failed")
    c = report.counts
    return True, _("Synced: {new_tasks} new tasks, {changed_tasks} changed, {deleted_tasks} deleted; {new_events} new events, {changed_events} changed, {deleted_events} deleted; {conflicts} conflicts").format(
        new_tasks=c.created_local, changed_tasks=c.updated_local, deleted_tasks=c.deleted_local,
        new_events=c.created_remote, changed_events=c.updated_remote, deleted_events=c.deleted_remote, conflicts=len(c.conflicts),
    )


class Pane(accounts.AccountsPane, Vertical):
    BINDINGS = accounts.account_bindings(Binding("s", "sync", N_("Sync now")))
    DEFAULT_CSS = accounts.pane_css("calendar")
    PREFIX = "calendar"
    SERVICE = "tscrm.core.services.calendar_accounts"
    COLUMNS = COLUMNS
    NOTE = N_("Your calendars (CalDAV): n adds, t tests, s syncs now, delete removes.")
    EMPTY = N_("No calendar yet: n adds one (Google, iCloud, Nextcloud or any CalDAV server).")
    ADDED = N_("Calendar account {id} added.")
    REMOVED = N_("Calendar account removed: {name}")
    CONFIRM_REMOVE = N_("Remove the calendar account {name}? Tasks and the calendar's events stay.")

    account_rows = staticmethod(account_rows)
    check = staticmethod(check_account)

    def cells(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return str(row["id"]), row["name"], row["url"], row["username"], row["calendar"], accounts.state_cell(row)

    def new_account_dialog(self) -> CalendarAccountDialog:
        return CalendarAccountDialog()

    def action_sync(self) -> None:
        row = self._current()
        if row is not None:
            self._result(_("Syncing {name}…").format(name=row["name"]), False)
            self.run_sync(row["id"])

    @work(thread=True, exclusive=True, group="settings-calendar-sync")
    def run_sync(self, account_id: int) -> None:
        try:
            ok, message = sync_now(self.ctx.db, self.ctx.actor, account_id)
        except TscrmError as exc:
            ok, message = False, str(exc)
        self.app.call_from_thread(self._result, message, not ok)
        self.app.call_from_thread(self.refresh_data)


class CalendarAccountDialog(accounts.NewAccountDialog):
    """A new calendar account: server, login, password and (optionally) which calendar."""

    DEFAULT_CSS = accounts.account_dialog_css("CalendarAccountDialog", 20)
    PREFIX = "cal"
    SERVICE = Pane.SERVICE
    HEADING = N_("New calendar account")
    HINT = N_("Your tasks with a time go to this calendar and its events become tasks · ctrl+s saves · escape cancels")

    def fields(self) -> tuple[tuple[str, str, Widget], ...]:
        return (
            ("name", _("Name"), Input(placeholder=_("e.g. Work calendar"), id="cal-name")),
            ("url", _("Server"), Input(placeholder=_("https://cal.example.com/dav/ (or google, icloud)"), id="cal-url")),
            ("username", _("Login"), Input(id="cal-username")),
            ("password", _("Password"), Input(password=True, placeholder=_("app password for Google / iCloud"), id="cal-password")),
            ("calendar", _("Calendar"), Input(placeholder=_("its name or URL (default: the first)"), id="cal-calendar")),
        )

    def values(self) -> dict[str, Any]:
        return {
            "name": self.text("#cal-name"),
            "url": self.text("#cal-url"),
            "username": self.text("#cal-username"),
            "password": self.query_one("#cal-password", Input).value,
            "calendar": self.text("#cal-calendar"),
        }
