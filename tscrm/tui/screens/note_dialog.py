"""Add a note to a client, a lead or a deal: a modal usable from any screen (also during a call).

The dialog writes the note itself and dismisses with the new feed entry's id (None: cancelled), so
whoever opens it only has to push it: ``app.push_screen(NoteDialog(client_id=7), done)``.
Keys: ctrl+s saves, escape cancels (Enter makes a new line: notes taken during a call run long).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TextArea

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 76; max-width: 95%; height: auto; max-height: 95%; border: thick $accent; background: $surface; padding: 0 1; }}
{name} .dialog-title {{ text-style: bold; padding: 0 0 1 0; }}
{name} .dialog-error {{ color: $error; height: auto; }}
{name} .dialog-hint {{ color: $text-muted; height: auto; }}
{name} .dialog-buttons {{ height: auto; align-horizontal: right; }}
{name} .dialog-buttons Button {{ margin-left: 1; }}
{name} .row {{ height: auto; }}
{name} .row > .label {{ width: 16; padding: 1 1 0 0; }}
{name} .row > Input, {name} .row > Select {{ width: 1fr; }}
"""
"""The look the small dialogs share (note, task, deal); ``{name}`` is the dialog's class name."""


def dialog_css(name: str) -> str:
    return DIALOG_CSS.format(name=name)


class NoteDialog(ModalScreen[int | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "save", N_("Save")),
    ]
    DEFAULT_CSS = dialog_css("NoteDialog") + """
    NoteDialog #note-text { height: 8; }
    """

    def __init__(
        self,
        *,
        client_id: int | None = None,
        lead_id: int | None = None,
        deal_id: int | None = None,
        call_id: int | None = None,
        about: str = "",
    ) -> None:
        """``about``: the record's name for the title (optional)."""
        super().__init__()
        self.client_id, self.lead_id, self.deal_id, self.call_id = client_id, lead_id, deal_id, call_id
        self.about = about
        self.saving = False

    def compose(self) -> ComposeResult:
        title = _("Note about {name}").format(name=self.about) if self.about else _("New note")
        with Vertical(id="note-box"):
            yield Static(title, classes="dialog-title")
            yield TextArea(id="note-text", soft_wrap=True, tab_behavior="focus")
            yield Static("", id="note-error", classes="dialog-error")
            yield Static(_("ctrl+s saves · escape cancels"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Save"), variant="primary", id="note-save")
                yield Button(_("Cancel"), id="note-cancel")

    def on_mount(self) -> None:
        self.query_one("#note-text", TextArea).focus()

    @on(Button.Pressed, "#note-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#note-save")
    def action_save(self) -> None:
        text = self.query_one("#note-text", TextArea).text
        if not text.strip():
            self._error(_("text: a note must not be empty"))
            return
        if not self.saving:
            self.saving = True
            self.save(text)

    @work(thread=True, exclusive=True, group="note-save")
    def save(self, text: str) -> None:
        from tscrm.core.services import notes

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.write() as session:
                entry = notes.add_note(
                    session,
                    ctx.actor,
                    text,
                    client_id=self.client_id,
                    lead_id=self.lead_id,
                    deal_id=self.deal_id,
                    call_id=self.call_id,
                )
                entry_id = entry.id
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._saved, entry_id)

    def _saved(self, entry_id: int | None) -> None:
        self.app.notify(_("Note added."))
        self.dismiss(entry_id)

    def _error(self, message: str) -> None:
        self.saving = False
        self.query_one("#note-error", Static).update(message)
