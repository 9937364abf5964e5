"""Help: the keymap, the same one the README documents."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tscrm.i18n import N_, _
from tscrm.tui.screens.base import SectionScreen

KEYMAP: tuple[tuple[str, str], ...] = (
    ("1 … 0, F1", N_("Switch section (Dashboard, Clients, Deals, Calendar, Tasks, Calls, Leads, Team, Analytics, Settings, Help)")),
    ("/", N_("Universal search: clients, leads, deals by name, company, email, tag or phone")),
    ("ctrl+p", N_("Command palette: every action of every screen")),
    ("ctrl+n", N_("Claim the next lead of the pool and open it")),
    ("ctrl+b", N_("Show or hide the sidebar")),
    ("ctrl+l", N_("Change language (English, Español, Français)")),
    ("ctrl+q", N_("Quit")),
    ("n / +", N_("Clients, Leads: add")),
    ("c", N_("Leads: claim the selected lead")),
    ("x", N_("Card: call the open client or lead")),
    ("o", N_("Card: add a note")),
    ("t", N_("Card: new task")),
    ("enter", N_("Open the selected row or widget")),
    ("h, a, [, ]", N_("Dashboard: hide widget, show all, move widget")),
)


class HelpScreen(SectionScreen):
    SECTION = "help"

    def compose_content(self) -> ComposeResult:
        table = Table(title=_("Keys"), expand=True, show_lines=False)
        table.add_column(_("Key"), style="bold cyan", no_wrap=True)
        table.add_column(_("What it does"))
        for key, what in KEYMAP:
            table.add_row(key, _(what))
        with VerticalScroll():
            yield Static(table)
