"""Settings → Calendar: the user's CalDAV calendar accounts; add, test (logs in, finds the calendar),
sync now, remove.

Keys (with the table focused): n adds an account, t tests the highlighted one, s syncs it now,
delete removes it (asks first), r reloads. Each user sees only their own calendars; passwords go to
the keyring or the encrypted store (tscrm.core.secrets), never to the table.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css
from tscrm.tui.screens.settings import SettingsPane

TITLE = N_("Calendar")
ORDER = 15

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", N_("ID")),
    ("name", N_("Name")),
    ("url", N_("Server")),
    ("username", N_("Login")),
    ("calendar", N_("Calendar")),
    ("state", N_("State")),
)


def account_rows(session, actor) -> list[dict[str, Any]]:
    from tscrm.core.services.calendar_accounts import list_accounts

    return [
        {
            "id": a.id,
            "name": a.name,
            "url": a.url,
            "username": a.username,
            "calendar": a.calendar_url or a.calendar or _("(the first)"),
            "active": a.active,
            "last_error": a.last_error,
            "last_sync_at": a.last_sync_at,
        }
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


class Pane(SettingsPane, Vertical):
    BINDINGS = [
        Binding("n", "add", N_("Add account")),
        Binding("t", "test", N_("Test")),
        Binding("s", "sync", N_("Sync now")),
        Binding("delete", "remove", N_("Remove")),
        Binding("r", "reload", N_("Reload")),
    ]
    DEFAULT_CSS = """
    Pane #calendar-accounts { height: auto; max-height: 1fr; }
    Pane #calendar-result { height: auto; padding: 1 0 0 0; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(_("Your calendars (CalDAV): n adds, t tests, s syncs now, delete removes."), classes="note")
        table: DataTable = DataTable(id="calendar-accounts", cursor_type="row", zebra_stripes=True)
        table.add_columns(*(_(label) for _key, label in COLUMNS))
        yield table
        yield Static("", id="calendar-result")

    @work(thread=True, exclusive=True, group="settings-calendar")
    def load(self) -> None:
        try:
            with self.ctx.db.read() as session:
                rows = account_rows(session, self.ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            if not r["active"]:
                state = Text(_("off"), style="dim")
            elif r["last_error"]:
                state = Text(r["last_error"][:60], style="red")
            elif r["last_sync_at"]:
                state = Text(_("synced"), style="green")
            else:
                state = Text(_("not synced yet"), style="dim")
            table.add_row(str(r["id"]), r["name"], r["url"], r["username"], r["calendar"], state, key=str(r["id"]))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        else:
            self._result(_("No calendar yet: n adds one (Google, iCloud, Nextcloud or any CalDAV server)."), False)

    def _current(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _result(self, message: str, error: bool) -> None:
        self.query_one("#calendar-result", Static).update(Text(message, style="red" if error else ""))

    # -- actions ---------------------------------------------------------------------------------

    def action_add(self) -> None:
        def done(account_id: int | None) -> None:
            if account_id is not None:
                self.app.notify(_("Calendar account {id} added.").format(id=account_id))
                self.refresh_data()

        self.app.push_screen(CalendarAccountDialog(), done)

    def action_test(self) -> None:
        row = self._current()
        if row is not None:
            self._result(_("Testing {name}…").format(name=row["name"]), False)
            self.run_check(row["id"])

    @work(thread=True, exclusive=True, group="settings-calendar-test")
    def run_check(self, account_id: int) -> None:
        try:
            results = check_account(self.ctx.db, self.ctx.actor, account_id)
        except TscrmError as exc:
            results = [(False, str(exc))]
        lines = [("✓ " if ok else "✗ ") + line for ok, line in results]
        self.app.call_from_thread(self._result, "\n".join(lines), not all(ok for ok, _line in results))

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

    def action_remove(self) -> None:
        from tscrm.tui.screens.clients import ConfirmDialog

        row = self._current()
        if row is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.remove(row["id"], row["name"])

        self.app.push_screen(
            ConfirmDialog(_("Remove the calendar account {name}? Tasks and the calendar's events stay.").format(name=row["name"])),
            confirmed,
        )

    @work(thread=True, group="settings-calendar-write")
    def remove(self, account_id: int, name: str) -> None:
        from tscrm.core.services.calendar_accounts import remove_account

        try:
            with self.ctx.db.write() as session:
                remove_account(session, self.ctx.actor, account_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self.app.notify, _("Calendar account removed: {name}").format(name=name))
        self.app.call_from_thread(self.refresh_data)


class CalendarAccountDialog(ModalScreen[int | None]):
    """A new calendar account: server, login, password and (optionally) which calendar."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel")), Binding("ctrl+s", "save", N_("Save"))]
    DEFAULT_CSS = dialog_css("CalendarAccountDialog") + """
    CalendarAccountDialog > Vertical { width: 90; }
    CalendarAccountDialog VerticalScroll { height: auto; max-height: 20; }
    CalendarAccountDialog .row > .label { width: 18; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("New calendar account"), classes="dialog-title")
            with VerticalScroll():
                for key, label, widget in (
                    ("name", _("Name"), Input(placeholder=_("e.g. Work calendar"), id="cal-name")),
                    ("url", _("Server"), Input(placeholder=_("https://cal.example.com/dav/ (or google, icloud)"), id="cal-url")),
                    ("username", _("Login"), Input(id="cal-username")),
                    ("password", _("Password"), Input(password=True, placeholder=_("app password for Google / iCloud"), id="cal-password")),
                    ("calendar", _("Calendar"), Input(placeholder=_("its name or URL (default: the first)"), id="cal-calendar")),
                ):
                    with Horizontal(classes="row", id=f"row-{key}"):
                        yield Static(label, classes="label")
                        yield widget
            yield Static("", id="cal-error", classes="dialog-error")
            yield Static(_("Your tasks with a time go to this calendar and its events become tasks · ctrl+s saves · escape cancels"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="cal-save")
                yield Button(_("Cancel"), id="cal-cancel")

    def on_mount(self) -> None:
        self.query_one("#cal-name", Input).focus()

    @on(Button.Pressed, "#cal-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def values(self) -> dict[str, Any]:
        def text(widget_id: str) -> str:
            return self.query_one(widget_id, Input).value.strip()

        return {
            "name": text("#cal-name"),
            "url": text("#cal-url"),
            "username": text("#cal-username"),
            "password": self.query_one("#cal-password", Input).value,
            "calendar": text("#cal-calendar"),
        }

    @on(Button.Pressed, "#cal-save")
    def action_save(self) -> None:
        self.save(self.values())

    @work(thread=True, exclusive=True, group="calendar-account-save")
    def save(self, values: dict[str, Any]) -> None:
        from tscrm.core.services.calendar_accounts import add_account

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.write() as session:
                account_id = add_account(session, ctx.actor, **values).id
        except TscrmError as exc:
            self.app.call_from_thread(self.query_one("#cal-error", Static).update, str(exc))
            return
        self.app.call_from_thread(self.dismiss, account_id)
