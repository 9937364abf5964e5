"""Leads: "My leads" and "Unsorted" (the shared pool), paged, live.

Keys: m / u switch tabs; c claims the selected pool lead; g claims the next one and opens it (as
ctrl+n anywhere); n or + adds a lead (mine, or to the pool in Unsorted); s toggles unprocessed ↔
in progress; f closes (create client / bad quality); r gives a lead back to the pool; x shows the
number to call; enter opens the card; e exports the open leads of the tab (CSV, Excel or vCard).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static, Tab, Tabs

from tscrm.core.errors import LeadAlreadyClaimed, TscrmError
from tscrm.core.services.leads import OPEN_STATUSES
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.screens.lead_card import (
    CloseChoice,
    CloseLeadDialog,
    close_and_report,
    write_and_report,
)
from tscrm.tui.widgets.paged_table import PagedTable, PageRequest, PageRow, PageSource

TABS: tuple[tuple[str, str], ...] = (("mine", N_("My leads")), ("pool", N_("Unsorted")))
PRESET_TABS = {"mine": "mine", "pool": "pool", "unsorted": "pool", "new": "pool"}
COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", N_("Name")),
    ("company", N_("Company")),
    ("phone", N_("Phone")),
    ("source", N_("Source")),
    ("status", N_("Status")),
    ("created", N_("Created")),
    ("owner", N_("Responsible")),
)


@dataclass(frozen=True)
class LeadRow:
    """What the actions need to know about a line of the list (its cells are the table's)."""

    id: int
    name: str
    status: str  # the stored value ("unprocessed", ...)
    created_at: datetime  # with ``id``: the row's place in the order (the keyset cursor)
    record: dict[str, Any]  # the full contact record (phones for "call")

    @property
    def seek(self) -> tuple[datetime, int]:
        return (self.created_at, self.id)


def fetch_rows(session, actor, scope: str, request: PageRequest, region: str | None) -> list[PageRow]:
    """One page of open leads of ``scope`` ("mine" / "pool") by keyset, in a few queries.

    Each ``PageRow.cursor`` is the ``LeadRow`` itself: the table hands it back for the next page.
    """
    from tscrm.present import show_time
    from tscrm.present.records import contact_records
    from tscrm.core.phones import format_phone
    from tscrm.core.services import leads
    from tscrm.labels import LEAD_STATUSES, label

    seek = request.cursor.seek if request.cursor is not None else None
    where = {"first": {}, "last": {"last": True}, "after": {"after": seek}, "before": {"before": seek}, "start": {"start": seek}}
    found = leads.page_leads(session, actor, leads.LeadFilter(scope=scope), limit=request.limit, **where[request.where])  # type: ignore[arg-type]
    out: list[PageRow] = []
    for r in contact_records(session, "lead", found):
        phones = r["phones"]
        cells = (
            r["name"],
            r["company"] or "",
            format_phone(phones[0]["number"], region) if phones else "",
            r["source"] or "",
            label(LEAD_STATUSES, r["status"]),
            show_time(r["created_at"], actor.timezone),
            r["owner"] or _("Unsorted (pool)"),
        )
        out.append(PageRow(r["id"], cells, LeadRow(r["id"], r["name"], r["status"], r["created_at"], r)))
    return out


def count_rows(session, actor, scope: str) -> int:
    from tscrm.core.services import leads

    return leads.count_leads(session, actor, leads.LeadFilter(scope=scope))  # type: ignore[arg-type]


class LeadsScreen(SectionScreen):
    SECTION = "leads"
    CSS_PATH = "leads.tcss"
    BINDINGS = [
        Binding("enter", "open", N_("Open")),
        Binding("c", "claim", N_("Claim")),
        Binding("g", "claim_next", N_("Claim next")),
        Binding("n,plus", "add", N_("Add lead"), key_display="n/+"),
        Binding("s", "toggle_status", N_("Status")),
        Binding("f", "close_lead", N_("Close")),
        Binding("r", "release", N_("To pool")),
        Binding("x", "call", N_("Call")),
        Binding("i", "app.open_import('lead')", N_("Import"), show=False),
        Binding("m", "tab('mine')", N_("My leads"), show=False),
        Binding("u", "tab('pool')", N_("Unsorted"), show=False),
        Binding("b", "call_list", N_("Add to call list"), show=False),
        Binding("e", "export", N_("Export"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scope = "mine"

    # Textual's own first focus must land where on_mount puts it, or the key bar depends on timing.
    AUTO_FOCUS = "#leads-table"

    def compose_content(self) -> ComposeResult:
        yield Tabs(*[Tab(_(label), id=f"tab-{scope}") for scope, label in TABS], active=f"tab-{self.scope}", id="lead-tabs")
        yield self._make_table()
        yield Static("", id="leads-status")

    def on_mount(self) -> None:
        super().on_mount()
        self._table().focus()

    async def recompose(self) -> None:
        """After a language switch the widgets are new: fill them again."""
        await super().recompose()
        self._table().focus()
        self.refresh_data()

    # -- tabs ---------------------------------------------------------------------------------

    def apply_preset(self, preset: str) -> None:
        """Select the tab: "mine" or "pool" (the dashboard opens the section that way)."""
        tabs = self.query(Tabs)
        if tabs and tabs.first().is_mounted:
            self.action_tab(PRESET_TABS.get(preset, "mine"))
        else:  # the section opens for the first time: mounting the tabs would undo the choice
            self.set_timer(0.02, lambda: self.apply_preset(preset))

    def action_tab(self, scope: str) -> None:
        self.query_one(Tabs).active = f"tab-{scope}"

    @on(Tabs.TabActivated, "#lead-tabs")
    def _tab_changed(self, event: Tabs.TabActivated) -> None:
        scope = (event.tab.id or "tab-mine").removeprefix("tab-")
        if scope != self.scope:
            self.scope = scope
            self._reset_table()
            self.refresh_bindings()
        self._table().focus()

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self._reload_table()

    def _status_line(self, total: int | None) -> str:
        if total is None:
            return _("Counting…")
        if self.scope == "pool":
            return _("{n} unsorted lead(s) in the pool").format(n=total)
        return _("{n} open lead(s) of yours").format(n=total)

    # -- which keys apply ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "claim":
            return True if self.scope == "pool" else None
        if action == "release":
            return True if self.scope == "mine" else None
        return True

    # -- actions ------------------------------------------------------------------------------

    def action_open(self) -> None:
        row = self._selected()
        if row is not None:
            self.post_message(OpenRecord("lead", row.id))

    def action_claim_next(self) -> None:
        self.app.action_claim_next()  # type: ignore[attr-defined]

    def action_call(self) -> None:
        from tscrm.tui.widgets.call_widget import dial_record

        row = self._selected()
        if row is not None:
            dial_record(self.app, "lead", row.record)

    def action_call_list(self) -> None:
        from tscrm.tui.screens.call_list_dialog import leads_to_call_list

        leads_to_call_list(self, self.scope, self._selected(), self._table().total)

    def action_export(self) -> None:
        """The open leads of the tab to CSV, Excel or vCard (tscrm.tui.screens.export_dialog)."""
        from tscrm.tui.screens.export_dialog import lead_export

        self.app.push_screen(lead_export(self))

    def action_claim(self) -> None:
        row = self._selected()
        if row is not None and self.scope == "pool":
            self.claim(row.id, row.name)

    @work(thread=True, group="leads-write")
    def claim(self, lead_id: int, name: str) -> None:
        from tscrm.core.services import leads

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                leads.claim_lead(session, ctx.actor, lead_id)
        except LeadAlreadyClaimed as exc:
            # Somebody was faster: say who, and drop the row (a refresh shows the pool as it is).
            message = _("Too late: lead {name} was already claimed by {owner}.").format(name=name, owner=exc.owner_name)
            self.app.call_from_thread(self.notify, message, severity="warning")
            self.app.call_from_thread(self.refresh_data)
            return
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            self.app.call_from_thread(self.refresh_data)
            return
        self.app.call_from_thread(self.notify, _("Lead {name} is yours: it is in My leads now.").format(name=name))
        self.app.call_from_thread(self.app.refresh_screens)  # type: ignore[attr-defined]

    def action_toggle_status(self) -> None:
        row = self._selected()
        if row is not None:
            new = "in_progress" if row.status == "unprocessed" else "unprocessed"
            self.change_status(row.id, new)

    @work(thread=True, group="leads-write")
    def change_status(self, lead_id: int, status: str) -> None:
        from tscrm.core.models import LeadStatus
        from tscrm.core.services import leads
        from tscrm.labels import LEAD_STATUSES, label

        write_and_report(
            self,
            lambda s, a: leads.set_status(s, a, lead_id, LeadStatus(status)),
            _("Status: {status}").format(status=label(LEAD_STATUSES, status)),
        )

    def action_release(self) -> None:
        row = self._selected()
        if row is not None and self.scope == "mine":
            self.release(row.id, row.name)

    @work(thread=True, group="leads-write")
    def release(self, lead_id: int, name: str) -> None:
        from tscrm.core.services import leads

        write_and_report(
            self,
            lambda s, a: leads.release_lead(s, a, lead_id),
            _("Lead {name} is back in the pool.").format(name=name),
        )

    def action_close_lead(self) -> None:
        row = self._selected()
        if row is None or row.status not in OPEN_STATUSES:
            return

        def chosen(choice: CloseChoice | None) -> None:
            if choice is not None:
                self.close_lead(row.id, *choice)

        self.app.push_screen(CloseLeadDialog(row.name), chosen)

    @work(thread=True, group="leads-write")
    def close_lead(self, lead_id: int, how: str, reason: str) -> None:
        _closed, client_id = close_and_report(self, lead_id, how, reason)
        if client_id is not None:
            self.app.call_from_thread(self.post_message, OpenRecord("client", client_id))

    def action_add(self) -> None:
        """n / +: a lead of mine in My leads, an ownerless unprocessed one in Unsorted."""
        from tscrm.tui.widgets.contact_form import ContactForm

        self.app.push_screen(ContactForm("lead", to_pool=self.scope == "pool"), self._after_add)

    def _after_add(self, lead_id: int | None) -> None:
        if lead_id is not None:
            self.app.refresh_screens()  # type: ignore[attr-defined]
            self._table().action_scroll_bottom()  # the newest lead is the last row: show it

    # -- the table ----------------------------------------------------------------------------

    def _make_table(self) -> PagedTable:
        return PagedTable([(key, _(label)) for key, label in COLUMNS], id="leads-table")

    def _table(self) -> PagedTable:
        return self.query_one("#leads-table", PagedTable)

    def _selected(self) -> LeadRow | None:
        row = self._table().current
        return row.cursor if row is not None else None

    def _source(self, scope: str) -> PageSource:
        """Where the table reads its rows: runs in the table's worker threads."""
        ctx = self.ctx

        def fetch(request: PageRequest) -> list[PageRow]:
            with ctx.db.read() as session:
                return fetch_rows(session, ctx.actor, scope, request, ctx.region)

        def count() -> int:
            with ctx.db.read() as session:
                return count_rows(session, ctx.actor, scope)

        return PageSource(fetch, count)

    def _reset_table(self) -> None:
        self._table().reset(self._source(self.scope))

    def _reload_table(self) -> None:
        table = self._table()
        if table.source is None:
            self._reset_table()
        else:
            table.reload()

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        self.action_open()

    @on(PagedTable.Changed, "#leads-table")
    def _table_changed(self, event: PagedTable.Changed) -> None:
        self.query_one("#leads-status", Static).update(self._status_line(event.table.total))
