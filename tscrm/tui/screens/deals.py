"""Deals: the pipeline as a kanban (six stages) or as a sorted, filtered, paged list.

Keys: v switches kanban ↔ list; arrows move between cards (kanban) or rows (list); shift+←/→ or
[ / ] move the deal to the previous/next stage (saved at once, stamped in its feed); enter opens
the deal card; n or + creates a deal (choose the client, then the deal dialog); f filters
(responsible, client, status, currency, amount, created/closed between); m only my deals; in the
list s changes the sort column, S reverses it, PgDn/PgUp past the last/first row load the
next/previous page; r reloads; e exports the deals of the whole filter (CSV or Excel).

Column headers show the count and the total in the company's base currency (converted with the
company's rates); cards show their amount in their own currency. Both views read only what they
show: the newest ``PER_COLUMN`` cards per stage ("+K more" for the rest), ``PAGE_SIZE`` rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from tscrm.labels import DEAL_STATUSES, label
from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.offset_list import OffsetListScreen, Page, PageTable, read_page
from tscrm.tui.screens.filter_dialog import FilterDialog, RecordPicker, parse_day
from tscrm.tui.widgets.kanban import Kanban, KanbanCard, KanbanColumn

# The pipeline, in order (the keys of DEAL_STATUSES follow tscrm.core.models.DealStatus; a test keeps them equal).
STAGES: tuple[str, ...] = tuple(DEAL_STATUSES)
PER_COLUMN = 20
PAGE_SIZE = 50
SORT_LABELS: dict[str, str] = {
    "created": N_("created"),
    "amount": N_("amount"),
    "title": N_("title"),
    "status": N_("status"),
    "closed": N_("closed"),
}
# list columns: (key, label, width); the sortable ones share their key with SORT_LABELS
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("title", N_("Title"), 26),
    ("client", N_("Client"), 20),
    ("amount", N_("Amount"), 15),
    ("status", N_("Status"), 16),
    ("owner", N_("Responsible"), 14),
    ("created", N_("Created"), 10),
    ("closed", N_("Closed"), 10),
)


# --- shared helpers (the deal card uses them too) ------------------------------------------------


def money(amount: Decimal, currency: str) -> str:
    """An amount in the user's language, e.g. "1.234,50 €" (babel)."""
    from tscrm.present import format_money

    return format_money(amount, currency)


def stage_label(status: str) -> str:
    return label(DEAL_STATUSES, status)


def step_status(status: str, step: int) -> str | None:
    """The stage ``step`` places after ``status`` in the pipeline, None past either end."""
    i = STAGES.index(status) + step
    return STAGES[i] if 0 <= i < len(STAGES) else None


_move_lock = threading.Lock()  # one stage change at a time: quick presses apply in order


def move_by(db, actor, deal_id: int, step: int) -> str | None:
    """Move a deal ``step`` stages from where it is *now* (in one write); its new stage, or None."""
    from tscrm.core.services import deals

    with _move_lock, db.write() as session:
        deal = deals.get_deal(session, actor, deal_id)
        target = step_status(deal.status.value, step)
        if target is None:
            return None
        deals.move_deal(session, actor, deal_id, target)
        return target


def local_day(value: datetime | None, tz: str) -> str:
    from tscrm.present import get_zone

    return value.astimezone(get_zone(tz)).strftime("%Y-%m-%d") if value else ""


# --- what the user filters by ------------------------------------------------------------------


@dataclass(frozen=True)
class DealQuery:
    """The filters as the user set them (with names, for the summary line)."""

    mine: bool = False
    owner_id: int | None = None
    owner_name: str = ""
    client_id: int | None = None
    client_name: str = ""
    status: str | None = None
    currency: str | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    created_from: date | None = None
    created_to: date | None = None  # inclusive: the whole day counts
    closed_from: date | None = None
    closed_to: date | None = None

    def to_filter(self, tz: str):
        """The core DealFilter: days become half-open UTC bounds of the user's local days."""
        from tscrm.core.services.deals import DealFilter
        from tscrm.core.timeutil import local_midnight

        def start(day: date | None) -> datetime | None:
            return local_midnight(day, tz) if day else None

        def end(day: date | None) -> datetime | None:
            return local_midnight(day + timedelta(days=1), tz) if day else None

        return DealFilter(
            mine=self.mine,
            owner_id=self.owner_id,
            client_id=self.client_id,
            statuses=(self.status,) if self.status else (),  # type: ignore[arg-type]
            currency=self.currency,
            amount_min=self.amount_min,
            amount_max=self.amount_max,
            created_from=start(self.created_from),
            created_to=end(self.created_to),
            closed_from=start(self.closed_from),
            closed_to=end(self.closed_to),
        )

    def parts(self) -> list[str]:
        """One short phrase per active filter, translated."""
        out: list[str] = []
        if self.mine:
            out.append(_("only mine"))
        if self.owner_id is not None:
            out.append(_("responsible: {name}").format(name=self.owner_name or self.owner_id))
        if self.client_id is not None:
            out.append(_("client: {name}").format(name=self.client_name or self.client_id))
        if self.status:
            out.append(_("status: {status}").format(status=stage_label(self.status)))
        if self.currency:
            out.append(_("currency: {code}").format(code=self.currency))
        if self.amount_min is not None or self.amount_max is not None:
            out.append(_("amount: {low} – {high}").format(low=_bound(self.amount_min), high=_bound(self.amount_max)))
        if self.created_from or self.created_to:
            out.append(_("created: {low} – {high}").format(low=_bound(self.created_from), high=_bound(self.created_to)))
        if self.closed_from or self.closed_to:
            out.append(_("closed: {low} – {high}").format(low=_bound(self.closed_from), high=_bound(self.closed_to)))
        return out


def _bound(value: object) -> str:
    return "…" if value is None else str(value)


# --- reading --------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One column of the board, with the records of the cards it shows."""

    status: str
    count: int
    total: Decimal  # in the base currency
    unconverted: dict[str, Decimal]  # currencies without a rate: their sums, not converted
    deals: list[dict[str, Any]]


@dataclass
class Board:
    base: str
    stages: list[Stage]


def load_board(session, actor, filt, per_column: int | None = None) -> Board:
    from tscrm.present.records import deal_records
    from tscrm.core.services import company, deals

    columns = deals.board(session, actor, filt, per_column=PER_COLUMN if per_column is None else per_column)
    records = {r["id"]: r for r in deal_records(session, [d for c in columns for d in c.deals])}
    stages = [
        Stage(c.status.value, c.count, c.total_base, dict(c.unconverted), [records[d.id] for d in c.deals])
        for c in columns
    ]
    return Board(company.get_company(session).base_currency, stages)


def load_page(session, actor, filt, sort: str, descending: bool, offset: int, limit: int | None = None) -> Page:
    from tscrm.present.records import deal_records
    from tscrm.core.services import deals

    limit = limit or PAGE_SIZE
    return read_page(
        offset,
        limit,
        lambda: deals.count_deals(session, actor, filt),
        lambda at: deal_records(session, deals.list_deals(session, actor, filt, sort=sort, descending=descending, limit=limit, offset=at)),
    )


# --- building what is shown (in the current language) ----------------------------------------------


def column_subtitle(stage: Stage, base: str) -> str:
    """"3 · 1.234,00 €", plus any sums in currencies that lost their rate."""
    text = f"{stage.count} · {money(stage.total, base)}"
    for code, amount in sorted(stage.unconverted.items()):
        text += " + " + _("{amount} (no rate)").format(amount=money(amount, code))
    return text


def card_content(record: dict[str, Any], actor_id: int) -> Text:
    text = Text()
    text.append(record["title"], style="bold")
    text.append("\n" + (record["client"] or ""), style="dim")
    text.append("\n" + money(record["amount"], record["currency"]), style="cyan")
    if record["owner_id"] != actor_id:
        text.append("\n" + (record["owner"] or _("nobody")), style="italic dim")
    return text


def kanban_columns(board: Board | None, actor_id: int) -> list[KanbanColumn]:
    if board is None:
        return [KanbanColumn(s, stage_label(s), "…") for s in STAGES]
    return [
        KanbanColumn(
            stage.status,
            stage_label(stage.status),
            column_subtitle(stage, board.base),
            tuple(KanbanCard(r["id"], card_content(r, actor_id)) for r in stage.deals),
            more=stage.count - len(stage.deals),
        )
        for stage in board.stages
    ]


def row_cells(record: dict[str, Any], tz: str) -> tuple[Any, ...]:
    return (
        record["title"],
        record["client"] or "",
        Text(money(record["amount"], record["currency"]), justify="right"),
        stage_label(record["status"]),
        record["owner"] or "",
        local_day(record["created_at"], tz),
        local_day(record["closed_at"], tz),
    )


# --- dialogs --------------------------------------------------------------------------------------


class ClientPicker(RecordPicker):
    """The universal search, restricted to clients: dismisses with ("client", id) or None."""

    KINDS = ("client",)

    def heading(self) -> str:
        return _("Choose the client: name, company, email, tag or phone")


def _parse_amount(raw: str, field_label: str) -> Decimal | None:
    from tscrm.core.services.deals import parse_amount

    return parse_amount(raw, field_label) if raw.strip() else None


class DealFilterDialog(FilterDialog):
    """Every filter of the deals screen in one form. ctrl+s or Enter applies, escape cancels."""

    USERS_SELECT = "filter-owner"
    DEFAULT_CSS = """
    DealFilterDialog { align: center middle; }
    #filter-box { width: 76; max-width: 98%; height: auto; border: thick $accent; background: $surface; padding: 0 1; }
    #filter-box .row { height: auto; }
    #filter-box .row > Label { width: 14; padding: 1 1 0 0; }
    #filter-box .row > Input { width: 1fr; }
    #filter-box .row > Select { width: 1fr; }
    #filter-box .dash { width: 3; padding: 1 1 0 1; }
    #filter-client-name { width: 1fr; padding: 1 1 0 0; }
    #filter-error { color: $error; height: auto; }
    #filter-buttons { height: auto; align-horizontal: right; }
    #filter-buttons Button { margin-left: 1; }
    """

    def __init__(self, query: DealQuery) -> None:
        super().__init__()
        self.initial = query
        self.client_id = query.client_id
        self.client_name = query.client_name

    def compose(self) -> ComposeResult:
        q = self.initial
        with Vertical(id="filter-box"):
            yield Static(_("Filter deals"), classes="title")
            with Horizontal(classes="row"):
                yield Label(_("Responsible"))
                owners = [(q.owner_name, q.owner_id)] if q.owner_id is not None else []
                yield Select(owners, prompt=_("Anyone"), value=q.owner_id if q.owner_id is not None else Select.NULL, id="filter-owner")
            with Horizontal(classes="row"):
                yield Label(_("Client"))
                yield Static(self._client_text(), id="filter-client-name")
                yield Button(_("Choose…"), id="filter-client-pick")
                yield Button(_("Any"), id="filter-client-clear")
            with Horizontal(classes="row"):
                yield Label(_("Status"))
                yield Select(
                    [(stage_label(s), s) for s in STAGES],
                    prompt=_("Any status"),
                    value=q.status or Select.NULL,
                    id="filter-status",
                )
            with Horizontal(classes="row"):
                yield Label(_("Currency"))
                yield Input(q.currency or "", placeholder=_("e.g. USD"), id="filter-currency")
            with Horizontal(classes="row"):
                yield Label(_("Amount"))
                yield Input(_text(q.amount_min), placeholder=_("from"), id="filter-amount-min")
                yield Static("–", classes="dash")
                yield Input(_text(q.amount_max), placeholder=_("to"), id="filter-amount-max")
            for key, name, low, high in (
                ("created", _("Created"), q.created_from, q.created_to),
                ("closed", _("Closed"), q.closed_from, q.closed_to),
            ):
                with Horizontal(classes="row"):
                    yield Label(name)
                    yield Input(_text(low), placeholder="YYYY-MM-DD", id=f"filter-{key}-from")
                    yield Static("–", classes="dash")
                    yield Input(_text(high), placeholder="YYYY-MM-DD", id=f"filter-{key}-to")
            yield from self.compose_buttons()

    def on_mount(self) -> None:
        self.query_one("#filter-owner", Select).focus()
        self.load_users()

    def _client_text(self) -> str:
        return self.client_name if self.client_id is not None else _("any client")

    @on(Button.Pressed, "#filter-client-pick")
    def _pick_client(self) -> None:
        def chosen(result: tuple[str, int] | None) -> None:
            if result is not None:
                self.client_id = result[1]
                self.client_name = ""
                self.load_client_name(result[1])

        self.app.push_screen(ClientPicker(), chosen)

    @work(thread=True, exclusive=True, group="deal-filter-client")
    def load_client_name(self, client_id: int) -> None:
        from tscrm.core.services.clients import get_client

        ctx = self.app.ctx  # type: ignore[attr-defined]
        with ctx.db.read() as session:
            name = get_client(session, ctx.actor, client_id).name
        self.app.call_from_thread(self._set_client_name, client_id, name)

    def _set_client_name(self, client_id: int, name: str) -> None:
        if client_id == self.client_id:
            self.client_name = name
            self.query_one("#filter-client-name", Static).update(self._client_text())

    @on(Button.Pressed, "#filter-client-clear")
    def _clear_client(self) -> None:
        self.client_id, self.client_name = None, ""
        self.query_one("#filter-client-name", Static).update(self._client_text())

    def cleared(self) -> DealQuery:
        return DealQuery(mine=self.initial.mine)

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value

    def _read(self) -> DealQuery:
        from tscrm.core.services.company import check_currency

        owner = self.query_one("#filter-owner", Select).value
        status = self.query_one("#filter-status", Select).value
        currency = self._value("filter-currency").strip()
        owner_id = None if owner is Select.NULL else int(owner)  # type: ignore[arg-type]
        return replace(
            self.initial,
            owner_id=owner_id,
            owner_name=next((n for n, uid in self.users if uid == owner_id), self.initial.owner_name) if owner_id else "",
            client_id=self.client_id,
            client_name=self.client_name,
            status=None if status is Select.NULL else str(status),
            currency=check_currency(currency, _("Currency")) if currency else None,
            amount_min=_parse_amount(self._value("filter-amount-min"), _("Amount from")),
            amount_max=_parse_amount(self._value("filter-amount-max"), _("Amount to")),
            created_from=parse_day(self._value("filter-created-from"), _("Created from")),
            created_to=parse_day(self._value("filter-created-to"), _("Created to")),
            closed_from=parse_day(self._value("filter-closed-from"), _("Closed from")),
            closed_to=parse_day(self._value("filter-closed-to"), _("Closed to")),
        )


def _text(value: object) -> str:
    return "" if value is None else str(value)


# --- the screen -----------------------------------------------------------------------------------


@dataclass
class _View:
    """What is asked of the database: the view, the filters, the list's order and page."""

    kind: str = "kanban"  # or "list"
    query: DealQuery = field(default_factory=DealQuery)
    sort: str = "created"
    descending: bool = True
    offset: int = 0


class DealsScreen(OffsetListScreen):
    SECTION = "deals"
    TABLE_ID = "deals-table"
    CSS_PATH = "deals.tcss"
    BINDINGS = [
        Binding("v", "toggle_view", N_("Kanban/List")),
        Binding("n,plus", "new_deal", N_("New deal"), key_display="n/+"),
        Binding("f", "filters", N_("Filters")),
        Binding("m", "toggle_mine", N_("Only mine")),
        Binding("s", "sort", N_("Sort")),
        Binding("S", "reverse", N_("Reverse"), key_display="S"),
        Binding("shift+left,left_square_bracket", "move_selected(-1)", N_("Move left"), key_display="⇧← ["),
        Binding("shift+right,right_square_bracket", "move_selected(1)", N_("Move right"), key_display="⇧→ ]"),
        Binding("r", "reload", N_("Refresh"), show=False),
        Binding("e", "export", N_("Export"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = _View()
        self.board: Board | None = None
        self.page: Page | None = None
        self._focus_pending = True  # focus the view once its first data arrive

    # -- layout ---------------------------------------------------------------------------------

    def compose_content(self) -> ComposeResult:
        yield Static(self._bar_text(), id="deals-bar")
        kanban = Kanban(kanban_columns(self.board, self.ctx.actor.id), id="deals-kanban")
        kanban.display = self.view.kind == "kanban"
        yield kanban
        table = PageTable(id="deals-table", cursor_type="row", zebra_stripes=True)
        table.display = self.view.kind == "list"
        yield table
        yield Static(self._status_text(), id="deals-status")

    def on_mount(self) -> None:
        super().on_mount()
        self._fill_table()

    async def recompose(self) -> None:
        """After a language switch: same data, new words, focus back on the view."""
        await super().recompose()
        self._fill_table()
        self._focus_pending = True
        self._focus_view()

    def _kanban(self) -> Kanban:
        return self.query_one("#deals-kanban", Kanban)

    def _bar_text(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(_("Kanban") if self.view.kind == "kanban" else _("List"), style="bold")
        parts = self.view.query.parts()
        text.append("  ·  ")
        if parts:
            text.append(_("Filters: {list}").format(list=", ".join(parts)), style="yellow")
        else:
            text.append(_("No filters (f to filter, m for only mine)"), style="dim")
        return text

    def _status_text(self) -> str:
        if self.view.kind == "kanban":
            if self.board is None:
                return _("Loading…")
            return _("{n} deal(s) · v: list view").format(n=sum(s.count for s in self.board.stages))
        page = self.page
        if page is None:
            return _("Loading…")
        if not page.total:
            return _("No deals match.")
        arrow = "↓" if self.view.descending else "↑"
        return _("{first}–{last} of {total} · sorted by {sort} {arrow} · PgDn/PgUp at the end: more").format(
            first=page.offset + 1,
            last=page.offset + len(page.rows),
            total=page.total,
            sort=_(SORT_LABELS[self.view.sort]),
            arrow=arrow,
        )

    def _update_texts(self) -> None:
        self.query_one("#deals-bar", Static).update(self._bar_text())
        self.query_one("#deals-status", Static).update(self._status_text())

    def page_size(self) -> int:
        return PAGE_SIZE

    def list_columns(self) -> list[tuple[str, str, int]]:
        """The sort column's title shows the order (↓ descending, ↑ ascending)."""
        arrow = " ↓" if self.view.descending else " ↑"
        return [(key, _(name) + (arrow if key == self.view.sort else ""), width) for key, name, width in COLUMNS]

    def list_cells(self, record: dict[str, Any]) -> tuple[Any, ...]:
        return row_cells(record, self.ctx.actor.timezone)

    def _focus_view(self) -> None:
        if not self._focus_pending:
            return
        if self.view.kind == "kanban":
            if self.board is not None:  # an empty board has no card: the screen's keys work anyway
                self._focus_pending = False
                self._kanban().focus_first()
        else:
            self._focus_pending = False
            self._table().focus()

    # -- data -----------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        view = replace(self.view)
        if view.kind == "kanban":
            self.load_board(view)
        else:
            self.load_list(view)

    @work(thread=True, exclusive=True, group="deals-load")
    def load_board(self, view: _View) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                board = load_board(session, ctx.actor, view.query.to_filter(ctx.actor.timezone))
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_board, view, board)

    async def _show_board(self, view: _View, board: Board) -> None:
        if view != self.view:
            return  # the user changed the view or the filters meanwhile: a newer load is coming
        self.board = board
        await self._kanban().set_columns(kanban_columns(board, self.ctx.actor.id))
        self._update_texts()
        self._focus_view()

    @work(thread=True, exclusive=True, group="deals-load")
    def load_list(self, view: _View) -> None:
        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                filt = view.query.to_filter(ctx.actor.timezone)
                page = load_page(session, ctx.actor, filt, view.sort, view.descending, view.offset)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show_page, view, page)

    def _page_shown(self) -> None:
        self._focus_view()

    def _change(self, **changes: Any) -> None:
        """Change what is shown and reload it."""
        self.view = replace(self.view, **changes)
        self._update_texts()
        self.refresh_bindings()
        self.refresh_data()

    # -- presets --------------------------------------------------------------------------------

    def apply_preset(self, preset: str) -> None:
        """"mine", "all", "list" or "kanban"."""
        if preset in ("mine", "all"):
            self._change(query=replace(self.view.query, mine=preset == "mine"), offset=0)
        elif preset in ("list", "kanban") and preset != self.view.kind:
            self.action_toggle_view()

    # -- which keys apply -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in {"sort", "reverse", "move_selected"}:
            return self.view.kind == "list"
        return True

    # -- actions --------------------------------------------------------------------------------

    def action_export(self) -> None:
        """The deals of the current filter to CSV or Excel (tscrm.tui.screens.export_dialog)."""
        from tscrm.tui.screens.export_dialog import deal_export

        self.app.push_screen(deal_export(self))

    def action_toggle_view(self) -> None:
        kind = "list" if self.view.kind == "kanban" else "kanban"
        self._kanban().display = kind == "kanban"
        self._table().display = kind == "list"
        self._focus_pending = True
        self._change(kind=kind)
        if kind == "list" and self.page is not None:
            self._focus_view()

    def action_toggle_mine(self) -> None:
        self._change(query=replace(self.view.query, mine=not self.view.query.mine), offset=0)

    def action_filters(self) -> None:
        def chosen(query: DealQuery | None) -> None:
            if query is not None:
                self._change(query=query, offset=0)

        self.app.push_screen(DealFilterDialog(self.view.query), chosen)

    def action_sort(self) -> None:
        keys = list(SORT_LABELS)
        sort = keys[(keys.index(self.view.sort) + 1) % len(keys)]
        self._change(sort=sort, descending=sort in ("created", "amount", "closed"), offset=0)

    def action_reverse(self) -> None:
        self._change(descending=not self.view.descending, offset=0)

    def action_reload(self) -> None:
        self.refresh_data()

    @on(DataTable.RowSelected, "#deals-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.post_message(OpenRecord("deal", int(event.row_key.value)))

    @on(Kanban.CardChosen, "#deals-kanban")
    def _card_chosen(self, event: Kanban.CardChosen) -> None:
        self.post_message(OpenRecord("deal", int(event.key)))

    @on(Kanban.MoveRequested, "#deals-kanban")
    def _card_moved(self, event: Kanban.MoveRequested) -> None:
        self.move(int(event.key), STAGES.index(event.target) - STAGES.index(event.source))

    def action_move_selected(self, step: int) -> None:
        deal_id = self._selected_id()
        if deal_id is not None:
            self.move(deal_id, step)

    @work(thread=True, group="deals-write")
    def move(self, deal_id: int, step: int) -> None:
        ctx = self.ctx
        try:
            move_by(ctx.db, ctx.actor, deal_id, step)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
        self.app.call_from_thread(self.app.refresh_screens)  # type: ignore[attr-defined]

    # -- a new deal -------------------------------------------------------------------------------

    def action_new_deal(self) -> None:
        def chosen(result: tuple[str, int] | None) -> None:
            if result is not None:
                self.open_deal_dialog(result[1])

        self.app.push_screen(ClientPicker(), chosen)

    @work(thread=True, exclusive=True, group="deals-new")
    def open_deal_dialog(self, client_id: int) -> None:
        """The deal dialog for ``client_id``, titled with the client's name."""
        from tscrm.core.services.clients import get_client

        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                name = get_client(session, ctx.actor, client_id).name
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._push_deal_dialog, client_id, name)

    def _push_deal_dialog(self, client_id: int, name: str) -> None:
        from tscrm.tui.screens.deal_dialog import DealDialog

        def created(deal_id: int | None) -> None:
            if deal_id is not None:
                self._kanban().follow(deal_id)
                self.app.refresh_screens()  # type: ignore[attr-defined]

        self.app.push_screen(DealDialog(client_id, about=name), created)
