"""Settings → Email: the mail accounts the user sees; add, test (logs in to IMAP and SMTP), remove.

Keys (with the table focused): n adds an account (presets fill the servers), t tests the highlighted
one, delete removes it (asks first), r reloads. Sending and syncing use these accounts; passwords go
to the keyring or the encrypted store (tscrm.core.secrets), never to the table.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css
from tscrm.tui.screens.settings import SettingsPane

TITLE = N_("Email")
ORDER = 10

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", N_("ID")),
    ("name", N_("Name")),
    ("email", N_("Address")),
    ("imap", N_("IMAP")),
    ("smtp", N_("SMTP")),
    ("kind", N_("Shared")),
    ("state", N_("State")),
)


def account_rows(session, actor) -> list[dict[str, Any]]:
    from tscrm.core.services.mail_accounts import list_accounts

    return [
        {
            "id": a.id,
            "name": a.name,
            "email": a.email,
            "imap": f"{a.imap_host}:{a.imap_port} ({a.imap_security.value})",
            "smtp": f"{a.smtp_host}:{a.smtp_port} ({a.smtp_security.value})",
            "shared": a.shared,
            "active": a.active,
            "last_error": a.last_error,
            "last_sync_at": a.last_sync_at,
        }
        for a in list_accounts(session, actor)
    ]


def check_account(db, actor, account_id: int) -> list[tuple[bool, str]]:
    """Log in to the account's IMAP and SMTP servers (tscrm.mail.check): (ok, what happened) per server."""
    from tscrm.core.services.mail_accounts import account_password, get_account
    from tscrm.mail.check import check_account as check

    with db.read() as session:
        account = get_account(session, actor, account_id)
        password = account_password(session, account)
    return [(r.ok, f"{r.server}: {r.detail}") for r in check(account, password)]


class Pane(SettingsPane, Vertical):
    BINDINGS = [
        Binding("n", "add", N_("Add account")),
        Binding("t", "test", N_("Test")),
        Binding("delete", "remove", N_("Remove")),
        Binding("r", "reload", N_("Reload")),
    ]
    DEFAULT_CSS = """
    Pane #email-accounts { height: auto; max-height: 1fr; }
    Pane #email-result { height: auto; padding: 1 0 0 0; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(_("Mail accounts: n adds, t tests, delete removes."), classes="note")
        table: DataTable = DataTable(id="email-accounts", cursor_type="row", zebra_stripes=True)
        table.add_columns(*(_(label) for _key, label in COLUMNS))
        yield table
        yield Static("", id="email-result")

    @work(thread=True, exclusive=True, group="settings-email")
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
            table.add_row(
                str(r["id"]), r["name"], r["email"], r["imap"], r["smtp"], _("yes") if r["shared"] else _("personal"), state, key=str(r["id"])
            )
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        else:
            self._result(_("No mail account yet: n adds one (Gmail, Outlook, Yahoo, Zoho, Yandex or your own server)."), False)

    def _current(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _result(self, message: str, error: bool) -> None:
        self.query_one("#email-result", Static).update(Text(message, style="red" if error else ""))

    # -- actions ---------------------------------------------------------------------------------

    def action_add(self) -> None:
        def done(account_id: int | None) -> None:
            if account_id is not None:
                self.app.notify(_("Mail account {id} added.").format(id=account_id))
                self.refresh_data()

        self.app.push_screen(AccountDialog(), done)

    def action_test(self) -> None:
        row = self._current()
        if row is not None:
            self._result(_("Testing {name}…").format(name=row["name"]), False)
            self.run_test(row["id"])

    @work(thread=True, exclusive=True, group="settings-email-test")
    def run_test(self, account_id: int) -> None:
        try:
            results = check_account(self.ctx.db, self.ctx.actor, account_id)
        except TscrmError as exc:
            results = [(False, str(exc))]
        lines = [("✓ " if ok else "✗ ") + line for ok, line in results]
        self.app.call_from_thread(self._result, "\n".join(lines), not all(ok for ok, _line in results))

    def action_remove(self) -> None:
        from tscrm.tui.screens.clients import ConfirmDialog

        row = self._current()
        if row is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.remove(row["id"], row["name"])

        self.app.push_screen(
            ConfirmDialog(_("Remove the mail account {name} and its synced messages? The feeds keep their entries.").format(name=row["name"])),
            confirmed,
        )

    @work(thread=True, group="settings-email-write")
    def remove(self, account_id: int, name: str) -> None:
        from tscrm.core.services.mail_accounts import remove_account

        try:
            with self.ctx.db.write() as session:
                remove_account(session, self.ctx.actor, account_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self.app.notify, _("Mail account removed: {name}").format(name=name))
        self.app.call_from_thread(self.refresh_data)


class AccountDialog(ModalScreen[int | None]):
    """A new account: a preset fills the servers; custom asks for them."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel")), Binding("ctrl+s", "save", N_("Save"))]
    DEFAULT_CSS = dialog_css("AccountDialog") + """
    AccountDialog > Vertical { width: 90; }
    AccountDialog VerticalScroll { height: auto; max-height: 30; }
    AccountDialog .row > .label { width: 18; }
    """

    def compose(self) -> ComposeResult:
        from tscrm.core.services.mail_accounts import PRESETS

        presets = [(p.label, key.value if hasattr(key, "value") else str(key)) for key, p in PRESETS.items()]
        presets.append((_("Other server"), "custom"))
        security = [("SSL/TLS", "ssl"), ("STARTTLS", "starttls"), (_("none (test servers only)"), "none")]
        with Vertical():
            yield Static(_("New mail account"), classes="dialog-title")
            with VerticalScroll():
                for key, label, widget in (
                    ("preset", _("Provider"), Select(presets, value=presets[0][1], allow_blank=False, id="acc-preset")),
                    ("name", _("Name"), Input(placeholder=_("e.g. Sales inbox"), id="acc-name")),
                    ("email", _("Address"), Input(placeholder="sales@example.com", id="acc-email")),
                    ("password", _("Password"), Input(password=True, placeholder=_("app password for Gmail / Yahoo / Yandex"), id="acc-password")),
                    ("username", _("Login"), Input(placeholder=_("default: the address"), id="acc-username")),
                    ("imap_host", _("IMAP server"), Input(id="acc-imap-host")),
                    ("imap_port", _("IMAP port"), Input(id="acc-imap-port")),
                    ("imap_security", _("IMAP security"), Select(security, value="ssl", allow_blank=False, id="acc-imap-security")),
                    ("smtp_host", _("SMTP server"), Input(id="acc-smtp-host")),
                    ("smtp_port", _("SMTP port"), Input(id="acc-smtp-port")),
                    ("smtp_security", _("SMTP security"), Select(security, value="ssl", allow_blank=False, id="acc-smtp-security")),
                ):
                    with Horizontal(classes="row", id=f"row-{key}"):
                        yield Static(label, classes="label")
                        yield widget
                yield Checkbox(_("Shared (the team can use it)"), id="acc-shared")
            yield Static("", id="acc-error", classes="dialog-error")
            yield Static(_("A provider fills the servers; Other server asks for them · ctrl+s saves · escape cancels"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="acc-save")
                yield Button(_("Cancel"), id="acc-cancel")

    def on_mount(self) -> None:
        self.query_one("#acc-name", Input).focus()
        self._preset_changed()

    @on(Select.Changed, "#acc-preset")
    def _preset_changed(self) -> None:
        custom = self.query_one("#acc-preset", Select).value == "custom"
        for key in ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security"):
            self.query_one(f"#row-{key}").display = custom

    @on(Button.Pressed, "#acc-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def values(self) -> dict[str, Any]:
        def text(widget_id: str) -> str:
            return self.query_one(widget_id, Input).value.strip()

        preset = str(self.query_one("#acc-preset", Select).value)
        values: dict[str, Any] = {
            "preset": preset,
            "name": text("#acc-name"),
            "email": text("#acc-email"),
            "password": self.query_one("#acc-password", Input).value,
            "username": text("#acc-username") or None,
            "shared": self.query_one("#acc-shared", Checkbox).value,
        }
        if preset == "custom":
            values.update(
                imap_host=text("#acc-imap-host"),
                imap_port=text("#acc-imap-port") or None,
                imap_security=str(self.query_one("#acc-imap-security", Select).value),
                smtp_host=text("#acc-smtp-host"),
                smtp_port=text("#acc-smtp-port") or None,
                smtp_security=str(self.query_one("#acc-smtp-security", Select).value),
            )
        return values

    @on(Button.Pressed, "#acc-save")
    def action_save(self) -> None:
        self.save(self.values())

    @work(thread=True, exclusive=True, group="account-save")
    def save(self, values: dict[str, Any]) -> None:
        from tscrm.core.services.mail_accounts import add_account

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.write() as session:
                account_id = add_account(session, ctx.actor, **values).id
        except TscrmError as exc:
            self.app.call_from_thread(self.query_one("#acc-error", Static).update, str(exc))
            return
        self.app.call_from_thread(self.dismiss, account_id)
