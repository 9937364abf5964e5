"""Open a deal for a client: title, amount, currency (the base one or one with a rate), stage.

``DealDialog(client_id)`` writes the deal itself and dismisses with its id (None: cancelled).
Keys: Enter or ctrl+s saves, escape cancels.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css

STAGES = ("new", "in_progress", "decision_pending", "payment_expected", "won", "cancelled")


class DealDialog(ModalScreen[int | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save")),
    ]
    DEFAULT_CSS = dialog_css("DealDialog")

    def __init__(self, client_id: int, *, about: str = "") -> None:
        """``about``: the client's name for the title (optional)."""
        super().__init__()
        self.client_id = client_id
        self.about = about
        self.saving = False

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        from tscrm.labels import DEAL_STATUSES, label

        base = self.ctx.base_currency
        title = _("New deal for {name}").format(name=self.about) if self.about else _("New deal")
        with Vertical(id="deal-box"):
            yield Static(title, classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("Title"), classes="label")
                yield Input(placeholder=_("e.g. Fibre 600 Mb, 24 months"), id="deal-title")
            with Horizontal(classes="row"):
                yield Static(_("Amount"), classes="label")
                yield Input("0", placeholder="1234.50", id="deal-amount")
            with Horizontal(classes="row"):
                yield Static(_("Currency"), classes="label")
                yield Select([(base, base)], value=base, allow_blank=False, id="deal-currency")
            with Horizontal(classes="row"):
                yield Static(_("Stage"), classes="label")
                yield Select([(label(DEAL_STATUSES, s), s) for s in STAGES], value="new", allow_blank=False, id="deal-status")
            yield Static("", id="deal-error", classes="dialog-error")
            yield Static(_("Enter or ctrl+s saves · escape cancels"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="deal-save")
                yield Button(_("Cancel"), id="deal-cancel")

    def on_mount(self) -> None:
        self.query_one("#deal-title", Input).focus()
        self.load_currencies()

    @work(thread=True, exclusive=True, group="deal-currencies")
    def load_currencies(self) -> None:
        from tscrm.core.services import company

        with self.ctx.db.read() as session:
            codes = sorted(company.rates(session))
        self.app.call_from_thread(self._currencies, codes)

    def _currencies(self, codes: list[str]) -> None:
        select = self.query_one("#deal-currency", Select)
        current = select.value
        select.set_options([(code, code) for code in codes])
        select.value = current if current in codes else self.ctx.base_currency

    @on(Button.Pressed, "#deal-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#deal-save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        if self.saving:
            return
        self.saving = True
        self.save(
            {
                "title": self.query_one("#deal-title", Input).value,
                "amount": self.query_one("#deal-amount", Input).value,
                "currency": str(self.query_one("#deal-currency", Select).value),
                "status": str(self.query_one("#deal-status", Select).value),
            }
        )

    @work(thread=True, exclusive=True, group="deal-save")
    def save(self, fields: dict[str, Any]) -> None:
        from tscrm.core.services import deals

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                deal_id = deals.create_deal(session, ctx.actor, client_id=self.client_id, **fields).id
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._saved, deal_id)

    def _saved(self, deal_id: int | None) -> None:
        self.app.notify(_("Deal created."))
        self.dismiss(deal_id)

    def _error(self, message: str) -> None:
        self.saving = False
        self.query_one("#deal-error", Static).update(message)
