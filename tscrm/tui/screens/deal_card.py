"""The card of one deal: what it is, for whom, how much, where in the pipeline; its own feed beside.

Keys: enter or c opens the client's card; shift+←/→ or [ / ] move the deal to the previous/next
stage; o adds a note; t adds a task; e edits title, amount and currency; k filters the feed;
escape closes. Everything about the deal (notes, tasks, stage changes, edits) is in its feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.card_base import CardScreen, append_rows
from tscrm.tui.screens.deals import STAGES, money, move_by, stage_label

FINAL_STAGES = ("won", "cancelled")


@dataclass
class DealCardData:
    """Everything the card shows, read in one worker."""

    record: dict[str, Any]  # tscrm.cli.records.deal_records shape
    base: str  # the company's base currency
    in_base: Decimal | None  # the amount converted; None when its currency lost its rate
    feed: list[Any] = field(default_factory=list)
    authors: dict[int, str] = field(default_factory=dict)


def load_card(session, actor, deal_id: int) -> DealCardData:
    from tscrm.present import user_names
    from tscrm.present.records import deal_records
    from tscrm.core.services import activity, company, deals

    deal = deals.get_deal(session, actor, deal_id)
    record = deal_records(session, [deal])[0]
    table = company.rates(session)
    base = company.get_company(session).base_currency
    in_base = company.to_base(deal.amount, deal.currency, table) if deal.currency in table else None
    entries = activity.feed(session, deal_id=deal_id)
    return DealCardData(record, base, in_base, entries, user_names(session, (e.author_id for e in entries)))


def pipeline_lines(status: str) -> Text:
    """The six stages one per line: passed ones ticked, the current one highlighted."""
    text = Text()
    current = STAGES.index(status)
    for i, stage in enumerate(STAGES):
        if i == current:
            style = "bold reverse " + ("magenta" if stage in FINAL_STAGES else "cyan")
            text.append(f" ▶ {stage_label(stage)} \n", style=style)
        elif i < current and stage not in FINAL_STAGES:
            text.append(f"  ✓ {stage_label(stage)}\n", style="green")
        else:
            text.append(f"    {stage_label(stage)}\n", style="dim")
    return text


class DealEditDialog(ModalScreen[dict[str, str] | None]):
    """Title, amount and currency of a deal. ctrl+s or Enter saves, escape cancels."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save")),
    ]
    DEFAULT_CSS = """
    DealEditDialog { align: center middle; }
    #edit-box { width: 70; max-width: 95%; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    #edit-box .row { height: auto; }
    #edit-box .row > Label { width: 12; padding: 1 1 0 0; }
    #edit-box .row > Input { width: 1fr; }
    #edit-hint { color: $text-muted; }
    #edit-buttons { height: auto; align-horizontal: right; }
    #edit-buttons Button { margin-left: 1; }
    """

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-box"):
            yield Static(_("Edit deal"), classes="title")
            for key, name, value in (
                ("title", _("Title"), self.record["title"]),
                ("amount", _("Amount"), str(self.record["amount"])),
                ("currency", _("Currency"), self.record["currency"]),
            ):
                with Horizontal(classes="row"):
                    yield Label(name)
                    yield Input(value, id=f"edit-{key}")
            yield Static(_("The currency needs an exchange rate in the company settings."), id="edit-hint")
            with Horizontal(id="edit-buttons"):
                yield Button(_("Save"), variant="primary", id="edit-save")
                yield Button(_("Cancel"), id="edit-cancel")

    def on_mount(self) -> None:
        self.query_one("#edit-title", Input).focus()

    @on(Button.Pressed, "#edit-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#edit-save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        changes = {key: self.query_one(f"#edit-{key}", Input).value for key in ("title", "amount", "currency")}
        # only what changed: the feed then says exactly what was edited
        original = {"title": self.record["title"], "amount": str(self.record["amount"]), "currency": self.record["currency"]}
        self.dismiss({k: v for k, v in changes.items() if v.strip() != original[k]})


class DealCardScreen(CardScreen):
    KIND = "deal"
    CSS_PATH = "deal_card.tcss"
    CARD_TITLE = N_("Deal")
    NAME_FIELD = "title"
    RECORD_ACTIONS = frozenset({"open_client", "move", "note", "task", "edit"})
    BINDINGS = [
        Binding("enter,c", "open_client", N_("Client"), key_display="⏎/c"),
        Binding("shift+left,left_square_bracket", "move(-1)", N_("Previous stage"), key_display="⇧← ["),
        Binding("shift+right,right_square_bracket", "move(1)", N_("Next stage"), key_display="⇧→ ]"),
        Binding("o", "note", N_("Note")),
        Binding("t", "task", N_("Task")),
        Binding("e", "edit", N_("Edit")),
        Binding("k", "feed_filter", N_("Feed filter")),
    ]

    def __init__(self, deal_id: int) -> None:
        super().__init__(deal_id)
        self.deal_id = deal_id
        self.data: DealCardData | None = None

    def read(self, session, actor) -> DealCardData:
        return load_card(session, actor, self.deal_id)

    def render_record(self, text: Text, data: DealCardData) -> None:
        from tscrm.present import show_time

        record, tz = data.record, self.ctx.actor.timezone
        text.append(record["title"] + "\n\n", style="bold")
        text.append(_("Client") + ": ", style="bold")
        text.append(record["client"] or "", style="underline")
        text.append("  " + _("(enter opens)") + "\n", style="dim")
        text.append(_("Amount") + ": ", style="bold")
        text.append(money(record["amount"], record["currency"]) + "\n", style="cyan")
        if record["currency"] != data.base:
            text.append(_("In {currency}").format(currency=data.base) + ": ", style="bold")
            if data.in_base is None:
                text.append(_("no exchange rate for {code}").format(code=record["currency"]) + "\n", style="yellow")
            else:
                text.append(money(data.in_base, data.base) + "\n")
        rows = (
            (_("Status"), stage_label(record["status"])),
            (_("Responsible"), record["owner"] or _("nobody")),
            (_("Created"), show_time(record["created_at"], tz)),
            (_("Closed"), show_time(record["closed_at"], tz)),
        )
        append_rows(text, rows)
        text.append("\n" + _("Pipeline") + "\n", style="bold")
        text.append(pipeline_lines(record["status"]))

    # -- which keys apply -----------------------------------------------------------------------

    def allowed(self, action: str, parameters: tuple[object, ...], record: dict[str, Any]) -> bool | None:
        if action == "move":
            step = int(parameters[0]) if parameters else 0  # type: ignore[call-overload]
            i = STAGES.index(record["status"]) + step
            return True if 0 <= i < len(STAGES) else None
        return True

    # -- actions --------------------------------------------------------------------------------

    def action_open_client(self) -> None:
        if self.record is not None:
            self.post_message(OpenRecord("client", self.record["client_id"]))

    @work(thread=True, exclusive=True, group="deal-card-write")
    def action_move(self, step: int) -> None:
        ctx = self.ctx
        try:
            target = move_by(ctx.db, ctx.actor, self.deal_id, step)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            self.app.call_from_thread(self.refresh_data)
            return
        if target is not None:
            self.app.call_from_thread(self.notify, _("Stage: {status}").format(status=stage_label(target)))
        self.app.call_from_thread(self.app.refresh_screens)  # type: ignore[attr-defined]

    def action_edit(self) -> None:
        if self.record is None:
            return

        def chosen(changes: dict[str, str] | None) -> None:
            if changes:
                self.save_edit(changes)

        self.app.push_screen(DealEditDialog(self.record), chosen)

    @work(thread=True, exclusive=True, group="deal-card-write")
    def save_edit(self, changes: dict[str, str]) -> None:
        from tscrm.core.services import deals

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                deals.update_deal(session, ctx.actor, self.deal_id, **changes)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, _("Deal saved."))
        self.app.call_from_thread(self.app.refresh_screens)  # type: ignore[attr-defined]
