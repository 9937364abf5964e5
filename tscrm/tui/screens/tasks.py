"""Tasks: a kanban by time (overdue, today, tomorrow, this week, later, done) and a filtered list.

Keys: v switches kanban/list; c shows or hides completed tasks; space or d completes/reopens the
selected task; enter acts on it (call: the number to dial; video: the meeting link; SMS: when it
goes; task: opens the linked record); o opens the linked record; y copies a meeting link; n adds a
task (for yourself or, with the right, for someone else); f goes to the list's filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Checkbox, ContentSwitcher, DataTable, Input, Select, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.context import clock_of  # the calendar imports it from here too
from tscrm.tui.messages import OpenRecord
from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.widgets.tables import cursor_row_id

# --- what every task screen shares (the calendar uses these too) -------------------------------


@dataclass(frozen=True)
class TaskItem:
    """One task as a user reads it: names instead of ids, the number to dial, times kept in UTC."""

    id: int
    type: str  # TaskType value
    title: str
    description: str | None
    at: datetime | None  # when it sits on the calendar: start, else due
    due_at: datetime | None
    assignee_id: int | None
    assignee: str
    created_by_id: int | None
    completed_at: datetime | None
    overdue: bool
    meeting_url: str | None = None
    sms_text: str | None = None
    links: tuple[tuple[str, int, str], ...] = ()  # (kind, id, name) of the linked client, lead, deal
    phone: str | None = None  # E.164 of the linked client or lead (for calls)
    participants: tuple[str, ...] = field(default=())

    @property
    def done(self) -> bool:
        return self.completed_at is not None

    def marker(self) -> str:
        from tscrm.present import task_marker

        return task_marker(self.type)

    def type_label(self) -> str:
        from tscrm.labels import TASK_TYPES, label

        return label(TASK_TYPES, self.type)

    def link_text(self) -> str:
        return ", ".join(name for _kind, _id, name in self.links)

    def line(self, tz: ZoneInfo, *, with_time: bool = True, with_assignee: bool = False, time_format: str = "%H:%M") -> Text:
        """"01:30 ☎ Call Bob" on one line: done ones struck through, overdue ones red.

        With ``time_format`` ":%M" (rows of an hour) a task on the hour shows no time at all.
        """
        text = Text(no_wrap=True, overflow="ellipsis")
        if with_time and self.at is not None:
            local = self.at.astimezone(tz)
            if time_format != ":%M" or local.minute:
                text.append(local.strftime(time_format) + " ", style="cyan")
        text.append(self.marker() + " ")
        text.append(self.title, style="strike dim" if self.done else "red" if self.overdue else "")
        if with_assignee and self.assignee:
            text.append(f" · {self.assignee}", style="dim")
        return text


def load_items(session, rows: list[Any], now: datetime) -> list[TaskItem]:
    """``TaskItem``s for task rows, in a handful of queries whatever their number."""
    from collections import defaultdict

    from sqlmodel import col, select

    from tscrm.present import user_names
    from tscrm.core.models import Client, Deal, Lead, Phone, TaskParticipant
    from tscrm.core.services.tasks import calendar_time

    if not rows:
        return []
    ids = [t.id for t in rows]

    def names(model, name_col, wanted: set[int]) -> dict[int, str]:
        if not wanted:
            return {}
        return dict(session.exec(select(model.id, name_col).where(col(model.id).in_(wanted))).all())

    clients = names(Client, Client.name, {t.client_id for t in rows if t.client_id})
    leads = names(Lead, Lead.name, {t.lead_id for t in rows if t.lead_id})
    deals = names(Deal, Deal.title, {t.deal_id for t in rows if t.deal_id})
    phones: dict[tuple[str, int], str] = {}
    contact_ids = {"client": set(clients), "lead": set(leads)}
    for kind, owner_col in (("client", col(Phone.client_id)), ("lead", col(Phone.lead_id))):
        if contact_ids[kind]:
            query = select(owner_col, Phone.e164).where(owner_col.in_(contact_ids[kind])).order_by(col(Phone.position), col(Phone.id))
            for owner_id, e164 in session.exec(query):
                phones.setdefault((kind, owner_id), e164)
    taking_part: dict[int, list[int]] = defaultdict(list)
    for task_id, user_id in session.exec(
        select(TaskParticipant.task_id, TaskParticipant.user_id).where(col(TaskParticipant.task_id).in_(ids))
    ):
        taking_part[task_id].append(user_id)
    people = user_names(session, [t.assignee_id for t in rows] + [u for us in taking_part.values() for u in us])

    items = []
    for t in rows:
        links = []
        if t.client_id:
            links.append(("client", t.client_id, clients.get(t.client_id, "")))
        if t.lead_id:
            links.append(("lead", t.lead_id, leads.get(t.lead_id, "")))
        if t.deal_id:
            links.append(("deal", t.deal_id, deals.get(t.deal_id, "")))
        phone = phones.get(("client", t.client_id)) if t.client_id else None
        if phone is None and t.lead_id:
            phone = phones.get(("lead", t.lead_id))
        items.append(
            TaskItem(
                id=t.id,
                type=t.type.value,
                title=t.title,
                description=t.description,
                at=calendar_time(t),
                due_at=t.due_at,
                assignee_id=t.assignee_id,
                assignee=people.get(t.assignee_id, "") if t.assignee_id else "",
                created_by_id=t.created_by_id,
                completed_at=t.completed_at,
                overdue=t.completed_at is None and t.due_at is not None and t.due_at < now,
                meeting_url=t.meeting_url,
                sms_text=t.sms_text,
                links=tuple(links),
                phone=phone,
                participants=tuple(sorted(people.get(u, "") for u in taking_part.get(t.id, []))),
            )
        )
    return items


def describe(item: TaskItem, tz: ZoneInfo, region: str | None) -> Text:
    """The detail pane: everything about one task, with what its type adds."""
    from tscrm.core.phones import format_phone

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else _("no date")

    text = Text()
    text.append(f"{item.marker()} {item.type_label()}: ", style="bold")
    text.append(item.title + "\n", style="bold strike" if item.done else "bold")
    text.append(_("Due: {when}").format(when=when(item.due_at)))
    if item.assignee:
        text.append("  ·  " + _("Assignee: {name}").format(name=item.assignee))
    if item.links:
        text.append("  ·  " + _("Linked to: {what}").format(what=item.link_text()))
    if item.participants:
        text.append("  ·  " + _("Participants: {names}").format(names=", ".join(item.participants)))
    text.append("\n")
    if item.type == "call":
        number = format_phone(item.phone, region) if item.phone else _("no number on the linked record")
        text.append(_("Number to dial: {number}").format(number=number) + "\n", style="green")
    elif item.type == "video" and item.meeting_url:
        text.append(_("Meeting link: {url} (y copies it)").format(url=item.meeting_url) + "\n", style="cyan")
    elif item.type == "sms" and item.sms_text:
        text.append(
            _("SMS scheduled for {when}: {text}").format(when=when(item.due_at), text=item.sms_text) + "\n", style="blue"
        )
    if item.done:
        text.append(_("Done {when}").format(when=when(item.completed_at)) + "\n", style="dim")
    elif item.overdue:
        text.append(_("Overdue") + "\n", style="red")
    if item.description:
        text.append(item.description, style="italic")
    text.rstrip()
    return text


def act_on(screen: Any, item: TaskItem) -> None:
    """Enter on a task: calls are placed, meetings show the link, SMS when it goes, others open the record."""
    tz = ZoneInfo(screen.ctx.actor.timezone)
    if item.type == "call":
        if item.phone is None:
            screen.notify(_("{name} has no phone number.").format(name=item.link_text() or item.title), severity="warning")
        else:
            contact = next(((kind, rid) for kind, rid, _name in item.links if kind in ("client", "lead")), None)
            screen.app.phone.dial(item.phone, name=item.link_text() or item.title, record=contact)
    elif item.type == "video" and item.meeting_url:
        screen.notify(_("Meeting link: {url} (y copies it)").format(url=item.meeting_url))
    elif item.type == "sms":
        when = item.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if item.due_at else _("no date")
        screen.notify(_("SMS scheduled for {when}: the scheduler sends it.").format(when=when))
    elif item.links:
        kind, record_id, _name = item.links[-1]  # the deal when there is one, it is the most precise
        screen.post_message(OpenRecord(kind, record_id))
    else:
        screen.notify(_("This task is not linked to a client, lead or deal."), severity="warning")


def copy_meeting_url(screen: Any, item: TaskItem | None) -> None:
    if item is None or not item.meeting_url:
        screen.notify(_("Only video calls have a meeting link."), severity="warning")
        return
    screen.app.copy_to_clipboard(item.meeting_url)
    screen.notify(_("Meeting link copied: {url}").format(url=item.meeting_url))


def open_linked(screen: Any, item: TaskItem | None) -> None:
    if item is None:
        return
    if not item.links:
        screen.notify(_("This task is not linked to a client, lead or deal."), severity="warning")
        return
    kind, record_id, _name = item.links[-1]
    screen.post_message(OpenRecord(kind, record_id))


def new_task_dialog(screen: Any, due: datetime | None = None) -> None:
    """Open the task dialog (any type, for oneself or, with the right, for others), due at ``due``."""
    try:
        from tscrm.tui.screens.task_dialog import TaskDialog
    except ModuleNotFoundError as exc:
        if exc.name != "tscrm.tui.screens.task_dialog":
            raise
        screen.notify(_("The task dialog is not available yet: use `tscrm tasks add`."), severity="warning")
        return

    def created(result: Any) -> None:
        if result:
            screen.app.refresh_screens()

    screen.app.push_screen(TaskDialog(due_at=due), created)


def toggle_done(screen: Any, item: TaskItem) -> None:
    """Complete an open task, reopen a done one (in a worker), then refresh every screen."""
    screen.run_worker(lambda: _toggle_done(screen, item), thread=True, group="task-done")


def _toggle_done(screen: Any, item: TaskItem) -> None:
    from tscrm.core.services import tasks

    ctx = screen.ctx
    try:
        with ctx.db.write() as session:
            if item.done:
                tasks.reopen_task(session, ctx.actor, item.id)
            else:
                tasks.complete_task(session, ctx.actor, item.id, at=clock_of(screen.app))
    except TscrmError as exc:
        screen.app.call_from_thread(screen.notify, str(exc), severity="error")
        return
    message = _("Task reopened: {title}") if item.done else _("Task done: {title}")
    screen.app.call_from_thread(screen.notify, message.format(title=item.title))
    screen.app.call_from_thread(screen.app.refresh_screens)


# --- the Tasks section --------------------------------------------------------------------------

# The kanban's columns: the time buckets of core (undated tasks go with "later"), then done.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("overdue", N_("Overdue")),
    ("today", N_("Today")),
    ("tomorrow", N_("Tomorrow")),
    ("this_week", N_("This week")),
    ("later", N_("Later")),
    ("done", N_("Done")),
)
CARDS_PER_COLUMN = 50
LIST_LIMIT = 500
DONE_LIMIT = 50
LINK_KINDS: tuple[tuple[str, str], ...] = (("client", N_("Client")), ("lead", N_("Lead")), ("deal", N_("Deal")))
TABLE_COLUMNS: tuple[str, ...] = (N_("Type"), N_("Title"), N_("Due"), N_("Assignee"), N_("Linked to"), N_("State"), N_("Details"))


@dataclass
class ListQuery:
    """The list's filters as the user typed them, turned into a core ``TaskFilter``."""

    types: tuple[str, ...] = ()
    assignee: int | str | None = None  # None: me; "all": everybody; an id: that user
    link_kind: str | None = None
    link_id: int | None = None
    due_from: date | None = None
    due_to: date | None = None  # inclusive
    overdue: bool = False
    show_done: bool = False

    def task_filter(self, tz: ZoneInfo) -> Any:
        from tscrm.core.services.tasks import TaskFilter
        from tscrm.core.timeutil import local_midnight

        filt = TaskFilter(
            assignee_id=self.assignee if isinstance(self.assignee, int) else None,
            all_users=self.assignee == "all",
            types=tuple(self.types),  # type: ignore[arg-type]
            open_only=not self.show_done,
            overdue=self.overdue,
            due_from=local_midnight(self.due_from, tz) if self.due_from else None,
            due_to=local_midnight(self.due_to + timedelta(days=1), tz) if self.due_to else None,
        )
        if self.link_kind and self.link_id is not None:
            setattr(filt, f"{self.link_kind}_id", self.link_id)
        return filt


def _kanban_class():
    """The shared keyboard kanban, without its "move card" keys: a task moves by its due date."""
    from tscrm.tui.widgets.kanban import Kanban

    class TaskKanban(Kanban):
        def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
            return False if action == "move" else True  # False: hidden from the key bar

    return TaskKanban


def card_content(item: TaskItem, tz: ZoneInfo) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(item.marker() + " ")
    text.append(item.title, style="strike dim" if item.done else "bold")
    when = item.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if item.due_at else _("no date")
    text.append("\n" + when, style="red" if item.overdue else "cyan")
    if item.links:
        text.append(" · " + item.link_text(), style="dim")
    return text


class TasksScreen(SectionScreen):
    SECTION = "tasks"
    CSS_PATH = "tasks.tcss"
    BINDINGS = [
        Binding("v", "toggle_view", N_("Kanban/list")),
        Binding("c", "toggle_completed", N_("Completed tasks")),
        Binding("space,d", "toggle_done", N_("Done/reopen"), key_display="space/d"),
        Binding("n", "new_task", N_("New task")),
        Binding("y", "copy_link", N_("Copy link")),
        Binding("o", "open_linked", N_("Open record")),
        Binding("f", "filters", N_("Filters")),
        Binding("escape", "focus_body", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = "kanban"
        self.items: dict[int, TaskItem] = {}
        self.users: list[tuple[int, str]] = []
        self._generation = 0
        self._last_query = ListQuery()
        self._table_items: list[TaskItem] | None = None  # what the table shows

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.ctx.actor.timezone)

    def _may_see_others(self) -> bool:
        from tscrm.core.permissions import Right

        return self.ctx.actor.can(Right.SEE_OTHER_CALENDARS)

    # -- layout -------------------------------------------------------------------------------

    def compose_content(self) -> ComposeResult:
        with Horizontal(id="tasks-top"):
            yield Static("", id="tasks-title")
            yield Checkbox(_("Completed tasks"), id="tasks-done")
        with Horizontal(id="tasks-filters"):
            yield Select([(_(label), value) for value, label in _type_options()], prompt=_("All types"), id="filter-type")
            yield Select(self._assignee_options(), prompt=_("My tasks"), id="filter-assignee", disabled=not self._may_see_others())
            yield Select([(_(label), kind) for kind, label in LINK_KINDS], prompt=_("Any record"), id="filter-link-kind")
            yield Input(placeholder=_("Id"), type="integer", id="filter-link-id")
            yield Input(placeholder=_("From YYYY-MM-DD"), id="filter-from")
            yield Input(placeholder=_("To YYYY-MM-DD"), id="filter-to")
            yield Checkbox(_("Overdue"), id="filter-overdue")
        with ContentSwitcher(initial="tasks-kanban", id="tasks-body"):
            yield _kanban_class()(id="tasks-kanban")
            table: DataTable = DataTable(id="tasks-table", cursor_type="row", zebra_stripes=True)
            table.add_columns(*[_(c) for c in TABLE_COLUMNS])
            yield table
        yield Static("", id="tasks-detail")
        yield Static("", id="tasks-status")

    def _assignee_options(self) -> list[tuple[str, int | str]]:
        return [(_("Everyone"), "all"), *[(name, uid) for uid, name in self.users]]

    def on_mount(self) -> None:
        super().on_mount()
        self._apply_view()

    async def recompose(self) -> None:
        """After a language switch the widgets are new: same filters and view, new words, fresh rows."""

        query, _problems = self.list_query()
        self._table_items = None  # the new table is empty
        await super().recompose()
        if not self.query("#filter-type"):
            return  # another switch is rebuilding the screen meanwhile: it finishes the job
        self._set_filters(query)
        self._apply_view()
        self.refresh_data()

    def _apply_view(self) -> None:
        self.query_one("#tasks-filters").display = self.view == "list"
        self.query_one(ContentSwitcher).current = "tasks-kanban" if self.view == "kanban" else "tasks-table"
        self._title()
        self.action_focus_body()

    def _title(self) -> None:
        label = _("Kanban") if self.view == "kanban" else _("List")
        whose = _("My tasks") if self.view == "kanban" else ""
        self.query_one("#tasks-title", Static).update(Text(" · ".join(p for p in (label, whose) if p), style="bold"))

    # -- presets from the dashboard -------------------------------------------------------------

    def apply_preset(self, preset: str) -> None:
        """Presets: "overdue" (a list of overdue tasks), "open" (the kanban), "week" (this week's tasks, done ones too)."""
        from tscrm.core.timeutil import local_date, week_first_day

        query, self.view = ListQuery(), "kanban"
        if preset == "overdue":
            query, self.view = ListQuery(overdue=True), "list"
        elif preset == "week":
            first = week_first_day(local_date(clock_of(self.app), self.tz), self.ctx.actor.week_start)
            query, self.view = ListQuery(due_from=first, due_to=first + timedelta(days=6), show_done=True), "list"
        self._set_filters(query)
        self._apply_view()
        self.refresh_data()

    def _set_filters(self, query: ListQuery) -> None:
        with self.prevent(Select.Changed, Input.Changed, Checkbox.Changed):
            self.query_one("#filter-type", Select).value = query.types[0] if query.types else Select.NULL
            assignee = self.query_one("#filter-assignee", Select)
            known = {value for _label, value in self._assignee_options()}
            assignee.value = query.assignee if query.assignee in known else Select.NULL
            self.query_one("#filter-link-kind", Select).value = query.link_kind or Select.NULL
            self.query_one("#filter-link-id", Input).value = "" if query.link_id is None else str(query.link_id)
            self.query_one("#filter-from", Input).value = query.due_from.isoformat() if query.due_from else ""
            self.query_one("#filter-to", Input).value = query.due_to.isoformat() if query.due_to else ""
            self.query_one("#filter-overdue", Checkbox).value = query.overdue
            self.query_one("#tasks-done", Checkbox).value = query.show_done

    def list_query(self) -> tuple[ListQuery, list[str]]:
        """The filters as typed, and what could not be read (the status line says so)."""
        problems: list[str] = []
        if not self.query("#filter-type"):
            return self._last_query, problems  # being rebuilt (language switch)
        kind = self.query_one("#filter-type", Select).value
        assignee = self.query_one("#filter-assignee", Select).value
        link_kind = self.query_one("#filter-link-kind", Select).value
        raw_id = self.query_one("#filter-link-id", Input).value.strip()
        query = ListQuery(
            types=() if kind is Select.NULL else (str(kind),),
            assignee=None if assignee is Select.NULL else assignee,  # type: ignore[arg-type]
            link_kind=None if link_kind is Select.NULL else str(link_kind),
            link_id=int(raw_id) if raw_id.isdigit() else None,
            overdue=self.query_one("#filter-overdue", Checkbox).value,
            show_done=self.query_one("#tasks-done", Checkbox).value,
        )
        self._last_query = query
        for attr, widget_id, label in (("due_from", "#filter-from", N_("due from")), ("due_to", "#filter-to", N_("due to"))):
            raw = self.query_one(widget_id, Input).value.strip()
            if raw:
                try:
                    setattr(query, attr, date.fromisoformat(raw))
                except ValueError:
                    problems.append(_("{field}: {value!r} is not a date like 2026-12-01").format(field=_(label), value=raw))
        return query, problems

    # -- data ---------------------------------------------------------------------------------

    def refresh_data(self) -> None:
        self._generation += 1
        query, problems = self.list_query()
        self.load(self._generation, self.view, query, problems)

    @work(thread=True, exclusive=True, group="tasks")
    def load(self, generation: int, view: str, query: ListQuery, problems: list[str]) -> None:
        from tscrm.core.services import tasks, users

        ctx = self.ctx
        actor = ctx.actor
        now = clock_of(self.app)
        try:
            with ctx.db.read() as session:
                people = (
                    [(u.id, u.name) for u in users.list_users(session) if u.id != actor.id]
                    if self._may_see_others() and not self.users
                    else None
                )
                if view == "kanban":
                    rows = tasks.list_tasks(session, actor, tasks.TaskFilter(), now=now, limit=LIST_LIMIT)
                    if query.show_done:
                        rows += tasks.list_done_tasks(session, actor, limit=DONE_LIMIT)
                    total = len(rows)
                else:
                    filt = query.task_filter(self.tz)
                    rows = tasks.list_tasks(session, actor, filt, now=now, limit=LIST_LIMIT)
                    total = tasks.count_tasks(session, actor, filt, now=now)
                items = load_items(session, rows, now)
                buckets = {t.id: tasks.task_bucket(t, now, self.tz, actor.week_start) for t in rows}
        except TscrmError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self._show, generation, view, items, buckets, total, people, problems)

    async def _show(self, generation, view, items, buckets, total, people, problems) -> None:
        if not self.query("#tasks-table"):
            return  # being rebuilt (language switch): it loads again once rebuilt
        if people is not None:
            self.users = people
            self.query_one("#filter-assignee", Select).set_options(self._assignee_options())
        if generation != self._generation:
            return  # filters or view changed meanwhile: a newer load is on its way
        self.items = {i.id: i for i in items}
        if view == "kanban":
            await self._fill_kanban(items, buckets)
            status = _("{n} task(s)").format(n=total)
        else:
            self._fill_table(items)
            status = _("{shown} of {total} task(s)").format(shown=len(items), total=total)
        self.query_one("#tasks-status", Static).update(" · ".join([status, *problems]))
        self._update_detail()

    async def _fill_kanban(self, items: list[TaskItem], buckets: dict[int, str]) -> None:
        from tscrm.tui.widgets.kanban import KanbanCard, KanbanColumn

        show_done = self.query_one("#tasks-done", Checkbox).value
        tz = self.tz
        grouped: dict[str, list[TaskItem]] = {key: [] for key, _label in COLUMNS}
        for item in items:
            bucket = buckets.get(item.id, "later")
            grouped["later" if bucket == "no_date" else bucket].append(item)
        columns = [
            KanbanColumn(
                key=key,
                title=_(label),
                subtitle=str(len(grouped[key])),
                cards=tuple(KanbanCard(i.id, card_content(i, tz)) for i in grouped[key][:CARDS_PER_COLUMN]),
                more=max(0, len(grouped[key]) - CARDS_PER_COLUMN),
            )
            for key, label in COLUMNS
            if key != "done" or show_done
        ]
        kanban: Any = self.query_one("#tasks-kanban")
        await kanban.set_columns(columns)
        typing = isinstance(self.focused, (Input, Select, Checkbox))
        if self.view == "kanban" and kanban.focused_card is None and not typing:
            kanban.focus_first()

    def _fill_table(self, items: list[TaskItem]) -> None:
        if items == self._table_items:
            return  # a live refresh with nothing new: keep the rows, the cursor and the scroll
        self._table_items = items
        table = self.query_one("#tasks-table", DataTable)
        selected = self._table_key()
        table.clear()
        tz = self.tz
        for item in items:
            due = item.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if item.due_at else ""
            state = _("done") if item.done else _("overdue") if item.overdue else ""
            table.add_row(
                Text(f"{item.marker()} {item.type_label()}"),
                Text(item.title, style="strike" if item.done else ""),
                Text(due, style="red" if item.overdue else ""),
                Text(item.assignee),
                Text(item.link_text()),
                Text(state, style="red" if item.overdue else "dim"),
                Text(_details(item, tz)),
                key=str(item.id),
            )
        if selected is not None and str(selected) in {str(i.id) for i in items}:
            table.move_cursor(row=table.get_row_index(str(selected)))

    # -- the selected task --------------------------------------------------------------------

    def _table_key(self) -> int | None:
        return cursor_row_id(self.query_one("#tasks-table", DataTable))

    def selected(self) -> TaskItem | None:
        if self.view == "kanban":
            key = self.query_one("#tasks-kanban").focused_key  # type: ignore[attr-defined]
        else:
            key = self._table_key()
        return self.items.get(key) if key is not None else None  # type: ignore[arg-type]

    def _update_detail(self) -> None:
        item = self.selected()
        detail = self.query_one("#tasks-detail", Static)
        detail.update(describe(item, self.tz, self.ctx.region) if item else Text(_("No task selected."), style="dim"))

    def on_descendant_focus(self) -> None:
        self._update_detail()

    @on(DataTable.RowHighlighted, "#tasks-table")
    def _row_highlighted(self) -> None:
        self._update_detail()

    @on(DataTable.RowSelected, "#tasks-table")
    def _row_selected(self) -> None:
        item = self.selected()
        if item is not None:
            act_on(self, item)

    def on_kanban_card_chosen(self, event: Any) -> None:
        item = self.items.get(event.key)
        if item is not None:
            act_on(self, item)

    def on_kanban_move_requested(self, event: Any) -> None:
        event.stop()

    # -- filters ------------------------------------------------------------------------------

    @on(Select.Changed)
    @on(Input.Changed)
    def _filters_changed(self) -> None:
        if self.view == "list":
            self.refresh_data()

    @on(Checkbox.Changed)
    def _checkbox_changed(self) -> None:
        self.refresh_data()

    # -- actions ------------------------------------------------------------------------------

    def action_toggle_view(self) -> None:
        self.view = "list" if self.view == "kanban" else "kanban"
        self._apply_view()
        self.refresh_data()

    def action_toggle_completed(self) -> None:
        box = self.query_one("#tasks-done", Checkbox)
        box.value = not box.value  # Checkbox.Changed reloads

    def action_toggle_done(self) -> None:
        item = self.selected()
        if item is not None:
            toggle_done(self, item)

    def action_new_task(self) -> None:
        new_task_dialog(self)

    def action_copy_link(self) -> None:
        copy_meeting_url(self, self.selected())

    def action_open_linked(self) -> None:
        open_linked(self, self.selected())

    def action_filters(self) -> None:
        if self.view != "list":
            self.view = "list"
            self._apply_view()
            self.refresh_data()
        self.query_one("#filter-type", Select).focus()

    def action_focus_body(self) -> None:
        if self.view == "list":
            self.query_one("#tasks-table", DataTable).focus()
        else:
            kanban = self.query_one("#tasks-kanban")
            if kanban.focused_card is None:  # type: ignore[attr-defined]
                kanban.focus_first()  # type: ignore[attr-defined]


def _type_options() -> list[tuple[str, str]]:
    """(value, label) of each task type."""
    from tscrm.labels import TASK_TYPES

    return list(TASK_TYPES.items())


def _details(item: TaskItem, tz: ZoneInfo) -> str:
    if item.type == "video" and item.meeting_url:
        return item.meeting_url
    if item.type == "sms":
        return _("SMS scheduled")
    if item.type == "call" and item.phone:
        from tscrm.core.phones import format_phone

        return format_phone(item.phone)
    return ""
