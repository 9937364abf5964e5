"""Settings → SMS templates: the texts bulk SMS start from ({first_name}, {company}, {owner}…).

Keys (the table focused): n adds, e or Enter edits the highlighted template, delete removes it (asks
first), r reloads, t sends a bulk SMS to every client and open lead with a tag. The dialog shows how
many SMS parts the text takes before the fields are filled in. The same templates are
``tscrm sms templates``.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static, TextArea

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css
from tscrm.tui.screens.settings import SettingsPane

TITLE = N_("SMS templates")
ORDER = 30


def template_rows(session) -> list[dict[str, Any]]:
    from tscrm.core.services import sms

    return [{"id": t.id, "name": t.name, "text": t.text, "parts": sms.sms_parts(t.text)} for t in sms.list_templates(session)]


def save_template(db, actor, old_name: str | None, name: str, text: str) -> str:
    """Add a template, or replace ``old_name`` (in one transaction: a refused text keeps the old one)."""
    from tscrm.core.services import sms

    with db.write() as session:
        if old_name is not None:
            sms.remove_template(session, actor, old_name)
        return sms.add_template(session, actor, name, text).name


class TemplateDialog(ModalScreen[str | None]):
    """Name and text of a template; dismisses with the saved name (None: cancelled)."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel")), Binding("ctrl+s", "save", N_("Save"))]
    DEFAULT_CSS = dialog_css("TemplateDialog") + """
    TemplateDialog > Vertical { width: 90; }
    TemplateDialog #template-text { height: 7; }
    """

    def __init__(self, name: str = "", text: str = "") -> None:
        super().__init__(id="template-dialog")
        self.old_name = name or None
        self.initial_text = text

    def compose(self) -> ComposeResult:
        from tscrm.tui.screens.bulk_sms import fields_hint

        with Vertical():
            yield Static(_("Edit SMS template") if self.old_name else _("New SMS template"), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("Name"), classes="label")
                yield Input(self.old_name or "", id="template-name")
            yield TextArea(self.initial_text, id="template-text", soft_wrap=True, tab_behavior="focus")
            yield Static("", id="template-parts", classes="dialog-hint")
            yield Static(_("Fields: {fields}").format(fields=fields_hint()), classes="dialog-hint")
            yield Static("", id="template-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="template-save")
                yield Button(_("Cancel"), id="template-cancel")

    def on_mount(self) -> None:
        self.query_one("#template-name", Input).focus()
        self._count()

    @on(TextArea.Changed, "#template-text")
    def _count(self) -> None:
        from tscrm.core.services.sms import sms_parts
        from tscrm.tui.screens.bulk_sms import parts_label

        parts = sms_parts(self.query_one("#template-text", TextArea).text)
        self.query_one("#template-parts", Static).update(_("Before the fields are filled in: {parts}").format(parts=parts_label(parts)))

    @on(Button.Pressed, "#template-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#template-cancel")
    def _cancel_pressed(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        self.save(self.query_one("#template-name", Input).value, self.query_one("#template-text", TextArea).text)

    @work(thread=True, exclusive=True, group="template-save", exit_on_error=False)
    def save(self, name: str, text: str) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            saved = save_template(ctx.db, ctx.actor, self.old_name, name, text)
        except TscrmError as exc:
            self.app.call_from_thread(self.query_one("#template-error", Static).update, str(exc))
            return
        self.app.call_from_thread(self.dismiss, saved)


class SmsTemplatesPane(SettingsPane, Vertical):
    BINDINGS = [
        Binding("n", "add", N_("Add template")),
        Binding("e", "edit", N_("Edit")),
        Binding("delete", "remove", N_("Remove")),
        Binding("r", "reload", N_("Reload")),
        Binding("t", "send_to_tag", N_("Send to a tag")),
    ]
    DEFAULT_CSS = """
    SmsTemplatesPane #sms-templates { height: auto; max-height: 1fr; }
    SmsTemplatesPane #sms-templates-result { height: auto; padding: 1 0 0 0; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rows: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(_("SMS templates: n adds, e edits, delete removes; t sends a bulk SMS to a tag (or b in Clients)."), classes="note")
        table: DataTable = DataTable(id="sms-templates", cursor_type="row", zebra_stripes=True)
        table.add_column(_("Name"), width=24)
        table.add_column(_("Parts"), width=6)
        table.add_column(_("Text"), width=80)
        yield table
        yield Static("", id="sms-templates-result")

    @work(thread=True, exclusive=True, group="sms-templates", exit_on_error=False)
    def load(self) -> None:
        with self.ctx.db.read() as session:
            rows = template_rows(session)
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[dict[str, Any]]) -> None:
        self.fill_table(rows, lambda row: (row["name"], str(row["parts"].parts), Text(row["text"].replace("\n", " ⏎ "), no_wrap=True, overflow="ellipsis")))
        result = self.query_one("#sms-templates-result", Static)
        if not rows and not str(result.render()).strip():
            result.update(_("No template yet: n adds one."))

    def _saved(self, name: str | None) -> None:
        if name:
            self.query_one("#sms-templates-result", Static).update(_("Template {name} saved.").format(name=name))
            self.load()

    def action_send_to_tag(self) -> None:
        from tscrm.tui.screens.bulk_sms import ask_tag_and_send

        ask_tag_and_send(self.app)

    def action_add(self) -> None:
        self.app.push_screen(TemplateDialog(), self._saved)

    def action_edit(self) -> None:
        row = self._current()
        if row is not None:
            self.app.push_screen(TemplateDialog(row["name"], row["text"]), self._saved)

    @on(DataTable.RowSelected, "#sms-templates")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_remove(self) -> None:
        row = self._current()
        if row is not None:
            self.confirm(_("Remove the SMS template {name}?").format(name=row["name"]), lambda: self.remove(row["name"]), yes=_("Remove"))

    @work(thread=True, group="sms-templates-remove", exit_on_error=False)
    def remove(self, name: str) -> None:
        from tscrm.core.services import sms

        ctx = self.ctx
        try:
            with ctx.db.write() as session:
                sms.remove_template(session, ctx.actor, name)
        except TscrmError as exc:
            self.app.call_from_thread(self.query_one("#sms-templates-result", Static).update, str(exc))
            return
        self.app.call_from_thread(self.query_one("#sms-templates-result", Static).update, _("Template {name} removed.").format(name=name))
        self.app.call_from_thread(self.load)


Pane = SmsTemplatesPane
