"""Team: every colleague with extension, email, phone, group, working hours, and who is online.

Online means the colleague's app beat within the last 60 s (the app beats every 30 s). Presence is
re-read every ``PRESENCE_REFRESH_S`` while the section is shown, since someone going offline writes
nothing that would wake the screen. Keys: x or enter calls the selected colleague (until telephony
lands: a notice with the extension to dial); r reloads.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tscrm.present import presence_text
from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.labels import GROUP_NAMES, label
from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.widgets.tables import cursor_row_id

PRESENCE_REFRESH_S = 15
# (key, label, width) of the table's columns; None: as wide as the content
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("status", N_("Status"), 9),
    ("name", N_("Name"), 20),
    ("extension", N_("Ext."), 5),
    ("email", N_("Email"), 22),
    ("phone", N_("Phone"), 16),
    ("group", N_("Group"), 8),
    ("hours", N_("Working hours"), None),
)


def zone_city(tz: str) -> str:
    """"Europe/Madrid" -> "Madrid": enough to tell whose clock the hours are on."""
    return tz.rsplit("/", 1)[-1].replace("_", " ")


def member_cells(member, region: str | None) -> tuple[Text, ...]:
    """One row of the table, for a ``tscrm.core.services.users.TeamMember`` (shown as written, no markup)."""
    from tscrm.core.phones import format_phone
    from tscrm.core.services.users import working_hours_text

    phone = member.phone or ""
    return (
        Text(presence_text(member.online), style="bold green" if member.online else "dim", end=""),
        Text(member.name, end=""),
        Text(member.extension or "", end=""),
        Text(member.email, end=""),
        Text(format_phone(phone, region) if phone.startswith("+") else phone, end=""),
        Text(label(GROUP_NAMES, member.group), end=""),
        Text(f"{working_hours_text(member.working_hours)} · {zone_city(member.timezone)}", end=""),
    )


def call_notice(member, me_id: int) -> tuple[str, str] | None:
    """Why a colleague cannot be called from here (message, severity); None when they can."""
    if member.id == me_id:
        return _("That is you."), "information"
    if member.extension or member.phone:
        return None
    return _("{name} has no extension or phone.").format(name=member.name), "warning"


class TeamScreen(SectionScreen):
    SECTION = "team"
    CSS_PATH = "team.tcss"
    BINDINGS = [
        Binding("x", "call", N_("Call")),
        Binding("r", "reload", N_("Refresh")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.members: list[Any] = []
        self.loaded = False

    def compose_content(self) -> ComposeResult:
        yield DataTable(id="team-table", cursor_type="row", zebra_stripes=True)
        yield Static(self._status_text(), id="team-status")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill_table()
        self._table().focus()
        self.set_interval(PRESENCE_REFRESH_S, self._presence_tick)

    async def recompose(self) -> None:
        """After a language switch: same data, new words."""
        await super().recompose()
        self._fill_table()
        self._table().focus()

    def _table(self) -> DataTable:
        return self.query_one("#team-table", DataTable)

    def _status_text(self) -> str:
        if not self.loaded:
            return _("Loading…")
        online = sum(1 for m in self.members if m.online)
        return _("{n} colleague(s), {online} online (seen in the last 60 s) · x calls the selected one").format(
            n=len(self.members), online=online
        )

    def _fill_table(self) -> None:
        table = self._table()
        keep = self._selected_id()
        table.clear(columns=True)
        for key, name, width in COLUMNS:
            table.add_column(_(name), key=key, width=width)
        for member in self.members:
            table.add_row(*member_cells(member, self.ctx.region), key=str(member.id))
        index = next((i for i, m in enumerate(self.members) if m.id == keep), None)
        if index is not None:
            table.move_cursor(row=index, animate=False)
        self.query_one("#team-status", Static).update(self._status_text())

    # -- data -----------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load()

    def _presence_tick(self) -> None:
        if self.app.screen is self:
            self.load()

    @work(thread=True, exclusive=True, group="team-load")
    def load(self) -> None:
        from tscrm.core.services.users import team_members
        from tscrm.core.types import utcnow

        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                members = team_members(session, utcnow())
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show, members)

    def _show(self, members: list[Any]) -> None:
        self.members, self.loaded = members, True
        self._fill_table()

    # -- actions --------------------------------------------------------------------------------

    def _selected_id(self) -> int | None:
        return cursor_row_id(self._table())

    def action_call(self) -> None:
        member_id = self._selected_id()
        member = next((m for m in self.members if m.id == member_id), None)
        if member is None:
            return
        notice = call_notice(member, self.ctx.actor.id)
        if notice is not None:
            self.notify(notice[0], severity=notice[1])  # type: ignore[arg-type]
            return
        # the extension rings the colleague's own phone; without one, their phone number
        self.app.phone.dial(member.extension or member.phone, name=member.name)  # type: ignore[attr-defined]

    @on(DataTable.RowSelected, "#team-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_call()

    def action_reload(self) -> None:
        self.refresh_data()
