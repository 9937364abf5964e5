"""Small helpers for Textual's DataTable as the screens use it (rows keyed by record id)."""

from __future__ import annotations

from textual.widgets import DataTable


def cursor_row_id(table: DataTable) -> int | None:
    """The record id (the row key) under the table's cursor; None for an empty table."""
    if not table.row_count:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except Exception:  # noqa: BLE001 - a table shrinking under the cursor has no row there for a moment
        return None
    return int(key.value) if key.value is not None else None
