"""The card of one lead: contact data, UTM, source and status on the left, the feed on the right.

Keys: c claim (pool leads), x call, o note, t task, e edit, s status (unprocessed ↔ in progress),
f close (create client / bad quality), r back to the pool, k feed filter, escape closes.
The close dialog lives here too; the Leads list uses the same one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.core.services.leads import OPEN_STATUSES
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.note_dialog import dialog_css
from tscrm.tui.widgets.feed import ActivityFeed
from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.status_header import StatusHeader

# close_lead result: ("client", "") or ("bad", reason)
CloseChoice = tuple[str, str]


# --- data ---------------------------------------------------------------------------------------


@dataclass
class LeadCardData:
    """Everything the card shows, read in one worker."""

    record: dict[str, Any]  # tscrm.cli.records.contact_records shape, with "status", "utm", ...
    feed: list[Any] = field(default_factory=list)
    authors: dict[int, str] = field(default_factory=dict)


def load_card(session, actor, lead_id: int) -> LeadCardData:
    from tscrm.cli.common import user_names
    from tscrm.cli.records import contact_records
    from tscrm.core.services import activity, leads

    lead = leads.get_lead(session, actor, lead_id)
    record = contact_records(session, "lead", [lead])[0]
    entries = activity.feed(session, lead_id=lead_id)
    return LeadCardData(record, entries, user_names(session, (e.author_id for e in entries)))


def first_number(record: dict[str, Any]) -> str | None:
    phones = record.get("phones") or []
    return phones[0]["number"] if phones else None


# --- shared lead actions (the list and the card use them) ---------------------------------------


def call_notice(record: dict[str, Any], region: str | None) -> tuple[str, str]:
    """Until telephony lands, "call" says plainly which number to dial (message, severity)."""
    from tscrm.core.phones import format_phone

    number = first_number(record)
    if number is None:
        return _("{name} has no phone number.").format(name=record["name"]), "warning"
    return (
        _("Telephony is not connected yet: dial {number} for {name}.").format(
            number=format_phone(number, region), name=record["name"]
        ),
        "information",
    )


def write_and_report(node, change: Callable[[Any, Any], object], done: str) -> bool:
    """Inside a worker of ``node``: run ``change(session, actor)`` in one transaction, then say how it went.

    Success: ``done`` as a notice and every screen refreshed; a domain error: its message, and
    ``node`` reloads (what it showed may be out of date, e.g. the lead was claimed meanwhile).
    """
    app = node.app
    try:
        with app.ctx.db.write() as session:
            change(session, app.ctx.actor)
    except TscrmError as exc:
        app.call_from_thread(app.notify, str(exc), severity="error")
        app.call_from_thread(node.refresh_data)
        return False
    app.call_from_thread(app.notify, done)
    app.call_from_thread(app.refresh_screens)
    return True


def close_and_report(node, lead_id: int, how: str, reason: str) -> tuple[bool, int | None]:
    """Inside a worker: close a lead as "client" or "bad" (quality). (Closed?, the new client's id.)"""
    from tscrm.core.services import leads

    created: list[int] = []

    def close(session, actor) -> None:
        if how == "client":
            created.append(leads.close_as_client(session, actor, lead_id).id)  # type: ignore[arg-type]
        else:
            leads.close_as_bad(session, actor, lead_id, reason)

    done = _("Lead closed: client created.") if how == "client" else _("Lead closed as bad quality.")
    closed = write_and_report(node, close, done)
    return closed, created[0] if closed and created else None


class CloseLeadDialog(ModalScreen[CloseChoice | None]):
    """Close a lead as finished: create a client, or mark it bad quality with an optional reason."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = dialog_css("CloseLeadDialog") + """
    CloseLeadDialog #close-choices { height: auto; max-height: 8; }
    CloseLeadDialog #close-reason { margin-top: 1; }
    """

    def __init__(self, lead_name: str) -> None:
        super().__init__()
        self.lead_name = lead_name

    def compose(self) -> ComposeResult:
        with Vertical(id="close-box"):
            yield Static(_("Close lead {name}").format(name=self.lead_name), classes="dialog-title")
            yield OptionList(
                Option(_("Create client: the lead becomes a client with its phones, emails and feed"), id="client"),
                Option(_("Bad quality: gone from the lists, still counted in analytics"), id="bad"),
                id="close-choices",
            )
            yield Input(placeholder=_("Reason (optional), Enter closes as bad quality"), id="close-reason", classes="hidden")
            yield Static(_("Enter chooses · Escape cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = 0
        choices.focus()

    @on(OptionList.OptionSelected, "#close-choices")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == "client":
            self.dismiss(("client", ""))
            return
        reason = self.query_one("#close-reason", Input)
        reason.remove_class("hidden")
        reason.focus()

    @on(Input.Submitted, "#close-reason")
    def _reason_given(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(("bad", event.value.strip()))


# --- the card ------------------------------------------------------------------------------------


class LeadCardScreen(Screen):
    SECTION = "leads"  # the header names the section the card belongs to
    CSS_PATH = "lead_card.tcss"
    BINDINGS = [
        Binding("escape", "close_card", N_("Back")),
        Binding("c", "claim", N_("Claim")),
        Binding("x", "call", N_("Call")),
        Binding("o", "note", N_("Note")),
        Binding("t", "task", N_("Task")),
        Binding("e", "edit", N_("Edit")),
        Binding("s", "toggle_status", N_("Status")),
        Binding("f", "close_lead", N_("Close lead")),
        Binding("r", "release", N_("To pool")),
        Binding("k", "feed_filter", N_("Feed filter")),
    ]

    def __init__(self, lead_id: int) -> None:
        super().__init__(id=f"lead-card-{lead_id}")
        self.lead_id = lead_id
        self.stale = False
        self.data: LeadCardData | None = None
        self.error: str | None = None

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    @property
    def record(self) -> dict[str, Any] | None:
        return self.data.record if self.data else None

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="lead-card"):
            with VerticalScroll(id="lead-left"):
                yield Static(self._render_info(), id="lead-info")
            yield ActivityFeed(id="lead-feed")
        yield KeyBar()

    def on_mount(self) -> None:
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

    @work(thread=True, exclusive=True, group="lead-card")
    def load(self) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                data = load_card(session, ctx.actor, self.lead_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._show, data)

    def _show(self, data: LeadCardData) -> None:
        self.data, self.error = data, None
        if self._card_gone():
            return
        self.query_one("#lead-info", Static).update(self._render_info())
        self.query_one(ActivityFeed).show(data.feed, data.authors, self.ctx.actor.timezone)
        self.refresh_bindings()

    def _show_error(self, message: str) -> None:
        self.data, self.error = None, message
        if not self._card_gone():
            self.query_one("#lead-info", Static).update(self._render_info())
            self.refresh_bindings()

    def _card_gone(self) -> bool:
        """Closed while a worker read (e.g. right after closing the lead): its widgets are going."""
        return not self.is_attached or not self.query("#lead-info")

    def _render_info(self) -> Text:
        from tscrm.labels import LEAD_STATUSES, PHONE_KINDS, label

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

        tz = self.ctx.actor.timezone
        region = self.ctx.region
        text.append(record["name"] + "\n", style="bold")
        status = record["status"]
        text.append(label(LEAD_STATUSES, status), style="bold cyan" if status in OPEN_STATUSES else "bold magenta")
        text.append("  ·  ")
        text.append(record["owner"] or _("Unsorted (pool)"), style="" if record["owner"] else "italic yellow")
        text.append("\n\n")
        rows: list[tuple[str, str | None]] = [
            (_("Company"), record["company"]),
            (_("Position"), record["position"]),
            (_("Address"), record["address"]),
        ]
        for phone in record["phones"]:
            rows.append((_("Phone"), f"{format_phone(phone['number'], region)} ({label(PHONE_KINDS, phone['kind'])})"))
        for email in record["emails"]:
            rows.append((_("Email"), email))
        rows += [
            (_("Tags"), ", ".join(record["tags"])),
            (_("Source"), record["source"]),
            (_("Added"), show_time(record["created_at"], tz)),
            (_("Claimed"), show_time(record.get("claimed_at"), tz)),
            (_("Closed"), show_time(record.get("closed_at"), tz)),
        ]
        rows += [(key, str(value)) for key, value in record["custom"].items()]
        for name, value in rows:
            if value:
                text.append(f"{name}: ", style="bold")
                text.append(f"{value}\n")
        utm = record.get("utm") or {}
        if utm:
            text.append("\nUTM\n", style="bold")
            for key, value in utm.items():
                text.append(f"  {key.removeprefix('utm_')}: ", style="dim")
                text.append(f"{value}\n")
        if record.get("client_id"):
            text.append("\n" + _("Became client {id}").format(id=record["client_id"]) + "\n", style="green")
        return text

    # -- which keys apply ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        record = self.record
        if action in {"claim", "call", "note", "task", "edit", "toggle_status", "close_lead", "release"}:
            if record is None:
                return None
            is_open = record["status"] in OPEN_STATUSES
            if action == "claim":
                return True if is_open and record["owner_id"] is None else None
            if action in {"toggle_status", "close_lead", "edit"}:
                return True if is_open else None
            if action == "release":
                return True if is_open and record["owner_id"] is not None else None
        return True

    # -- actions ------------------------------------------------------------------------------

    def action_close_card(self) -> None:
        self.app.pop_screen()

    def action_feed_filter(self) -> None:
        self.query_one(ActivityFeed).cycle_filter()

    def action_call(self) -> None:
        if self.record is not None:
            message, severity = call_notice(self.record, self.ctx.region)
            self.notify(message, severity=severity)  # type: ignore[arg-type]

    @work(thread=True, exclusive=True, group="lead-card-write")
    def action_claim(self) -> None:
        from tscrm.core.services import leads

        write_and_report(self, lambda s, a: leads.claim_lead(s, a, self.lead_id), _("The lead is yours now."))

    @work(thread=True, exclusive=True, group="lead-card-write")
    def action_toggle_status(self) -> None:
        from tscrm.core.models import LeadStatus
        from tscrm.core.services import leads
        from tscrm.labels import LEAD_STATUSES, label

        record = self.record
        if record is None:
            return
        new = LeadStatus.IN_PROGRESS if record["status"] == LeadStatus.UNPROCESSED else LeadStatus.UNPROCESSED
        write_and_report(
            self,
            lambda s, a: leads.set_status(s, a, self.lead_id, new),
            _("Status: {status}").format(status=label(LEAD_STATUSES, new.value)),
        )

    @work(thread=True, exclusive=True, group="lead-card-write")
    def action_release(self) -> None:
        from tscrm.core.services import leads

        write_and_report(self, lambda s, a: leads.release_lead(s, a, self.lead_id), _("The lead is back in the pool."))

    def action_note(self) -> None:
        from tscrm.tui.screens.note_dialog import NoteDialog

        if self.record is not None:
            self.app.push_screen(NoteDialog(lead_id=self.lead_id, about=self.record["name"]), self._after_dialog)

    def action_task(self) -> None:
        from tscrm.tui.screens.task_dialog import TaskDialog

        if self.record is not None:
            self.app.push_screen(TaskDialog(lead_id=self.lead_id, about=self.record["name"]), self._after_dialog)

    def action_edit(self) -> None:
        from tscrm.tui.widgets.contact_form import ContactForm

        self.app.push_screen(ContactForm("lead", self.lead_id), self._after_dialog)

    def _after_dialog(self, result: int | None) -> None:
        if result is not None:
            self.app.refresh_screens()  # type: ignore[attr-defined]

    def action_close_lead(self) -> None:
        if self.record is None:
            return

        def chosen(choice: CloseChoice | None) -> None:
            if choice is not None:
                self.close_lead(*choice)

        self.app.push_screen(CloseLeadDialog(self.record["name"]), chosen)

    @work(thread=True, exclusive=True, group="lead-card-write")
    def close_lead(self, how: str, reason: str) -> None:
        closed, client_id = close_and_report(self, self.lead_id, how, reason)
        if closed:
            self.app.call_from_thread(self._after_close, client_id)

    def _after_close(self, client_id: int | None) -> None:
        """A closed lead leaves the lists: back to where the card was opened, or on to the new client."""
        self.app.pop_screen()
        if client_id is not None:
            self.app.post_message(OpenRecord("client", client_id))
