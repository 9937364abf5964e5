"""The card of one client: contact data and deals on the left, the activity feed on the right.

Keys: x call, s SMS, m email, e edit, t new task, d new deal, o add a note, f (or k) cycles the feed
filter, Enter on a deal opens it, escape closes the card; R answers an email of the feed. Email opens
the compose dialog (tscrm.tui.screens.compose); x calls the first phone through the call widget
(tscrm.tui.widgets.call_widget), s opens the SMS dialog for the mobile (or first) phone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.card_base import ContactCardScreen, append_rows

FEED_LIMIT = 300  # the newest entries, shown oldest first


# --- what "SMS" says for a client without a phone ----------------------------------------------


def sms_message(name: str, phones: list[dict[str, str]], region: str | None) -> tuple[str, str]:
    from tscrm.core.phones import format_phone

    if not phones:
        return _("{name} has no phone number.").format(name=name), "warning"
    mobile = next((p for p in phones if p["kind"] == "mobile"), phones[0])
    return (
        _("SMS come with the telephony integration, not connected yet. {name}'s number: {number}.").format(
            name=name, number=format_phone(mobile["number"], region)
        ),
        "information",
    )


# --- data ---------------------------------------------------------------------------------------


@dataclass
class ClientCardData:
    """Everything the card shows, read in one worker."""

    record: dict[str, Any]  # tscrm.cli.records.contact_records shape
    custom_labels: dict[str, str] = field(default_factory=dict)
    deals: list[dict[str, Any]] = field(default_factory=list)  # tscrm.cli.records.deal_records shape
    feed: list[Any] = field(default_factory=list)
    authors: dict[int, str] = field(default_factory=dict)
    dial_without_country_code: bool = False


def load_card(session, actor, client_id: int) -> ClientCardData:
    from sqlmodel import col, select

    from tscrm.present import user_names
    from tscrm.present.records import contact_records, deal_records
    from tscrm.core.models import Deal
    from tscrm.core.permissions import Right
    from tscrm.core.services import activity, clients, contacts
    from tscrm.core.services.company import get_company

    client = clients.get_client(session, actor, client_id)
    record = contact_records(session, "client", [client])[0]
    deals = session.exec(select(Deal).where(Deal.client_id == client_id).order_by(col(Deal.created_at), col(Deal.id))).all()
    visible = [d for d in deals if d.owner_id == actor.id or actor.can(Right.SEE_ALL)]  # as services.deals.get_deal
    entries = activity.feed(session, client_id=client_id, limit=FEED_LIMIT, newest_first=True)[::-1]
    return ClientCardData(
        record=record,
        custom_labels={f.key: f.label for f in contacts.custom_fields(session, "client")},
        deals=deal_records(session, visible),
        feed=entries,
        authors=user_names(session, (e.author_id for e in entries)),
        dial_without_country_code=get_company(session).dial_without_country_code,
    )


# --- the card -----------------------------------------------------------------------------------


class ClientCardScreen(ContactCardScreen):
    KIND = "client"
    CSS_PATH = "client_card.tcss"
    CARD_TITLE = N_("Client")
    FOCUS_FEED = True
    RECORD_ACTIONS = frozenset({"call", "sms", "email", "reply", "edit", "task", "deal", "note"})
    BINDINGS = [
        Binding("x", "call", N_("Call")),
        Binding("s", "sms", N_("SMS")),
        Binding("m", "email", N_("Email")),
        Binding("e", "edit", N_("Edit")),
        Binding("t", "task", N_("Task")),
        Binding("d", "deal", N_("Deal")),
        Binding("o", "note", N_("Note")),
        Binding("f,k", "feed_filter", N_("Feed filter"), key_display="f"),
        Binding("R", "reply", N_("Reply to an email"), show=False),
    ]

    def __init__(self, client_id: int) -> None:
        super().__init__(client_id)
        self.client_id = client_id
        self.data: ClientCardData | None = None

    def compose_left(self) -> ComposeResult:
        yield Static(_("Deals"), id="client-deals-title")
        yield OptionList(id="client-deals")

    # -- data ---------------------------------------------------------------------------------

    def read(self, session, actor) -> ClientCardData:
        return load_card(session, actor, self.client_id)

    def show_more(self, data: ClientCardData) -> None:
        self._show_deals(data.deals)

    def _show_deals(self, deals: list[dict[str, Any]]) -> None:
        from tscrm.present import format_money
        from tscrm.labels import DEAL_STATUSES, label

        options = self.query_one("#client-deals", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        if not deals:
            options.add_option(Option(Text(_("No deals yet: d opens one."), style="dim"), id="none", disabled=True))
            return
        for deal in deals:
            line = Text()
            line.append(deal["title"], style="bold")
            line.append(" · ")
            line.append(format_money(deal["amount"], deal["currency"]), style="cyan")
            line.append(" · ")
            line.append(label(DEAL_STATUSES, deal["status"]), style="dim")
            options.add_option(Option(line, id=f"deal-{deal['id']}"))
        if highlighted is not None:
            options.highlighted = min(highlighted, len(deals) - 1)

    def render_record(self, text: Text, data: ClientCardData) -> None:
        from tscrm.core.phones import format_phone
        from tscrm.labels import PHONE_KINDS, label
        from tscrm.present import show_time

        record = data.record
        region = self.ctx.region
        text.append(record["name"] + "\n", style="bold")
        if record["company"]:
            text.append(record["company"] + "\n", style="italic")
        text.append("\n")
        rows: list[tuple[str, str | None]] = [(_("Position"), record["position"]), (_("Address"), record["address"])]
        for phone in record["phones"]:
            rows.append((_("Phone"), f"{format_phone(phone['number'], region)} ({label(PHONE_KINDS, phone['kind'])})"))
        for email in record["emails"]:
            rows.append((_("Email"), email))
        rows += [
            (_("Tags"), ", ".join(record["tags"])),
            (_("Responsible"), record["owner"] or _("nobody")),
            (_("Source"), record["source"]),
            (_("Added"), show_time(record["created_at"], self.ctx.actor.timezone)),
        ]
        rows += [(data.custom_labels.get(key, key), str(value)) for key, value in sorted(record["custom"].items())]
        append_rows(text, rows)

    # -- actions ------------------------------------------------------------------------------

    def _say(self, message_and_severity: tuple[str, str]) -> None:
        message, severity = message_and_severity
        self.notify(message, severity=severity, timeout=10)  # type: ignore[arg-type]

    def action_sms(self) -> None:
        from tscrm.tui.screens.sms_dialog import SmsDialog

        if self.record is None:
            return
        phones = self.record["phones"]
        if not phones:
            self._say(sms_message(self.record["name"], phones, self.ctx.region))
            return
        mobile = next((p for p in phones if p["kind"] == "mobile"), phones[0])
        self.app.push_screen(SmsDialog(mobile["number"], about=self.record["name"]))

    def action_deal(self) -> None:
        from tscrm.tui.screens.deal_dialog import DealDialog

        name = self.record["name"] if self.record else ""
        self.app.push_screen(DealDialog(self.client_id, about=name), self._after_dialog)

    @on(OptionList.OptionSelected, "#client-deals")
    def _deal_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith("deal-"):
            self.post_message(OpenRecord("deal", int(option_id.removeprefix("deal-"))))
