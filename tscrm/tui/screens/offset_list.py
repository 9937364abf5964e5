"""A list screen read a page at a time by offset: the Calls log and the Deals list view share it.

The screen holds one ``Page`` (its rows, the total and the offset of the first row) and a ``view``
(a dataclass with an ``offset``: what is asked of the database). PgDn on the last row (PgUp on the
first) asks for the next (previous) page; the rows are read in a worker and drawn again with the
cursor kept on the same record. (The Clients list pages differently, a screenful at a time by
keyset: tscrm.tui.widgets.paged_table.)

A subclass sets ``TABLE_ID`` and implements ``page_size``, ``list_columns`` and ``list_cells``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.message import Message
from textual.widgets import DataTable

from tscrm.tui.screens.base import SectionScreen
from tscrm.tui.widgets.tables import cursor_row_id


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int
    offset: int


def read_page(offset: int, limit: int, count: Callable[[], int], rows: Callable[[int], list[dict[str, Any]]]) -> Page:
    """The page at ``offset`` and the total (never more rows than shown); past the end of a list
    that has shrunk, its last page. ``rows(offset)`` reads the records of the page."""
    total = count()
    offset = max(0, min(offset, (max(total - 1, 0) // limit) * limit))
    return Page(rows(offset), total, offset)


class PageTable(DataTable):
    """PgDn on the last row (PgUp on the first) asks for the next (previous) page."""

    class PageRequested(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def action_page_down(self) -> None:
        if not self.row_count or self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageRequested(1))
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.PageRequested(-1))
        else:
            super().action_page_up()


class OffsetListScreen(SectionScreen):
    TABLE_ID = ""
    view: Any  # a dataclass with an ``offset``
    page: Page | None

    def page_size(self) -> int:
        raise NotImplementedError

    def list_columns(self) -> Iterable[tuple[str, str, int]]:
        """(key, title in the current language, width) of each column."""
        raise NotImplementedError

    def list_cells(self, record: dict[str, Any]) -> tuple[Any, ...]:
        raise NotImplementedError

    def _update_texts(self) -> None:
        """Redraw what describes the list (filters, position)."""

    def _page_shown(self) -> None:
        """Called after a page arrived and was drawn."""

    def _table(self) -> PageTable:
        return self.query_one(f"#{self.TABLE_ID}", PageTable)

    def _fill_table(self) -> None:
        table = self._table()
        keep = self._selected_id()
        table.clear(columns=True)
        for key, title, width in self.list_columns():
            table.add_column(title, key=key, width=width)
        if self.page is None:
            return
        for record in self.page.rows:
            table.add_row(*self.list_cells(record), key=str(record["id"]))
        index = next((i for i, r in enumerate(self.page.rows) if r["id"] == keep), None)
        if index is not None:
            table.move_cursor(row=index, animate=False)

    def _selected_id(self) -> int | None:
        return cursor_row_id(self._table())

    def _show_page(self, view: Any, page: Page) -> None:
        if view != self.view:
            return  # the view or the filters changed meanwhile: a newer load is coming
        self.page = page
        self.view.offset = page.offset
        self._fill_table()
        self._update_texts()
        self._page_shown()

    def _change(self, **changes: Any) -> None:
        """Change what is shown and reload it."""
        raise NotImplementedError

    @on(PageTable.PageRequested)
    def _page(self, event: PageTable.PageRequested) -> None:
        page = self.page
        if page is None:
            return
        offset = page.offset + event.step * self.page_size()
        if 0 <= offset < page.total:
            self._change(offset=offset)
