"""Create a task of any of the four types (task, call, video call, SMS), linked or not to a record.

The due time is typed in the user's own time zone ("2026-12-01 10:00"). With the right to assign
tasks, the task can go to another user. Given ``client_ids`` (a bulk action of the Clients list) it
creates the same task for each of those clients. The dialog writes the task(s) itself and dismisses
with the new task's id (bulk: the number of tasks made), None when cancelled.
Keys: Enter or ctrl+s saves, escape cancels.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css

TYPE_ORDER = ("task", "call", "video", "sms")


class TaskDialog(ModalScreen[int | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save")),
    ]
    DEFAULT_CSS = dialog_css("TaskDialog")

    def __init__(
        self,
        *,
        client_id: int | None = None,
        lead_id: int | None = None,
        deal_id: int | None = None,
        due_at: datetime | None = None,
        client_ids: Sequence[int] | None = None,
        about: str = "",
        type: str = "task",
    ) -> None:
        super().__init__()
        self.client_id, self.lead_id, self.deal_id = client_id, lead_id, deal_id
        self.client_ids = list(client_ids) if client_ids is not None else None
        self.due_at = due_at
        self.about = about
        self.initial_type = type if type in TYPE_ORDER else "task"
        self.users: list[tuple[int, str]] = []
        self.saving = False

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        from tscrm.present import show_time
        from tscrm.labels import TASK_TYPES, label
        from tscrm.core.permissions import Right

        actor = self.ctx.actor
        if self.client_ids is not None:
            title = _("New task for {n} client(s)").format(n=len(self.client_ids))
        elif self.about:
            title = _("New task: {name}").format(name=self.about)
        else:
            title = _("New task")
        with Vertical(id="task-box"):
            yield Static(title, classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("Type"), classes="label")
                yield Select(
                    [(label(TASK_TYPES, t), t) for t in TYPE_ORDER], value=self.initial_type, allow_blank=False, id="task-type"
                )
            with Horizontal(classes="row"):
                yield Static(_("Title"), classes="label")
                yield Input(placeholder=_("What to do, e.g. Call back about the offer"), id="task-title")
            with Horizontal(classes="row"):
                yield Static(_("Due"), classes="label")
                yield Input(
                    show_time(self.due_at, actor.timezone),
                    placeholder=_("YYYY-MM-DD HH:MM ({zone})").format(zone=actor.timezone),
                    id="task-due",
                )
            with Horizontal(classes="row"):
                yield Static(_("Description"), classes="label")
                yield Input(id="task-description")
            with Horizontal(classes="row", id="task-sms-row"):
                yield Static(_("SMS text"), classes="label")
                yield Input(id="task-sms")
            if actor.can(Right.ASSIGN_TASKS):
                with Horizontal(classes="row"):
                    yield Static(_("Assignee"), classes="label")
                    yield Select([(actor.name, actor.id)], value=actor.id, allow_blank=False, id="task-assignee")
            yield Static("", id="task-error", classes="dialog-error")
            yield Static(_("Times are in your time zone ({zone}) · Enter or ctrl+s saves · escape cancels").format(zone=actor.timezone), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="task-save")
                yield Button(_("Cancel"), id="task-cancel")

    def on_mount(self) -> None:
        self._sms_row_shown(self.initial_type)
        self.query_one("#task-title", Input).focus()
        if self.query("#task-assignee"):
            self.load_users()

    @work(thread=True, exclusive=True, group="task-users")
    def load_users(self) -> None:
        from tscrm.core.services import users

        with self.ctx.db.read() as session:
            people = [(u.id, u.name) for u in users.list_users(session)]
        self.app.call_from_thread(self._users_loaded, people)

    def _users_loaded(self, people: list[tuple[int, str]]) -> None:
        self.users = people
        select = self.query_one("#task-assignee", Select)
        current = select.value
        select.set_options([(name, uid) for uid, name in people])
        select.value = current if any(uid == current for uid, _n in people) else self.ctx.actor.id

    @on(Select.Changed, "#task-type")
    def _type_changed(self, event: Select.Changed) -> None:
        self._sms_row_shown(str(event.value))

    def _sms_row_shown(self, task_type: str) -> None:
        self.query_one("#task-sms-row").display = task_type == "sms"

    @on(Button.Pressed, "#task-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#task-save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        if self.saving:
            return
        from tscrm.present import parse_time

        values = {key: self.query_one(f"#task-{key}", Input).value for key in ("title", "due", "description", "sms")}
        task_type = str(self.query_one("#task-type", Select).value)
        try:
            due = parse_time(values["due"], self.ctx.actor.timezone, "due_at")
        except TscrmError as exc:
            self._error(str(exc))
            return
        fields: dict[str, Any] = {
            "title": values["title"],
            "type": task_type,
            "due_at": due,
            "description": values["description"] or None,
            "sms_text": values["sms"] if task_type == "sms" else None,
        }
        if self.query("#task-assignee"):
            fields["assignee_id"] = self.query_one("#task-assignee", Select).value
        self.saving = True
        self.save(fields)

    @work(thread=True, exclusive=True, group="task-save")
    def save(self, fields: dict[str, Any]) -> None:
        from tscrm.core.services import tasks

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                if self.client_ids is not None:
                    for client_id in self.client_ids:
                        tasks.create_task(session, ctx.actor, client_id=client_id, **fields)
                    result: int | None = len(self.client_ids)
                    meeting = None
                else:
                    task = tasks.create_task(
                        session, ctx.actor, client_id=self.client_id, lead_id=self.lead_id, deal_id=self.deal_id, **fields
                    )
                    result, meeting = task.id, task.meeting_url
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._saved, result, meeting)

    def _saved(self, result: int | None, meeting: str | None) -> None:
        if self.client_ids is not None:
            self.app.notify(_("{n} task(s) created.").format(n=result))
        elif meeting:
            self.app.notify(_("Video call created: {url}").format(url=meeting))
        else:
            self.app.notify(_("Task created."))
        self.dismiss(result)

    def _error(self, message: str) -> None:
        self.saving = False
        self.query_one("#task-error", Static).update(message)
