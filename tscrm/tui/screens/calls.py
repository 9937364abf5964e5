"""Calls: the call log, filtered and searched, a page at a time; a call's details; its recording.

Keys: enter opens the call (client or lead, duration, recording, transcript); c opens the card of
its client or lead; p plays the recording (P stops it); x calls back; s goes to the search field
(a number, or a client's or lead's name; escape or enter comes back to the list); f filters
(direction, outcome, agent, days, client or lead); d and o cycle the direction and the outcome;
m shows only my calls; PgDn/PgUp past the last/first row load the next/previous page; r reloads;
e exports the calls the filters and the search select (CSV or Excel).

Calling is not wired yet: until telephony lands, "call back" says which number to dial. The
recording is fetched into the cache (tscrm.core.recordings) and played by the system's player in a
worker thread, so the app never waits for it.
"""

from __future__ import annotations

import subprocess
import threading
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from tscrm.present.calls import (
    DIRECTION_ARROWS,
    call_records,
    contact_text,
    duration_text,
    number_text,
)
from tscrm.labels import CALL_DIRECTIONS, CALL_OUTCOMES, label
from tscrm.core.errors import TscrmError, ValidationError
from tscrm.core.recordings import LocalFileSource, RecordingSource
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.offset_list import OffsetListScreen, Page, PageTable, read_page
from tscrm.tui.screens.filter_dialog import FilterDialog, RecordPicker, parse_day

PAGE_SIZE = 50
DIRECTIONS: tuple[str, ...] = tuple(CALL_DIRECTIONS)
OUTCOMES: tuple[str, ...] = tuple(CALL_OUTCOMES)
# (key, label, width) of the list's columns
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("time", N_("Time"), 16),
    ("direction", N_("Direction"), 11),
    ("number", N_("Number"), 17),
    ("contact", N_("Client / lead"), 24),
    ("agent", N_("Agent"), 16),
    ("outcome", N_("Outcome"), 10),
    ("duration", N_("Duration"), 8),
    ("media", N_("Rec."), 4),
)
# Where recordings come from. Local files for now; the telephony bridge replaces it with the PBX.
RECORDING_SOURCE: RecordingSource = LocalFileSource()


# --- what the user asks for ---------------------------------------------------------------------


def search_kind(raw: str) -> str | None:
    """How the search field is read: "name" when it has letters, "number" when digits only, else None."""
    if any(ch.isalpha() for ch in raw):
        return "name"
    if any(ch.isdigit() for ch in raw):
        return "number"
    return None


@dataclass(frozen=True)
class CallQuery:
    """The filters and the search text as the user set them (with names, for the summary line)."""

    direction: str | None = None
    outcome: str | None = None
    agent_id: int | None = None
    agent_name: str = ""
    day_from: date | None = None
    day_to: date | None = None  # inclusive: the whole day counts
    client_id: int | None = None
    lead_id: int | None = None
    contact_name: str = ""
    search: str = ""

    def to_filter(self, tz: str):
        """The core CallFilter: days become half-open UTC bounds of the user's local days."""
        from tscrm.present import get_zone
        from tscrm.core.services.calls import CallFilter
        from tscrm.core.timeutil import local_midnight

        zone = get_zone(tz)
        text = self.search.strip()
        kind = search_kind(text)
        return CallFilter(
            direction=self.direction,  # type: ignore[arg-type]
            outcome=self.outcome,  # type: ignore[arg-type]
            agent_id=self.agent_id,
            started_from=local_midnight(self.day_from, zone) if self.day_from else None,
            started_to=local_midnight(self.day_to + timedelta(days=1), zone) if self.day_to else None,
            client_id=self.client_id,
            lead_id=self.lead_id,
            number=text if kind == "number" else None,
            name=text if kind == "name" else None,
        )

    def parts(self) -> list[str]:
        """The active filters, as the summary line names them."""
        parts = []
        if self.direction:
            parts.append(_("direction: {value}").format(value=label(CALL_DIRECTIONS, self.direction)))
        if self.outcome:
            parts.append(_("outcome: {value}").format(value=label(CALL_OUTCOMES, self.outcome)))
        if self.agent_id is not None:
            parts.append(_("agent: {name}").format(name=self.agent_name or f"#{self.agent_id}"))
        if self.day_from:
            parts.append(_("from {day}").format(day=self.day_from.isoformat()))
        if self.day_to:
            parts.append(_("to {day}").format(day=self.day_to.isoformat()))
        if self.client_id is not None or self.lead_id is not None:
            parts.append(_("with: {name}").format(name=self.contact_name or "…"))
        text = self.search.strip()
        if search_kind(text) == "number":
            parts.append(_("number: {value}").format(value=text))
        elif search_kind(text) == "name":
            parts.append(_("name: {value}").format(value=text))
        return parts


def cycle(values: tuple[str, ...], current: str | None) -> str | None:
    """The next value of a quick filter: none → first → … → last → none."""
    if current is None:
        return values[0]
    i = values.index(current) + 1
    return values[i] if i < len(values) else None


def load_page(session, actor, filt, offset: int, limit: int = PAGE_SIZE) -> Page:
    """One page of the log, newest first (rows: tscrm.present.calls.call_records), and the total."""
    from tscrm.core.services import calls

    return read_page(
        offset,
        limit,
        lambda: calls.count_calls(session, actor, filt),
        lambda at: call_records(session, actor, calls.list_calls(session, actor, filt, limit=limit, offset=at)),
    )


def cell(value: str, style: str = "") -> Text:
    """A table cell shown as written (names may contain "[", which DataTable would read as markup)."""
    return Text(value, style=style, end="")


def row_cells(record: dict[str, Any], tz: str, region: str | None) -> tuple[Text, ...]:
    from tscrm.present import show_time

    outcome = record["outcome"]
    media = ("▶" if record["recording_ref"] else "") + ("✎" if record["transcript"] else "")
    return (
        cell(show_time(record["started_at"], tz)),
        cell(f"{DIRECTION_ARROWS[record['direction']]} {label(CALL_DIRECTIONS, record['direction'])}"),
        cell(number_text(record["their_number"], region)),
        cell(contact_text(record)),
        cell(record["agent"] or ""),
        cell(label(CALL_OUTCOMES, outcome) if outcome else "", "" if outcome == "answered" else "yellow"),
        cell(duration_text(record["duration"])),
        cell(media),
    )


# --- actions shared by the list and the call's details --------------------------------------------


def open_contact(node, record: dict[str, Any]) -> None:
    """Open the card of the call's client (or lead)."""
    if record["client_id"] is not None:
        node.post_message(OpenRecord("client", record["client_id"]))
    elif record["lead_id"] is not None:
        node.post_message(OpenRecord("lead", record["lead_id"]))
    else:
        node.app.notify(_("This call is not linked to a client or lead."), severity="warning")


def call_back(app: App, record: dict[str, Any]) -> None:
    """Call the other side of a logged call back, through the phone (its client or lead linked)."""
    who = contact_text(record) or number_text(record["their_number"], app.ctx.region)  # type: ignore[attr-defined]
    link = ("client", record["client_id"]) if record.get("client_id") else ("lead", record["lead_id"]) if record.get("lead_id") else None
    app.phone.dial(record["their_number"], name=who, record=link)  # type: ignore[attr-defined]


class Playback:
    """The one recording playing in this app: a new one stops it, quitting the section stops it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def run(self, app: App, ref: str, source: RecordingSource) -> None:
        """Fetch ``ref`` into the cache and play it to the end (in a worker thread)."""
        from tscrm.core import recordings

        try:
            path = recordings.fetch_to_cache(ref, source)
        except TscrmError as exc:
            app.call_from_thread(app.notify, str(exc), severity="error")
            return
        except OSError as exc:
            app.call_from_thread(app.notify, _("Cannot fetch the recording: {reason}").format(reason=exc), severity="error")
            return
        player = recordings.find_player()
        if player is None:
            message = _("No audio player found ({players}). The recording is at {path}").format(
                players=recordings.player_names(), path=path
            )
            app.call_from_thread(app.notify, message, severity="warning", timeout=30)
            return
        with self._lock:
            self._stop_locked()
            try:
                process = recordings.start_player(player, path)
            except OSError as exc:
                app.call_from_thread(app.notify, _("{player} could not start: {reason}").format(player=player.name, reason=exc), severity="error")
                return
            self._process = process
        app.call_from_thread(app.notify, _("Playing with {player}: {path} (P stops)").format(player=player.name, path=path))
        code = process.wait()
        with self._lock:
            if self._process is process:
                self._process = None
        if code > 0:  # negative: stopped by us
            app.call_from_thread(app.notify, _("{player} stopped with code {code}.").format(player=player.name, code=code), severity="warning")

    def stop(self) -> bool:
        with self._lock:
            return self._stop_locked()

    def _stop_locked(self) -> bool:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return False
        process.terminate()
        return True


PLAYBACK = Playback()


def play_recording(app: App, record: dict[str, Any]) -> None:
    ref = record["recording_ref"]
    if not ref:
        app.notify(_("This call has no recording."), severity="warning")
        return
    app.run_worker(lambda: PLAYBACK.run(app, ref, RECORDING_SOURCE), thread=True, group="recording", exit_on_error=False)


def stop_recording(app: App) -> None:
    app.notify(_("Playback stopped.") if PLAYBACK.stop() else _("Nothing is playing."))


# --- the call's details -------------------------------------------------------------------------


class CallDetailScreen(ModalScreen[None]):
    """One call: who was on the line, times, duration, recording and transcript."""

    CSS_PATH = "calls.tcss"
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Close")),
        Binding("c,enter", "open_contact", N_("Open client/lead"), key_display="c"),
        Binding("p", "play", N_("Play recording")),
        Binding("P", "stop", N_("Stop"), key_display="P"),
        Binding("x", "call_back", N_("Call back")),
    ]

    def __init__(self, call_id: int) -> None:
        super().__init__()
        self.call_id = call_id
        self.record: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="call-box"):
            yield Static(self._title(), id="call-title")
            yield Static(self._facts(), id="call-facts")
            with VerticalScroll(id="call-transcript-box"):
                yield Static(self._transcript(), id="call-transcript")
            yield Static(_("c open the client/lead · p play · P stop · x call back · escape close"), id="call-hint")

    def on_mount(self) -> None:
        self.load()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="call-detail")
    def load(self) -> None:
        from tscrm.core.services.calls import get_call

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.read() as session:
                record = call_records(session, ctx.actor, [get_call(session, ctx.actor, self.call_id)])[0]
        except TscrmError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            self.app.call_from_thread(self.dismiss, None)
            return
        self.app.call_from_thread(self._show, record)

    def _show(self, record: dict[str, Any]) -> None:
        self.record = record
        self.query_one("#call-title", Static).update(self._title())
        self.query_one("#call-facts", Static).update(self._facts())
        self.query_one("#call-transcript", Static).update(self._transcript())

    def _title(self) -> Text:
        record = self.record
        if record is None:
            return Text(_("Loading…"), style="dim")
        heads = {"inbound": _("Incoming call"), "outbound": _("Outgoing call"), "internal": _("Internal call")}
        title = Text(f"{DIRECTION_ARROWS[record['direction']]} {heads[record['direction']]}", style="bold")
        if record["outcome"]:
            title.append(f" · {label(CALL_OUTCOMES, record['outcome'])}")
        return title

    def _facts(self) -> Text:
        from tscrm.present import show_time

        record = self.record
        if record is None:
            return Text("")
        ctx = self.app.ctx  # type: ignore[attr-defined]
        tz = ctx.actor.timezone
        if record["client_id"] is not None:
            who, kind = record["client"] or _("(a client you cannot see)"), _("Client")
        elif record["lead_id"] is not None:
            who, kind = record["lead"] or _("(a lead you cannot see)"), _("Lead")
        else:
            who, kind = _("nobody known: not linked to a client or lead"), _("Client")
        seconds = record["duration"]
        if seconds or record["outcome"] == "answered":
            talk = duration_text(seconds) or "0:00"
        else:
            talk = _("not answered")
        rows: list[tuple[str, str]] = [
            (kind, who),
            (_("Number"), number_text(record["their_number"], ctx.region)),
            (_("Our line"), record["our_number"] or ""),
            (_("Agent"), record["agent"] or ""),
            (_("Started"), show_time(record["started_at"], tz)),
            (_("Answered"), show_time(record["answered_at"], tz)),
            (_("Ended"), show_time(record["ended_at"], tz)),
            (_("Duration"), talk),
            (_("Recording"), (_("yes: p plays it") + f"  ({record['recording_ref']})") if record["recording_ref"] else _("none")),
        ]
        width = max(len(name) for name, _value in rows) + 2
        text = Text()
        for name, value in rows:
            if not value:
                continue
            text.append(name.ljust(width), style="bold")
            text.append(value + "\n")
        return text

    def _transcript(self) -> Text:
        record = self.record
        text = Text(_("Transcript") + "\n", style="bold")
        if record is None or not record["transcript"]:
            text.append(_("No transcript."), style="dim")
        else:
            text.append(record["transcript"])
        return text

    def action_open_contact(self) -> None:
        if self.record is not None:
            open_contact(self, self.record)

    def action_play(self) -> None:
        if self.record is not None:
            play_recording(self.app, self.record)

    def action_stop(self) -> None:
        stop_recording(self.app)

    def action_call_back(self) -> None:
        if self.record is not None:
            call_back(self.app, self.record)


# --- the filter dialog ----------------------------------------------------------------------------


class ContactPicker(RecordPicker):
    """The universal search, restricted to clients and leads: dismisses with (kind, id) or None."""

    KINDS = ("client", "lead")

    def heading(self) -> str:
        return _("Choose the client or lead: name, company, email, tag or phone")


class CallFilterDialog(FilterDialog):
    """Every filter of the call log in one form. ctrl+s or Enter applies, escape cancels."""

    CSS_PATH = "calls.tcss"
    USERS_SELECT = "filter-agent"

    def __init__(self, query: CallQuery) -> None:
        super().__init__()
        self.initial = query
        self.contact: tuple[str, int] | None = (
            ("client", query.client_id) if query.client_id is not None else ("lead", query.lead_id) if query.lead_id is not None else None
        )
        self.contact_name = query.contact_name

    def compose(self) -> ComposeResult:
        q = self.initial
        with Vertical(id="call-filter-box"):
            yield Static(_("Filter calls"), classes="title")
            with Horizontal(classes="row"):
                yield Label(_("Direction"))
                yield Select(
                    [(label(CALL_DIRECTIONS, d), d) for d in DIRECTIONS],
                    prompt=_("Any direction"),
                    value=q.direction or Select.NULL,
                    id="filter-direction",
                )
            with Horizontal(classes="row"):
                yield Label(_("Outcome"))
                yield Select(
                    [(label(CALL_OUTCOMES, o), o) for o in OUTCOMES],
                    prompt=_("Any outcome"),
                    value=q.outcome or Select.NULL,
                    id="filter-outcome",
                )
            with Horizontal(classes="row"):
                yield Label(_("Agent"))
                agents = [(q.agent_name, q.agent_id)] if q.agent_id is not None else []
                yield Select(agents, prompt=_("Anyone"), value=q.agent_id if q.agent_id is not None else Select.NULL, id="filter-agent")
            with Horizontal(classes="row"):
                yield Label(_("Days"))
                yield Input(q.day_from.isoformat() if q.day_from else "", placeholder="YYYY-MM-DD", id="filter-from")
                yield Static("–", classes="dash")
                yield Input(q.day_to.isoformat() if q.day_to else "", placeholder="YYYY-MM-DD", id="filter-to")
            with Horizontal(classes="row"):
                yield Label(_("With"))
                yield Static(self._contact_text(), id="filter-contact-name")
                yield Button(_("Choose…"), id="filter-contact-pick")
                yield Button(_("Any"), id="filter-contact-clear")
            yield Static(_("Number or name: type it in the search field above the list (s)."), classes="hint")
            yield from self.compose_buttons()

    def on_mount(self) -> None:
        self.query_one("#filter-direction", Select).focus()
        self.load_users()

    def _contact_text(self) -> str:
        if self.contact is None:
            return _("any client or lead")
        return self.contact_name or "…"

    @on(Button.Pressed, "#filter-contact-pick")
    def _pick_contact(self) -> None:
        def chosen(result: tuple[str, int] | None) -> None:
            if result is not None:
                self.contact, self.contact_name = result, ""
                self.load_contact_name(*result)

        self.app.push_screen(ContactPicker(), chosen)

    @work(thread=True, exclusive=True, group="call-filter-contact")
    def load_contact_name(self, kind: str, record_id: int) -> None:
        from tscrm.core.services.clients import get_client
        from tscrm.core.services.leads import get_lead

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.read() as session:
                getter = get_client if kind == "client" else get_lead
                name = getter(session, ctx.actor, record_id).name
        except TscrmError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._set_contact_name, (kind, record_id), name)

    def _set_contact_name(self, contact: tuple[str, int], name: str) -> None:
        if contact == self.contact:
            self.contact_name = name if contact[0] == "client" else _("{name} (lead)").format(name=name)
            self.query_one("#filter-contact-name", Static).update(self._contact_text())

    @on(Button.Pressed, "#filter-contact-clear")
    def _clear_contact(self) -> None:
        self.contact, self.contact_name = None, ""
        self.query_one("#filter-contact-name", Static).update(self._contact_text())

    def cleared(self) -> CallQuery:
        return CallQuery(search=self.initial.search)

    def _read(self) -> CallQuery:
        direction = self.query_one("#filter-direction", Select).value
        outcome = self.query_one("#filter-outcome", Select).value
        agent = self.query_one("#filter-agent", Select).value
        agent_id = None if agent is Select.NULL else int(agent)  # type: ignore[arg-type]
        day_from = parse_day(self.query_one("#filter-from", Input).value, _("From"))
        day_to = parse_day(self.query_one("#filter-to", Input).value, _("To"))
        if day_from and day_to and day_to < day_from:
            raise ValidationError(_("To: {to} is before From: {start}").format(to=day_to, start=day_from), "to")
        kind, record_id = self.contact if self.contact is not None else (None, None)
        return replace(
            self.initial,
            direction=None if direction is Select.NULL else str(direction),
            outcome=None if outcome is Select.NULL else str(outcome),
            agent_id=agent_id,
            agent_name=next((n for n, uid in self.users if uid == agent_id), self.initial.agent_name) if agent_id is not None else "",
            day_from=day_from,
            day_to=day_to,
            client_id=record_id if kind == "client" else None,
            lead_id=record_id if kind == "lead" else None,
            contact_name=self.contact_name if self.contact is not None else "",
        )


# --- the list -----------------------------------------------------------------------------------


@dataclass
class _View:
    """What is asked of the database: the query and the page."""

    query: CallQuery = field(default_factory=CallQuery)
    offset: int = 0


class CallsScreen(OffsetListScreen):
    SECTION = "calls"
    TABLE_ID = "calls-table"
    CSS_PATH = "calls.tcss"
    BINDINGS = [
        Binding("enter", "open", N_("Open"), show=False),
        Binding("c", "open_contact", N_("Client/lead")),
        Binding("p", "play", N_("Play")),
        Binding("P", "stop", N_("Stop"), key_display="P", show=False),
        Binding("x", "call_back", N_("Call back")),
        Binding("s", "focus_search", N_("Search")),
        Binding("f", "filters", N_("Filters")),
        Binding("d", "cycle_direction", N_("Direction")),
        Binding("o", "cycle_outcome", N_("Outcome")),
        Binding("m", "toggle_mine", N_("Only mine")),
        Binding("escape", "focus_list", show=False),
        Binding("r", "reload", N_("Refresh"), show=False),
        Binding("D", "open_dialer", N_("Dialer"), key_display="D", show=False),
        Binding("e", "export", N_("Export"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = _View()
        self.page: Page | None = None

    # -- layout ---------------------------------------------------------------------------------

    def compose_content(self) -> ComposeResult:
        with Horizontal(id="calls-top"):
            yield Input(self.view.query.search, placeholder=_("Search by number or name (s)…"), id="calls-search")
            yield Static(self._bar_text(), id="calls-bar")
        yield PageTable(id="calls-table", cursor_type="row", zebra_stripes=True)
        yield Static(self._status_text(), id="calls-status")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill_table()
        self._table().focus()

    def on_unmount(self) -> None:
        PLAYBACK.stop()  # the app is closing: no player may outlive it

    async def recompose(self) -> None:
        """After a language switch: same data, new words, focus back on the list."""
        await super().recompose()
        self._fill_table()
        self._table().focus()

    def _bar_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        parts = self.view.query.parts()
        if parts:
            text.append(_("Filters: {list}").format(list=", ".join(parts)), style="yellow")
        else:
            text.append(_("No filters (f filters, d direction, o outcome, m only mine)"), style="dim")
        return text

    def _status_text(self) -> str:
        page = self.page
        if page is None:
            return _("Loading…")
        if not page.total:
            return _("No calls match.")
        return _("{first}–{last} of {total} · enter opens a call · PgDn/PgUp at the end: more").format(
            first=page.offset + 1, last=page.offset + len(page.rows), total=page.total
        )

    def _update_texts(self) -> None:
        self.query_one("#calls-bar", Static).update(self._bar_text())
        self.query_one("#calls-status", Static).update(self._status_text())

    def page_size(self) -> int:
        return PAGE_SIZE

    def list_columns(self) -> list[tuple[str, str, int]]:
        return [(key, _(name), width) for key, name, width in COLUMNS]

    def list_cells(self, record: dict[str, Any]) -> tuple[Text, ...]:
        return row_cells(record, self.ctx.actor.timezone, self.ctx.region)

    # -- data -----------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load(replace(self.view))

    @work(thread=True, exclusive=True, group="calls-load")
    def load(self, view: _View) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                page = load_page(session, ctx.actor, view.query.to_filter(ctx.actor.timezone), view.offset)
        except TscrmError as exc:
            self.app.call_from_thread(self._failed, view, str(exc))
            return
        self.app.call_from_thread(self._show_page, view, page)

    def _failed(self, view: _View, message: str) -> None:
        if view == self.view:
            self.notify(message, severity="error")

    def _change(self, **changes: Any) -> None:
        """Change what is shown and reload it."""
        self.view = replace(self.view, **changes)
        self._update_texts()
        self.refresh_data()

    def _change_query(self, **changes: Any) -> None:
        self._change(query=replace(self.view.query, **changes), offset=0)

    def apply_preset(self, preset: str) -> None:
        """"mine" (the dashboard's "My calls") or "all"."""
        if preset == "mine":
            self._change_query(agent_id=self.ctx.actor.id, agent_name=self.ctx.actor.name)
        elif preset == "all":
            self._change_query(agent_id=None, agent_name="")

    # -- the selected call ----------------------------------------------------------------------

    def _selected(self) -> dict[str, Any] | None:
        call_id = self._selected_id()
        if self.page is None or call_id is None:
            return None
        return next((r for r in self.page.rows if r["id"] == call_id), None)

    # -- actions --------------------------------------------------------------------------------

    def action_open(self) -> None:
        record = self._selected()
        if record is not None:
            self.app.push_screen(CallDetailScreen(record["id"]))

    @on(DataTable.RowSelected, "#calls-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open_contact(self) -> None:
        record = self._selected()
        if record is not None:
            open_contact(self, record)

    def action_play(self) -> None:
        record = self._selected()
        if record is not None:
            play_recording(self.app, record)

    def action_stop(self) -> None:
        stop_recording(self.app)

    def action_call_back(self) -> None:
        record = self._selected()
        if record is not None:
            call_back(self.app, record)

    def action_focus_search(self) -> None:
        self.query_one("#calls-search", Input).focus()

    def action_focus_list(self) -> None:
        self._table().focus()

    @on(Input.Changed, "#calls-search")
    def _search_typed(self, event: Input.Changed) -> None:
        if event.value != self.view.query.search:
            self._change_query(search=event.value)

    @on(Input.Submitted, "#calls-search")
    def _search_done(self) -> None:
        self._table().focus()

    def action_filters(self) -> None:
        def chosen(query: CallQuery | None) -> None:
            if query is not None:
                self._change(query=query, offset=0)

        self.app.push_screen(CallFilterDialog(self.view.query), chosen)

    def action_cycle_direction(self) -> None:
        self._change_query(direction=cycle(DIRECTIONS, self.view.query.direction))

    def action_cycle_outcome(self) -> None:
        self._change_query(outcome=cycle(OUTCOMES, self.view.query.outcome))

    def action_toggle_mine(self) -> None:
        me = self.ctx.actor
        if self.view.query.agent_id == me.id:
            self._change_query(agent_id=None, agent_name="")
        else:
            self._change_query(agent_id=me.id, agent_name=me.name)

    def action_open_dialer(self) -> None:
        from tscrm.tui.screens.dialer import open_dialer

        open_dialer(self.app)

    def action_reload(self) -> None:
        self.refresh_data()

    def action_export(self) -> None:
        """The calls of the filters and the search to CSV or Excel (tscrm.tui.screens.export_dialog)."""
        from tscrm.tui.screens.export_dialog import call_export

        self.app.push_screen(call_export(self))
