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
    ("f2", N_("Phone: show the call widget and focus it, or hide it (escape: back to the screen, the widget stays)")),
    ("f3, f5, f6, o", N_("Incoming call: answer (softphone), create client, create lead, open the caller's card")),
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
    ("v", N_("Deals: switch between kanban and list")),
    ("← ↑ → ↓", N_("Deals kanban: move between cards and columns")),
    ("shift+← / shift+→, [ / ]", N_("Deals, deal card: move the deal to the previous / next stage")),
    ("n / +", N_("Deals: new deal (choose the client, then fill in the deal)")),
    ("f, m", N_("Deals: filters (responsible, client, status, currency, amount, dates), only my deals")),
    ("s, S", N_("Deals list: next sort column, reverse the order")),
    ("PgDn / PgUp", N_("Deals list: next / previous page (past the last / first row)")),
    ("enter, c", N_("Deal card: open the client")),
    ("m / u", N_("Leads: tab My leads / Unsorted (the pool)")),
    ("g", N_("Leads: claim the next lead of the pool and open it (as ctrl+n)")),
    ("s", N_("Leads, lead card: status unprocessed ↔ in progress")),
    ("f", N_("Leads, lead card: close the lead (create client or bad quality)")),
    ("r", N_("Leads, lead card: give the lead back to the pool")),
    ("e", N_("Card: edit")),
    ("k", N_("Card: filter the feed by kind")),
    ("escape", N_("Card, dialog: close")),
    ("v", N_("Tasks: kanban or list")),
    ("c", N_("Tasks: show or hide completed tasks (the Done column)")),
    ("space, d", N_("Tasks: complete or reopen the selected task")),
    ("enter", N_("Tasks: act on the task (call: place it; video: meeting link; SMS: when it goes; task: open its record)")),
    ("y", N_("Tasks: copy the meeting link of a video call")),
    ("o", N_("Tasks: open the linked client, lead or deal")),
    ("f, escape", N_("Tasks: go to the list's filters, and back")),
    ("n", N_("Tasks, Calendar: new task (in the calendar: on the focused day and hour)")),
    ("m / w / d", N_("Calendar: month, week or day view")),
    ("← → ↑ ↓", N_("Calendar: move by day; by week (month view) or by hour (week and day views)")),
    ("PgUp / PgDn, [ / ]", N_("Calendar: previous or next month, week or day")),
    ("t", N_("Calendar: back to today")),
    ("enter", N_("Calendar: open the focused day (in the day view: act on its task)")),
    ("u", N_("Calendar: whose calendar: mine, everyone's, each colleague's (with the right)")),
    ("enter", N_("Calls: open the call (client or lead, duration, recording, transcript)")),
    ("c", N_("Calls, call: open the card of its client or lead")),
    ("p / P", N_("Calls, call: play the recording with the system's player / stop it")),
    ("x", N_("Calls, call: call back")),
    ("D", N_("Calls: open the Dialer (call lists, the live queue)")),
    ("s", N_("Calls: search by number or name (enter or escape: back to the list)")),
    ("f, d, o, m", N_("Calls: filters (direction, outcome, agent, days, client or lead), cycle direction, cycle outcome, only my calls")),
    ("PgDn / PgUp", N_("Calls: next / previous page (past the last / first row)")),
    ("x / enter", N_("Team: call the selected colleague")),
    ("r", N_("Calls, Team: reload")),
    ("/", N_("Clients: the search field (typing filters the list; escape clears it)")),
    ("f, c", N_("Clients: show or hide the filters (responsible, tags, source, created, custom fields), clear them")),
    ("m / a", N_("Clients: tab My clients / All clients (with the right to see all)")),
    ("s, S", N_("Clients: sort by the next column (name, company, created), reverse the order")),
    ("space, shift+↑ / shift+↓", N_("Clients: select the row, extend the selection")),
    ("ctrl+a, escape", N_("Clients: select every client matching the filter, clear the selection")),
    ("b, delete", N_("Clients: bulk actions (tags, responsible, task, delete, call list, SMS, email), delete the selection")),
    ("PgUp / PgDn, Home / End", N_("Clients: previous / next screenful, first / last page")),
    ("x, o, t", N_("Clients: call, note, task for the highlighted client")),
    ("s, m, d", N_("Client card: SMS, email, new deal")),
    ("m, R", N_("Client and lead cards: write an email, reply to an email of the feed")),
    ("ctrl+e", N_("Notifications: new mail (space: seen, a: all seen)")),
    ("i", N_("Clients, Leads: import a CSV or Excel file")),
    ("e", N_("Clients, Leads, Deals, Calls: export the rows the list shows to CSV, Excel or vCard")),
    ("f3, f5, f6, f7, ctrl+s", N_("Import: choose the file, import, dry run, history, save the mapping")),
    ("enter, space / ← →, delete", N_("Import mapping: pick the field, next / previous field, leave the column out")),
    ("ctrl+x", N_("Import: cancel the running import (nothing is kept)")),
    ("u", N_("Import history: cancel (undo) the highlighted import")),
    ("b", N_("Leads: add the highlighted lead, or the whole tab, to a call list")),
    ("p, r, s, x, h", N_("Dialer: pause, resume, skip, stop, hang up")),
    ("i, c, n, w, d", N_("Dialer, after a call: interested, call back later, not interested, wrong number, do not call")),
    ("n, t, delete", N_("Settings: add (an account, a template), test a mail account, remove")),
    ("f / k", N_("Client card: filter the feed by kind")),
    ("ctrl+s", N_("Forms and dialogs: save (Enter too, except in a note)")),
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
