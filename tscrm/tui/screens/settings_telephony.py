"""Settings → Telephony: how this user's phone works, and (for admins) the company's PBX.

Mine: mode (softphone / desk phone / softphone in working hours), the SIP account (server, port, user,
password — the password goes to the keyring or the encrypted store and is never shown back), the side
the call widget docks on, and automatic leads for calls from and to unknown numbers.
Company (needs the team right): the Zadarma API key and secret, "call without country code",
"ring the client's owner first", and the table of our numbers (DIDs) → source label.
ctrl+s saves the tab; in the DID table, delete removes the highlighted number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, DataTable, Input, Select, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.settings import SettingsPane

TITLE = N_("Telephony")
ORDER = 20

MODES: tuple[tuple[str, str], ...] = (
    ("softphone", N_("Softphone: tscrm is the phone (SIP)")),
    ("desk_phone", N_("Desk phone: the PBX rings my phone, then the client")),
    ("softphone_working_hours", N_("Softphone in working hours only")),
)
SIDES: tuple[tuple[str, str], ...] = (("right", N_("right")), ("left", N_("left")))


@dataclass
class TelephonyForm:
    """What the tab shows (read in one worker)."""

    mode: str = "desk_phone"
    sip_server: str = ""
    sip_port: int = 5060
    sip_username: str = ""
    has_password: bool = False
    widget_side: str = "right"
    auto_lead_incoming: bool = False
    auto_lead_outgoing: bool = False
    admin: bool = False
    zadarma_key: str = ""
    has_zadarma_secret: bool = False
    dial_without_country_code: bool = False
    route_to_owner: bool = False
    dids: list[tuple[str, str]] = field(default_factory=list)


def load_form(session, actor) -> TelephonyForm:
    from tscrm.core.permissions import Right
    from tscrm.core.services import telephony
    from tscrm.core.services.company import get_company

    mine = telephony.user_settings(session, actor.id)
    company = telephony.company_settings(session)
    return TelephonyForm(
        mode=str(getattr(mine.mode, "value", mine.mode)),
        sip_server=mine.sip_server or "",
        sip_port=mine.sip_port or 5060,
        sip_username=mine.sip_username or "",
        has_password=bool(mine.sip_secret_ref),
        widget_side=mine.widget_side or "right",
        auto_lead_incoming=mine.auto_lead_incoming,
        auto_lead_outgoing=mine.auto_lead_outgoing,
        admin=actor.can(Right.MANAGE_TEAM),
        zadarma_key=company.zadarma_key or "",
        has_zadarma_secret=bool(company.zadarma_secret_ref),
        dial_without_country_code=get_company(session).dial_without_country_code,
        route_to_owner=company.route_to_owner,
        dids=[(d.did, d.label) for d in telephony.did_labels(session)],
    )


def save_form(session, actor, values: dict[str, Any]) -> None:
    """Write the tab: the user's part always, the company's part when the actor is an admin."""
    from tscrm.core.permissions import Right
    from tscrm.core.services import telephony
    from tscrm.core.services.company import set_dial_without_country_code

    telephony.save_user_settings(
        session,
        actor,
        actor.id,
        mode=values["mode"],
        sip_server=values["sip_server"],
        sip_port=values["sip_port"] or 5060,
        sip_username=values["sip_username"],
        widget_side=values["widget_side"],
        auto_lead_incoming=values["auto_lead_incoming"],
        auto_lead_outgoing=values["auto_lead_outgoing"],
    )
    if values["sip_password"]:
        telephony.set_sip_password(session, actor, actor.id, values["sip_password"])
    if not actor.can(Right.MANAGE_TEAM):
        return
    telephony.save_company_settings(
        session, actor, zadarma_key=values["zadarma_key"], route_to_owner=values["route_to_owner"]
    )
    if values["zadarma_secret"]:
        telephony.set_zadarma_secret(session, actor, values["zadarma_secret"])
    set_dial_without_country_code(session, actor, values["dial_without_country_code"])


class Pane(SettingsPane, VerticalScroll):
    BINDINGS = [
        Binding("ctrl+s", "save", N_("Save")),
        Binding("delete", "remove_did", N_("Remove number"), show=False),
    ]
    DEFAULT_CSS = """
    #settings-telephony-pane { height: 1fr; }
    Pane .tel-heading { text-style: bold; padding: 1 0 0 0; }
    Pane .tel-row { height: auto; }
    Pane .tel-row > .tel-label { width: 24; padding: 1 1 0 0; }
    Pane .tel-row > Input, Pane .tel-row > Select { width: 1fr; max-width: 60; }
    Pane .tel-row > #tel-sip-port { max-width: 12; }
    Pane #tel-dids { height: auto; max-height: 10; margin-top: 1; }
    Pane #tel-result { height: auto; padding: 1 0; }
    Pane #tel-save-row { height: auto; margin-top: 1; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.form: TelephonyForm | None = None

    def compose(self) -> ComposeResult:
        yield Static(_("My phone"), classes="tel-heading")
        yield self._row(_("Mode"), Select([(_(text), value) for value, text in MODES], allow_blank=False, id="tel-mode"))
        yield self._row(_("SIP server"), Input(placeholder="pbx.example.com", id="tel-sip-server"))
        yield self._row(_("SIP port"), Input("5060", id="tel-sip-port", type="integer"))
        yield self._row(_("SIP user"), Input(id="tel-sip-user"))
        yield self._row(_("SIP password"), Input(password=True, id="tel-sip-password"))
        yield self._row(_("Call widget side"), Select([(_(text), value) for value, text in SIDES], allow_blank=False, id="tel-side"))
        yield Checkbox(_("Create a lead for incoming calls from unknown numbers"), id="tel-auto-in")
        yield Checkbox(_("Create a lead for outgoing calls to unknown numbers"), id="tel-auto-out")
        yield Static(_("Company (admins)"), classes="tel-heading", id="tel-company-heading")
        yield self._row(_("Zadarma API key"), Input(id="tel-zadarma-key"))
        yield self._row(_("Zadarma API secret"), Input(password=True, id="tel-zadarma-secret"))
        yield Checkbox(_("Call without country code (national format)"), id="tel-no-cc")
        yield Checkbox(_("Ring a known client's owner first"), id="tel-route-owner")
        yield Static(_("Our numbers (DID) → source label of their callers"), classes="tel-heading", id="tel-dids-heading")
        table: DataTable = DataTable(id="tel-dids", cursor_type="row")
        table.add_columns(_("Number"), _("Source label"))
        yield table
        with Horizontal(classes="tel-row", id="tel-did-row"):
            yield Input(placeholder=_("Number, e.g. +34 910 000 000"), id="tel-did-number")
            yield Input(placeholder=_("Source label, e.g. Billboard"), id="tel-did-label")
            yield Button(_("Add"), id="tel-did-add", compact=True)
        with Horizontal(id="tel-save-row"):
            yield Button(_("Save"), id="tel-save", variant="primary")
        yield Static("", id="tel-result")

    @staticmethod
    def _row(label: str, widget) -> Horizontal:
        return Horizontal(Static(label, classes="tel-label"), widget, classes="tel-row")

    def refresh_data(self) -> None:
        if self.form is None:  # later reloads would overwrite what the user is typing
            self.load()

    @work(thread=True, exclusive=True, group="settings-telephony")
    def load(self) -> None:
        try:
            with self.ctx.db.read() as session:
                form = load_form(session, self.ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self._show, form)

    def _show(self, form: TelephonyForm) -> None:
        self.form = form
        self.query_one("#tel-mode", Select).value = form.mode
        self.query_one("#tel-sip-server", Input).value = form.sip_server
        self.query_one("#tel-sip-port", Input).value = str(form.sip_port)
        self.query_one("#tel-sip-user", Input).value = form.sip_username
        password = self.query_one("#tel-sip-password", Input)
        password.value = ""
        password.placeholder = _("set (type to change)") if form.has_password else _("not set")
        self.query_one("#tel-side", Select).value = form.widget_side
        self.query_one("#tel-auto-in", Checkbox).value = form.auto_lead_incoming
        self.query_one("#tel-auto-out", Checkbox).value = form.auto_lead_outgoing
        self.query_one("#tel-zadarma-key", Input).value = form.zadarma_key
        secret = self.query_one("#tel-zadarma-secret", Input)
        secret.value = ""
        secret.placeholder = _("set (type to change)") if form.has_zadarma_secret else _("not set")
        self.query_one("#tel-no-cc", Checkbox).value = form.dial_without_country_code
        self.query_one("#tel-route-owner", Checkbox).value = form.route_to_owner
        for widget in self.query("#tel-company-heading, #tel-zadarma-key, #tel-zadarma-secret, #tel-no-cc, #tel-route-owner, #tel-did-row"):
            widget.disabled = not form.admin
        self._show_dids(form.dids)

    def _show_dids(self, dids: list[tuple[str, str]]) -> None:
        from tscrm.core.phones import format_phone

        table = self.query_one("#tel-dids", DataTable)
        table.clear()
        for did, label in dids:
            table.add_row(format_phone(did, self.ctx.region), label, key=did)

    def _result(self, message: str, error: bool = False) -> None:
        self.query_one("#tel-result", Static).update(Text(message, style="red" if error else "green"))

    # -- saving ---------------------------------------------------------------------------------

    def values(self) -> dict[str, Any]:
        port = self.query_one("#tel-sip-port", Input).value.strip()
        return {
            "mode": self.query_one("#tel-mode", Select).value,
            "sip_server": self.query_one("#tel-sip-server", Input).value,
            "sip_port": int(port) if port.isdigit() else port,
            "sip_username": self.query_one("#tel-sip-user", Input).value,
            "sip_password": self.query_one("#tel-sip-password", Input).value,
            "widget_side": self.query_one("#tel-side", Select).value,
            "auto_lead_incoming": self.query_one("#tel-auto-in", Checkbox).value,
            "auto_lead_outgoing": self.query_one("#tel-auto-out", Checkbox).value,
            "zadarma_key": self.query_one("#tel-zadarma-key", Input).value,
            "zadarma_secret": self.query_one("#tel-zadarma-secret", Input).value,
            "dial_without_country_code": self.query_one("#tel-no-cc", Checkbox).value,
            "route_to_owner": self.query_one("#tel-route-owner", Checkbox).value,
        }

    def action_save(self) -> None:
        self.save(self.values())

    @on(Button.Pressed, "#tel-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @work(thread=True, exclusive=True, group="settings-telephony-save")
    def save(self, values: dict[str, Any]) -> None:
        try:
            with self.ctx.db.write() as session:
                save_form(session, self.ctx.actor, values)
            with self.ctx.db.read() as session:
                form = load_form(session, self.ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self._saved, form)

    def _saved(self, form: TelephonyForm) -> None:
        from tscrm.tui.widgets.call_widget import CallDock

        self._show(form)
        self._result(_("Telephony settings saved."))
        phone = getattr(self.app, "phone", None)
        if phone is not None:
            phone.side = form.widget_side
            for dock in self.app.screen.query(CallDock):
                dock.apply_side(form.widget_side)
            if getattr(self.app, "telephony", True):
                phone.restart()

    # -- DID → source label ---------------------------------------------------------------------

    @on(Button.Pressed, "#tel-did-add")
    def _add_did(self, event: Button.Pressed) -> None:
        event.stop()
        number = self.query_one("#tel-did-number", Input).value.strip()
        label = self.query_one("#tel-did-label", Input).value.strip()
        self.change_did(number, label)

    def action_remove_did(self) -> None:
        table = self.query_one("#tel-dids", DataTable)
        if self.form is None or not self.form.dids or table.cursor_row is None or self.app.focused is not table:
            return
        self.change_did(self.form.dids[table.cursor_row][0], None)

    @work(thread=True, exclusive=True, group="settings-telephony-did")
    def change_did(self, number: str, label: str | None) -> None:
        from tscrm.core.services import telephony

        try:
            with self.ctx.db.write() as session:
                if label is None:
                    telephony.remove_did_label(session, self.ctx.actor, number)
                else:
                    telephony.set_did_label(session, self.ctx.actor, number, label)
            with self.ctx.db.read() as session:
                dids = [(d.did, d.label) for d in telephony.did_labels(session)]
        except TscrmError as exc:
            self.app.call_from_thread(self._result, str(exc), True)
            return
        self.app.call_from_thread(self._dids_changed, dids, label is None)

    def _dids_changed(self, dids: list[tuple[str, str]], removed: bool) -> None:
        if self.form is not None:
            self.form.dids = dids
        self._show_dids(dids)
        if not removed:
            self.query_one("#tel-did-number", Input).value = ""
            self.query_one("#tel-did-label", Input).value = ""
        self._result(_("Number removed.") if removed else _("Number added."))
