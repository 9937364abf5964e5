"""The screen pop: an incoming call shows at once who is calling.

A known number shows its client or lead, the company, whose it is and the last thing that happened
in its feed; Enter (or o) opens the card. An unknown number offers "create client" / "create lead"
with a name field: the new card opens, and the notes typed during the call (here or in the call
widget) are in its feed. F3 answers in softphone mode; escape hides the pop (the call widget keeps
showing the call; its "Caller" button brings the pop back).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tscrm.i18n import N_, _
from tscrm.telephony.base import Capability
from tscrm.tui.telephony import CallState, Phone


class IncomingCallScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "hide", N_("Hide")),
        Binding("f3", "answer", N_("Answer")),
        Binding("f5", "create('client')", N_("Create client")),
        Binding("f6", "create('lead')", N_("Create lead")),
        Binding("o", "open_card", N_("Open card"), show=False),
    ]
    DEFAULT_CSS = """
    IncomingCallScreen { align: right top; background: $background 40%; }
    IncomingCallScreen > Vertical {
        width: 64; max-width: 100%; height: auto; margin: 1 2; padding: 0 1;
        border: thick $warning; background: $surface;
    }
    IncomingCallScreen #pop-title { text-style: bold; color: $warning; }
    IncomingCallScreen #pop-who { height: auto; padding: 1 0; }
    IncomingCallScreen #pop-hint { color: $text-muted; height: auto; }
    IncomingCallScreen .pop-buttons { height: auto; margin-top: 1; }
    IncomingCallScreen .pop-buttons Button { margin-right: 1; }
    IncomingCallScreen Input { margin-top: 1; }
    """

    def __init__(self, call: CallState) -> None:
        super().__init__(id="incoming-call")
        self.call = call
        self._phase: tuple[bool, bool] | None = None

    @property
    def phone(self) -> Phone:
        return self.app.phone  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="pop-title")
            yield Static(id="pop-who")
            yield Input(placeholder=_("Name of the caller"), id="pop-name")
            with Horizontal(classes="pop-buttons", id="pop-unknown-buttons"):
                yield Button(_("Create lead"), id="pop-lead", variant="primary", compact=True)
                yield Button(_("Create client"), id="pop-client", compact=True)
            with Horizontal(classes="pop-buttons", id="pop-known-buttons"):
                yield Button(_("Open card"), id="pop-open", variant="primary", compact=True)
            with Horizontal(classes="pop-buttons"):
                yield Button(_("Answer"), id="pop-answer", variant="success", compact=True)
                yield Button(_("Hide"), id="pop-hide", compact=True)
            yield Input(placeholder=_("Note: Enter writes it into the feed"), id="pop-note")
            yield Static(id="pop-hint")

    def on_mount(self) -> None:
        self.phone.changed.subscribe(self, self._changed)
        self._changed(self.phone)
        self._focus_default()

    def on_unmount(self) -> None:
        self.phone.changed.unsubscribe(self)

    # -- what it shows ------------------------------------------------------------------------

    @property
    def known(self) -> bool:
        return self.call.record is not None

    def _changed(self, _phone: Phone) -> None:
        call = self.call
        ringing = call.state == "incoming"
        title = _("Incoming call") if ringing else (_("Call ended") if call.state == "ended" else _("Call in progress"))
        self.query_one("#pop-title", Static).update(title)
        self.query_one("#pop-who", Static).update(self.render_who())
        unknown = call.identified and not self.known
        for selector in ("#pop-name", "#pop-unknown-buttons"):
            self.query_one(selector).display = unknown
        self.query_one("#pop-known-buttons").display = self.known
        self.query_one("#pop-answer").display = ringing and self.phone.can(Capability.ANSWER)
        hints = []
        if ringing and self.phone.can(Capability.ANSWER):
            hints.append(_("F3 answer"))
        if self.known:
            hints.append(_("o open the card"))
        elif unknown:
            hints.append(_("Enter or F6 create lead · F5 create client"))
        hints.append(_("escape hide"))
        self.query_one("#pop-hint", Static).update(" · ".join(hints))
        note = self.query_one("#pop-note", Input)
        phase = (call.identified, self.known)
        if phase != self._phase:  # the lookup answered: where to type next, unless the user is typing
            self._phase = phase
            if self.focused is None or (self.focused is note and not note.value):
                self._focus_default()

    def _focus_default(self) -> None:
        if self.known:
            self.query_one("#pop-open", Button).focus()
        elif self.call.identified:
            self.query_one("#pop-name", Input).focus()
        else:
            self.query_one("#pop-note", Input).focus()

    def render_who(self) -> Text:
        from tscrm.core.phones import format_phone

        call = self.call
        region = self.app.ctx.region  # type: ignore[attr-defined]
        number = format_phone(call.number, region) if call.number.startswith("+") else call.number
        text = Text()
        if not call.identified:
            text.append(number + "\n", style="bold")
            text.append(_("Looking the number up…"), style="dim")
            return text
        if not self.known:
            text.append(number + "\n", style="bold")
            text.append(_("Unknown number: create a client or a lead for the caller."))
            return text
        assert call.record is not None
        kind = _("Client") if call.record[0] == "client" else _("Lead")
        text.append(f"{call.name}", style="bold")
        text.append(f"  ({kind})\n")
        if call.company:
            text.append(call.company + "\n", style="italic")
        text.append(number + "\n")
        if call.owner_name:
            text.append(_("Responsible: {name}").format(name=call.owner_name) + "\n")
        if call.last_activity:
            text.append(_("Last activity: "), style="bold")
            text.append(call.last_activity.splitlines()[0][:200])
        return text

    # -- actions ------------------------------------------------------------------------------

    def action_hide(self) -> None:
        self.dismiss(None)

    def action_answer(self) -> None:
        self.phone.answer()

    def action_open_card(self) -> None:
        if self.focused is not None and isinstance(self.focused, Input):
            return
        self._open_card()

    def _open_card(self) -> None:
        if self.call.record is None:
            return
        kind, record_id = self.call.record
        self.dismiss(None)
        self.app.open_record(kind, record_id)  # type: ignore[attr-defined]

    def action_create(self, kind: str) -> None:
        if self.known or not self.call.identified:
            return
        field = self.query_one("#pop-name", Input)
        name = field.value.strip()
        if not name:
            self.notify(_("Type the caller's name first."), severity="warning")
            field.focus()
            return
        self.dismiss(None)
        self.phone.create_record(self.call, kind, name)

    @on(Input.Submitted, "#pop-name")
    def _name_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_create("lead")

    @on(Input.Submitted, "#pop-note")
    def _note_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.phone.add_note(event.value, self.call)
            event.input.value = ""

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        actions = {
            "pop-lead": lambda: self.action_create("lead"),
            "pop-client": lambda: self.action_create("client"),
            "pop-open": self._open_card,
            "pop-answer": self.action_answer,
            "pop-hide": self.action_hide,
        }
        action = actions.get(event.button.id or "")
        if action is not None:
            action()
