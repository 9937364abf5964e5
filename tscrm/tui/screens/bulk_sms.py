"""Bulk SMS: to the clients selected in the Clients list (bulk action "Send SMS"), or to a tag.

Pick a template (Settings → SMS templates) or write the text; the fields ({first_name}, {company},
{owner}…) are filled per recipient. The preview shows the first messages as they will go out with
the number of parts each takes, and the whole send's recipients and parts. Sending asks first, runs
in a thread worker with a progress bar (rate limit and retries are core's), then shows the delivery
report: sent, failed with the reason, the cost when the service gives it, and who was left out.
Keys: ctrl+s sends, escape closes.

The SMS service is the company's (``tscrm.telephony.sms_factory.sms_backend_for``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, ProgressBar, Select, Static, TextArea

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css

PREVIEW_COUNT = 3
PREVIEW_DELAY_S = 0.3
FREE_TEXT = -1


def fields_hint() -> str:
    from tscrm.core.services.sms import TEMPLATE_FIELDS

    return " ".join("{" + name + "}" for name in TEMPLATE_FIELDS)


def parts_label(parts: Any) -> str:
    return _("{parts} part(s), {units} characters, {encoding}").format(parts=parts.parts, units=parts.units, encoding=parts.encoding)


class BulkSmsDialog(ModalScreen[bool | None]):
    """Dismisses with True once something was sent (None: closed before sending)."""

    BINDINGS = [Binding("escape", "close", N_("Close")), Binding("ctrl+s", "send", N_("Send"))]
    DEFAULT_CSS = dialog_css("BulkSmsDialog") + """
    BulkSmsDialog > Vertical { width: 104; }
    BulkSmsDialog #sms-text { height: 6; }
    BulkSmsDialog #sms-preview { height: auto; max-height: 14; }
    BulkSmsDialog #sms-report { height: auto; max-height: 20; }
    BulkSmsDialog ProgressBar { height: auto; }
    """

    def __init__(self, *, target: Any = None, tag: str | None = None) -> None:
        """``target``: a tscrm.tui.screens.clients.BulkTarget; or ``tag``: every client and open lead with it."""
        super().__init__(id="bulk-sms")
        self.target = target
        self.tag = tag
        self.selection: Any = None  # tscrm.core.services.sms.Selection, once read
        self.templates: dict[int, str] = {}
        self.ready = False
        self.sending = False
        self.report: Any = None
        self._preview_timer: Any = None
        self._preview_seq = 0

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def _what(self) -> str:
        if self.target is not None:
            return self.target.describe()
        return _("tag {tag}").format(tag=self.tag)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("SMS to {what}").format(what=self._what()), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("Template"), classes="label")
                yield Select([(_("Free text"), FREE_TEXT)], value=FREE_TEXT, allow_blank=False, id="sms-template")
            yield TextArea(id="sms-text", soft_wrap=True, tab_behavior="focus")
            yield Static(_("Fields: {fields}").format(fields=fields_hint()), classes="dialog-hint")
            with VerticalScroll(id="sms-preview"):
                yield Static(_("Reading the recipients…"), id="sms-preview-text")
            yield ProgressBar(id="sms-progress", show_eta=False)
            yield Static("", id="sms-error", classes="dialog-error")
            with VerticalScroll(id="sms-report"):
                yield Static("", id="sms-report-text")
            yield Static(_("ctrl+s sends · escape closes"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Send"), variant="primary", id="sms-send")
                yield Button(_("Close"), id="sms-close")

    def on_mount(self) -> None:
        self.query_one("#sms-progress").display = False
        self.query_one("#sms-report").display = False
        self.query_one("#sms-text", TextArea).focus()
        self.load()

    # -- recipients and templates ---------------------------------------------------------------

    @work(thread=True, exclusive=True, group="bulk-sms-load", exit_on_error=False)
    def load(self) -> None:
        from tscrm.core.services import sms

        ctx = self.ctx
        try:
            with ctx.db.read() as session:
                client_ids = self.target.resolve(session, ctx.actor) if self.target is not None else []
                selection = sms.select_recipients(session, ctx.actor, client_ids=client_ids, tag=self.tag)
                templates = {t.id: t.name for t in sms.list_templates(session)}
                texts = {t.id: t.text for t in sms.list_templates(session)}
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._loaded, selection, templates, texts)

    def _loaded(self, selection: Any, templates: dict[int, str], texts: dict[int, str]) -> None:
        self.selection = selection
        self.templates = texts
        self.query_one("#sms-template", Select).set_options([(_("Free text"), FREE_TEXT), *[(name, tid) for tid, name in templates.items()]])
        self.query_one("#sms-template", Select).value = FREE_TEXT
        self.ready = True
        self.update_preview()

    @on(Select.Changed, "#sms-template")
    def _template_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, int) and event.value in self.templates:
            self.query_one("#sms-text", TextArea).text = self.templates[event.value]

    @on(TextArea.Changed, "#sms-text")
    def _text_changed(self) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(PREVIEW_DELAY_S, self.update_preview)

    # -- preview ----------------------------------------------------------------------------------

    def update_preview(self) -> None:
        if not self.ready or self.sending:
            return
        self._preview_seq += 1
        self.preview(self._preview_seq, self.query_one("#sms-text", TextArea).text)

    @work(thread=True, group="bulk-sms-preview", exit_on_error=False)
    def preview(self, seq: int, body: str) -> None:
        from tscrm.core.services import sms

        ctx = self.ctx
        recipients = self.selection.recipients
        error = ""
        rows: list[Any] = []
        total_parts = 0
        if body.strip():
            try:
                with ctx.db.read() as session:
                    everyone = sms.preview(session, ctx.actor, recipients, body, limit=len(recipients))
                rows = everyone[:PREVIEW_COUNT]
                total_parts = sum(r.parts.parts for r in everyone)
            except TscrmError as exc:
                error = str(exc)
        self.app.call_from_thread(self._show_preview, seq, rows, total_parts, error)

    def _show_preview(self, seq: int, rows: list[Any], total_parts: int, error: str) -> None:
        if seq != self._preview_seq:
            return  # a newer text is being previewed
        from tscrm.core.phones import format_phone
        from tscrm.core.services.sms import SKIP_LABELS

        selection = self.selection
        region = self.ctx.region
        text = Text()
        count = len(selection.recipients)
        if rows or not error:
            head = _("{n} recipient(s)").format(n=count)
            if rows:
                head += " · " + _("{parts} SMS part(s) in all").format(parts=total_parts)
            text.append(head + "\n", style="bold")
        for row in rows:
            who = row.recipient.name or row.recipient.number
            text.append(f"{who} {format_phone(row.recipient.number, region)}", style="bold")
            text.append(f"  ({parts_label(row.parts)})\n", style="cyan")
            text.append(f"  {row.text}\n")
        for who, why in selection.skipped:
            text.append(_("left out: {who}: {why}").format(who=who, why=_(SKIP_LABELS.get(why, why))) + "\n", style="yellow")
        text.rstrip()
        self.query_one("#sms-preview-text", Static).update(text)
        self.query_one("#sms-error", Static).update(error)

    # -- sending ----------------------------------------------------------------------------------

    def _error(self, message: str) -> None:
        self.query_one("#sms-error", Static).update(message)

    @on(Button.Pressed, "#sms-send")
    def _send_pressed(self) -> None:
        self.action_send()

    @on(Button.Pressed, "#sms-close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        if self.sending:
            self.notify(_("Sending: wait for the report."), severity="warning")
            return
        self.dismiss(True if self.report is not None else None)

    def action_send(self) -> None:
        if not self.ready or self.sending or self.report is not None:
            return
        body = self.query_one("#sms-text", TextArea).text
        if not body.strip():
            self._error(_("text: an SMS needs a text"))
            return
        count = len(self.selection.recipients)
        if count == 0:
            self._error(_("No recipient: nothing to send"))
            return
        from tscrm.tui.screens.clients import ConfirmDialog

        self.app.push_screen(
            ConfirmDialog(_("Send {n} SMS now?").format(n=count), yes=_("Send")), lambda yes: yes and self._start(body)
        )

    def _start(self, body: str) -> None:
        self.sending = True
        self._error("")
        bar = self.query_one("#sms-progress", ProgressBar)
        bar.update(total=len(self.selection.recipients), progress=0)
        bar.display = True
        for widget_id in ("#sms-send", "#sms-text", "#sms-template"):
            self.query_one(widget_id).disabled = True
        self.send(body)

    @work(thread=True, exclusive=True, group="bulk-sms-send", exit_on_error=False)
    def send(self, body: str) -> None:
        from tscrm.core.services import sms
        from tscrm.telephony import sms_factory

        ctx = self.ctx
        bar = self.query_one("#sms-progress", ProgressBar)
        try:
            with ctx.db.read() as session:
                backend = sms_factory.sms_backend_for(session)
        except TscrmError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        try:
            report = sms.send_bulk(
                ctx.db,
                ctx.actor,
                self.selection.recipients,
                body,
                backend,
                progress=lambda done, total, row: self.app.call_from_thread(bar.update, progress=done),
                skipped=self.selection.skipped,
            )
        except TscrmError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        finally:
            sms_factory.close_sms_backend(backend)
        self.app.call_from_thread(self._sent, report)

    def _failed(self, message: str) -> None:
        self.sending = False
        self.query_one("#sms-progress").display = False
        for widget_id in ("#sms-send", "#sms-text", "#sms-template"):
            self.query_one(widget_id).disabled = False
        self._error(message)

    def _sent(self, report: Any) -> None:
        from tscrm.core.phones import format_phone
        from tscrm.core.services.sms import SKIP_LABELS, STATUS_LABELS

        self.sending = False
        self.report = report
        region = self.ctx.region
        costs = ", ".join(f"{value} {currency}".strip() for currency, value in report.cost_by_currency().items())
        summary = _("{sent} sent, {failed} failed").format(sent=report.sent, failed=report.failed)
        if costs:
            summary += " — " + _("cost {cost}").format(cost=costs)
        text = Text(summary + "\n", style="bold")
        width = max((len(format_phone(r.number, region)) for r in report.rows), default=0)
        for row in report.rows:
            ok = str(row.status.value) == "sent"
            text.append(f"{format_phone(row.number, region).ljust(width)}  {row.name}  ")
            text.append(_(STATUS_LABELS[row.status]), style="green" if ok else "bold red")
            if ok:
                extra = _("{parts} part(s)").format(parts=row.parts)
                if row.cost is not None:
                    extra += f", {row.cost} {row.currency or ''}".rstrip()
                text.append(f"  {extra}\n", style="dim")
            else:
                text.append(f"  {row.error}\n")
        for who, why in report.skipped:
            text.append(_("left out: {who}: {why}").format(who=who, why=_(SKIP_LABELS.get(why, why))) + "\n", style="yellow")
        text.rstrip()
        self.query_one("#sms-report-text", Static).update(text)
        self.query_one("#sms-report").display = True
        self.query_one("#sms-preview").display = False
        self.query_one("#sms-close", Button).focus()
        self.app.notify(summary, severity="warning" if report.failed else "information", timeout=8)
        self.app.refresh_screens()  # type: ignore[attr-defined]


# --- to a tag (command palette) -------------------------------------------------------------------


def ask_tag_and_send(app: App) -> None:
    """Ask for a tag (completing the known ones), then open the bulk SMS to its clients and open leads."""
    from tscrm.tui.screens.clients import TextDialog

    def chosen(tag: str | None) -> None:
        if tag:
            app.push_screen(BulkSmsDialog(tag=tag))

    app.push_screen(TextDialog(_("SMS to every client and open lead with the tag:"), placeholder=_("tag")), chosen)


def sms_commands(app: App):
    """The command palette's entry (``yield from sms_commands(self)`` in the app)."""
    yield SystemCommand(_("Bulk SMS to a tag"), _("Template or text, preview, delivery report"), lambda: ask_tag_and_send(app))
