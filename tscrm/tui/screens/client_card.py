"""The card of one client: contact data and deals on the left, the activity feed on the right.

Keys: x call, s SMS, m email, e edit, t new task, d new deal, o add a note, f (or k) cycles the feed
filter, Enter on a deal opens it, escape closes the card. Calls, SMS and email say plainly that they
come with the telephony and mail integrations, and show the number (or address) to use meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.widgets.feed import ActivityFeed
from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.status_header import StatusHeader

FEED_LIMIT = 300  # the newest entries, shown oldest first


# --- what "call", "SMS" and "email" say until telephony and mail land ---------------------------


def call_message(name: str, phones: list[dict[str, str]], region: str | None, without_country_code: bool) -> tuple[str, str]:
    """(message, severity) for "call": the number to dial by hand, as the PBX would dial it."""
    from tscrm.core.phones import dial_string, format_phone

    if not phones:
        return _("{name} has no phone number.").format(name=name), "warning"
    number = phones[0]["number"]
    message = _("Calls come with the telephony integration, not connected yet. Dial {dial} ({number}) for {name}.").format(
        dial=dial_string(number, region, without_country_code), number=format_phone(number, region), name=name
    )
    return message, "information"


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


def email_message(name: str, emails: list[str]) -> tuple[str, str]:
    if not emails:
        return _("{name} has no email address.").format(name=name), "warning"
    return (
        _("Email comes with the mail integration, not connected yet. {name}'s address: {email}.").format(name=name, email=emails[0]),
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

    from tscrm.cli.common import user_names
    from tscrm.cli.records import contact_records, deal_records
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


class ClientCardScreen(Screen):
    CSS_PATH = "client_card.tcss"
    BINDINGS = [
        Binding("escape", "close_card", N_("Back")),
        Binding("x", "call", N_("Call")),
        Binding("s", "sms", N_("SMS")),
        Binding("m", "email", N_("Email")),
        Binding("e", "edit", N_("Edit")),
        Binding("t", "task", N_("Task")),
        Binding("d", "deal", N_("Deal")),
        Binding("o", "note", N_("Note")),
        Binding("f,k", "feed_filter", N_("Feed filter"), key_display="f"),
    ]

    def __init__(self, client_id: int) -> None:
        super().__init__(id=f"client-card-{client_id}")
        self.client_id = client_id
        self.stale = False
        self.data: ClientCardData | None = None
        self.error: str | None = None

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    @property
    def record(self) -> dict[str, Any] | None:
        return self.data.record if self.data else None

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="client-card"):
            with VerticalScroll(id="client-left"):
                yield Static(self._render_info(), id="client-info")
                yield Static(_("Deals"), id="client-deals-title")
                yield OptionList(id="client-deals")
            yield ActivityFeed(id="client-feed")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(StatusHeader).section_title = _("Client")
        self.query_one(ActivityFeed).focus()
        self.refresh_data()

    async def recompose(self) -> None:
        """After a language switch: rebuild, then show what we have at once in the new language."""
        await super().recompose()
        if self.data is not None:
            self._show(self.data)
        self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.refresh_data()

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="client-card")
    def load(self) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                data = load_card(session, ctx.actor, self.client_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._show, data)

    def _show(self, data: ClientCardData) -> None:
        self.data, self.error = data, None
        self.query_one(StatusHeader).section_title = _("Client") + f" · {data.record['name']}"
        self.query_one("#client-info", Static).update(self._render_info())
        self._show_deals(data.deals)
        self.query_one(ActivityFeed).show(data.feed, data.authors, self.ctx.actor.timezone)
        self.refresh_bindings()

    def _show_error(self, message: str) -> None:
        self.data, self.error = None, message
        self.query_one("#client-info", Static).update(self._render_info())
        self.refresh_bindings()

    def _show_deals(self, deals: list[dict[str, Any]]) -> None:
        from tscrm.cli.common import format_money
        from tscrm.cli.labels import DEAL_STATUSES, label

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

    def _render_info(self) -> Text:
        from tscrm.cli.labels import PHONE_KINDS, label

        text = Text()
        if self.error is not None:
            text.append(self.error, style="bold red")
            return text
        record = self.record
        if record is None:
            text.append(_("Loading…"), style="dim")
            return text
        from tscrm.cli.common import show_time
        from tscrm.core.phones import format_phone

        data = self.data
        assert data is not None
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
        for name, value in rows:
            if value:
                text.append(f"{name}: ", style="bold")
                text.append(f"{value}\n")
        return text

    # -- which keys apply ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"call", "sms", "email", "edit", "task", "deal", "note"} and self.record is None:
            return None
        return True

    # -- actions ------------------------------------------------------------------------------

    def action_close_card(self) -> None:
        self.app.pop_screen()

    def action_feed_filter(self) -> None:
        self.query_one(ActivityFeed).cycle_filter()

    def _say(self, message_and_severity: tuple[str, str]) -> None:
        message, severity = message_and_severity
        self.notify(message, severity=severity, timeout=10)  # type: ignore[arg-type]

    def action_call(self) -> None:
        if self.record is not None and self.data is not None:
            self._say(call_message(self.record["name"], self.record["phones"], self.ctx.region, self.data.dial_without_country_code))

    def action_sms(self) -> None:
        if self.record is not None:
            self._say(sms_message(self.record["name"], self.record["phones"], self.ctx.region))

    def action_email(self) -> None:
        if self.record is not None:
            self._say(email_message(self.record["name"], self.record["emails"]))

    def action_edit(self) -> None:
        from tscrm.tui.widgets.contact_form import ContactForm

        self.app.push_screen(ContactForm("client", self.client_id), self._after_dialog)

    def action_note(self) -> None:
        from tscrm.tui.screens.note_dialog import NoteDialog

        name = self.record["name"] if self.record else ""
        self.app.push_screen(NoteDialog(client_id=self.client_id, about=name), self._after_dialog)

    def action_task(self) -> None:
        from tscrm.tui.screens.task_dialog import TaskDialog

        name = self.record["name"] if self.record else ""
        self.app.push_screen(TaskDialog(client_id=self.client_id, about=name), self._after_dialog)

    def action_deal(self) -> None:
        from tscrm.tui.screens.deal_dialog import DealDialog

        name = self.record["name"] if self.record else ""
        self.app.push_screen(DealDialog(self.client_id, about=name), self._after_dialog)

    def _after_dialog(self, result: object) -> None:
        if result is not None:
            self.app.refresh_screens()  # type: ignore[attr-defined]

    @on(OptionList.OptionSelected, "#client-deals")
    def _deal_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        if option_id.startswith("deal-"):
            self.post_message(OpenRecord("deal", int(option_id.removeprefix("deal-"))))
