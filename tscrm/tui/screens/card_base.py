"""What the record cards (client, lead, deal) share: the frame, loading, stale handling, the feed.

A card shows one record: its data on the left (``#<kind>-info``, plus what ``compose_left`` adds),
its activity feed on the right (``#<kind>-feed``). It reads everything in one worker (``read``),
shows it (``_show``; ``show_more`` for what a card adds), reloads on ``refresh_data`` (at once) or
when shown again after the app marked it stale. Keys that need the record (``RECORD_ACTIONS``) are
off until it is loaded; ``allowed`` narrows them further. The CSS stays beside each card.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.widgets.feed import ActivityFeed
from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.status_header import StatusHeader


def append_rows(text: Text, rows: Iterable[tuple[str, str | None]]) -> None:
    """``name: value`` lines, the name bold; rows without a value are left out."""
    for name, value in rows:
        if value:
            text.append(f"{name}: ", style="bold")
            text.append(f"{value}\n")


class CardScreen(Screen):
    """Subclasses set ``KIND`` and implement ``read`` and ``render_record``."""

    KIND = ""  # "client", "lead", "deal": the screen id, widget ids and the dialogs' ``<kind>_id``
    CARD_TITLE: str | None = None  # N_() marked: the header shows it, then `` · <NAME_FIELD>``
    NAME_FIELD = "name"  # the record's field that names it (header, dialogs)
    FOCUS_FEED = False  # the feed takes the focus when the card opens
    RECORD_ACTIONS: frozenset[str] = frozenset()  # actions that need the record loaded
    BINDINGS = [Binding("escape", "close_card", N_("Back"))]

    def __init__(self, record_id: int) -> None:
        super().__init__(id=f"{self.KIND}-card-{record_id}")
        self.record_id = record_id
        self.stale = False
        self.data: Any = None
        self.error: str | None = None

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    @property
    def record(self) -> dict[str, Any] | None:
        return self.data.record if self.data else None

    @property
    def link(self) -> dict[str, int]:
        """The record as the dialogs take it: ``client_id=…``, ``lead_id=…`` or ``deal_id=…``."""
        return {f"{self.KIND}_id": self.record_id}

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id=f"{self.KIND}-card"):
            with VerticalScroll(id=f"{self.KIND}-left"):
                yield Static(self._render_info(), id=f"{self.KIND}-info")
                yield from self.compose_left()
            yield ActivityFeed(id=f"{self.KIND}-feed")
        yield KeyBar()

    def compose_left(self) -> ComposeResult:
        """What the left column shows below the record's data."""
        yield from ()

    def on_mount(self) -> None:
        if self.CARD_TITLE:
            self.query_one(StatusHeader).section_title = _(self.CARD_TITLE)
        if self.FOCUS_FEED:
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

    def read(self, session, actor) -> Any:
        """Everything the card shows (an object with ``record``, ``feed`` and ``authors``)."""
        raise NotImplementedError

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="card")
    def load(self) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                data = self.read(session, ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self._show_error, str(exc))
            return
        self.app.call_from_thread(self._show, data)

    def _show(self, data: Any) -> None:
        self.data, self.error = data, None
        if self._card_gone():
            return
        if self.CARD_TITLE:
            self.query_one(StatusHeader).section_title = _(self.CARD_TITLE) + f" · {data.record[self.NAME_FIELD]}"
        self.query_one(f"#{self.KIND}-info", Static).update(self._render_info())
        self.show_more(data)
        self.query_one(ActivityFeed).show(data.feed, data.authors, self.ctx.actor.timezone)
        self.refresh_bindings()

    def show_more(self, data: Any) -> None:
        """What a card shows besides its data and feed (e.g. the client's deals)."""

    def _show_error(self, message: str) -> None:
        self.data, self.error = None, message
        if not self._card_gone():
            self.query_one(f"#{self.KIND}-info", Static).update(self._render_info())
            self.refresh_bindings()

    def _card_gone(self) -> bool:
        """Closed while a worker read (e.g. right after closing a lead): its widgets are going."""
        return not self.is_attached or not all(self.query(part) for part in (f"#{self.KIND}-info", StatusHeader, ActivityFeed))

    def _render_info(self) -> Text:
        text = Text()
        if self.error is not None:
            text.append(self.error, style="bold red")
            return text
        if self.data is None:
            text.append(_("Loading…"), style="dim")
            return text
        self.render_record(text, self.data)
        return text

    def render_record(self, text: Text, data: Any) -> None:
        """Append the loaded record's data to ``text``."""
        raise NotImplementedError

    # -- which keys apply ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action not in self.RECORD_ACTIONS:
            return True
        record = self.record
        return None if record is None else self.allowed(action, parameters, record)

    def allowed(self, action: str, parameters: tuple[object, ...], record: dict[str, Any]) -> bool | None:
        """Whether a record action applies to the loaded record (True) or not (None)."""
        return True

    # -- actions ------------------------------------------------------------------------------

    def action_close_card(self) -> None:
        self.app.pop_screen()

    def action_feed_filter(self) -> None:
        self.query_one(ActivityFeed).cycle_filter()

    def action_note(self) -> None:
        from tscrm.tui.screens.note_dialog import NoteDialog

        if self.record is not None:
            self.app.push_screen(NoteDialog(**self.link, about=self.record[self.NAME_FIELD]), self._after_dialog)

    def action_task(self) -> None:
        from tscrm.tui.screens.task_dialog import TaskDialog

        if self.record is not None:
            self.app.push_screen(TaskDialog(**self.link, about=self.record[self.NAME_FIELD]), self._after_dialog)

    def _after_dialog(self, result: object) -> None:
        if result is not None:
            self.app.refresh_screens()  # type: ignore[attr-defined]


class ContactCardScreen(CardScreen):
    """A card of a person (client, lead): call, email, reply to an email, edit in the contact form."""

    def action_call(self) -> None:
        from tscrm.tui.widgets.call_widget import dial_record

        if self.record is not None:
            dial_record(self.app, self.KIND, self.record)

    def action_email(self) -> None:
        from tscrm.tui.screens.compose import open_compose

        if self.record is not None:
            open_compose(self, **self.link, record=self.record, done=self._after_dialog)

    def action_reply(self) -> None:
        from tscrm.tui.screens.compose import open_reply

        if self.data is not None:
            open_reply(self, self.data.feed, **self.link, done=self._after_dialog)

    def action_edit(self) -> None:
        from tscrm.tui.widgets.contact_form import ContactForm

        self.app.push_screen(ContactForm(self.KIND, self.record_id), self._after_dialog)
