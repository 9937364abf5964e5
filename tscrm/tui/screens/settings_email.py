"""Settings → Email: the mail accounts the user sees; add, test (logs in to IMAP and SMTP), remove.

Keys (with the table focused): n adds an account (presets fill the servers), t tests the highlighted
one, delete removes it (asks first), r reloads. Sending and syncing use these accounts; passwords go
to the keyring or the encrypted store (tscrm.core.secrets), never to the table.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Select

from tscrm.i18n import N_, _
from tscrm.tui.screens import account_settings as accounts

TITLE = N_("Email")
ORDER = 10

COLUMNS = accounts.account_columns(("email", N_("Address")), ("imap", N_("IMAP")), ("smtp", N_("SMTP")), ("kind", N_("Shared")))


def account_rows(session, actor) -> list[dict[str, Any]]:
    from tscrm.core.services.mail_accounts import list_accounts

    return [
        accounts.account_row(
            a,
            email=a.email,
            imap=f"{a.imap_host}:{a.imap_port} ({a.imap_security.value})",
            smtp=f"{a.smtp_host}:{a.smtp_port} ({a.smtp_security.value})",
            shared=a.shared,
        )
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


class Pane(accounts.AccountsPane, Vertical):
    BINDINGS = accounts.account_bindings()
    DEFAULT_CSS = accounts.pane_css("email")
    PREFIX = "email"
    SERVICE = "tscrm.core.services.mail_accounts"
    COLUMNS = COLUMNS
    NOTE = N_("Mail accounts: n adds, t tests, delete removes.")
    EMPTY = N_("No mail account yet: n adds one (Gmail, Outlook, Yahoo, Zoho, Yandex or your own server).")
    ADDED = N_("Mail account {id} added.")
    REMOVED = N_("Mail account removed: {name}")
    CONFIRM_REMOVE = N_("Remove the mail account {name} and its synced messages? The feeds keep their entries.")

    account_rows = staticmethod(account_rows)
    check = staticmethod(check_account)

    def cells(self, row: dict[str, Any]) -> tuple[Any, ...]:
        shared = _("yes") if row["shared"] else _("personal")
        return str(row["id"]), row["name"], row["email"], row["imap"], row["smtp"], shared, accounts.state_cell(row)

    def new_account_dialog(self) -> AccountDialog:
        return AccountDialog()


SERVER_FIELDS = ("imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security")


class AccountDialog(accounts.NewAccountDialog):
    """A new account: a preset fills the servers; custom asks for them."""

    DEFAULT_CSS = accounts.account_dialog_css("AccountDialog", 30)
    PREFIX = "acc"
    SERVICE = Pane.SERVICE
    HEADING = N_("New mail account")
    HINT = N_("A provider fills the servers; Other server asks for them · ctrl+s saves · escape cancels")

    def fields(self) -> tuple[tuple[str, str, Widget], ...]:
        from tscrm.core.services.mail_accounts import PRESETS

        presets = [(p.label, key.value if hasattr(key, "value") else str(key)) for key, p in PRESETS.items()]
        presets.append((_("Other server"), "custom"))
        security = [("SSL/TLS", "ssl"), ("STARTTLS", "starttls"), (_("none (test servers only)"), "none")]
        return (
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
        )

    def more_fields(self) -> ComposeResult:
        yield Checkbox(_("Shared (the team can use it)"), id="acc-shared")

    def on_mount(self) -> None:
        super().on_mount()
        self._preset_changed()

    @on(Select.Changed, "#acc-preset")
    def _preset_changed(self) -> None:
        custom = self.query_one("#acc-preset", Select).value == "custom"
        for key in SERVER_FIELDS:
            self.query_one(f"#row-{key}").display = custom

    def values(self) -> dict[str, Any]:
        preset = str(self.query_one("#acc-preset", Select).value)
        values: dict[str, Any] = {
            "preset": preset,
            "name": self.text("#acc-name"),
            "email": self.text("#acc-email"),
            "password": self.query_one("#acc-password", Input).value,
            "username": self.text("#acc-username") or None,
            "shared": self.query_one("#acc-shared", Checkbox).value,
        }
        if preset == "custom":
            values.update(
                imap_host=self.text("#acc-imap-host"),
                imap_port=self.text("#acc-imap-port") or None,
                imap_security=str(self.query_one("#acc-imap-security", Select).value),
                smtp_host=self.text("#acc-smtp-host"),
                smtp_port=self.text("#acc-smtp-port") or None,
                smtp_security=str(self.query_one("#acc-smtp-security", Select).value),
            )
        return values
