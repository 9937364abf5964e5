"""The notification centre (ctrl+e anywhere): the user's new-mail notices, newest first.

Unseen ones are marked with a dot. Keys: enter marks the highlighted one seen and opens the client or
lead it came from; space marks it seen; a marks all seen; escape closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css


@dataclass
class Notice:
    id: int
    seen: bool
    when: Any
    sender: str
    subject: str
    record: tuple[str, int] | None  # ("client", id) / ("lead", id) the message concerns


def load_notices(session, actor, limit: int = 200) -> list[Notice]:
    from tscrm.core.services.mail import _address_owners, list_notifications

    rows = list_notifications(session, actor, limit=limit)
    owners = _address_owners(session, {m.sender for _n, m in rows if m.sender})
    out = []
    for notice, msg in rows:
        clients, leads = owners.get(msg.sender, ([], []))
        record = ("client", clients[0]) if clients else ("lead", leads[0]) if leads else None
        sender = f"{msg.sender_name} <{msg.sender}>" if msg.sender_name else msg.sender
        out.append(Notice(notice.id, notice.seen_at is not None, msg.sent_at or notice.created_at, sender, msg.subject, record))  # type: ignore[arg-type]
    return out


class NotificationCentre(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Close")),
        Binding("space", "mark_seen", N_("Seen")),
        Binding("a", "mark_all", N_("All seen")),
    ]
    DEFAULT_CSS = dialog_css("NotificationCentre") + """
    NotificationCentre > Vertical { width: 110; }
    NotificationCentre #notice-list { height: auto; max-height: 24; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.notices: list[Notice] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Notifications"), classes="dialog-title")
            yield OptionList(id="notice-list")
            yield Static(_("enter opens · space: seen · a: all seen · escape closes"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, group="notices")
    def load(self) -> None:
        try:
            with self.ctx.db.read() as session:
                notices = load_notices(session, self.ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show, notices)

    def _show(self, notices: list[Notice]) -> None:
        from zoneinfo import ZoneInfo

        self.notices = notices
        zone = ZoneInfo(self.ctx.actor.timezone)
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        if not notices:
            options.add_option(Option(Text(_("No notifications."), style="dim"), id="none", disabled=True))
            return
        for notice in notices:
            line = Text()
            line.append("● " if not notice.seen else "  ", style="bold cyan")
            line.append(notice.when.astimezone(zone).strftime("%Y-%m-%d %H:%M"), style="dim")
            line.append(f"  {notice.sender}  ")
            line.append(notice.subject or _("(no subject)"), style="bold" if not notice.seen else "")
            options.add_option(Option(line, id=f"notice-{notice.id}"))
        options.highlighted = min(highlighted or 0, len(notices) - 1)

    def _current(self) -> Notice | None:
        index = self.query_one(OptionList).highlighted
        return self.notices[index] if index is not None and index < len(self.notices) else None

    def action_mark_seen(self) -> None:
        notice = self._current()
        if notice is not None:
            self.mark([notice.id])

    def action_mark_all(self) -> None:
        self.mark(None)

    @work(thread=True, group="notices-write")
    def mark(self, ids: list[int] | None, then_open: tuple[str, int] | None = None) -> None:
        from tscrm.core.services.mail import mark_seen

        with self.ctx.db.write() as session:
            mark_seen(session, self.ctx.actor, ids)
        self.app.call_from_thread(self._marked, then_open)

    def _marked(self, then_open: tuple[str, int] | None) -> None:
        from tscrm.tui.widgets.mail_counter import MailCounter

        MailCounter.of(self.app).poll()
        if then_open is not None:
            self.dismiss(None)
            self.app.open_record(*then_open)  # type: ignore[attr-defined]
        else:
            self.load()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        notice = self._current()
        if notice is None:
            return
        if notice.record is None:
            self.notify(_("This email concerns no client or lead."), severity="warning")
        self.mark([notice.id], notice.record)
