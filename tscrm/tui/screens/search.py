"""Universal search from anywhere: results while typing, Enter opens the card."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tscrm.i18n import N_, _

KIND_LABELS = {"client": N_("client"), "lead": N_("lead"), "deal": N_("deal")}


class SearchScreen(ModalScreen[tuple[str, int] | None]):
    """Dismisses with (kind, id) of the chosen record, or None."""

    CSS_PATH = "search.tcss"
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Close")),
        Binding("down", "focus_results", show=False),
    ]
    KINDS: tuple[str, ...] = ()  # the kinds of record searched (none named: every kind)

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.initial = query

    def compose(self) -> ComposeResult:
        with Vertical(id="search-box"):
            yield Static(_("Search clients, leads and deals: name, company, email, tag or phone"), id="search-title")
            yield Input(value=self.initial, placeholder=_("Type at least 2 characters…"), id="search-input")
            yield OptionList(id="search-results")
            yield Static("", id="search-status")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self.initial:
            self.run_search(self.initial)

    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @on(Input.Submitted, "#search-input")
    def _submitted(self) -> None:
        results = self.query_one(OptionList)
        if results.option_count:
            self._choose(results.get_option_at_index(results.highlighted or 0).id)

    @on(OptionList.OptionSelected, "#search-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id:
            kind, _sep, ref = option_id.partition(":")
            self.dismiss((kind, int(ref)))

    def action_focus_results(self) -> None:
        self.query_one(OptionList).focus()

    @work(thread=True, exclusive=True, group="search")
    def run_search(self, query: str) -> None:
        from tscrm.core import search

        if len(query.strip()) < 2:
            self.app.call_from_thread(self._show, query, [])
            return
        ctx = self.app.ctx  # type: ignore[attr-defined]
        with ctx.db.read() as session:
            page = search.search(session, ctx.actor, query, limit=30, kinds=self.KINDS or search.KINDS)
        self.app.call_from_thread(self._show, query, page.hits)

    def _show(self, query: str, hits) -> None:
        if query != self.query_one(Input).value:
            return  # a newer query is on its way
        results = self.query_one(OptionList)
        results.clear_options()
        results.add_options(
            [Option(f"[{_(KIND_LABELS[h.kind])}] {h.name}", id=f"{h.kind}:{h.id}") for h in hits]
        )
        if hits:
            results.highlighted = 0
        status = self.query_one("#search-status", Static)
        status.update(_("{n} result(s)").format(n=len(hits)) if query.strip() else "")
