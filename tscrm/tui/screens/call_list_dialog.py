"""Add to call list: a new call list for the auto-dialer from clients (a Clients selection) or leads.

The dialog asks the list's name, whether colleagues may work it too (shared: each number goes to one
agent) and whether to call every phone of each client or only the first (the telephony setting by
default). Creating it shows the report: how many numbers to call, and what was left out and why
(on the do-not-call list, twice in the list, no phone). From there, d opens the Dialer.
Keys: ctrl+s creates, d opens the Dialer once created, escape closes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css


def default_list_name(about: str, now: Any, tz: str) -> str:
    from tscrm.present import get_zone

    return f"{about} {now.astimezone(get_zone(tz)).strftime('%Y-%m-%d %H:%M')}"


class CallListDialog(ModalScreen[int | None]):
    """Dismisses with the new list's id (None: nothing created)."""

    BINDINGS = [
        Binding("escape", "close", N_("Close")),
        Binding("ctrl+s", "create", N_("Create")),
        Binding("d", "open_dialer", N_("Open the Dialer"), show=False),
    ]
    DEFAULT_CSS = dialog_css("CallListDialog") + """
    CallListDialog > Vertical { width: 84; }
    CallListDialog #call-list-report { height: auto; max-height: 16; }
    CallListDialog Checkbox { margin: 0 0 0 16; }
    """

    def __init__(self, *, target: Any = None, lead_ids: list[int] | None = None, about: str = "") -> None:
        """``target``: a tscrm.tui.screens.clients.BulkTarget (clients); or ``lead_ids``."""
        super().__init__(id="call-list-dialog")
        self.target = target
        self.lead_ids = list(lead_ids or [])
        self.about = about or (target.describe() if target is not None else _("{n} lead(s)").format(n=len(self.lead_ids)))
        self.created: int | None = None
        self.busy = False
        self.ready = False  # the telephony setting's "all phones" default is shown

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        from tscrm.core.types import utcnow

        with Vertical():
            yield Static(_("New call list with {what}").format(what=self.about), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("Name"), classes="label")
                yield Input(default_list_name(_("Call list"), utcnow(), self.ctx.actor.timezone), id="call-list-name")
            yield Checkbox(_("Shared: colleagues may work it too (each number goes to one agent)"), id="call-list-shared")
            yield Checkbox(_("Every phone of each client (else only the first)"), id="call-list-all-phones")
            yield Static("", id="call-list-error", classes="dialog-error")
            with VerticalScroll(id="call-list-report"):
                yield Static("", id="call-list-report-text")
            yield Static(_("ctrl+s creates · escape closes"), id="call-list-hint", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Create"), variant="primary", id="call-list-create")
                yield Button(_("Open the Dialer"), id="call-list-dialer")
                yield Button(_("Close"), id="call-list-close")

    def on_mount(self) -> None:
        self.query_one("#call-list-dialer").display = False
        self.query_one("#call-list-report").display = False
        self.query_one("#call-list-name", Input).focus()
        self.load_default()

    @work(thread=True, group="call-list-dialog", exit_on_error=False)
    def load_default(self) -> None:
        from tscrm.core.services.dialer import dial_all_phones_default

        with self.ctx.db.read() as session:
            value = dial_all_phones_default(session)
        self.app.call_from_thread(self._default_loaded, value)

    def _default_loaded(self, all_phones: bool) -> None:
        self.query_one("#call-list-all-phones", Checkbox).value = all_phones
        self.ready = True

    @on(Button.Pressed, "#call-list-create")
    def _create_pressed(self) -> None:
        self.action_create()

    @on(Button.Pressed, "#call-list-dialer")
    def _dialer_pressed(self) -> None:
        self.action_open_dialer()

    @on(Button.Pressed, "#call-list-close")
    def _close_pressed(self) -> None:
        self.action_close()

    @on(Input.Submitted, "#call-list-name")
    def _name_submitted(self) -> None:
        self.action_create()

    def action_close(self) -> None:
        self.dismiss(self.created)

    def action_open_dialer(self) -> None:
        if self.created is None:
            return
        from tscrm.tui.screens.dialer import open_dialer

        self.dismiss(self.created)
        open_dialer(self.app)

    def action_create(self) -> None:
        if self.busy or self.created is not None:
            return
        self.busy = True
        self.query_one("#call-list-error", Static).update("")
        self.create(
            self.query_one("#call-list-name", Input).value,
            self.query_one("#call-list-shared", Checkbox).value,
            self.query_one("#call-list-all-phones", Checkbox).value,
        )

    @work(thread=True, exclusive=True, group="call-list-create", exit_on_error=False)
    def create(self, name: str, shared: bool, all_phones: bool) -> None:
        from tscrm.core.services import dialer

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                client_ids = self.target.resolve(session, ctx.actor) if self.target is not None else []
                report = dialer.create_list(
                    session, ctx.actor, name=name, client_ids=client_ids, lead_ids=self.lead_ids, shared=shared, all_phones=all_phones
                )
                summary = {
                    "id": report.list.id,
                    "name": report.list.name,
                    "added": report.added,
                    "skipped": [(number, dialer.skip_reason_text(reason)) for number, reason in report.skipped],
                    "no_phone": list(report.no_phone),
                }
        except TscrmError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._created, summary)

    def _failed(self, message: str) -> None:
        self.busy = False
        self.query_one("#call-list-error", Static).update(message)

    def _created(self, summary: dict[str, Any]) -> None:
        from tscrm.core.phones import format_phone

        self.busy = False
        self.created = summary["id"]
        region = self.ctx.region
        text = Text()
        text.append(_("Call list {name!r} created: {n} number(s) to call.").format(name=summary["name"], n=summary["added"]) + "\n", style="bold")
        if summary["skipped"]:
            text.append(_("Left out ({n}):").format(n=len(summary["skipped"])) + "\n")
            for number, reason in summary["skipped"]:
                text.append(f"  {format_phone(number, region)}: {reason}\n", style="yellow")
        if summary["no_phone"]:
            text.append(_("Without a phone ({n}): {names}").format(n=len(summary["no_phone"]), names=", ".join(summary["no_phone"])) + "\n", style="dim")
        text.rstrip()
        self.query_one("#call-list-report-text", Static).update(text)
        self.query_one("#call-list-report").display = True
        for widget_id in ("#call-list-create", "#call-list-name", "#call-list-shared", "#call-list-all-phones"):
            self.query_one(widget_id).disabled = True
        self.query_one("#call-list-dialer").display = True
        self.query_one("#call-list-hint", Static).update(_("d opens the Dialer · escape closes"))
        self.query_one("#call-list-dialer", Button).focus()
        self.app.refresh_screens()  # type: ignore[attr-defined]


# --- from the Leads screen ------------------------------------------------------------------------


def leads_to_call_list(screen: Any, scope: str, current: Any, total: int | None) -> None:
    """The Leads screen's "Add to call list": the highlighted lead, or every lead of the tab."""
    from tscrm.tui.screens.clients import ChoiceDialog

    options = []
    if current is not None:
        options.append(("one", _("The highlighted lead: {name}").format(name=current.name)))
    options.append(("tab", _("Every lead of this tab ({n})").format(n=total) if total is not None else _("Every lead of this tab")))

    def chosen(choice: str | None) -> None:
        if choice == "one" and current is not None:
            screen.app.push_screen(CallListDialog(lead_ids=[current.id], about=current.name))
        elif choice == "tab":
            _tab_leads(screen, scope)

    screen.app.push_screen(ChoiceDialog(_("Add to call list"), options, dialog_id="call-list-menu"), chosen)


def _tab_leads(screen: Any, scope: str) -> None:
    app = screen.app

    def work_() -> None:
        from tscrm.core.services import leads

        ctx = app.ctx
        try:
            with ctx.db.read() as session:
                found = leads.page_leads(session, ctx.actor, leads.LeadFilter(scope=scope), limit=1_000_000)  # type: ignore[arg-type]
                ids = [lead.id for lead in found]
        except TscrmError as exc:
            app.call_from_thread(app.notify, str(exc), severity="error")
            return
        if not ids:
            app.call_from_thread(app.notify, _("No lead here to call."), severity="warning")
            return
        app.call_from_thread(app.push_screen, CallListDialog(lead_ids=ids))

    app.run_worker(work_, thread=True, group="call-list-leads", exit_on_error=False)
