"""The mapping of an import: one row per file column -- its name and sample values on the left, the
tscrm field it goes to on the right -- changed from the keyboard.

Keys (when the table has the focus): enter picks the field from a list, space or → the next field,
← the previous one, delete (or backspace, -) leaves the column out. The table does not change the
mapping itself: it posts :class:`MappingTable.Chosen` and the screen applies the rules (a one-value
field taken by another column is freed there) and shows the new mapping with :meth:`show`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from tscrm.i18n import N_, _

COLUMN_WIDTH = 19
SAMPLE_WIDTH = 22
FIELD_WIDTH = 25


class MappingTable(DataTable):
    """File column | sample values | → field, one row per column of the file."""

    BINDINGS = [
        Binding("enter", "pick", N_("Choose field")),
        Binding("space,right", "cycle(1)", N_("Next field"), key_display="space/→"),
        Binding("left", "cycle(-1)", N_("Previous field"), show=False),
        Binding("delete,backspace,minus", "ignore", N_("Leave out"), key_display="del"),
    ]

    @dataclass
    class Chosen(Message):
        """The user chose ``field`` ("" = not imported) for file column ``column``; ``pick``: open the list."""

        column: str
        field: str | None
        pick: bool = False

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.columns_shown: list[str] = []
        self.mapping: dict[str, str] = {}
        self.choices: list[str] = [""]  # field keys in cycling order, "" (not imported) first
        self.labels: dict[str, str] = {}

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        self.clear(columns=True)
        self.add_column(_("File column"), width=COLUMN_WIDTH, key="column")
        self.add_column(_("Sample values"), width=SAMPLE_WIDTH, key="samples")
        self.add_column(_("→ tscrm field"), width=FIELD_WIDTH, key="field")

    def show(self, headers: list[str], samples: dict[str, list[str]], mapping: dict[str, str], choices: list[str], labels: dict[str, str]) -> None:
        """Fill the table (keeping the highlighted row when the columns are the same)."""
        row = self.cursor_row if headers == self.columns_shown else 0
        self.columns_shown = list(headers)
        self.mapping = dict(mapping)
        self.choices = ["", *[c for c in choices if c]]
        self.labels = labels
        self._add_columns()
        for index, header in enumerate(headers):
            sample = Text(" · ".join(samples.get(header) or []) or _("(empty)"), style="dim", no_wrap=True, overflow="ellipsis")
            self.add_row(Text(header, no_wrap=True, overflow="ellipsis"), sample, self._field_text(mapping.get(header, "")), key=str(index))
        if headers:
            self.move_cursor(row=min(row, len(headers) - 1))

    def _field_text(self, key: str) -> Text:
        if not key:
            return Text(_("(not imported)"), style="dim italic")
        return Text("→ " + self.labels.get(key, key), style="bold")

    @property
    def current_column(self) -> str | None:
        if not self.columns_shown or self.cursor_row < 0:
            return None
        return self.columns_shown[min(self.cursor_row, len(self.columns_shown) - 1)]

    def action_cycle(self, step: int) -> None:
        column = self.current_column
        if column is None:
            return
        current = self.mapping.get(column, "")
        index = self.choices.index(current) if current in self.choices else 0
        self.post_message(self.Chosen(column, self.choices[(index + step) % len(self.choices)]))

    def action_ignore(self) -> None:
        column = self.current_column
        if column is not None:
            self.post_message(self.Chosen(column, ""))

    def action_pick(self) -> None:
        column = self.current_column
        if column is not None:
            self.post_message(self.Chosen(column, None, pick=True))
