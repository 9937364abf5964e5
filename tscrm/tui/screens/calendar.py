"""Calendar: a month, a week or a day of tasks, in the user's time zone and week.

Keys: m / w / d switch to the month, week and day views; the arrows move the focused day (left,
right) and the focused week (month view) or hour (week and day views); page up / page down (or
[ and ]) step a whole month, week or day; t jumps back to today; n adds a task on the focused day
and hour; enter opens the focused day (in the day view: acts on the slot's first task); u cycles
whose calendar is shown (yours, everyone's, one colleague's), with the right to see them.

"Today" comes from ``clock_of(app)``, so a test or a snapshot can fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.screens.tasks import TaskItem, act_on, clock_of, new_task_dialog

VIEWS = ("month", "week", "day")
VIEW_LABELS = {"month": N_("Month"), "week": N_("Week"), "day": N_("Day")}
WORKDAY = (8, 18)  # hours always shown in the week and day views; others only when they hold a task
NEW_TASK_HOUR = 9  # the hour of a task added from the month view


@dataclass(frozen=True)
class Period:
    """What a view shows: its local days ``[first, end)`` and (week, day) its rows of hours."""

    view: str
    first: date
    end: date
    anchor: date
    hours: tuple[int, ...] = ()

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.end - self.first).days)]


def period_of(view: str, day: date, week_start: int) -> tuple[date, date]:
    from tscrm.core.services.tasks import calendar_days

    return calendar_days(view, day, week_start)  # type: ignore[arg-type]


def hour_exists(day: date, hour: int, tz: ZoneInfo) -> bool:
    """False for the local hour a spring DST change skips (02:00 on the last Sunday of March in Madrid)."""
    local = datetime.combine(day, time(hour), tzinfo=tz)
    return local.astimezone(UTC).astimezone(tz).hour == hour


def slot_id(day: date, hour: int) -> str:
    return f"slot-{day:%Y%m%d}-{hour:02d}"


def day_id(day: date) -> str:
    return f"day-{day:%Y%m%d}"


class CalendarCell(Widget):
    """One day of the month grid or one hour of a day: its tasks, one line each, as space allows."""

    DEFAULT_CSS = """
    CalendarCell { height: 1fr; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    CalendarCell.slot { height: auto; min-height: 1; }
    """

    def __init__(
        self,
        items: list[TaskItem],
        tz: ZoneInfo,
        *,
        heading: str = "",
        with_assignee: bool = False,
        with_links: bool = False,
        time_format: str = "%H:%M",
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.time_format = time_format  # an hour's row says the hour: its tasks show only their minutes
        self.items = items
        self.tz = tz
        self.heading = heading
        self.with_assignee = with_assignee
        self.with_links = with_links

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        lines: list[Text] = []
        if self.heading:
            lines.append(Text(self.heading, style="bold"))
        room = self.size.height - len(lines) if self.size.height and not self.has_class("slot") else len(self.items)
        shown = self.items if len(self.items) <= room else self.items[: max(room - 1, 0)]
        for item in shown:
            line = item.line(self.tz, with_assignee=self.with_assignee, time_format=self.time_format)
            if self.with_links and item.links:
                line.append(f" · {item.link_text()}", style="dim")
            lines.append(line)
        if len(shown) < len(self.items):
            lines.append(Text(_("+{n} more").format(n=len(self.items) - len(shown)), style="dim"))
        return Text("\n", no_wrap=True, overflow="ellipsis").join(lines) if lines else text


class _Body(VerticalScroll, can_focus=False):
    """The scrolling rows of the week and day views (keys go to the calendar, not here)."""


class CalendarGrid(Vertical, can_focus=True):
    """The grid of the current view; the screen gives it what to show and recomposes it."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.period: Period | None = None
        self.items: list[TaskItem] = []
        self.tz = ZoneInfo("UTC")
        self.today: date | None = None
        self.detailed = False
        self.cursor_id = ""

    def show(self, period: Period, items: list[TaskItem], tz: ZoneInfo, today: date, *, detailed: bool, cursor_id: str) -> None:
        self.period, self.items, self.tz, self.today = period, items, tz, today
        self.detailed, self.cursor_id = detailed, cursor_id
        self.refresh(recompose=True)

    async def recompose(self) -> None:
        await super().recompose()
        self.scroll_to_cursor()

    def scroll_to_cursor(self) -> None:
        scroll = self.query(_Body)
        cursor = self.query(".-cursor")
        if scroll and cursor:
            scroll.first().scroll_to_widget(cursor.first(), animate=False)

    def move_cursor(self, cursor_id: str) -> None:
        """Mark another cell of the same period (no recompose)."""
        self.cursor_id = cursor_id
        for cell in self.query(".-cursor"):
            cell.remove_class("-cursor")
        found = self.query(f"#{cursor_id}")
        if found:
            found.first().add_class("-cursor")
            self.scroll_to_cursor()

    def _cell_classes(self, base: str, cell_id: str, day: date) -> str:
        classes = base + (" -today" if day == self.today else "")
        return classes + (" -cursor" if cell_id == self.cursor_id else "")

    def _by_slot(self) -> tuple[dict[date, list[TaskItem]], dict[tuple[date, int], list[TaskItem]]]:
        by_day: dict[date, list[TaskItem]] = {}
        by_hour: dict[tuple[date, int], list[TaskItem]] = {}
        for item in self.items:
            if item.at is None:
                continue
            local = item.at.astimezone(self.tz)
            by_day.setdefault(local.date(), []).append(item)
            by_hour.setdefault((local.date(), local.hour), []).append(item)
        return by_day, by_hour

    def compose(self) -> ComposeResult:
        from tscrm.present import day_label

        period = self.period
        if period is None:
            yield Static(_("Loading…"), classes="note")
            return
        by_day, by_hour = self._by_slot()
        days = period.days
        if period.view == "month":
            with Grid(classes="cal-head -month"):
                for d in days[:7]:
                    yield Static(day_label(d, "EEE"), classes="weekday")
            with Grid(classes="cal-body -month", id="cal-month"):
                for d in days:
                    other_month = "" if d.month == period.anchor.month else " -other-month"
                    classes = self._cell_classes("day" + other_month, day_id(d), d)
                    items = by_day.get(d, [])
                    yield CalendarCell(items, self.tz, heading=str(d.day), with_assignee=self.detailed, id=day_id(d), classes=classes)
            return
        columns = f"-{period.view}"
        with Grid(classes=f"cal-head {columns}"):
            yield Static("", classes="hour")
            for d in days:
                label = day_label(d, "EEEE d MMMM" if period.view == "day" else "EEE d MMM")
                today = " -today" if d == self.today else ""
                yield Static(label, id=f"head-{d:%Y%m%d}", classes="weekday" + today)
        with _Body(id="cal-scroll"):
            with Grid(classes=f"cal-body {columns}"):
                for hour in period.hours:
                    shade = " -odd" if hour % 2 else ""
                    yield Static(f"{hour:02d}:00", classes="hour" + shade)
                    for d in days:
                        base = "slot" + shade + ("" if hour_exists(d, hour, self.tz) else " -gap")
                        classes = self._cell_classes(base, slot_id(d, hour), d)
                        yield CalendarCell(
                            by_hour.get((d, hour), []),
                            self.tz,
                            with_assignee=self.detailed,
                            with_links=period.view == "day",
                            time_format=":%M",
                            id=slot_id(d, hour),
                            classes=classes,
                        )


class CalendarScreen(SectionScreen):
    SECTION = "calendar"
    CSS_PATH = "calendar.tcss"
    BINDINGS = [
        Binding("m", "view('month')", N_("Month")),
        Binding("w", "view('week')", N_("Week")),
        Binding("d", "view('day')", N_("Day")),
        Binding("left", "step_day(-1)", show=False),
        Binding("right", "step_day(1)", show=False),
        Binding("up", "step_row(-1)", show=False),
        Binding("down", "step_row(1)", show=False),
        Binding("pageup,left_square_bracket", "step_period(-1)", N_("Previous"), key_display="PgUp/["),
        Binding("pagedown,right_square_bracket", "step_period(1)", N_("Next"), key_display="PgDn/]"),
        Binding("t", "today", N_("Today")),
        Binding("n", "new_task", N_("New task")),
        Binding("enter", "open_slot", N_("Open")),
        Binding("u", "cycle_user", N_("Whose calendar")),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "week"
        self.cursor: date | None = None
        self.hour = NEW_TASK_HOUR
        self.scope: int | str | None = None  # None: mine; "all": everybody; an id: that user
        self.users: list[tuple[int, str]] = []
        self.period: Period | None = None
        self.items: list[TaskItem] = []
        self._wanted: tuple | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.ctx.actor.timezone)

    def today(self) -> date:
        return clock_of(self.app).astimezone(self.tz).date()

    def compose_content(self) -> ComposeResult:
        yield Static("", id="cal-title")
        yield CalendarGrid(id="cal-grid")
        yield Static("", id="cal-agenda")

    def on_mount(self) -> None:
        if self.cursor is None:
            now = clock_of(self.app).astimezone(self.tz)
            self.cursor = now.date()
        super().on_mount()
        self.query_one(CalendarGrid).focus()

    async def recompose(self) -> None:
        """After a language switch: the same period and tasks, in the new language."""

        await super().recompose()
        if not self.query(CalendarGrid):
            return  # another switch is rebuilding the screen meanwhile: it finishes the job
        self.query_one(CalendarGrid).focus()
        if self.period is not None:
            self._place(self.period)  # at once, then fresh rows
        self.refresh_data()

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        if self.cursor is None:
            return
        first, end = period_of(self.view, self.cursor, self.ctx.actor.week_start)
        self._wanted = (self.view, first, end, self.scope)
        self._title()
        self.load(self.view, self.cursor, self.scope)

    @work(thread=True, exclusive=True, group="calendar")
    def load(self, view: str, anchor: date, scope: int | str | None) -> None:
        from tscrm.core.permissions import Right
        from tscrm.core.services import tasks, users
        from tscrm.tui.screens.tasks import load_items

        ctx = self.ctx
        actor = ctx.actor
        start, end = tasks.calendar_bounds(view, anchor, self.tz, actor.week_start)  # type: ignore[arg-type]
        try:
            with ctx.db.read() as session:
                rows = tasks.calendar_tasks(
                    session, actor, start, end, user_id=scope if isinstance(scope, int) else None, all_users=scope == "all"
                )
                items = load_items(session, rows, clock_of(self.app))
                people = (
                    [(u.id, u.name) for u in users.list_users(session) if u.id != actor.id]
                    if actor.can(Right.SEE_OTHER_CALENDARS) and not self.users
                    else None
                )
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        first, last = period_of(view, anchor, actor.week_start)
        self.app.call_from_thread(self._show, (view, first, last, scope), anchor, items, people)

    def _show(self, key: tuple, anchor: date, items: list[TaskItem], people: list[tuple[int, str]] | None) -> None:
        if people is not None:
            self.users = people  # type: ignore[assignment]
        if key != self._wanted or not self.query(CalendarGrid):
            return  # the user moved on meanwhile (or the screen is being rebuilt): a newer load is coming
        view, first, end, _scope = key
        period = Period(view, first, end, anchor, self._hours(items))
        shown = self.query_one(CalendarGrid).period
        if shown is not None and replace(shown, anchor=anchor) == period and items == self.items:
            self._mark_cursor()  # nothing changed (a live refresh): no rebuild, no flicker
            return
        self.items = items
        self._place(period)

    def _hours(self, items: list[TaskItem]) -> tuple[int, ...]:
        tz = self.tz
        used = [i.at.astimezone(tz).hour for i in items if i.at is not None]
        low = min([WORKDAY[0], self.hour, *used])
        high = max([WORKDAY[1], self.hour, *used])
        return tuple(range(low, high + 1))

    def _place(self, period: Period) -> None:
        """Show ``period`` (recomposing the grid), then mark the focused slot."""
        self.period = period
        grid = self.query_one(CalendarGrid)
        grid.show(period, self.items, self.tz, self.today(), detailed=self.scope is not None, cursor_id=self._cursor_id())
        self._agenda()
        self._title()

    def _cursor_id(self) -> str:
        if self.cursor is None:
            return ""
        return day_id(self.cursor) if self.view == "month" else slot_id(self.cursor, self.hour)

    # -- what the user sees -------------------------------------------------------------------

    def _scope_label(self) -> str:
        if self.scope is None:
            return _("My calendar")
        if self.scope == "all":
            return _("Everyone")
        return dict(self.users).get(self.scope, "?")  # type: ignore[arg-type]

    def _title(self) -> None:
        from tscrm.present import period_title

        if self.cursor is None:
            return
        first, end = period_of(self.view, self.cursor, self.ctx.actor.week_start)
        text = Text()
        text.append(period_title(self.view, first, end, self.cursor), style="bold")
        text.append(f"  ·  {_(VIEW_LABELS[self.view])}  ·  {self._scope_label()}", style="")
        if self.view != "month":
            text.append(f"  ·  {self.cursor:%Y-%m-%d} {self.hour:02d}:00", style="dim")
        self.query_one("#cal-title", Static).update(text)

    def _mark_cursor(self) -> None:
        self.query_one(CalendarGrid).move_cursor(self._cursor_id())
        self._agenda()
        self._title()

    def _agenda(self) -> None:
        """Under the month and week views: the focused day's tasks in full."""
        agenda = self.query_one("#cal-agenda", Static)
        agenda.display = self.view != "day"
        if self.cursor is None or self.view == "day":
            return
        from tscrm.present import day_label

        tz = self.tz
        day_items = [i for i in self.items if i.at is not None and i.at.astimezone(tz).date() == self.cursor]
        text = Text(day_label(self.cursor, "EEEE d MMMM y"), style="bold")
        if not day_items:
            text.append("\n" + _("No tasks on this day."), style="dim")
        for item in day_items:
            text.append("\n")
            line = item.line(tz, with_assignee=True)
            if item.links:
                line.append(f" · {item.link_text()}", style="dim")
            text.append_text(line)
        agenda.update(text)

    # -- moving around ------------------------------------------------------------------------

    def _move_to(self, day: date, hour: int | None = None) -> None:
        """Focus ``day`` (and ``hour``): a mark moves within the period shown, another period loads."""
        self.cursor = day
        if hour is not None:
            self.hour = max(0, min(23, hour))
        period = self.period
        first, end = period_of(self.view, day, self.ctx.actor.week_start)
        if period is None or period.view != self.view or (period.first, period.end) != (first, end):
            self.refresh_data()
        elif self.view != "month" and self.hour not in period.hours:
            self._place(replace(period, hours=self._hours(self.items)))
        else:
            self._mark_cursor()

    def action_step_day(self, step: int) -> None:
        if self.cursor is not None:
            self._move_to(self.cursor + timedelta(days=step))

    def action_step_row(self, step: int) -> None:
        if self.cursor is None:
            return
        if self.view == "month":
            self._move_to(self.cursor + timedelta(days=7 * step))
        else:
            self._move_to(self.cursor, self.hour + step)

    def action_step_period(self, step: int) -> None:
        if self.cursor is None:
            return
        if self.view == "day":
            self._move_to(self.cursor + timedelta(days=step))
        elif self.view == "week":
            self._move_to(self.cursor + timedelta(days=7 * step))
        else:
            self._move_to(_add_months(self.cursor, step))

    def action_today(self) -> None:
        self._move_to(self.today())

    def action_view(self, view: str) -> None:
        if view in VIEWS and view != self.view:
            self.view = view
            self.refresh_data()

    def action_open_slot(self) -> None:
        if self.view != "day":
            self.action_view("day")
            return
        slot = [i for i in self._slot_items() if not i.done] or self._slot_items()
        if slot:
            act_on(self, slot[0])

    def _slot_items(self) -> list[TaskItem]:
        tz = self.tz
        return [
            i
            for i in self.items
            if i.at is not None and i.at.astimezone(tz).date() == self.cursor and i.at.astimezone(tz).hour == self.hour
        ]

    def action_new_task(self) -> None:
        if self.cursor is None:
            return
        hour = NEW_TASK_HOUR if self.view == "month" else self.hour
        local = datetime.combine(self.cursor, time(hour), tzinfo=self.tz)
        new_task_dialog(self, local.astimezone(UTC))

    def action_cycle_user(self) -> None:
        from tscrm.core.permissions import Right

        if not self.ctx.actor.can(Right.SEE_OTHER_CALENDARS):
            self.notify(_("You can only see your own calendar."), severity="warning")
            return
        choices: list[int | str | None] = [None, "all", *[uid for uid, _name in self.users]]
        self.scope = choices[(choices.index(self.scope) + 1) % len(choices)] if self.scope in choices else None
        self.notify(_("Calendar of: {who}").format(who=self._scope_label()))
        self.refresh_data()

    def show_user(self, scope: int | str | None) -> None:
        """Show one user's calendar (an id), everyone's ("all") or one's own (None)."""
        self.scope = scope
        self.refresh_data()


def _add_months(day: date, months: int) -> date:
    """The same day ``months`` later, on the month's last day when it is shorter (31 Jan + 1 = 28 Feb)."""
    import calendar as std_calendar

    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = std_calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))
