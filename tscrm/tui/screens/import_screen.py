"""Import clients or leads from a CSV or Excel file: mapping, options, preview, run, report.

As in the product it replaces: the file's columns with sample values on the left, the tscrm field
each goes to on the right (tscrm.tui.widgets.mapping_table: enter picks a field from a list, space
or → the next one, ← the previous, delete leaves the column out). The options list on the side
cycles with enter / space / → (← back): clients or leads, duplicate key, what a duplicate does,
strict, encoding, sheet, a saved mapping (ctrl+s saves the current one under a name). Below, the
first rows exactly as they will be stored (the core's ``preview``), or why not.

F3 opens a file picker (or type a path and press Enter); F5 runs the import in a thread worker with
a progress bar (escape cancels it: nothing is kept), F6 does a dry run; then the report shows the
counts and the first rejected rows (row, column, value, reason). F7 opens the import history
(tscrm.tui.screens.import_history), where an import can be cancelled (undone).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    DataTable,
    DirectoryTree,
    Input,
    OptionList,
    ProgressBar,
    Static,
)
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.mapping_table import MappingTable
from tscrm.tui.widgets.status_header import StatusHeader

SAMPLE_ROWS = 50  # rows read for the sample values and the preview
PREVIEW_ROWS = 10
SAMPLES_PER_COLUMN = 3
ERRORS_SHOWN = 200
PROGRESS_INTERVAL_S = 0.1
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")

ENTITIES: tuple[tuple[str, str], ...] = (
    ("client", N_("clients")),
    ("lead", N_("leads (mine)")),
    ("pool", N_("leads (to the pool)")),
)
MATCHES: tuple[tuple[str, str], ...] = (("phone,email", N_("phone and email")), ("phone", N_("phone")), ("email", N_("email")))
DUPLICATES: tuple[tuple[str, str], ...] = (
    ("skip", N_("skip the row")),
    ("update", N_("update the record")),
    ("create", N_("create another")),
)
STRICT: tuple[tuple[str, str], ...] = (("no", N_("no: bad rows are skipped")), ("yes", N_("yes: all or nothing")))
ENCODINGS: tuple[str, ...] = ("", "utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "cp1251", "cp850", "mac_roman")


# --- state ---------------------------------------------------------------------------------------


@dataclass
class ImportSettings:
    """The options as the user set them."""

    entity: str = "client"  # client, lead or pool
    match: str = "phone,email"
    on_duplicate: str = "skip"
    strict: str = "no"
    encoding: str = ""  # "" = detected
    sheet: str = ""  # "" = the first
    saved: str = ""  # the saved mapping started from ("" = the suggestions)

    @property
    def core_entity(self) -> str:
        return "client" if self.entity == "client" else "lead"

    def options(self, *, dry_run: bool = False):
        from tscrm.core.imports.pipeline import ImportOptions, parse_match

        return ImportOptions(
            entity=self.core_entity,  # type: ignore[arg-type]
            match=parse_match(self.match),
            on_duplicate=self.on_duplicate,  # type: ignore[arg-type]
            dry_run=dry_run,
            strict=self.strict == "yes",
            to_pool=self.entity == "pool",
            parallel=False,
        )


@dataclass
class LoadedFile:
    """What was read of the file, and what the database says about the fields."""

    path: str
    headers: list[str]
    rows: list[Any]  # RawRow
    info: Any  # SourceInfo
    samples: dict[str, list[str]]
    choices: list[str]  # field keys
    labels: dict[str, str]  # field key -> label
    saved_names: list[str] = field(default_factory=list)


def column_samples(headers: list[str], rows: list[Any], limit: int = SAMPLES_PER_COLUMN) -> dict[str, list[str]]:
    """The first distinct non-empty values of each column."""
    out: dict[str, list[str]] = {h: [] for h in headers}
    for row in rows:
        for header, value in zip(headers, row.cells, strict=False):
            value = " ".join(value.split())
            if value and len(out[header]) < limit and value not in out[header]:
                out[header].append(value)
    return out


def field_choices(entity: str, custom: list[Any]) -> tuple[list[str], dict[str, str]]:
    """(keys in cycling order, key -> label) for an entity, custom fields by their own label."""
    from tscrm.core.imports.mapping import CUSTOM_PREFIX, known_fields
    from tscrm.core.imports.mapping import field_label as core_label

    keys = known_fields(entity, custom)  # type: ignore[arg-type]
    labels = {k: core_label(k) for k in keys}
    for definition in custom:
        if definition.entity == entity:
            labels[CUSTOM_PREFIX + definition.key] = _("Custom: {label}").format(label=definition.label)
    labels[""] = _("(not imported)")
    return keys, labels


def apply_saved(mapping, headers: list[str], saved: dict[str, str] | None):
    """A saved mapping's choices for the columns it knows (as the CLI's ``--mapping``)."""
    from tscrm.core.text import fold

    if saved:
        known = {fold(k): v for k, v in saved.items()}
        for header in headers:
            if fold(header) in known:
                mapping.columns[header] = known[fold(header)]
    return mapping


def preview_cells(row, policy: str) -> tuple[Any, ...]:
    """One line of the preview table: the record as stored, or its errors."""
    record = row.record
    if record is None:
        reasons = "; ".join(f"{e.column}: {e.reason}" for e in row.errors)
        return (str(row.row), Text("✗ " + reasons, style="bold red"), Text(_("(rejected)"), style="red"), "", "", "", "")
    numbers = [e164 for _kind, e164 in record.phones]
    phones = numbers[0] + (f" +{len(numbers) - 1}" if len(numbers) > 1 else "") if numbers else ""
    result: Text
    if row.duplicate_of is not None:
        outcome = {"skip": _("skipped"), "update": _("updates it"), "create": _("created anyway")}[policy]
        result = Text(_("duplicate of #{id}: {outcome}").format(id=row.duplicate_of, outcome=outcome), style="yellow")
    else:
        result = Text(_("new"), style="green")
    return (
        str(row.row), result, record.name, record.company_name or "", phones, ", ".join(record.emails), ", ".join(record.tags),
    )


def preview_detail(row) -> Text:
    """Everything a preview row holds (the table shows only the main fields)."""
    from tscrm.labels import PHONE_KINDS, label

    text = Text(no_wrap=False)
    text.append(_("Row {n}").format(n=row.row) + ": ", style="bold")
    if row.record is None:
        for error in row.errors:
            text.append(f"{error.column} = {error.value!r}: {error.reason}  ", style="red")
        return text
    record = row.record
    parts: list[str] = []
    parts += [f"{e164} ({label(PHONE_KINDS, kind)})" for kind, e164 in record.phones]
    for name, value in (
        (_("Position"), record.position),
        (_("Address"), record.address),
        (_("Source"), record.source),
        (_("External id"), record.external_ref),
    ):
        if value:
            parts.append(f"{name}: {value}")
    parts += [f"{key}: {value}" for key, value in sorted(record.custom.items())]
    parts += [f"{key}: {value}" for key, value in sorted(record.utm.items())]
    parts += [_("Note: {text}").format(text=" ".join(note.split())) for note in record.notes]
    text.append(" · ".join(parts) or _("nothing else"))
    return text


# --- small widgets -------------------------------------------------------------------------------


class OptionsList(OptionList):
    """The import options, one per line; enter, space or → takes the next value, ← the previous."""

    BINDINGS = [
        Binding("space,right", "cycle(1)", N_("Next value"), show=False),
        Binding("left", "cycle(-1)", N_("Previous value"), show=False),
    ]

    @dataclass
    class Cycled(Message):
        option: str
        step: int

    def action_cycle(self, step: int) -> None:
        if self.highlighted is not None:
            option = self.get_option_at_index(self.highlighted)
            if option.id:
                self.post_message(self.Cycled(option.id, step))


class ImportFileTree(DirectoryTree):
    """Folders and the files an import reads (no hidden ones)."""

    def filter_paths(self, paths):
        return [
            p for p in paths
            if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower() in FILE_SUFFIXES)
        ]


class FilePicker(ModalScreen[str | None]):
    """Choose the file to import: arrows move, enter opens a folder or picks a file, escape cancels."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = """
    FilePicker { align: center middle; }
    FilePicker > Vertical { width: 80%; height: 80%; border: thick $accent; background: $surface; padding: 0 1; }
    FilePicker .dialog-title { text-style: bold; }
    FilePicker .dialog-hint { color: $text-muted; }
    FilePicker DirectoryTree { height: 1fr; }
    """

    def __init__(self, start: Path) -> None:
        super().__init__(id="import-file-picker")
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Choose a CSV or Excel file ({folder})").format(folder=self.start), classes="dialog-title")
            yield ImportFileTree(self.start, id="import-tree")
            yield Static(_("enter opens a folder or picks the file · escape cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(ImportFileTree).focus()

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(str(event.path))


# --- the screen ----------------------------------------------------------------------------------


class ImportScreen(Screen):
    CSS_PATH = "import_screen.tcss"
    BINDINGS = [
        Binding("escape", "back", N_("Back")),
        Binding("f3", "browse", N_("Open file")),
        Binding("f5", "run(False)", N_("Import")),
        Binding("f6", "run(True)", N_("Dry run")),
        Binding("ctrl+s", "save_mapping", N_("Save mapping")),
        Binding("f7", "history", N_("Import history")),
        Binding("ctrl+x", "cancel", N_("Cancel import")),
    ]

    def __init__(self, entity: str = "client", path: str | None = None) -> None:
        super().__init__(id="import-screen")
        self.settings = ImportSettings(entity="pool" if entity == "pool" else ("lead" if entity == "lead" else "client"))
        self.path = path or ""
        self.loaded: LoadedFile | None = None
        self.mapping: dict[str, str] = {}
        self.preview_rows: list[Any] = []
        self.report: Any = None
        self.running = False
        self.cancel_event = threading.Event()
        self.message: tuple[str, str] = ("", "")  # (text, style)
        self.mapping_error: str | None = None
        self._last_progress = 0.0
        self._started = 0.0
        self._load_seq = 0  # only the answer of the latest read / preview is shown
        self._preview_seq = 0

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    # -- layout -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Vertical(id="import-body"):
            with Horizontal(id="import-file-row"):
                yield Static(_("File:"), id="import-file-label")
                yield Input(value=self.path, placeholder=_("path of a .csv or .xlsx file (Enter reads it, F3 browses)"), id="import-file")
            yield Static("", id="import-info")
            with Horizontal(id="import-top"):
                yield MappingTable(id="import-mapping")
                with Vertical(id="import-side"):
                    yield Static(_("Options"), classes="import-section")
                    yield OptionsList(id="import-options")
                    yield Static("", id="import-unmapped")
            with Vertical(id="import-preview-box"):
                yield Static(_("Preview: the first rows as they will be stored"), id="import-preview-title", classes="import-section")
                yield DataTable(id="import-preview", cursor_type="row", zebra_stripes=True)
                yield Static("", id="import-preview-detail")
            with Vertical(id="import-report", classes="hidden"):
                yield Static("", id="import-summary")
                yield DataTable(id="import-errors", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="import-run", classes="hidden"):
                yield ProgressBar(total=100, show_eta=False, id="import-progress")
                yield Static("", id="import-progress-label")
            yield Static("", id="import-status")
        yield KeyBar()

    def on_mount(self) -> None:
        from tscrm.core.permissions import Right

        self._show_everything()
        if not self.ctx.actor.can(Right.IMPORT):
            self._error(_("{user} may not import (the Import right is missing).").format(user=self.ctx.actor.name))
            return
        if self.path:
            self.load_file()
            self.query_one(MappingTable).focus()
        else:
            self.query_one("#import-file", Input).focus()
            self._say(_("Type the path of a CSV or Excel file and press Enter, or press F3 to browse."))

    async def recompose(self) -> None:
        """After a language switch: rebuild, then show what we have in the new language."""
        await super().recompose()
        self._show_everything()
        if self.loaded is not None:
            self.update_preview()

    def _show_everything(self) -> None:
        self.query_one(StatusHeader).section_title = _("Import")
        preview = self.query_one("#import-preview", DataTable)
        preview.clear(columns=True)
        for label, width in ((_("Row"), 3), (_("Result"), 20), (_("Name"), 18), (_("Company"), 14), (_("Phones"), 16), (_("Emails"), 22), (_("Tags"), 10)):
            preview.add_column(label, width=width)
        errors = self.query_one("#import-errors", DataTable)
        errors.clear(columns=True)
        for label, width in ((_("Row"), 5), (_("Column"), 18), (_("Value"), 18), (_("Reason"), 64)):
            errors.add_column(label, width=width)
        self._show_options()
        if self.loaded is not None:
            self._show_file()
            self._show_mapping()
            self._show_preview()
        if self.report is not None:
            self._show_report(self.report)
        text, style = self.message
        self.query_one("#import-status", Static).update(Text(text, style=style))

    # -- messages -------------------------------------------------------------------------------------

    def _say(self, text: str, style: str = "") -> None:
        self.message = (text, style)
        self.query_one("#import-status", Static).update(Text(text, style=style))

    def _error(self, text: str) -> None:
        self._say(text, "bold red")

    # -- options --------------------------------------------------------------------------------------

    def _option_values(self, name: str) -> list[tuple[str, str]]:
        s = self.settings
        if name == "entity":
            return [(k, _(v)) for k, v in ENTITIES]
        if name == "match":
            return [(k, _(v)) for k, v in MATCHES]
        if name == "duplicates":
            return [(k, _(v)) for k, v in DUPLICATES]
        if name == "strict":
            return [(k, _(v)) for k, v in STRICT]
        if name == "encoding":
            detected = self.loaded.info.encoding if (self.loaded and not s.encoding and self.loaded.info.kind == "csv") else None
            first = _("detected ({encoding})").format(encoding=detected) if detected else _("detected")
            return [("", first)] + [(e, e) for e in ENCODINGS if e]
        if name == "sheet":
            sheets = self.loaded.info.sheets if self.loaded else []
            if not sheets:
                return [("", _("(CSV: none)") if self.loaded and self.loaded.info.kind == "csv" else _("the first"))]
            return [(n, n) for n in sheets]
        if name == "saved":
            names = self.loaded.saved_names if self.loaded else []
            return [("", _("(suggested)"))] + [(n, n) for n in names]
        return []

    def _current(self, name: str) -> str:
        s = self.settings
        if name == "sheet":
            return s.sheet or (self.loaded.info.sheet if self.loaded and self.loaded.info.sheet else "")
        return {"entity": s.entity, "match": s.match, "duplicates": s.on_duplicate, "strict": s.strict, "encoding": s.encoding, "saved": s.saved}[name]

    def _option_prompt(self, name: str) -> Text:
        titles = {
            "entity": _("Import as"),
            "match": _("Match on"),
            "duplicates": _("A duplicate"),
            "strict": _("Strict"),
            "encoding": _("Encoding"),
            "sheet": _("Sheet"),
            "saved": _("Mapping"),
        }
        values = dict(self._option_values(name))
        current = self._current(name)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(titles[name] + ": ", style="dim")
        text.append(values.get(current, current), style="bold")
        return text

    def _show_options(self) -> None:
        options = self.query_one(OptionsList)
        highlighted = options.highlighted
        options.clear_options()
        for name in ("entity", "match", "duplicates", "strict", "encoding", "sheet", "saved"):
            options.add_option(Option(self._option_prompt(name), id=name))
        options.highlighted = highlighted if highlighted is not None else 0

    @on(OptionList.OptionSelected, "#import-options")
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.cycle_option(event.option.id, 1)

    @on(OptionsList.Cycled)
    def _option_cycled(self, event: OptionsList.Cycled) -> None:
        event.stop()
        self.cycle_option(event.option, event.step)

    def cycle_option(self, name: str, step: int = 1) -> None:
        """Take the next (or previous) value of an option, and redo what depends on it."""
        if self.running:
            return
        values = [k for k, _label in self._option_values(name)]
        current = self._current(name)
        index = values.index(current) if current in values else -1
        value = values[(index + step) % len(values)]
        s = self.settings
        if name == "entity":
            reload = (value == "client") != (s.entity == "client")
            s.entity = value
            if reload:
                s.saved = ""
                self._reload()
        elif name == "match":
            s.match = value
        elif name == "duplicates":
            s.on_duplicate = value
        elif name == "strict":
            s.strict = value
        elif name == "encoding":
            s.encoding = value
            self._reload()
        elif name == "sheet":
            if value == current:
                return
            s.sheet = value
            self._reload()
        elif name == "saved":
            s.saved = value
            self._reload()
        self._show_options()
        if self.loaded is not None and name in ("match", "duplicates", "strict"):
            self.update_preview()

    def _reload(self) -> None:
        if self.path:
            self.load_file()

    # -- the file -------------------------------------------------------------------------------------

    @on(Input.Submitted, "#import-file")
    def _path_typed(self, event: Input.Submitted) -> None:
        event.stop()
        self.open_path(event.value.strip())

    def open_path(self, path: str) -> None:
        if self.running:
            return
        self.path = path
        self.settings.sheet = ""
        self.settings.saved = ""
        self.query_one("#import-file", Input).value = path
        if path:
            self.load_file()
            self.query_one(MappingTable).focus()

    def action_browse(self) -> None:
        if self.running:
            return
        current = Path(self.path).expanduser() if self.path else Path.cwd()
        start = current.parent if current.suffix else current
        if not start.is_dir():
            start = Path.cwd()

        def picked(path: str | None) -> None:
            if path:
                self.open_path(path)

        self.app.push_screen(FilePicker(start), picked)

    def load_file(self) -> None:
        """Read the file again (path, encoding, sheet, entity or saved mapping changed)."""
        self._load_seq += 1
        self._load_worker(self._load_seq)

    @work(thread=True, exclusive=True, group="import-load")
    def _load_worker(self, seq: int) -> None:
        from tscrm.core.imports.mapping import (
            list_mappings,
            load_mapping,
            suggest_mapping,
        )
        from tscrm.core.imports.reading import peek
        from tscrm.core.services.contacts import custom_fields

        s = self.settings
        entity = s.core_entity
        try:
            headers, rows, info = peek(self.path, limit=SAMPLE_ROWS, encoding=s.encoding or None, sheet=s.sheet or None)
            with self.ctx.db.read() as session:
                custom = custom_fields(session, entity)  # type: ignore[arg-type]
                names = [m.name for m in list_mappings(session, entity)]  # type: ignore[arg-type]
                saved = load_mapping(session, s.saved, entity) if s.saved in names else None  # type: ignore[arg-type]
        except TscrmError as exc:
            self.app.call_from_thread(self._load_failed, str(exc), seq)
            return
        choices, labels = field_choices(entity, custom)
        mapping = apply_saved(suggest_mapping(headers, entity, custom), headers, saved)  # type: ignore[arg-type]
        loaded = LoadedFile(self.path, headers, rows, info, column_samples(headers, rows), choices, labels, names)
        self.app.call_from_thread(self._file_loaded, loaded, mapping.columns, seq)

    def _load_failed(self, message: str, seq: int) -> None:
        if seq != self._load_seq:
            return
        self.loaded = None
        self.mapping = {}
        self.preview_rows = []
        self.query_one(MappingTable).show([], {}, {}, [], {})
        self.query_one("#import-preview", DataTable).clear()
        self.query_one("#import-info", Static).update("")
        self._show_options()
        self.refresh_bindings()  # F5, F6 and ctrl+s need a file
        self._error(message)

    def _file_loaded(self, loaded: LoadedFile, mapping: dict[str, str], seq: int) -> None:
        if seq != self._load_seq:
            return
        self.loaded = loaded
        self.refresh_bindings()  # F5, F6 and ctrl+s apply now
        self.mapping = dict(mapping)
        self.report = None
        self.preview_rows = []  # until the preview of this file comes
        self.mapping_error = None
        self._show_preview()
        self._show_report_or_preview(report=False)
        self._show_file()
        self._show_options()
        self._show_mapping()
        self._say(_("Check the mapping and the preview, then F5 imports (F6: dry run)."))
        self.update_preview()

    def _show_file(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        info = loaded.info
        parts = [info.name, info.kind.upper()]
        if info.kind == "csv":
            delimiter = {"\t": "tab", ";": ";", ",": ",", "|": "|"}.get(info.delimiter or "", info.delimiter or "")
            parts += [_("encoding {encoding}").format(encoding=info.encoding), _("delimiter {d}").format(d=delimiter)]
        elif info.sheet:
            parts.append(_("sheet {sheet}").format(sheet=info.sheet))
        parts.append(_("{n} columns").format(n=len(loaded.headers)))
        self.query_one("#import-info", Static).update(Text(" · ".join(parts), style="dim"))

    # -- the mapping ----------------------------------------------------------------------------------

    def _show_mapping(self) -> None:
        loaded = self.loaded
        if loaded is None:
            return
        self.query_one(MappingTable).show(loaded.headers, loaded.samples, self.mapping, loaded.choices, loaded.labels)
        unmapped = [c for c in loaded.headers if not self.mapping.get(c)]
        text = Text()
        if unmapped:
            text.append(_("Not imported: {columns}").format(columns=", ".join(unmapped)), style="dim")
        self.query_one("#import-unmapped", Static).update(text)

    @on(MappingTable.Chosen)
    def _mapping_chosen(self, event: MappingTable.Chosen) -> None:
        event.stop()
        if self.loaded is None or self.running:
            return
        if event.pick:
            self._pick_field(event.column)
        elif event.field is not None:
            self.set_field(event.column, event.field)

    def _pick_field(self, column: str) -> None:
        from tscrm.tui.screens.clients import ChoiceDialog

        loaded = self.loaded
        assert loaded is not None
        options = [("ignore", loaded.labels[""])] + [(f"field-{i}", loaded.labels.get(k, k)) for i, k in enumerate(loaded.choices)]

        def chosen(option_id: str | None) -> None:
            if option_id is None:
                return
            key = "" if option_id == "ignore" else loaded.choices[int(option_id.removeprefix("field-"))]
            self.set_field(column, key)

        self.app.push_screen(ChoiceDialog(_("Field for the column {column}").format(column=column), options, dialog_id="import-field-choice"), chosen)

    def set_field(self, column: str, key: str) -> None:
        """Map ``column`` to ``key`` ("" = not imported); a one-value field leaves its other column."""
        from tscrm.core.imports.mapping import MULTI_FIELDS

        if key and key not in MULTI_FIELDS:
            for other, other_key in self.mapping.items():
                if other_key == key and other != column:
                    self.mapping[other] = ""
        self.mapping[column] = key
        self._show_mapping()
        self.update_preview()

    # -- the preview ----------------------------------------------------------------------------------

    def update_preview(self) -> None:
        """Show the first rows again as the current mapping and options make them."""
        self._preview_seq += 1
        self._preview_worker(self._preview_seq)

    @work(thread=True, exclusive=True, group="import-preview")
    def _preview_worker(self, seq: int) -> None:
        from tscrm.core.imports.mapping import Mapping, check_mapping
        from tscrm.core.imports.pipeline import preview
        from tscrm.core.services.contacts import custom_fields

        loaded = self.loaded
        if loaded is None:
            return
        s = self.settings
        mapping = Mapping(s.core_entity, dict(self.mapping))  # type: ignore[arg-type]
        try:
            with self.ctx.db.read() as session:
                check_mapping(mapping, custom_fields(session, s.core_entity))  # type: ignore[arg-type]
                rows = preview(session, self.ctx.actor, loaded.headers, loaded.rows[:PREVIEW_ROWS], mapping, s.options())
        except TscrmError as exc:
            self.app.call_from_thread(self._preview_failed, str(exc), seq)
            return
        self.app.call_from_thread(self._preview_ready, rows, seq)

    def _preview_failed(self, message: str, seq: int) -> None:
        if seq != self._preview_seq:
            return
        self.mapping_error = message
        self.preview_rows = []
        self._show_preview()
        self._error(message)

    def _preview_ready(self, rows: list[Any], seq: int) -> None:
        if seq != self._preview_seq:
            return
        self.mapping_error = None
        self.preview_rows = rows
        self._show_preview()
        if self.message[1] == "bold red" and not self.running:
            self._say(_("Check the mapping and the preview, then F5 imports (F6: dry run)."))

    def _show_preview(self) -> None:
        table = self.query_one("#import-preview", DataTable)
        row = table.cursor_row
        table.clear()
        for index, prow in enumerate(self.preview_rows):
            table.add_row(*preview_cells(prow, self.settings.on_duplicate), key=str(index))
        if self.preview_rows:
            table.move_cursor(row=min(max(row, 0), len(self.preview_rows) - 1))
        self._show_preview_detail()

    @on(DataTable.RowHighlighted, "#import-preview")
    def _preview_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._show_preview_detail()

    def _show_preview_detail(self) -> None:
        table = self.query_one("#import-preview", DataTable)
        detail = self.query_one("#import-preview-detail", Static)
        if not self.preview_rows:
            detail.update(Text(self.mapping_error or "", style="red"))
            return
        index = min(max(table.cursor_row, 0), len(self.preview_rows) - 1)
        detail.update(preview_detail(self.preview_rows[index]))

    # -- running --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.running
        if action in ("run", "save_mapping"):
            return None if (self.loaded is None or self.running) else True
        if action in ("browse", "history"):
            return None if self.running else True
        return True

    def action_run(self, dry_run: bool) -> None:
        if self.loaded is None or self.running:
            return
        if self.mapping_error:
            self._error(self.mapping_error)
            return
        self.running = True
        self.cancel_event.clear()
        self.report = None
        self._started = time.monotonic()
        self._last_progress = 0.0
        self.query_one("#import-run").remove_class("hidden")
        self.query_one("#import-progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#import-progress-label", Static).update("")
        doing = _("Dry run of {file}… (ctrl+x cancels)") if dry_run else _("Importing {file}… (ctrl+x cancels)")
        self._say(doing.format(file=self.loaded.info.name))
        self.refresh_bindings()
        self.run_worker_import(dry_run)

    @work(thread=True, exclusive=True, group="import-run")
    def run_worker_import(self, dry_run: bool) -> None:
        from tscrm.core.imports.mapping import Mapping
        from tscrm.core.imports.pipeline import ImportCancelled, run_import
        from tscrm.core.imports.reading import TableReader

        loaded = self.loaded
        assert loaded is not None
        s = self.settings
        cancel = self.cancel_event

        def progress(p) -> None:
            if cancel.is_set():
                raise ImportCancelled(_("Cancelled by {user}").format(user=self.ctx.actor.name))
            now = time.monotonic()
            if now - self._last_progress >= PROGRESS_INTERVAL_S:
                self._last_progress = now
                self.app.call_from_thread(self._progress, p.rows, p.fraction, now - self._started)

        try:
            with TableReader(loaded.path, encoding=s.encoding or None, sheet=s.sheet or None) as reader:
                mapping = Mapping(s.core_entity, {h: self.mapping.get(h, "") for h in reader.headers})  # type: ignore[arg-type]
                report = run_import(self.ctx.db, self.ctx.actor, reader, mapping, s.options(dry_run=dry_run), progress=progress)
        except ImportCancelled:
            self.app.call_from_thread(self._run_ended, None, _("Import cancelled: nothing was written."))
            return
        except TscrmError as exc:
            self.app.call_from_thread(self._run_ended, None, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback on the agent's screen
            self.app.call_from_thread(self._run_ended, None, _("The import failed: {error}").format(error=f"{type(exc).__name__}: {exc}"))
            return
        self.app.call_from_thread(self._run_ended, report, None)

    def _progress(self, rows: int, fraction: float | None, elapsed: float) -> None:
        from tscrm.tui.screens.clients import number

        if fraction is not None:
            self.query_one("#import-progress", ProgressBar).update(progress=fraction * 100)
        rate = rows / elapsed if elapsed > 0 else 0
        self.query_one("#import-progress-label", Static).update(
            _("{rows} rows · {rate} rows/s").format(rows=number(rows), rate=number(int(rate)))
        )

    def _run_ended(self, report: Any, failure: str | None) -> None:
        self.running = False
        self.query_one("#import-run").add_class("hidden")
        self.refresh_bindings()
        if report is None:
            self._error(failure or "")
            return
        self.report = report
        self._show_report(report)
        if report.status == "rejected":
            self._error(_("Strict: {n} rows with errors, nothing was written.").format(n=report.error_rows))
        elif report.dry_run:
            self._say(_("Dry run: nothing was written. F5 imports for real."), "bold")
        else:
            self._say(_("Imported (batch {id}). F7 shows the history, where the import can be cancelled.").format(id=report.batch_id), "bold green")
        if not report.dry_run and report.written:
            self.app.refresh_screens()  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        if self.running:
            self.cancel_event.set()
            self._say(_("Cancelling…"), "bold yellow")

    # -- the report -----------------------------------------------------------------------------------

    def _show_report_or_preview(self, *, report: bool) -> None:
        self.query_one("#import-report").set_class(not report, "hidden")
        self.query_one("#import-preview-box").set_class(report, "hidden")

    def _show_report(self, report: Any) -> None:
        from tscrm.tui.screens.clients import number

        self._show_report_or_preview(report=True)
        text = Text()
        if report.dry_run:
            title = _("Dry run of {file}: nothing was written").format(file=report.file)
        elif report.status == "rejected":
            title = _("{file}: nothing was written (strict, {n} rows with errors)").format(file=report.file, n=number(report.error_rows))
        else:
            title = _("Imported {file} (batch {id})").format(file=report.file, id=report.batch_id)
        text.append(title + "\n", style="bold")
        counts = (
            (_("Rows"), report.rows, ""),
            (_("Created"), report.created, "green"),
            (_("Updated"), report.updated, "cyan"),
            (_("Skipped"), report.skipped, "yellow"),
            (_("Duplicates"), report.duplicates, "yellow"),
            (_("Errors"), report.error_rows, "red" if report.error_rows else ""),
            (_("Phones"), report.phones, ""),
        )
        for index, (label, value, style) in enumerate(counts):
            if index:
                text.append(" · ")
            text.append(f"{label}: ")
            text.append(number(value), style=f"bold {style}".strip())
        if report.unmapped:
            text.append("\n" + _("Not imported (no field): {columns}").format(columns=", ".join(report.unmapped)), style="dim")
        if report.errors:
            text.append("\n" + _("Rows with errors (skipped):"), style="bold")
            if report.error_rows > min(len(report.errors), ERRORS_SHOWN):
                text.append(" " + _("the first {n} of {total}").format(n=number(min(len(report.errors), ERRORS_SHOWN)), total=number(report.error_rows)), style="dim")
        self.query_one("#import-summary", Static).update(text)
        table = self.query_one("#import-errors", DataTable)
        table.clear()
        table.display = bool(report.errors)
        for index, error in enumerate(report.errors[:ERRORS_SHOWN]):
            table.add_row(str(error.row), error.column, error.value, Text(error.reason, style="red"), key=str(index))

    # -- saved mappings, history, back --------------------------------------------------------------

    def action_save_mapping(self) -> None:
        from tscrm.tui.screens.clients import TextDialog

        if self.loaded is None or self.running:
            return

        def named(name: str | None) -> None:
            if name:
                self.save_mapping(name)

        self.app.push_screen(TextDialog(_("Save this mapping as"), placeholder=_("e.g. Zoho export")), named)

    @work(thread=True, group="import-save")
    def save_mapping(self, name: str) -> None:
        from tscrm.core.imports.mapping import Mapping, list_mappings, save_mapping

        s = self.settings
        try:
            with self.ctx.db.write() as session:
                row = save_mapping(session, self.ctx.actor, name, Mapping(s.core_entity, dict(self.mapping)))  # type: ignore[arg-type]
                saved_name = row.name
            with self.ctx.db.read() as session:
                names = [m.name for m in list_mappings(session, s.core_entity)]  # type: ignore[arg-type]
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._mapping_saved, saved_name, names)

    def _mapping_saved(self, name: str, names: list[str]) -> None:
        if self.loaded is not None:
            self.loaded.saved_names = names
        self.settings.saved = name
        self._show_options()
        self._say(_("Mapping saved as {name!r}: choose it under Mapping next time.").format(name=name), "bold green")

    def action_history(self) -> None:
        from tscrm.tui.screens.import_history import ImportHistoryScreen

        if not self.running:
            self.app.push_screen(ImportHistoryScreen())

    def action_back(self) -> None:
        if self.running:
            self.action_cancel()
            return
        self.app.pop_screen()
