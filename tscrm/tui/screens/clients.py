"""Clients: "My clients" / "All clients", filters, search, sort, multi-select and bulk actions.

The table holds one screenful of rows and reads pages by index seeks (``services.clients.page_clients``),
so it is as quick on a million clients as on ten; the total is counted apart and cached per filter.

Keys: enter opens the card; n or + adds a client; / searches (typing filters the list); f shows or
hides the filters; c clears them; m / a: My clients / All clients; s sorts by the next column, S
reverses; space selects, shift+↑/↓ extend, ctrl+a selects every client matching the filter,
escape clears the selection; b bulk actions; delete deletes the selection; x call, o note, t task
for the highlighted client; PageUp/PageDown, Home/End move through the list; e exports the list (its tab and filters).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, OptionList, Select, Static, Tab, Tabs
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.widgets.paged_table import PagedTable, PageRequest, PageRow, PageSource

TABS: tuple[tuple[str, str], ...] = (("mine", N_("My clients")), ("all", N_("All clients")))
PRESET_TABS = {"mine": "mine", "all": "all"}
SORTS: tuple[tuple[str, str], ...] = (("name", N_("name")), ("company", N_("company")), ("created", N_("created")))
COLUMNS: tuple[tuple[str, str, int], ...] = (  # key, label, width: 138 columns with their padding
    ("name", N_("Name"), 22),
    ("company", N_("Company"), 18),
    ("phone", N_("Phone"), 17),
    ("email", N_("Email"), 22),
    ("tags", N_("Tags"), 12),
    ("owner", N_("Responsible"), 14),
    ("created", N_("Created"), 16),
)
SEARCH_LIMIT = 500  # the best matches of a search fill the list
SEARCH_DELAY_S = 0.15
FILTER_DELAY_S = 0.3
# --- what the list shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientQuery:
    """The tab, the filters and the search as the user set them, and the sort."""

    mine: bool = True
    owner_id: int | None = None
    tags: tuple[str, ...] = ()
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive: the start of the day after the one typed
    custom: tuple[tuple[str, str], ...] = ()
    search: str = ""
    search_ids: tuple[int, ...] | None = None  # the best matches of ``search``, when searching
    sort: str = "name"
    descending: bool = False

    def client_filter(self):
        from tscrm.core.services.clients import ClientFilter

        return ClientFilter(
            mine=self.mine,
            owner_id=None if self.mine else self.owner_id,
            tags=list(self.tags),
            source=self.source,
            created_from=self.created_from,
            created_to=self.created_to,
            custom=dict(self.custom),
            ids=None if self.search_ids is None else list(self.search_ids),
        )

    @property
    def count_key(self) -> tuple:
        """What the total depends on (not the sort)."""
        return replace(self, sort="name", descending=False)

    @property
    def filtered(self) -> bool:
        return bool(self.owner_id or self.tags or self.source or self.created_from or self.created_to or self.custom)


@dataclass
class Meta:
    """What the filters and bulk actions offer: users, tags, sources, custom fields, dialling."""

    users: list[tuple[int, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    custom_fields: list[Any] = field(default_factory=list)
    dial_without_country_code: bool = False


def load_meta(session) -> Meta:
    from sqlmodel import col, select

    from tscrm.core.models import SourceLabel, Tag
    from tscrm.core.services import contacts, users
    from tscrm.core.services.company import get_company

    return Meta(
        users=[(u.id, u.name) for u in users.list_users(session)],  # type: ignore[misc]
        tags=list(session.exec(select(Tag.name).order_by(col(Tag.key)))),
        sources=list(session.exec(select(SourceLabel.name).order_by(col(SourceLabel.name)))),
        custom_fields=contacts.custom_fields(session, "client"),
        dial_without_country_code=get_company(session).dial_without_country_code,
    )


def row_cells(record: dict[str, Any], tz: str, region: str | None) -> tuple[str, ...]:
    from tscrm.present import show_time
    from tscrm.core.phones import format_phone

    phones, emails = record["phones"], record["emails"]
    return (
        record["name"],
        record["company"] or "",
        format_phone(phones[0]["number"], region) if phones else "",
        emails[0] if emails else "",
        ", ".join(record["tags"]),
        record["owner"] or "",
        show_time(record["created_at"], tz),
    )


class ClientSource:
    """Pages and the total of one query, read in worker threads; totals are cached per filter."""

    def __init__(self, db, actor, query: ClientQuery, region: str | None, counts: dict) -> None:
        self.db, self.actor, self.query, self.region, self.counts = db, actor, query, region, counts
        self.filt = query.client_filter()
        self._lock = threading.Lock()

    def fetch(self, request: PageRequest) -> list[PageRow]:
        from tscrm.present.records import contact_records
        from tscrm.core.services.clients import page_clients, page_cursor

        position: dict[str, Any] = {
            "first": {},
            "last": {"last": True},
            "after": {"after": request.cursor},
            "before": {"before": request.cursor},
            "start": {"start": request.cursor},
        }[request.where]
        sort = self.query.sort
        with self.db.read() as session:
            rows = page_clients(
                session, self.actor, self.filt, sort=sort, descending=self.query.descending, limit=request.limit, **position
            )
            records = contact_records(session, "client", rows)
        tz = self.actor.timezone
        return [PageRow(r["id"], row_cells(r, tz, self.region), page_cursor(c, sort), r) for c, r in zip(rows, records, strict=True)]

    def count(self) -> int:
        from tscrm.core.services.clients import count_clients

        key = self.query.count_key
        with self._lock:
            if key in self.counts:
                return self.counts[key]
        with self.db.read() as session:
            total = count_clients(session, self.actor, self.filt)
        with self._lock:
            self.counts[key] = total
        return total

    def page_source(self) -> PageSource:
        return PageSource(self.fetch, self.count)


def number(n: int) -> str:
    """A count as the user's language writes it (1,000,000 / 1.000.000 / 1 000 000)."""
    from babel.numbers import format_decimal

    from tscrm.i18n import current_language

    return format_decimal(n, locale=current_language())


# --- small dialogs of the bulk actions ------------------------------------------------------------

SMALL_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 64; max-width: 95%; height: auto; max-height: 90%; border: thick $accent; background: $surface; padding: 0 1; }}
{name} .dialog-title {{ text-style: bold; padding: 0 0 1 0; }}
{name} .dialog-hint {{ color: $text-muted; }}
{name} OptionList {{ height: auto; max-height: 16; }}
{name} .dialog-buttons {{ height: auto; align-horizontal: right; }}
{name} .dialog-buttons Button {{ margin-left: 1; }}
"""


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one of a few options (bulk actions, users): Enter chooses, escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = SMALL_DIALOG_CSS.format(name="ChoiceDialog")

    def __init__(self, title: str, options: Sequence[tuple[str, str]], *, dialog_id: str = "choice") -> None:
        super().__init__(id=dialog_id)
        self.title_text = title
        self.options = list(options)  # (id, label)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(label, id=option_id) for option_id, label in self.options], id="choice-list")
            yield Static(_("Enter chooses · escape cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        choices = self.query_one(OptionList)
        choices.highlighted = 0
        choices.focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class TextDialog(ModalScreen[str | None]):
    """Ask for one line (a tag...), with completion; Enter confirms, escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = SMALL_DIALOG_CSS.format(name="TextDialog")

    def __init__(self, title: str, *, suggester=None, placeholder: str = "") -> None:
        super().__init__(id="text-dialog")
        self.title_text = title
        self.suggester = suggester
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title")
            yield Input(placeholder=self.placeholder, suggester=self.suggester, id="text-value")
            yield Static(_("→ completes · Enter confirms · escape cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question: y or Enter on "Yes" confirms, n or escape says no."""

    BINDINGS = [
        Binding("escape,n", "dismiss(False)", N_("No")),
        Binding("y", "dismiss(True)", N_("Yes")),
    ]
    DEFAULT_CSS = SMALL_DIALOG_CSS.format(name="ConfirmDialog")

    def __init__(self, question: str, *, yes: str = "") -> None:
        super().__init__(id="confirm-dialog")
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="dialog-title")
            yield Static(_("y confirms · n or escape cancels"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes or _("Yes"), variant="error", id="confirm-yes")
                yield Button(_("No"), id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


@dataclass(frozen=True)
class BulkTarget:
    """The clients a bulk action applies to: listed ids, or every match of a filter but the excluded."""

    ids: tuple[int, ...] | None
    filt: Any = None
    excluded: frozenset[int] = frozenset()
    count: int | None = None

    def resolve(self, session, actor) -> list[int]:
        if self.ids is not None:
            return list(self.ids)
        from tscrm.core.services.clients import matching_ids

        return [i for i in matching_ids(session, actor, self.filt) if i not in self.excluded]

    def describe(self) -> str:
        if self.count is None:
            return _("every client matching the filter")
        return _("{n} client(s)").format(n=number(self.count))


# --- the screen ---------------------------------------------------------------------------------


class ClientsScreen(SectionScreen):
    SECTION = "clients"
    CSS_PATH = "clients.tcss"
    BINDINGS = [
        Binding("n,plus", "add", N_("Add client"), key_display="n/+"),
        Binding("slash", "focus_search", N_("Search"), key_display="/"),
        Binding("f", "toggle_filters", N_("Filters")),
        Binding("c", "clear_filters", N_("Clear filters"), show=False),
        Binding("s", "next_sort", N_("Sort")),
        Binding("S", "reverse_sort", N_("Reverse"), show=False),
        Binding("m", "tab('mine')", N_("My clients"), show=False),
        Binding("a", "tab('all')", N_("All clients"), show=False),
        Binding("ctrl+a", "select_all", N_("Select all matching")),
        Binding("b", "bulk", N_("Bulk actions")),
        Binding("delete", "delete", N_("Delete"), show=False),
        Binding("x", "call", N_("Call")),
        Binding("o", "note", N_("Note")),
        Binding("t", "task", N_("Task")),
        Binding("i", "app.open_import('client')", N_("Import"), show=False),
        Binding("e", "export", N_("Export"), show=False),
        Binding("escape", "escape", N_("Clear selection"), show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_state = ClientQuery()
        self.meta: Meta | None = None
        self.counts: dict = {}
        self.filters_shown = False
        self.filter_texts: dict[str, str] = {}  # what is typed in the filters (kept across a language switch)
        self.filter_error = ""
        self._search_timer = None
        self._filter_timer = None

    # -- layout ---------------------------------------------------------------------------------

    @property
    def can_see_all(self) -> bool:
        from tscrm.core.permissions import Right

        return self.ctx.actor.can(Right.SEE_ALL)

    def compose_content(self) -> ComposeResult:
        tabs = [Tab(_(label), id=f"tab-{scope}") for scope, label in TABS if scope == "mine" or self.can_see_all]
        active = "tab-mine" if self.query_state.mine else "tab-all"
        yield Tabs(*tabs, active=active, id="clients-tabs")
        yield Input(
            value=self.query_state.search,
            placeholder=_("Search clients: name, company, email, tag or phone (/)"),
            id="clients-search",
        )
        with Horizontal(id="clients-body"):
            with VerticalScroll(id="clients-filters", classes="" if self.filters_shown else "hidden"):
                yield from self._filter_widgets()
            yield PagedTable([(key, _(label), width) for key, label, width in COLUMNS], selectable=True, id="clients-table")
        yield Static("", id="clients-status")

    def _filter_widgets(self) -> ComposeResult:
        texts = self.filter_texts
        yield Static(_("Filters"), classes="title")
        with Vertical(id="flt-owner-box"):
            yield Static(_("Responsible"), classes="flt-label")
            users = self.meta.users if self.meta else []
            owner = self.query_state.owner_id
            yield Select(
                [(name, uid) for uid, name in users],
                prompt=_("Anyone"),
                value=owner if owner is not None and any(uid == owner for uid, _n in users) else Select.NULL,
                id="flt-owner",
            )
        for key, label, placeholder in (
            ("tags", _("Tags (all of them)"), _("vip, b2b")),
            ("source", _("Source"), ""),
            ("from", _("Created from"), _("YYYY-MM-DD")),
            ("to", _("Created to"), _("YYYY-MM-DD")),
        ):
            yield Static(label, classes="flt-label")
            yield Input(texts.get(key, ""), placeholder=placeholder, id=f"flt-{key}", classes="flt-input")
        yield Vertical(*self._custom_filter_widgets(), id="flt-custom")
        yield Static(self.filter_error, id="flt-error")
        yield Static(_("Changes apply at once · escape: back to the list · c clears"), classes="flt-hint")

    def _custom_filter_widgets(self) -> list:
        widgets: list = []
        for definition in self.meta.custom_fields if self.meta else []:
            value = self.filter_texts.get(f"custom-{definition.key}", "")
            widgets.append(Static(definition.label, classes="flt-label"))
            if definition.type == "choice":
                widgets.append(
                    Select(
                        [(c, c) for c in definition.choices],
                        prompt=_("Any"),
                        value=value if value in definition.choices else Select.NULL,
                        id=f"flt-custom-{definition.key}",
                    )
                )
            else:
                widgets.append(Input(value, id=f"flt-custom-{definition.key}", classes="flt-input"))
        return widgets

    def on_mount(self) -> None:
        super().on_mount()
        self._table().focus()
        self._owner_box_shown()
        self.load_meta()

    async def recompose(self) -> None:
        """After a language switch the widgets are new: title them and show the same query again."""
        await super().recompose()
        self._owner_box_shown()
        self._table().focus()
        self._reset()

    def _table(self) -> PagedTable:
        return self.query_one("#clients-table", PagedTable)

    # -- data -----------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        """Someone changed something: same page, fresh rows and totals."""
        self.counts.clear()
        table = self._table()
        if table.source is None:
            self.call_after_refresh(self._reset)  # once laid out, the first page fills the screen
        else:
            table.reload()

    def _reset(self) -> None:
        """A new query: the first page, counted anew unless the filter's total is known."""
        source = ClientSource(self.ctx.db, self.ctx.actor, self.query_state, self.ctx.region, self.counts)
        self._table().reset(source.page_source())
        self._update_status()

    def _set_query(self, **changes: Any) -> None:
        self.query_state = replace(self.query_state, **changes)
        self._reset()

    @work(thread=True, exclusive=True, group="clients-meta")
    def load_meta(self) -> None:
        with self.ctx.db.read() as session:
            meta = load_meta(session)
        self.app.call_from_thread(self._meta_loaded, meta)

    async def _meta_loaded(self, meta: Meta) -> None:
        first = self.meta is None
        self.meta = meta
        owner = self.query_one("#flt-owner", Select)
        current = owner.value
        owner.set_options([(name, uid) for uid, name in meta.users])
        if current is not Select.NULL and any(uid == current for uid, _n in meta.users):
            owner.value = current
        self.query_one("#flt-tags", Input).suggester = _tag_suggester(meta.tags)
        self.query_one("#flt-source", Input).suggester = SuggestFromList(meta.sources, case_sensitive=False)
        box = self.query_one("#flt-custom", Vertical)
        if first or not box.children:
            await box.remove_children()
            await box.mount_all(self._custom_filter_widgets())

    # -- tabs, sort, search, filters ------------------------------------------------------------

    def apply_preset(self, preset: str) -> None:
        """"mine" or "all" (the dashboard's Clients widget opens "all")."""
        self.action_tab(PRESET_TABS.get(preset, "mine"))

    def action_tab(self, scope: str) -> None:
        if scope == "all" and not self.can_see_all:
            return
        self.query_one(Tabs).active = f"tab-{scope}"

    @on(Tabs.TabActivated, "#clients-tabs")
    def _tab_changed(self, event: Tabs.TabActivated) -> None:
        mine = (event.tab.id or "tab-mine") != "tab-all"
        if mine != self.query_state.mine:
            self._set_query(mine=mine)
            self._owner_box_shown()
        self._table().focus()

    def _owner_box_shown(self) -> None:
        self.query_one("#flt-owner-box").display = self.can_see_all and not self.query_state.mine

    def action_next_sort(self) -> None:
        keys = [key for key, _label in SORTS]
        self._set_query(sort=keys[(keys.index(self.query_state.sort) + 1) % len(keys)], descending=False)

    def action_reverse_sort(self) -> None:
        self._set_query(descending=not self.query_state.descending)

    def action_focus_search(self) -> None:
        self.query_one("#clients-search", Input).focus()

    @on(Input.Changed, "#clients-search")
    def _search_typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY_S, lambda: self.run_search(event.value))

    @on(Input.Submitted, "#clients-search")
    def _search_submitted(self) -> None:
        self._table().focus()

    @work(thread=True, exclusive=True, group="clients-search")
    def run_search(self, text: str) -> None:
        from tscrm.core import search

        ids: tuple[int, ...] | None = None
        if len(text.strip()) >= 2:
            with self.ctx.db.read() as session:
                page = search.search(session, self.ctx.actor, text, limit=SEARCH_LIMIT, kinds=("client",))
            ids = tuple(hit.id for hit in page.hits)
        self.app.call_from_thread(self._searched, text, ids)

    def _searched(self, text: str, ids: tuple[int, ...] | None) -> None:
        if text != self.query_one("#clients-search", Input).value:
            return  # a newer search is on its way
        if ids != self.query_state.search_ids or text != self.query_state.search:
            self._set_query(search=text if ids is not None else "", search_ids=ids)

    def action_toggle_filters(self) -> None:
        panel = self.query_one("#clients-filters")
        self.filters_shown = not self.filters_shown
        panel.set_class(not self.filters_shown, "hidden")
        if self.filters_shown:
            first = "#flt-owner" if self.query_one("#flt-owner-box").display else "#flt-tags"
            self.query_one(first).focus()
        else:
            self._table().focus()

    @on(Input.Changed, ".flt-input")
    @on(Select.Changed, "#clients-filters Select")
    def _filter_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY_S, self._apply_filters)

    @on(Input.Submitted, ".flt-input")
    def _filter_submitted(self) -> None:
        self._apply_filters()

    def _apply_filters(self) -> None:
        """Read the panel, check the dates, and show the list it selects."""
        from tscrm.core.timeutil import local_midnight

        texts = {key: self.query_one(f"#flt-{key}", Input).value for key in ("tags", "source", "from", "to")}
        tz = self.ctx.actor.timezone
        errors: list[str] = []
        days: dict[str, date | None] = {}
        for key, label in (("from", _("Created from")), ("to", _("Created to"))):
            raw = texts[key].strip()
            try:
                days[key] = date.fromisoformat(raw) if raw else None
            except ValueError:
                days[key] = None
                errors.append(_("{field}: {value!r} is not a date like 2026-12-01").format(field=label, value=raw))
        custom: list[tuple[str, str]] = []
        for definition in self.meta.custom_fields if self.meta else []:
            editor = self.query_one(f"#flt-custom-{definition.key}")
            value = editor.value
            text = "" if value is Select.NULL or value is None else str(value).strip()
            texts[f"custom-{definition.key}"] = text
            if text:
                custom.append((definition.key, text))
        owner = self.query_one("#flt-owner", Select).value
        self.filter_texts = texts
        self.filter_error = "\n".join(errors)
        self.query_one("#flt-error", Static).update(self.filter_error)
        from tscrm.tui.widgets.contact_form import split_tags

        changes = {
            "owner_id": None if owner is Select.NULL else owner,
            "tags": tuple(split_tags(texts["tags"])),
            "source": texts["source"].strip() or None,
            "created_from": local_midnight(days["from"], tz) if days["from"] else None,
            "created_to": local_midnight(days["to"] + timedelta(days=1), tz) if days["to"] else None,
            "custom": tuple(custom),
        }
        if any(getattr(self.query_state, k) != v for k, v in changes.items()):
            self._set_query(**changes)

    def action_clear_filters(self) -> None:
        for key in ("tags", "source", "from", "to"):
            self.query_one(f"#flt-{key}", Input).value = ""
        self.query_one("#flt-owner", Select).clear()
        for definition in self.meta.custom_fields if self.meta else []:
            editor = self.query_one(f"#flt-custom-{definition.key}")
            if isinstance(editor, Select):
                editor.clear()
            else:
                editor.value = ""
        self._apply_filters()

    def action_escape(self) -> None:
        focused = self.focused
        if isinstance(focused, Input | Select) and focused is not None:
            if focused.id == "clients-search" and focused.value:
                focused.value = ""
                return
            self._table().focus()
            return
        table = self._table()
        if table.all_matching or table.selected:
            table.clear_selection()

    # -- status line ----------------------------------------------------------------------------

    @on(PagedTable.Changed, "#clients-table")
    def _table_changed(self) -> None:
        self._update_status()
        self.refresh_bindings()

    def _update_status(self) -> None:
        table = self._table()
        query = self.query_state
        parts: list[str] = []
        total = table.total
        if table.page_rows and table.first_index is not None and total is not None:
            first = table.first_index + 1
            parts.append(
                _("{first}–{last} of {total}").format(
                    first=number(first), last=number(min(table.first_index + len(table.page_rows), max(total, first))), total=number(total)
                )
            )
        elif total is not None:
            parts.append(_("{total} client(s)").format(total=number(total)))
        elif table.page_rows:
            parts.append(_("counting…"))
        else:
            parts.append(_("Loading…") if table.source is None else _("No clients here."))
        sort = dict(SORTS)[query.sort]
        parts.append(_("sorted by {column} {arrow}").format(column=_(sort), arrow="↓" if query.descending else "↑"))
        if query.search_ids is not None:
            note = _("search: {text}").format(text=query.search)
            if len(query.search_ids) >= SEARCH_LIMIT:
                note += " " + _("(best {n} matches)").format(n=SEARCH_LIMIT)
            parts.append(note)
        if query.filtered:
            parts.append(_("filtered (f)"))
        if table.all_matching:
            count = table.selection_count
            parts.append(
                _("all {n} matching selected").format(n=number(count)) if count is not None else _("all matching selected")
            )
        elif table.selected:
            parts.append(_("{n} selected").format(n=number(len(table.selected))))
        self.query_one("#clients-status", Static).update(Text(" · ".join(parts)))

    # -- which keys apply -----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "tab" and parameters and parameters[0] == "all" and not self.can_see_all:
            return None
        if action in ("call", "note", "task") and self._current() is None:
            return None
        return True

    # -- the highlighted client -----------------------------------------------------------------

    def _current(self) -> PageRow | None:
        try:
            return self._table().current
        except NoMatches:  # not composed yet (the key bar asks early)
            return None

    def on_data_table_row_selected(self, event) -> None:
        event.stop()
        row = self._current()
        if row is not None:
            self.post_message(OpenRecord("client", row.key))

    def action_call(self) -> None:
        from tscrm.tui.widgets.call_widget import dial_record

        row = self._current()
        if row is not None:
            dial_record(self.app, "client", row.data)

    def action_note(self) -> None:
        from tscrm.tui.screens.note_dialog import NoteDialog

        row = self._current()
        if row is not None:
            self.app.push_screen(NoteDialog(client_id=row.key, about=row.data["name"]), self._after_dialog)

    def action_task(self) -> None:
        from tscrm.tui.screens.task_dialog import TaskDialog

        row = self._current()
        if row is not None:
            self.app.push_screen(TaskDialog(client_id=row.key, about=row.data["name"]), self._after_dialog)

    def action_export(self) -> None:
        """The clients of the tab and its filters to CSV, Excel or vCard (tscrm.tui.screens.export_dialog)."""
        from tscrm.tui.screens.export_dialog import client_export

        self.app.push_screen(client_export(self))

    def action_add(self) -> None:
        from tscrm.tui.widgets.contact_form import ContactForm

        def created(client_id: int | None) -> None:
            if client_id is not None:
                self.app.refresh_screens()  # type: ignore[attr-defined]
                self.post_message(OpenRecord("client", client_id))

        self.app.push_screen(ContactForm("client"), created)

    def _after_dialog(self, result: object) -> None:
        if result is not None:
            self.app.refresh_screens()  # type: ignore[attr-defined]

    # -- selection and bulk actions -------------------------------------------------------------

    def action_select_all(self) -> None:
        self._table().select_all_matching()

    def _target(self) -> BulkTarget | None:
        """The selection, else the highlighted client."""
        table = self._table()
        if table.all_matching:
            return BulkTarget(None, self.query_state.client_filter(), frozenset(table.excluded), table.selection_count)
        if table.selected:
            return BulkTarget(tuple(sorted(table.selected)), count=len(table.selected))
        row = table.current
        return BulkTarget((row.key,), count=1) if row is not None else None

    def action_bulk(self) -> None:
        from tscrm.core.permissions import Right

        target = self._target()
        if target is None:
            self.notify(_("No client here to act on."), severity="warning")
            return
        actor = self.ctx.actor
        options = [("add_tag", _("Add tag")), ("remove_tag", _("Remove tag"))]
        if actor.can(Right.SEE_ALL) and actor.can(Right.EDIT):
            options.append(("owner", _("Change responsible")))
        options.append(("task", _("Create task")))
        if actor.can(Right.DELETE):
            options.append(("delete", _("Delete")))
        options += [
            ("call_list", _("Add to call list")),
            ("sms", _("Send SMS")),
            ("email", _("Send email")),
        ]
        title = _("Bulk action on {what}").format(what=target.describe())
        self.app.push_screen(ChoiceDialog(title, options, dialog_id="bulk-menu"), lambda choice: self._bulk_chosen(choice, target))

    def _bulk_chosen(self, choice: str | None, target: BulkTarget) -> None:
        if choice is None:
            return
        if choice == "email":  # a mailing (tscrm.tui.screens.mailing_dialog)
            from tscrm.tui.screens.mailing_dialog import MailingDialog

            self.app.push_screen(MailingDialog(target), lambda done: done and self.app.refresh_screens())
            return
        if choice == "call_list":  # a list for the auto-dialer (tscrm.tui.screens.call_list_dialog)
            from tscrm.tui.screens.call_list_dialog import CallListDialog

            self.app.push_screen(CallListDialog(target=target), lambda done: done and self._table().clear_selection())
            return
        if choice == "sms":  # a bulk SMS (tscrm.tui.screens.bulk_sms)
            from tscrm.tui.screens.bulk_sms import BulkSmsDialog

            self.app.push_screen(BulkSmsDialog(target=target), lambda done: done and self._table().clear_selection())
            return
        tags = self.meta.tags if self.meta else []
        if choice in ("add_tag", "remove_tag"):
            title = _("Tag(s) to add to {what}") if choice == "add_tag" else _("Tag(s) to remove from {what}")
            self.app.push_screen(
                TextDialog(title.format(what=target.describe()), suggester=_tag_suggester(tags), placeholder=_("comma separated")),
                lambda text: text and self.run_bulk(choice, target, text),
            )
        elif choice == "owner":
            users = self.meta.users if self.meta else []
            self.app.push_screen(
                ChoiceDialog(_("New responsible for {what}").format(what=target.describe()), [(str(uid), name) for uid, name in users]),
                lambda uid: uid and self.run_bulk("owner", target, uid),
            )
        elif choice == "delete":
            self._confirm_delete(target)
        elif choice == "task":
            self.resolve_for_task(target)

    def action_delete(self) -> None:
        from tscrm.core.permissions import Right

        target = self._target()
        if target is None:
            return
        if not self.ctx.actor.can(Right.DELETE):
            self.notify(_("{user} may not delete clients.").format(user=self.ctx.actor.name), severity="error")
            return
        self._confirm_delete(target)

    def _confirm_delete(self, target: BulkTarget) -> None:
        question = _("Delete {what}? Their deals, tasks, notes and feed are deleted too.").format(what=target.describe())
        self.app.push_screen(
            ConfirmDialog(question, yes=_("Delete")), lambda yes: yes and self.run_bulk("delete", target, "")
        )

    @work(thread=True, group="clients-bulk")
    def resolve_for_task(self, target: BulkTarget) -> None:
        """A task per client: the dialog needs the ids, so a filter's matches are listed first."""
        ctx = self.ctx
        with ctx.db.read() as session:
            ids = target.resolve(session, ctx.actor)
        self.app.call_from_thread(self._open_bulk_task, ids)

    def _open_bulk_task(self, ids: list[int]) -> None:
        from tscrm.tui.screens.task_dialog import TaskDialog

        def done(result: object) -> None:
            if result is not None:
                self._table().clear_selection()
                self.app.refresh_screens()  # type: ignore[attr-defined]

        self.app.push_screen(TaskDialog(client_ids=ids), done)

    @work(thread=True, group="clients-bulk")
    def run_bulk(self, action: str, target: BulkTarget, value: str) -> None:
        from tscrm.core.services import clients
        from tscrm.tui.widgets.contact_form import split_tags

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                ids = target.resolve(session, ctx.actor)
                if action == "add_tag":
                    done = clients.bulk_add_tags(session, ctx.actor, ids, split_tags(value))
                    message = _("Tag(s) {tags} added to {n} client(s).").format(tags=value, n=number(done))
                elif action == "remove_tag":
                    done = clients.bulk_remove_tags(session, ctx.actor, ids, split_tags(value))
                    message = _("Tag(s) {tags} removed from {n} client(s).").format(tags=value, n=number(done))
                elif action == "owner":
                    done = clients.bulk_change_owner(session, ctx.actor, ids, int(value))
                    message = _("{n} client(s) have a new responsible.").format(n=number(done))
                else:
                    done = clients.bulk_delete(session, ctx.actor, ids)
                    message = _("{n} client(s) deleted.").format(n=number(done))
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._bulk_done, message)

    def _bulk_done(self, message: str) -> None:
        self.notify(message)
        self._table().clear_selection()
        if self.meta is not None:
            self.load_meta()  # new tags complete from now on
        self.app.refresh_screens()  # type: ignore[attr-defined]


def _tag_suggester(names: list[str]):
    from tscrm.tui.widgets.contact_form import TagSuggester

    return TagSuggester(names)
