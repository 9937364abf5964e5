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
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.core.services.leads import OPEN_STATUSES
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.card_base import ContactCardScreen, append_rows
from tscrm.tui.screens.note_dialog import dialog_css

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
    from tscrm.present import user_names
    from tscrm.present.records import contact_records
    from tscrm.core.services import activity, leads

    lead = leads.get_lead(session, actor, lead_id)
    record = contact_records(session, "lead", [lead])[0]
    entries = activity.feed(session, lead_id=lead_id)
    return LeadCardData(record, entries, user_names(session, (e.author_id for e in entries)))


def first_number(record: dict[str, Any]) -> str | None:
    phones = record.get("phones") or []
    return phones[0]["number"] if phones else None


# --- shared lead actions (the list and the card use them) ---------------------------------------


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


class LeadCardScreen(ContactCardScreen):
    KIND = "lead"
    SECTION = "leads"  # the header names the section the card belongs to
    CSS_PATH = "lead_card.tcss"
    RECORD_ACTIONS = frozenset({"claim", "call", "note", "task", "edit", "toggle_status", "close_lead", "release"})
    BINDINGS = [
        Binding("c", "claim", N_("Claim")),
        Binding("x", "call", N_("Call")),
        Binding("o", "note", N_("Note")),
        Binding("t", "task", N_("Task")),
        Binding("e", "edit", N_("Edit")),
        Binding("s", "toggle_status", N_("Status")),
        Binding("f", "close_lead", N_("Close lead")),
        Binding("r", "release", N_("To pool")),
        Binding("k", "feed_filter", N_("Feed filter")),
        Binding("m", "email", N_("Email")),
        Binding("R", "reply", N_("Reply to an email"), show=False),
    ]

    def __init__(self, lead_id: int) -> None:
        super().__init__(lead_id)
        self.lead_id = lead_id
        self.data: LeadCardData | None = None

    def read(self, session, actor) -> LeadCardData:
        return load_card(session, actor, self.lead_id)

    def render_record(self, text: Text, data: LeadCardData) -> None:
        from tscrm.core.phones import format_phone
        from tscrm.labels import LEAD_STATUSES, PHONE_KINDS, label
        from tscrm.present import show_time

        record = data.record
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
        append_rows(text, rows)
        utm = record.get("utm") or {}
        if utm:
            text.append("\nUTM\n", style="bold")
            for key, value in utm.items():
                text.append(f"  {key.removeprefix('utm_')}: ", style="dim")
                text.append(f"{value}\n")
        if record.get("client_id"):
            text.append("\n" + _("Became client {id}").format(id=record["client_id"]) + "\n", style="green")

    # -- which keys apply ---------------------------------------------------------------------

    def allowed(self, action: str, parameters: tuple[object, ...], record: dict[str, Any]) -> bool | None:
        is_open = record["status"] in OPEN_STATUSES
        if action == "claim":
            return True if is_open and record["owner_id"] is None else None
        if action in {"toggle_status", "close_lead", "edit"}:
            return True if is_open else None
        if action == "release":
            return True if is_open and record["owner_id"] is not None else None
        return True

    # -- actions ------------------------------------------------------------------------------

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
