"""Export what a list shows (its current filter) to CSV, Excel (.xlsx) or vCard (.vcf).

The screen hands over its own service filter (the one its list is read with, so the file holds exactly
the rows it lists: Clients, Leads, Deals, Calls) and a line saying what it selects; the dialog asks for
the format and the file, runs ``tscrm.core.exports.export`` in a thread worker with a progress bar, and
shows the result (rows written, the file) or the error (no export right, a folder that does not exist,
a file that cannot be written) in place. Dismisses with the ``ExportReport`` (None: nothing exported).
Keys: ctrl+s or Enter exports, escape closes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, ProgressBar, Select, Static

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css

FORMAT_LABELS = {"csv": N_("CSV"), "xlsx": N_("Excel (.xlsx)"), "vcf": N_("vCard (.vcf)")}


def default_path(kind: str, fmt: str, today: date | None = None) -> str:
    """~/tscrm-clients-20261124.csv: in the user's home, dated, the extension of the format."""
    day = (today or date.today()).strftime("%Y%m%d")
    return str(Path.home() / f"tscrm-{kind}-{day}.{fmt}")


def with_format(path: str, fmt: str) -> str:
    """The path with the extension of ``fmt`` when it had one of a known format (else as typed)."""
    p = Path(path)
    if p.suffix.lower().lstrip(".") in FORMAT_LABELS:
        return str(p.with_suffix("." + fmt))
    return path


class ExportDialog(ModalScreen[object]):
    BINDINGS = [
        Binding("escape", "close", N_("Close")),
        Binding("ctrl+s", "export", N_("Export")),
    ]
    DEFAULT_CSS = dialog_css("ExportDialog") + """
    ExportDialog ProgressBar { height: auto; }
    ExportDialog #export-result { height: auto; color: $success; }
    ExportDialog #export-what { height: auto; }
    """

    def __init__(self, kind: str, filt, what: str) -> None:
        """``kind``: clients, leads, deals or calls; ``filt``: the screen's own service filter (or a core
        ExportFilter), applied as it is; ``what``: the line saying what it selects."""
        super().__init__(id="export-dialog")
        self.kind, self.filt, self.what = kind, filt, what
        self.formats = [f for f in FORMAT_LABELS if f != "vcf" or kind in ("clients", "leads")]
        self.running = False
        self.report = None

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static(_("Export {kind}").format(kind=_(self.kind)), classes="dialog-title")
            yield Static(self.what, id="export-what")
            with Horizontal(classes="row"):
                yield Static(_("Format"), classes="label")
                yield Select([(_(FORMAT_LABELS[f]), f) for f in self.formats], value="csv", allow_blank=False, id="export-format")
            with Horizontal(classes="row"):
                yield Static(_("File"), classes="label")
                yield Input(default_path(self.kind, "csv"), id="export-path")
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-result")
            yield Static("", id="export-error", classes="dialog-error")
            yield Static(_("ctrl+s or Enter exports · escape closes"), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Export"), variant="primary", id="export-go")
                yield Button(_("Close"), id="export-close")

    def on_mount(self) -> None:
        self.query_one("#export-progress", ProgressBar).display = False  # shown once an export runs
        self.query_one("#export-path", Input).focus()

    @on(Select.Changed, "#export-format")
    def _format_changed(self, event: Select.Changed) -> None:
        path = self.query_one("#export-path", Input)
        path.value = with_format(path.value, str(event.value))

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def _go(self) -> None:
        self.action_export()

    @on(Button.Pressed, "#export-close")
    def _close_pressed(self) -> None:
        self.action_close()

    def action_close(self) -> None:
        if not self.running:
            self.dismiss(self.report)

    def action_export(self) -> None:
        if self.running:
            return
        raw = self.query_one("#export-path", Input).value.strip()
        if not raw:
            self.query_one("#export-error", Static).update(_("Type the file to write."))
            return
        fmt = str(self.query_one("#export-format", Select).value)
        self.running = True
        self.query_one("#export-error", Static).update("")
        self.query_one("#export-result", Static).update(_("Exporting…"))
        bar = self.query_one("#export-progress", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.run_export(fmt, str(Path(raw).expanduser()))

    @work(thread=True, exclusive=True, group="export")
    def run_export(self, fmt: str, path: str) -> None:
        from tscrm.core.exports import export

        ctx = self.app.ctx  # type: ignore[attr-defined]

        def progress(p) -> None:
            self.app.call_from_thread(self._progress, p.rows, p.total)

        try:
            with ctx.db.read() as session:
                report = export(session, ctx.actor, self.kind, fmt, path, self.filt, progress=progress)
        except TscrmError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except OSError as exc:  # a file that cannot be written (permissions, a folder given as the file...)
            self.app.call_from_thread(self._failed, _("Cannot write {file}: {reason}").format(file=path, reason=exc.strerror or exc))
            return
        self.app.call_from_thread(self._done, report)

    def _progress(self, rows: int, total: int | None) -> None:
        self.query_one("#export-progress", ProgressBar).update(total=total or max(rows, 1), progress=rows)

    def _failed(self, message: str) -> None:
        self.running = False
        self.query_one("#export-result", Static).update("")
        self.query_one("#export-error", Static).update(message)

    def _done(self, report) -> None:
        self.running = False
        self.report = report
        self.query_one("#export-progress", ProgressBar).update(total=max(report.rows, 1), progress=max(report.rows, 1))
        self.query_one("#export-result", Static).update(
            _("{n} {kind} written to {file}").format(n=report.rows, kind=_(self.kind), file=report.path)
        )


def client_export(screen) -> ExportDialog:
    """The dialog for what the Clients screen lists: its tab (My / All), its filters and its search."""
    query = screen.query_state
    actor = screen.ctx.actor
    users = dict(screen.meta.users) if screen.meta else {}
    labels = {d.key: d.label for d in screen.meta.custom_fields} if screen.meta else {}
    parts: list[str] = []
    if query.tags:
        parts.append(_("tag {tags}").format(tags=", ".join(query.tags)))
    if not query.mine and query.owner_id is not None:
        parts.append(_("responsible {name}").format(name=users.get(query.owner_id, str(query.owner_id))))
    if query.source:
        parts.append(_("source {source}").format(source=query.source))
    tz = actor.timezone
    if query.created_from is not None:
        parts.append(_("created from {day}").format(day=_day(query.created_from, tz, 0)))
    if query.created_to is not None:
        parts.append(_("created to {day}").format(day=_day(query.created_to, tz, -1)))
    for key, value in query.custom:
        parts.append(f"{labels.get(key, key)} = {value}")
    if query.search_ids is not None:
        parts.append(_("search: {text}").format(text=query.search))
    scope = _("My clients") if query.mine else _("All clients")
    what = _("{scope} matching the filter: {filter}").format(scope=scope, filter="; ".join(parts)) if parts else scope
    return ExportDialog("clients", query.client_filter(), what)


def _day(moment, tz: str, shift: int) -> str:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    return (moment.astimezone(ZoneInfo(tz or "UTC")) + timedelta(days=shift)).date().isoformat()


def deal_export(screen) -> ExportDialog:
    """The dialog for what the Deals screen shows: its whole filter (only mine, responsible, client,
    status, currency, amount, created and closed days)."""
    query = screen.view.query
    parts = query.parts()
    what = _("Deals matching the filter: {filter}").format(filter="; ".join(parts)) if parts else _("All deals")
    return ExportDialog("deals", query.to_filter(screen.ctx.actor.timezone), what)


def lead_export(screen) -> ExportDialog:
    """The dialog for what the Leads screen lists: the open leads of its tab (My leads / Unsorted)."""
    from tscrm.core.services.leads import LeadFilter

    what = _("My open leads") if screen.scope == "mine" else _("Open leads in the pool (Unsorted)")
    return ExportDialog("leads", LeadFilter(scope=screen.scope), what)


def call_export(screen) -> ExportDialog:
    """The dialog for what the Calls screen lists: its filters and its search (number or name)."""
    query = screen.view.query
    parts = query.parts()
    what = _("Calls matching the filter: {filter}").format(filter="; ".join(parts)) if parts else _("All calls")
    return ExportDialog("calls", query.to_filter(screen.ctx.actor.timezone), what)
