"""Analytics: calls, deals, leads and tasks per agent for a period, with charts (the twin of ``tscrm analytics``).

Keys: p / P next / previous period (today, this week, this month, last 30 days), c a custom period,
a / A next / previous agent (everybody first; only oneself without the right to see all records),
[ and ] previous / next tab, r reloads. Figures are read in a thread worker (tscrm.core.analytics).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.labels import DEAL_STATUSES, label
from tscrm.tui.context import clock_of
from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.screens.note_dialog import dialog_css

# the periods p cycles through (a custom one comes from c)
CYCLE = ("today", "week", "month", "30d")
TABS = ("tab-calls", "tab-deals", "tab-leads", "tab-tasks")
NO_RIGHT = N_("You do not have the right to see analytics. An administrator can give it to your group.")


def fill_table(table: DataTable, spec: tuple[list[str], list[list[str]], set[int]]) -> None:
    """Headers and rows from tscrm.present.analytics; figures right-aligned, the total row in bold."""
    from rich.text import Text

    from rich.cells import cell_len

    headers, rows, figures = spec
    table.clear(columns=True)
    for j, header in enumerate(headers):  # widths from the content, not left to the table's own measuring
        table.add_column(header, width=max(cell_len(text) for text in [header, *(row[j] for row in rows)]))
    for i, row in enumerate(rows):
        style = "bold" if i == len(rows) - 1 else ""
        table.add_row(*(Text(cell, style=style, justify="right" if j in figures else "left") for j, cell in enumerate(row)))


class PeriodDialog(ModalScreen[tuple[date, date] | None]):
    """Two days typed as YYYY-MM-DD; dismisses with (first, last) or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = dialog_css("PeriodDialog")

    def __init__(self, first: date, last: date) -> None:
        super().__init__()
        self.first, self.last = first, last

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Custom period"), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("From"), classes="label")
                yield Input(self.first.isoformat(), placeholder="2026-03-01", id="period-from")
            with Horizontal(classes="row"):
                yield Static(_("To"), classes="label")
                yield Input(self.last.isoformat(), placeholder="2026-03-31", id="period-to")
            yield Static("", id="period-error", classes="dialog-error")
            yield Static(_("Days as YYYY-MM-DD, both included · escape cancels"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Show"), variant="primary", id="period-ok")
                yield Button(_("Cancel"), id="period-cancel")

    def on_mount(self) -> None:
        self.query_one("#period-from", Input).focus()

    @on(Button.Pressed, "#period-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#period-ok")
    def _ok(self) -> None:
        from tscrm.core.analytics import resolve_period

        days: list[date] = []
        for field, name in (("#period-from", _("From")), ("#period-to", _("To"))):
            raw = self.query_one(field, Input).value.strip()
            try:
                days.append(date.fromisoformat(raw))
            except ValueError:
                self._error(_("{field}: {value!r} is not a date like 2026-12-01").format(field=name, value=raw))
                return
        try:
            resolve_period("custom", timezone="UTC", first=days[0], last=days[1])
        except TscrmError as exc:
            self._error(str(exc))
            return
        self.dismiss((days[0], days[1]))

    def _error(self, message: str) -> None:
        self.query_one("#period-error", Static).update(message)


class AnalyticsScreen(SectionScreen):
    SECTION = "analytics"
    CSS_PATH = "analytics.tcss"
    BINDINGS = [
        Binding("p", "period(1)", N_("Period")),
        Binding("P", "period(-1)", show=False),
        Binding("c", "custom", N_("Custom period")),
        Binding("a", "agent(1)", N_("Agent")),
        Binding("A", "agent(-1)", show=False),
        Binding("left_square_bracket", "tab(-1)", N_("Previous tab"), key_display="["),
        Binding("right_square_bracket", "tab(1)", N_("Next tab"), key_display="]"),
        Binding("r", "reload", N_("Refresh")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.kind = "month"
        self.custom: tuple[date, date] | None = None
        self.agents: list[tuple[int, str]] = []  # who "a" cycles through, after "everybody"
        self.agent_index = 0  # 0: everybody (or oneself without the right to see all)
        self.report: Any = None
        self.loaded = False
        self.request = 0  # the latest read: an older one finishing late is not shown

    @property
    def allowed(self) -> bool:
        from tscrm.core.permissions import Right

        return self.ctx.actor.can(Right.SEE_ANALYTICS)

    @property
    def sees_all(self) -> bool:
        from tscrm.core.permissions import Right

        return self.ctx.actor.can(Right.SEE_ALL)

    def compose_content(self) -> ComposeResult:
        yield Static(self._bar_text(), id="analytics-bar")
        if not self.allowed:
            yield Static(_(NO_RIGHT), id="analytics-note", classes="note")
            return
        yield Static(_("Loading…"), id="analytics-note", classes="note")
        with TabbedContent(id="analytics-tabs"):
            with TabPane(_("Calls"), id="tab-calls"):
                yield DataTable(id="calls-table", cursor_type="row", zebra_stripes=True, classes="figures")
                yield PlotextPlot(id="calls-chart", classes="chart")
            with TabPane(_("Deals"), id="tab-deals"):
                yield DataTable(id="deals-table", cursor_type="row", zebra_stripes=True, classes="figures")
                with Horizontal(classes="split"):
                    yield DataTable(id="funnel-table", cursor_type="row", classes="side")
                    yield PlotextPlot(id="funnel-chart", classes="chart")
            with TabPane(_("Leads"), id="tab-leads"):
                yield DataTable(id="leads-table", cursor_type="row", zebra_stripes=True, classes="figures")
                with Horizontal(classes="split"):
                    yield DataTable(id="sources-table", cursor_type="row", classes="side")
                    yield PlotextPlot(id="sources-chart", classes="chart")
            with TabPane(_("Tasks"), id="tab-tasks"):
                yield DataTable(id="tasks-table", cursor_type="row", zebra_stripes=True, classes="figures")

    async def recompose(self) -> None:
        """After a language switch: same figures, new words."""
        await super().recompose()
        if self.report is not None:
            self._fill(self.report)

    # -- state ----------------------------------------------------------------------------------

    def _scope_name(self) -> str:
        if not self.sees_all:
            return self.ctx.actor.name
        if self.agent_index == 0 or self.agent_index > len(self.agents):
            return _("everybody")
        return self.agents[self.agent_index - 1][1]

    def _agent_id(self) -> int | None:
        if not self.sees_all or self.agent_index == 0 or self.agent_index > len(self.agents):
            return None
        return self.agents[self.agent_index - 1][0]

    def _bar_text(self) -> str:
        from tscrm.core.analytics import PERIOD_LABELS, PeriodKind
        from tscrm.present.analytics import period_text

        name = _(PERIOD_LABELS[PeriodKind(self.kind)])
        shown = self.report.period if self.report is not None else None
        if shown is not None and shown.kind == self.kind and (self.kind != "custom" or (shown.first, shown.last) == self.custom):
            name = f"{name} ({period_text(shown)})"
        return _("Period: {period} · Agent: {agent}").format(period=name, agent=self._scope_name())

    # -- data -----------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        if self.allowed:
            self.request += 1
            self.load(self.request)

    @work(thread=True, exclusive=True, group="analytics")
    def load(self, request: int) -> None:
        from tscrm.core import analytics
        from tscrm.core.services.users import list_users

        ctx, now = self.ctx, clock_of(self.app)
        first, last = self.custom if self.kind == "custom" and self.custom else (None, None)
        try:
            period = analytics.resolve_period(self.kind, timezone=ctx.actor.timezone, week_start=ctx.actor.week_start, now=now, first=first, last=last)
            with ctx.db.read() as session:
                agents = [(u.id, u.name) for u in list_users(session)] if self.sees_all else []
                report = analytics.summary(session, ctx.actor, period, analytics.Scope(agent_id=self._agent_id()), now=now)
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show, report, sorted(agents, key=lambda a: (a[1].casefold(), a[0])), request)

    def _show(self, report: Any, agents: list[tuple[int, str]], request: int) -> None:
        if request != self.request or not self.query("#analytics-tabs"):  # a newer read is on its way, or the screen went away
            return
        self.agents = agents
        self.report = report
        self.loaded = True
        self._fill(report)

    def _fill(self, report: Any) -> None:
        from tscrm.present import analytics as present

        self.query_one("#analytics-bar", Static).update(self._bar_text())
        self.query_one("#analytics-note", Static).update(
            _("Amounts in {currency} · p period · c custom dates · a agent · [ ] tabs").format(currency=report.deals.currency)
        )
        fill_table(self.query_one("#calls-table", DataTable), present.call_table(report.calls))
        fill_table(self.query_one("#deals-table", DataTable), present.deal_table(report.deals))
        fill_table(self.query_one("#funnel-table", DataTable), present.funnel_table(report.deals))
        fill_table(self.query_one("#leads-table", DataTable), present.lead_table(report.leads))
        fill_table(self.query_one("#sources-table", DataTable), present.source_table(report.leads))
        fill_table(self.query_one("#tasks-table", DataTable), present.task_table(report.tasks))
        self._calls_chart(report.calls)
        self._funnel_chart(report.deals)
        self._sources_chart(report.leads)

    def _calls_chart(self, calls: Any) -> None:
        plot = self.query_one("#calls-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        ticks = [str(d.day.day) for d in calls.days]
        plt.stacked_bar(ticks, [[d.outbound for d in calls.days], [d.inbound for d in calls.days]], labels=[_("Outbound"), _("Inbound")])
        plt.title(_("Calls per day"))
        plot.refresh()

    def _funnel_chart(self, deals: Any) -> None:
        plot = self.query_one("#funnel-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        stages = [label(DEAL_STATUSES, s.status.value) for s in reversed(deals.funnel)]  # the first stage on top
        plt.bar(stages, [s.count for s in reversed(deals.funnel)], orientation="horizontal", width=0.5)
        plt.title(_("Deals created in the period, by stage"))
        plot.refresh()

    def _sources_chart(self, leads: Any) -> None:
        plot = self.query_one("#sources-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if leads.sources:
            ranked = list(reversed(leads.sources))  # the biggest source on top
            names = [s.source if s.source is not None else _("(no source)") for s in ranked]
            plt.bar(names, [s.created for s in ranked], orientation="horizontal", width=0.5)
        plt.title(_("New leads by source"))
        plot.refresh()

    # -- actions --------------------------------------------------------------------------------

    def action_period(self, step: int) -> None:
        if not self.allowed:
            return
        i = CYCLE.index(self.kind) if self.kind in CYCLE else (CYCLE.index("month") if step > 0 else CYCLE.index("month") + 1)
        self.kind = CYCLE[(i + step) % len(CYCLE)]
        self._reload()

    def action_custom(self) -> None:
        if not self.allowed:
            return
        if self.custom is not None:
            first, last = self.custom
        elif self.report is not None:
            first, last = self.report.period.first, self.report.period.last
        else:
            first = last = date.today()

        def chosen(days: tuple[date, date] | None) -> None:
            if days is not None:
                self.kind, self.custom = "custom", days
                self._reload()

        self.app.push_screen(PeriodDialog(first, last), chosen)

    def action_agent(self, step: int) -> None:
        if not self.allowed:
            return
        if not self.sees_all:
            self.notify(_("You can see only your own figures."), severity="information")
            return
        self.agent_index = (self.agent_index + step) % (len(self.agents) + 1)
        self._reload()

    def action_tab(self, step: int) -> None:
        if not self.allowed:
            return
        tabs = self.query_one("#analytics-tabs", TabbedContent)
        i = TABS.index(tabs.active) if tabs.active in TABS else 0
        tabs.active = TABS[(i + step) % len(TABS)]

    def action_reload(self) -> None:
        self.refresh_data()

    def _reload(self) -> None:
        self.query_one("#analytics-bar", Static).update(self._bar_text())
        self.refresh_data()
