"""Dashboard: the seven widgets with the counters defined in core.

Keys: arrows move between widgets, Enter opens the matching list, h hides the focused widget,
a shows hidden ones again, [ and ] move the focused widget. The layout is saved per user.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Static

from tscrm.i18n import N_, _
from tscrm.tui.context import clock_of
from tscrm.tui.messages import OpenSection
from tscrm.tui.screens.base import SectionScreen

LAYOUT_KEY = "dashboard"


@dataclass(frozen=True)
class WidgetSpec:
    id: str
    title: str
    opens: str  # section
    preset: str | None = None


WIDGETS: tuple[WidgetSpec, ...] = (
    WidgetSpec("clients", N_("Clients"), "clients", "all"),
    WidgetSpec("my_leads", N_("My leads"), "leads", "mine"),
    WidgetSpec("tasks_done", N_("Completed tasks"), "tasks", "week"),
    WidgetSpec("overdue", N_("Overdue tasks"), "tasks", "overdue"),
    WidgetSpec("current", N_("Current tasks"), "tasks", "open"),
    WidgetSpec("calls", N_("My calls"), "calls", "mine"),
    WidgetSpec("new_leads", N_("New leads"), "leads", "pool"),
)
DEFAULT_ORDER = [w.id for w in WIDGETS]
SPEC = {w.id: w for w in WIDGETS}


def lines_for(widget_id: str, c) -> tuple[str, list[str]]:
    """The big figure and the detail lines of one widget, from DashboardCounters ``c``."""
    if widget_id == "clients":
        return str(c.clients_total), [
            _("New this week: {n}").format(n=c.clients_new_week),
            _("New today: {n}").format(n=c.clients_new_today),
        ]
    if widget_id == "my_leads":
        return str(c.my_leads), [_("Unprocessed in the pool: {n}").format(n=c.pool_unprocessed)]
    if widget_id == "tasks_done":
        return f"{c.tasks_done_week}/{c.tasks_week}", [_("Done of this week's tasks")]
    if widget_id == "overdue":
        return str(c.my_overdue_tasks), [_("Open and past due")]
    if widget_id == "current":
        return str(c.my_open_tasks), [_("Open tasks assigned to me")]
    if widget_id == "calls":
        return str(c.calls_in_today + c.calls_out_today), [
            _("Today: {i} in / {o} out").format(i=c.calls_in_today, o=c.calls_out_today),
            _("This week: {i} in / {o} out").format(i=c.calls_in_week, o=c.calls_out_week),
        ]
    return str(c.leads_new_today), [_("Today"), _("This week: {n}").format(n=c.leads_new_week)]


class DashboardCard(Static, can_focus=True):
    DEFAULT_CSS = """
    DashboardCard { border: round $panel-lighten-2; padding: 0 1; height: 8; }
    DashboardCard:focus { border: round $accent; }
    """

    def __init__(self, spec: WidgetSpec) -> None:
        super().__init__(id=f"card-{spec.id}", classes="card")
        self.spec = spec
        self.counters = None

    def render(self) -> Text:
        text = Text()
        text.append(_(self.spec.title) + "\n", style="bold")
        if self.counters is None:
            text.append("…\n", style="dim")
            return text
        figure, details = lines_for(self.spec.id, self.counters)
        text.append(figure + "\n", style="bold cyan")
        for line in details:
            text.append(line + "\n", style="dim")
        return text


class DashboardScreen(SectionScreen):
    SECTION = "dashboard"
    CSS_PATH = "dashboard.tcss"
    BINDINGS = [
        Binding("enter", "open", N_("Open")),
        Binding("h", "hide", N_("Hide widget")),
        Binding("a", "show_all", N_("Show all")),
        Binding("left_square_bracket", "move(-1)", N_("Move left"), key_display="["),
        Binding("right_square_bracket", "move(1)", N_("Move right"), key_display="]"),
        Binding("right,down", "focus_next_card", show=False),
        Binding("left,up", "focus_previous_card", show=False),
        Binding("r", "reload", N_("Refresh")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = list(DEFAULT_ORDER)
        self.hidden: set[str] = set()
        self._layout_loaded = False

    def compose_content(self) -> ComposeResult:
        yield Static(_("Loading…"), id="dashboard-note", classes="note")
        yield Grid(id="cards")

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self.load_counters()

    @work(thread=True, exclusive=True, group="dashboard")
    def load_counters(self) -> None:
        from tscrm.core.services import dashboard, users

        ctx = self.ctx
        with ctx.db.read() as session:
            counters = dashboard.counters(session, ctx.actor, clock_of(self.app))
            layout = users.ui_setting(session, ctx.actor.id, LAYOUT_KEY, {}) if not self._layout_loaded else None
        self.app.call_from_thread(self._show, counters, layout)

    def _show(self, counters, layout) -> None:
        if not self.query("#cards"):  # the screen went away while the counters were read (app closing)
            return
        if layout is not None:
            self._layout_loaded = True
            order = [w for w in layout.get("order", []) if w in SPEC]
            self.order = order + [w for w in DEFAULT_ORDER if w not in order]
            self.hidden = {w for w in layout.get("hidden", []) if w in SPEC}
            self._build_cards()
        elif not self.query(DashboardCard):
            self._build_cards()
        self.call_after_refresh(self._fill, counters)

    def _fill(self, counters) -> None:
        for card in self.query(DashboardCard):
            card.counters = counters
            card.refresh()
        self.query_one("#dashboard-note", Static).update(
            _("{n} hidden widget(s): press a to show them").format(n=len(self.hidden)) if self.hidden else ""
        )

    def _build_cards(self) -> None:
        """Mount every widget once; order and visibility then change in place."""
        grid = self.query_one("#cards", Grid)
        if not self.query(DashboardCard):
            grid.mount_all([DashboardCard(spec) for spec in WIDGETS])
            self.call_after_refresh(self._arrange)
        else:
            self._arrange()

    def _arrange(self) -> None:
        grid = self.query_one("#cards", Grid)
        focused = self._focused_card()
        previous: DashboardCard | None = None
        for widget_id in self.order:
            card = grid.query_one(f"#card-{widget_id}", DashboardCard)
            card.display = widget_id not in self.hidden
            if previous is None:
                grid.move_child(card, before=0)
            else:
                grid.move_child(card, after=previous)
            previous = card
        visible = [c for c in self.query(DashboardCard) if c.display]
        if visible and (focused is None or not focused.display):
            visible[0].focus()

    def _save_layout(self) -> None:
        self._persist({"order": self.order, "hidden": sorted(self.hidden)})

    @work(thread=True, group="dashboard-save")
    def _persist(self, layout: dict) -> None:
        from tscrm.core.services import users

        with self.ctx.db.write() as session:
            users.save_ui_setting(session, self.ctx.actor, LAYOUT_KEY, layout)

    # -- actions ------------------------------------------------------------------------------

    def _focused_card(self) -> DashboardCard | None:
        return self.focused if isinstance(self.focused, DashboardCard) else None

    def action_open(self) -> None:
        card = self._focused_card()
        if card is not None:
            self.post_message(OpenSection(card.spec.opens, card.spec.preset))

    def action_hide(self) -> None:
        card = self._focused_card()
        if card is not None:
            self.hidden.add(card.spec.id)
            self._arrange()
            self._save_layout()
            self._fill(card.counters)

    def action_show_all(self) -> None:
        if self.hidden:
            self.hidden.clear()
            self._arrange()
            self._save_layout()
            self._fill(next(iter(self.query(DashboardCard))).counters)

    def action_move(self, step: int) -> None:
        card = self._focused_card()
        if card is None:
            return
        i = self.order.index(card.spec.id)
        j = i + step
        while 0 <= j < len(self.order) and self.order[j] in self.hidden:
            j += step
        if 0 <= j < len(self.order):
            self.order[i], self.order[j] = self.order[j], self.order[i]
            self._arrange()
            card.focus()
            self._save_layout()

    def action_focus_next_card(self) -> None:
        self._step_focus(1)

    def action_focus_previous_card(self) -> None:
        self._step_focus(-1)

    def _step_focus(self, step: int) -> None:
        cards = [c for c in self.query_one("#cards", Grid).children if isinstance(c, DashboardCard) and c.display]
        if not cards:
            return
        card = self._focused_card()
        i = cards.index(card) if card in cards else -step
        cards[(i + step) % len(cards)].focus()

    def action_reload(self) -> None:
        self.refresh_data()
