"""The import history: who imported what file when, with what result; cancel (undo) an import.

Keys: u cancels the highlighted import (asks first) -- what it created is deleted, what it updated
gets its previous values back, records edited since are listed and left as they are, and the tags
and sources it created go when nothing uses them; r reloads; escape goes back. The panel below the
table shows the highlighted import's first rejected rows, or the report of its undo.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.status_header import StatusHeader

HISTORY_LIMIT = 200
ERRORS_SHOWN = 10
STATUSES: dict[str, str] = {
    "done": N_("done"),
    "undone": N_("undone"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "rejected": N_("rejected (strict)"),
}
KINDS: dict[str, str] = {"clients": N_("clients"), "leads": N_("leads"), "teamsale": N_("Teamsale")}
UNDO_ENTITIES: dict[str, str] = {"client": N_("clients"), "lead": N_("leads"), "deal": N_("deals"), "task": N_("tasks"), "call": N_("calls")}


def load_history(session, actor) -> tuple[list[dict[str, Any]], dict[int, str]]:
    from tscrm.core.imports.pipeline import list_batches
    from tscrm.present import user_names

    batches = list_batches(session, actor, limit=HISTORY_LIMIT)
    names = user_names(session, (b.user_id for b in batches))
    rows = [
        {
            "id": b.id, "kind": b.kind, "file": b.file_name or "", "user": names.get(b.user_id) or "", "started_at": b.started_at,
            "status": b.status, "rows": b.rows, "created": b.created, "updated": b.updated, "skipped": b.skipped,
            "duplicates": b.duplicates, "errors": b.errors, "message": b.message, "error_sample": list(b.error_sample or []),
            "undo_report": dict(b.undo_report or {}), "user_id": b.user_id,
        }
        for b in batches
    ]
    return rows, names


def undo_text(report: dict[str, Any]) -> Text:
    """What an undo did, as its report says (deleted, restored, kept, labels removed)."""
    text = Text()
    deleted = report.get("deleted") or {}
    parts = [f"{_(UNDO_ENTITIES.get(k, k))}: {v}" for k, v in deleted.items() if v]
    text.append(_("Undone: {deleted} deleted ({detail}), {restored} restored").format(
        deleted=sum(deleted.values()), detail=", ".join(parts) or "-", restored=report.get("restored", 0)), style="bold")
    if report.get("removed_tags"):
        text.append("\n" + _("Tags removed (no longer used): {names}").format(names=", ".join(report["removed_tags"])))
    if report.get("removed_sources"):
        text.append("\n" + _("Sources removed (no longer used): {names}").format(names=", ".join(report["removed_sources"])))
    kept = report.get("kept") or []
    if kept:
        text.append("\n" + _("Edited since the import, left as they are ({n}):").format(n=len(kept)), style="bold yellow")
        for item in kept:
            text.append("\n  " + f"{_(item.get('entity', ''))} #{item.get('id')} {item.get('name') or ''}: {item.get('reason')}", style="yellow")
    return text


class ImportHistoryScreen(Screen):
    CSS_PATH = "import_screen.tcss"
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("u", "undo", N_("Cancel import (undo)")),
        Binding("r", "reload", N_("Reload")),
    ]

    def __init__(self) -> None:
        super().__init__(id="import-history")
        self.rows: list[dict[str, Any]] = []
        self.stale = False
        self.last_undo: dict[int, dict[str, Any]] = {}
        self.message: tuple[str, str] = ("", "")

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Vertical(id="history-body"):
            yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="history-detail-box"):
                yield Static("", id="history-detail")
            yield Static("", id="history-status")
        yield KeyBar()

    def on_mount(self) -> None:
        self._columns()
        self.query_one("#history-table", DataTable).focus()
        self.refresh_data()

    async def recompose(self) -> None:
        await super().recompose()
        self._columns()
        self._show_rows()
        self.refresh_data()

    def _columns(self) -> None:
        self.query_one(StatusHeader).section_title = _("Import history")
        table = self.query_one("#history-table", DataTable)
        table.clear(columns=True)
        for label, width in (
            (_("Batch"), 5), (_("When"), 16), (_("Who"), 9), (_("What"), 7), (_("File"), 17), (_("Status"), 8),
            (_("Rows"), 6), (_("Created"), 7), (_("Updated"), 7), (_("Skipped"), 7), (_("Errors"), 6),
        ):
            table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="import-history")
    def load(self) -> None:
        try:
            with self.ctx.db.read() as session:
                rows, _names = load_history(session, self.ctx.actor)
        except TscrmError as exc:
            self.app.call_from_thread(self._say, str(exc), "bold red")
            return
        self.app.call_from_thread(self._loaded, rows)

    def _loaded(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self._show_rows()
        if not rows:
            self._say(_("No imports yet."))

    def _show_rows(self) -> None:
        from tscrm.present import show_time

        table = self.query_one("#history-table", DataTable)
        row = table.cursor_row
        table.clear()
        tz = self.ctx.actor.timezone
        for r in self.rows:
            status_style = {"done": "green", "undone": "dim", "failed": "red", "cancelled": "yellow", "rejected": "red"}.get(r["status"], "")
            table.add_row(
                str(r["id"]), show_time(r["started_at"], tz), r["user"], _(KINDS.get(r["kind"], r["kind"])), r["file"],
                Text(_(STATUSES.get(r["status"], r["status"])), style=status_style),
                str(r["rows"]), str(r["created"]), str(r["updated"]), str(r["skipped"]), str(r["errors"]),
                key=str(r["id"]),
            )
        if self.rows:
            table.move_cursor(row=min(max(row, 0), len(self.rows) - 1))
        self._show_detail()

    @property
    def current(self) -> dict[str, Any] | None:
        if not self.rows:
            return None
        table = self.query_one("#history-table", DataTable)
        return self.rows[min(max(table.cursor_row, 0), len(self.rows) - 1)]

    @on(DataTable.RowHighlighted, "#history-table")
    def _highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        r = self.current
        text = Text()
        if r is not None:
            text.append(_("Import {id}: {file}").format(id=r["id"], file=r["file"]), style="bold")
            text.append(" · " + _("{dup} duplicates").format(dup=r["duplicates"]))
            if r["message"]:
                text.append("\n" + r["message"], style="italic")
            if r["status"] == "undone" and r["undo_report"]:
                text.append("\n")
                text.append_text(undo_text(r["undo_report"]))
            elif r["error_sample"]:
                text.append("\n" + _("First rows with errors:"), style="bold")
                for error in r["error_sample"][:ERRORS_SHOWN]:
                    text.append("\n  " + _("row {row}, {column}: {value!r}: {reason}").format(**error), style="red")
        self.query_one("#history-detail", Static).update(text)

    def _say(self, message: str, style: str = "") -> None:
        self.message = (message, style)
        self.query_one("#history-status", Static).update(Text(message, style=style))

    # -- actions --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            r = self.current
            return None if (r is None or r["status"] != "done") else True
        return True

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.refresh_data()

    def action_undo(self) -> None:
        from tscrm.tui.screens.clients import ConfirmDialog

        r = self.current
        if r is None or r["status"] != "done":
            return
        question = _(
            "Cancel import {id} ({file})? The {created} records it created are deleted and the {updated} it updated get "
            "their previous values back. Records edited since are kept and listed."
        ).format(id=r["id"], file=r["file"], created=r["created"], updated=r["updated"])

        def answered(yes: bool | None) -> None:
            if yes:
                self._say(_("Cancelling import {id}…").format(id=r["id"]))
                self.undo(r["id"])

        self.app.push_screen(ConfirmDialog(question, yes=_("Cancel the import")), answered)

    @work(thread=True, group="import-undo")
    def undo(self, batch_id: int) -> None:
        from tscrm.core.imports.pipeline import import_undo_summary, undo_batch

        try:
            report = undo_batch(self.ctx.db, self.ctx.actor, batch_id)
        except TscrmError as exc:
            self.app.call_from_thread(self._say, str(exc), "bold red")
            return
        self.app.call_from_thread(self._undone, import_undo_summary(report))

    def _undone(self, summary: str) -> None:
        self._say(summary, "bold green")
        self.app.refresh_screens()  # type: ignore[attr-defined]
        self.refresh_data()
