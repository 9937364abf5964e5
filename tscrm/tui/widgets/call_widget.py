"""The call widget: a phone panel docked at the bottom right (or left) of whatever screen is shown.

F2 shows or hides it from anywhere. Idle, it has a number field (also the search field: a name or a
phone fragment lists matching clients and leads), Call and SMS buttons, a keypad, and the tabs
Contacts, History, Team and Dialer. During a call it shows who is on the line, a timer, hang up,
transfer (pick a colleague), mute, the keypad (DTMF) and a note field: Enter writes the note into the
feed of the client or lead on the line. The state lives in ``app.phone`` (tscrm/tui/telephony.py):
the widget is re-mounted on each screen the user goes to, and shows the same call.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container, Grid, Horizontal, Vertical
from textual.widgets import Button, Input, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.tui.widgets.dialer_panel import DialerPanel
from tscrm.i18n import N_, _
from tscrm.telephony.base import Capability
from tscrm.tui.telephony import CallState, Phone, clock

KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
KEY_NAMES = {"*": "asterisk", "#": "number_sign"}
SEARCH_DELAY_S = 0.25
HISTORY_LIMIT = 30


def _phone(app: App) -> Phone:
    return app.phone  # type: ignore[attr-defined]


def show_call_widget(app: App, *, focus: bool = True) -> CallDock | None:
    """Mount the widget on the current screen (once) and focus it."""
    screen = app.screen
    found = list(screen.query(CallDock))
    dock = found[0] if found else CallDock()
    if not found:
        screen.mount(dock)
    dock.apply_side(_phone(app).side)
    if focus:
        dock.call_after_refresh(dock.widget.focus_default)
    return dock


def widget_focused(app: App) -> bool:
    focused = app.focused
    return focused is not None and any(isinstance(node, CallDock) for node in focused.ancestors)


def leave_widget(app: App) -> None:
    """Focus the first thing of the screen outside the widget (or nothing)."""
    screen = app.screen
    outside = [w for w in screen.focus_chain if not any(isinstance(n, CallDock) for n in w.ancestors)]
    screen.set_focus(outside[0] if outside else None)


def hide_call_widget(app: App) -> None:
    for dock in list(_phone(app).docks):
        dock.remove()


def follow_screens(app: App) -> None:
    """Keep the widget on the screen the user looks at (called when the screen changes)."""
    from textual.screen import ModalScreen

    screen = app.screen
    if not _phone(app).widget_visible or isinstance(screen, ModalScreen):
        return
    for dock in list(_phone(app).docks):
        if dock.screen is not screen:
            dock.remove()  # a fresh one on the new screen shows what the phone holds now
    if not screen.query(CallDock):
        show_call_widget(app, focus=False)


def _come_back(app: App) -> None:
    try:
        follow_screens(app)
    except Exception:  # the app is closing
        pass


class Keypad(Grid):
    """Twelve phone keys (buttons of class ``keypad-key``; the widget handles their presses)."""

    DEFAULT_CSS = """
    Keypad { grid-size: 3 4; grid-gutter: 0 1; height: 4; width: 100%; }
    Keypad > Button { width: 1fr; min-width: 3; }
    """

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix

    def compose(self) -> ComposeResult:
        for key in KEYS:
            yield Button(key, id=f"{self.prefix}-key-{KEY_NAMES.get(key, key)}", compact=True, classes="keypad-key")


class CallWidget(Vertical):
    """The panel itself (inside ``CallDock``); everything it shows comes from ``app.phone``."""

    BINDINGS = [
        Binding("escape", "close_widget", N_("Leave phone")),
        *[Binding(KEY_NAMES.get(k, k), f"key('{k}')", show=False) for k in KEYS],
    ]
    can_focus = False

    def __init__(self) -> None:
        super().__init__(id="call-widget")
        self._search_timer = None
        self._team: list[Any] = []
        self._transfer_open = False

    @property
    def phone(self) -> Phone:
        return _phone(self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="phone-idle"):
            yield Input(self.phone.number_text, placeholder=_("Number, or a name to search"), id="phone-number", compact=True)
            with Horizontal(classes="phone-buttons"):
                yield Button(_("Call"), id="phone-call", variant="success", compact=True)
                yield Button(_("SMS"), id="phone-sms", compact=True)
            yield Keypad("dial", id="phone-keypad")
            with TabbedContent(id="phone-tabs"):
                with TabPane(_("Contacts"), id="tab-contacts"):
                    yield OptionList(id="phone-contacts")
                with TabPane(_("History"), id="tab-history"):
                    yield OptionList(id="phone-history")
                with TabPane(_("Team"), id="tab-team"):
                    yield OptionList(id="phone-team")
                with TabPane(_("Dialer"), id="tab-dialer"):
                    yield DialerPanel(compact=True, id="call-dialer")
        with Vertical(id="phone-active"):
            yield Static(id="call-info")
            with Horizontal(classes="phone-buttons"):
                yield Button(_("Answer"), id="call-answer", variant="success", compact=True)
                yield Button(_("Hang up"), id="call-hangup", variant="error", compact=True)
                yield Button(_("Transfer"), id="call-transfer", compact=True)
                yield Button(_("Mute"), id="call-mute", compact=True)
                yield Button(_("Caller"), id="call-caller", compact=True)
            yield Keypad("dtmf", id="call-keypad")
            yield Input(self.phone.note_text, placeholder=_("Note: Enter writes it into the feed"), id="call-note", compact=True)
            yield OptionList(id="call-transfer-list")

    def on_mount(self) -> None:
        self.border_title = _("Phone")
        self.phone.changed.subscribe(self, self._phone_changed)
        self.set_interval(1.0, self._tick)
        self._show_contacts_hint()
        self._history_version = self.phone.calls_logged
        self.load_lists()
        self._phone_changed(self.phone)

    def on_unmount(self) -> None:
        self.phone.changed.unsubscribe(self)

    # -- showing the phone's state ------------------------------------------------------------

    def _phone_changed(self, phone: Phone) -> None:
        call = phone.call
        in_call = call is not None and call.live
        self.query_one("#phone-idle").display = not in_call
        self.query_one("#phone-active").display = in_call
        self.border_subtitle = phone.status_text()
        if in_call:
            assert call is not None
            self.query_one("#call-info", Static).update(self.render_call(call))
            self.query_one("#call-answer").display = call.state == "incoming" and phone.can(Capability.ANSWER)
            self.query_one("#call-mute").display = phone.can(Capability.MUTE)
            self.query_one("#call-mute", Button).label = _("Unmute") if call.muted else _("Mute")
            self.query_one("#call-transfer-list").display = self._transfer_open
            focused = self.app.focused  # the idle panel just went away under the focus: follow the call
            if focused is not None and focused in self.query("#phone-idle *"):
                self.query_one("#call-hangup", Button).focus()
        else:
            self._transfer_open = False
            focused = self.app.focused
            if focused is not None and focused in self.query("#phone-active *"):
                self.query_one("#phone-number", Input).focus()
        if phone.calls_logged != self._history_version:  # also when the next call is already on the line
            self._history_version = phone.calls_logged
            self.load_history()

    def render_call(self, call: CallState) -> Text:
        from tscrm.core.phones import format_phone
        from tscrm.tui.context import clock_of

        text = Text(no_wrap=True, overflow="ellipsis")
        arrow = "↙" if call.direction.value == "inbound" else "↗"
        text.append(f"{arrow} {call.name or _('Unknown number')}\n", style="bold")
        number = format_phone(call.number, self.app.ctx.region) if call.number.startswith("+") else call.number  # type: ignore[attr-defined]
        text.append(number)
        states = {
            "dialling": _("calling…"),
            "ringing": _("ringing"),
            "incoming": _("incoming"),
            "answered": _("in call"),
            "ended": _("ended"),
        }
        text.append(f" · {states.get(call.state, call.state)} {clock(call.seconds(clock_of(self.app)))}")
        if call.muted:
            text.append(" · " + _("muted"), style="bold yellow")
        return text

    def _tick(self) -> None:
        call = self.phone.call
        if call is not None and call.live:
            self.query_one("#call-info", Static).update(self.render_call(call))

    def focus_default(self) -> None:
        call = self.phone.call
        if call is not None and call.live:
            self.query_one("#call-hangup", Button).focus()
        else:
            self.query_one("#phone-number", Input).focus()

    # -- keys and buttons ---------------------------------------------------------------------

    def action_close_widget(self) -> None:
        """Back to the screen's work; the widget stays (F2 hides it)."""
        leave_widget(self.app)

    def action_key(self, key: str) -> None:
        call = self.phone.call
        if call is not None and call.live:
            self.phone.send_dtmf(key)
            self.app.notify(_("Sent {key}").format(key=key), timeout=1)
        else:
            field = self.query_one("#phone-number", Input)
            field.value += key
            field.focus()
            field.cursor_position = len(field.value)

    @on(Button.Pressed, ".keypad-key")
    def _keypad(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_key(str(event.button.label))

    @on(Button.Pressed, "#phone-call")
    def _call_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.call_typed()

    @on(Button.Pressed, "#phone-sms")
    def _sms_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        number = self.query_one("#phone-number", Input).value.strip()
        if not number:
            self.app.notify(_("Type the number to send the SMS to."), severity="warning")
            return
        from tscrm.tui.screens.sms_dialog import SmsDialog

        self.app.push_screen(SmsDialog(number))

    @on(Button.Pressed, "#call-answer")
    def _answer(self, event: Button.Pressed) -> None:
        event.stop()
        self.phone.answer()

    @on(Button.Pressed, "#call-hangup")
    def _hang_up(self, event: Button.Pressed) -> None:
        event.stop()
        self.phone.hang_up()

    @on(Button.Pressed, "#call-mute")
    def _mute(self, event: Button.Pressed) -> None:
        event.stop()
        self.phone.toggle_mute()

    @on(Button.Pressed, "#call-caller")
    def _caller(self, event: Button.Pressed) -> None:
        event.stop()
        self.phone.show_pop()

    @on(Button.Pressed, "#call-transfer")
    def _transfer(self, event: Button.Pressed) -> None:
        event.stop()
        self._transfer_open = not self._transfer_open
        listing = self.query_one("#call-transfer-list", OptionList)
        listing.display = self._transfer_open
        if self._transfer_open:
            self._fill_team(listing, for_transfer=True)
            listing.focus()

    @on(Input.Changed, "#phone-number")
    def _number_changed(self, event: Input.Changed) -> None:
        self.phone.number_text = event.value
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY_S, lambda: self.search(event.value))

    @on(Input.Submitted, "#phone-number")
    def _number_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if looks_like_number(value):
            self.call_typed()
        elif value:
            self.query_one("#phone-tabs", TabbedContent).active = "tab-contacts"
            self.search(value)
            self.query_one("#phone-contacts", OptionList).focus()

    @on(Input.Changed, "#call-note")
    def _note_changed(self, event: Input.Changed) -> None:
        self.phone.note_text = event.value

    @on(Input.Submitted, "#call-note")
    def _note_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.phone.add_note(event.value)
            event.input.value = ""
            self.phone.note_text = ""

    def call_typed(self) -> None:
        field = self.query_one("#phone-number", Input)
        if self.phone.dial(field.value):
            field.value = ""
            self.phone.number_text = ""

    # -- the lists ----------------------------------------------------------------------------

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        kind, _sep, rest = option_id.partition(":")
        if kind in ("client", "lead"):
            self.call_record(kind, int(rest))
        elif kind == "number":
            self.phone.dial(rest)
        elif kind == "member":
            member = next((m for m in self._team if m.id == int(rest)), None)
            if member is None:
                return
            if event.option_list.id == "call-transfer-list":
                self._transfer_open = False
                event.option_list.display = False
                self.phone.transfer(member.id, member.extension or "", member.name)
            elif member.extension:
                self.phone.dial(member.extension, name=member.name)
            else:
                self.app.notify(_("{name} has no extension.").format(name=member.name), severity="warning")

    def _show_contacts_hint(self) -> None:
        listing = self.query_one("#phone-contacts", OptionList)
        listing.clear_options()
        listing.add_option(Option(Text(_("Type a name or a number above."), style="dim"), disabled=True))

    def search(self, text: str) -> None:
        if not text.strip():
            self._show_contacts_hint()
            return
        self._search(text)

    @work(thread=True, exclusive=True, group="phone-search", exit_on_error=False)
    def _search(self, text: str) -> None:
        from tscrm.core import search

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.read() as session:
                hits = search.search(session, ctx.actor, text, limit=20, kinds=("client", "lead")).hits
        except TscrmError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_hits, text, hits)

    def _show_hits(self, text: str, hits: list[Any]) -> None:
        listing = self.query_one("#phone-contacts", OptionList)
        listing.clear_options()
        if looks_like_number(text):
            listing.add_option(Option(Text(_("Call {number}").format(number=text.strip()), style="bold"), id=f"number:{text.strip()}"))
        for hit in hits:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(hit.name)
            if hit.kind == "lead":
                line.append(" · " + _("lead"), style="dim")
            listing.add_option(Option(line, id=f"{hit.kind}:{hit.id}"))
        if not listing.option_count:
            listing.add_option(Option(Text(_("Nobody matches."), style="dim"), disabled=True))
        else:
            listing.highlighted = 0

    @work(thread=True, group="phone-dial", exit_on_error=False)
    def call_record(self, kind: str, record_id: int) -> None:
        """Call the first phone of a client or lead chosen in Contacts."""
        from tscrm.present.records import contact_records
        from tscrm.core.services import clients, leads

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.read() as session:
                row = clients.get_client(session, ctx.actor, record_id) if kind == "client" else leads.get_lead(session, ctx.actor, record_id)
                record = contact_records(session, kind, [row])[0]  # type: ignore[arg-type]
        except TscrmError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(dial_record, self.app, kind, record)

    def load_lists(self) -> None:
        self.load_history()
        self.load_team()

    @work(thread=True, exclusive=True, group="phone-history", exit_on_error=False)
    def load_history(self) -> None:
        from tscrm.present.calls import call_records
        from tscrm.core.services.calls import CallFilter, list_calls

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.read() as session:
                rows = list_calls(session, ctx.actor, CallFilter(agent_id=ctx.actor.id), limit=HISTORY_LIMIT)
                records = call_records(session, ctx.actor, rows)
        except TscrmError:
            return
        self.app.call_from_thread(self._show_history, records)

    def _show_history(self, records: list[dict[str, Any]]) -> None:
        from tscrm.present import show_time
        from tscrm.labels import CALL_OUTCOMES, label
        from tscrm.core.phones import format_phone

        ctx = self.app.ctx  # type: ignore[attr-defined]
        listing = self.query_one("#phone-history", OptionList)
        listing.clear_options()
        for record in records:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("↙ " if record["direction"] == "inbound" else "↗ ")
            number = record["their_number"]
            who = record["client"] or record["lead"] or (format_phone(number, ctx.region) if number.startswith("+") else number)
            line.append(who)
            line.append(f" · {show_time(record['started_at'], ctx.actor.timezone)}", style="dim")
            if record["outcome"]:
                line.append(f" · {label(CALL_OUTCOMES, record['outcome'])}", style="" if record["outcome"] == "answered" else "yellow")
            if record["duration"]:
                line.append(f" · {clock(record['duration'])}")
            listing.add_option(Option(line, id=f"number:{number}"))
        if not records:
            listing.add_option(Option(Text(_("No calls yet."), style="dim"), disabled=True))

    @work(thread=True, exclusive=True, group="phone-team", exit_on_error=False)
    def load_team(self) -> None:
        from tscrm.core.services import users

        ctx = self.app.ctx  # type: ignore[attr-defined]
        with ctx.db.read() as session:
            team = [m for m in users.team_members(session) if m.id != ctx.actor.id]
        self.app.call_from_thread(self._show_team, team)

    def _show_team(self, team: list[Any]) -> None:
        self._team = team
        self._fill_team(self.query_one("#phone-team", OptionList), for_transfer=False)
        self._fill_team(self.query_one("#call-transfer-list", OptionList), for_transfer=True)

    def _fill_team(self, listing: OptionList, *, for_transfer: bool) -> None:
        listing.clear_options()
        for member in self._team:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("● " if member.online else "○ ", style="bold green" if member.online else "dim")
            line.append(member.name)
            line.append(f" · {member.extension or '—'}", style="dim")
            listing.add_option(Option(line, id=f"member:{member.id}", disabled=not member.extension))
        if not self._team:
            listing.add_option(Option(Text(_("No colleagues yet."), style="dim"), disabled=True))
        elif for_transfer:
            listing.highlighted = next((i for i, m in enumerate(self._team) if m.extension), None)


class CallDock(Container):
    """A transparent strip on its own layer at the bottom of the screen, holding the widget on one side."""

    DEFAULT_CSS = """
    CallDock {
        layer: phone; dock: bottom; width: 1fr; height: auto; margin-bottom: 1;
        align-horizontal: right; background: transparent;
    }
    CallDock.-left { align-horizontal: left; }
    CallDock > CallWidget {
        width: 48; height: auto; max-height: 90vh; overflow-y: auto; background: $surface; border: round $accent;
        border-title-style: bold; padding: 0 1;
    }
    CallWidget .phone-buttons { height: 1; margin: 1 0 0 0; }
    CallWidget .phone-buttons > Button { margin-right: 1; width: auto; min-width: 8; }
    CallWidget Keypad { margin-top: 1; }
    CallWidget #phone-number, CallWidget #call-note { margin-top: 0; }
    CallWidget #call-note { margin-top: 1; }
    CallWidget TabbedContent { height: auto; margin-top: 1; }
    CallWidget OptionList { height: 7; border: none; padding: 0; }
    CallWidget #call-transfer-list { height: 6; margin-top: 1; }
    CallWidget .phone-hint { color: $text-muted; height: auto; padding: 1 0; }
    CallWidget #phone-active, CallWidget #phone-idle { height: auto; }
    """

    def __init__(self) -> None:
        super().__init__(id="call-dock")
        self.widget = CallWidget()

    def on_mount(self) -> None:
        _phone(self.app).docks.add(self)

    def on_unmount(self) -> None:
        phone = _phone(self.app)
        phone.docks.discard(self)
        if phone.widget_visible:  # removed by a recompose (language switch): come back on the screen shown
            self.app.call_later(_come_back, self.app)

    def compose(self) -> ComposeResult:
        yield self.widget

    def apply_side(self, side: str) -> None:
        self.set_class(side == "left", "-left")


def looks_like_number(text: str) -> bool:
    """"+34 612…", "0612…", "101": something to dial rather than a name to look up."""
    value = text.strip()
    if not value:
        return False
    digits = sum(ch.isdigit() for ch in value)
    return digits >= 2 and all(ch.isdigit() or ch in "+ -().*#" for ch in value)


def dial_record(app: App, kind: str, record: dict[str, Any]) -> bool:
    """Call the first phone of a client or lead record (``contact_records`` shape)."""
    phones = record.get("phones") or []
    if not phones:
        app.notify(_("{name} has no phone number.").format(name=record["name"]), severity="warning")
        return False
    return _phone(app).dial(phones[0]["number"], name=record["name"], record=(kind, int(record["id"])))
