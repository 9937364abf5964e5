"""A table over a result of any size: it holds only the rows on screen and asks for the next ones.

Textual's DataTable costs about 170 µs a row (100,000 rows: 17 s and 196 MB), while an index seek
for one page of 50 rows takes about a millisecond. So a ``PagedTable`` keeps one screenful of rows and
a ``PageSource`` (run in a thread) fetches the page after or before a known row, the first page or the
last one (keyset pagination: see ``tscrm.core.services.clients.page_clients``). The total is counted
apart, after the page is shown, so a slow count never delays the rows.

Keys: ↑/↓ move (past the edge the rows scroll by one), PageUp/PageDown a screenful, Home/End the
first/last page; with ``selectable``: space toggles the row, shift+↑/↓ extend the selection.
The owner reads ``page_rows``, ``first_index``, ``total`` and the selection, and hears ``PagedTable.Changed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from rich.console import RenderableType
from rich.text import Text
from textual.binding import Binding
from textual.events import MouseScrollDown, MouseScrollUp, Resize
from textual.message import Message
from textual.widgets import DataTable

from tscrm.core.errors import TscrmError

Where = Literal["first", "last", "after", "before", "start"]
DEFAULT_PAGE = 20
SLOW_FETCH_S = 0.25
MARK_COLUMN = "_selected"
SELECTED_MARK = Text("●", style="bold cyan")


@dataclass(frozen=True)
class PageRow:
    """One row: its record id, its cells, its place in the order (handed back as a cursor), and
    whatever the owner keeps about it (``data``, e.g. the record, to act on the highlighted row)."""

    key: int
    cells: tuple[RenderableType, ...]
    cursor: Any
    data: Any = None


@dataclass(frozen=True)
class PageRequest:
    """Which rows to read: the first or last ``limit``, or those after / before / from ``cursor``."""

    where: Where
    limit: int
    cursor: Any = None


@dataclass(frozen=True)
class PageSource:
    """How to read rows; both callables run in a worker thread and must not touch widgets."""

    fetch: Callable[[PageRequest], list[PageRow]]
    count: Callable[[], int]


@dataclass(frozen=True)
class _Move:
    """A navigation waiting for its rows: the request, then where the cursor lands."""

    request: PageRequest
    land: Callable[[list[PageRow], list[PageRow]], tuple[list[PageRow], int, int]]  # (got, old) -> (rows, cursor row, offset shift)
    then: Callable[[], None] | None = None


class PagedTable(DataTable):
    DEFAULT_CSS = """
    PagedTable { height: 1fr; }
    """
    BINDINGS = [
        Binding("space", "toggle_row", "Select", show=False),
        Binding("shift+down", "extend(1)", "Extend selection", show=False),
        Binding("shift+up", "extend(-1)", "Extend selection", show=False),
    ]

    class Changed(Message):
        """Rows, position, total or selection changed."""

        def __init__(self, table: PagedTable) -> None:
            super().__init__()
            self.table = table

        @property
        def control(self) -> PagedTable:
            return self.table

    def __init__(self, columns: Sequence[tuple[str, str] | tuple[str, str, int]], *, selectable: bool = False, **kwargs: Any) -> None:
        """``columns``: (key, label already translated[, width]). Give widths: auto widths would change
        from page to page (the widest cell so far), so the columns would jump while paging."""
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.selectable = selectable
        self._columns = list(columns)
        self.page_rows: list[PageRow] = []
        self.first_index: int | None = 0  # index of the first row shown in the whole result, when known
        self.total: int | None = None
        self.at_end = False  # the last row shown is the last of the result
        self.source: PageSource | None = None
        self.selected: set[int] = set()
        self.all_matching = False  # "select all matching the filter": every row but the excluded
        self.excluded: set[int] = set()
        self._generation = 0  # bumped by reset: rows of an older query are dropped
        self._pending: _Move | None = None
        self._busy = False

    def on_mount(self) -> None:
        if self.selectable:
            self.add_column(" ", key=MARK_COLUMN, width=1)
        for key, label, *width in self._columns:
            self.add_column(label, key=key, width=width[0] if width else None)

    # -- what the owner calls -------------------------------------------------------------------

    @property
    def page_size(self) -> int:
        visible = self.scrollable_content_region.height - (self.header_height if self.show_header else 0)
        return visible if visible > 0 else DEFAULT_PAGE

    def reset(self, source: PageSource) -> None:
        """A new query (filter, sort, tab): show its first page and count it."""
        self.source = source
        self._generation += 1
        self.total = None
        self.clear_selection(notify=False)
        self._pending = None
        self._go(_Move(PageRequest("first", self.page_size), _land_first))  # waits for a fetch under way
        self._count()

    def reload(self) -> None:
        """Same query, fresh data (someone changed something): the same page, the cursor on the same row."""
        if self.source is None:
            return
        if not self.page_rows:
            self._go(_Move(PageRequest("first", self.page_size), _land_first))
        elif self.at_end:  # the last page again, the cursor staying on its row (not jumping to the end)
            self._go(_Move(PageRequest("last", self.page_size), self._land_same))
        else:
            self._go(_Move(PageRequest("start", self.page_size, self.page_rows[0].cursor), self._land_same))
        self._count()

    @property
    def current(self) -> PageRow | None:
        if not self.page_rows or not 0 <= self.cursor_row < len(self.page_rows):
            return None
        return self.page_rows[self.cursor_row]

    # -- selection ------------------------------------------------------------------------------

    def is_selected(self, key: int) -> bool:
        return key not in self.excluded if self.all_matching else key in self.selected

    @property
    def selection_count(self) -> int | None:
        """How many rows are selected (None: all matching, before the total is known)."""
        if self.all_matching:
            return None if self.total is None else max(self.total - len(self.excluded), 0)
        return len(self.selected)

    def select_all_matching(self) -> None:
        self.all_matching, self.excluded, self.selected = True, set(), set()
        self._repaint_marks()

    def clear_selection(self, notify: bool = True) -> None:
        self.all_matching, self.excluded, self.selected = False, set(), set()
        if notify:
            self._repaint_marks()

    def set_selected(self, key: int, value: bool) -> None:
        if self.all_matching:
            (self.excluded.discard if value else self.excluded.add)(key)
        else:
            (self.selected.add if value else self.selected.discard)(key)
        self._paint_mark(key)
        self.post_message(self.Changed(self))

    def _mark(self, key: int) -> RenderableType:
        return SELECTED_MARK if self.is_selected(key) else ""

    def _paint_mark(self, key: int) -> None:
        if self.selectable and any(r.key == key for r in self.page_rows):
            self.update_cell(str(key), MARK_COLUMN, self._mark(key))

    def _repaint_marks(self) -> None:
        for row in self.page_rows:
            self._paint_mark(row.key)
        self.post_message(self.Changed(self))

    def action_toggle_row(self) -> None:
        row = self.current
        if row is None or not self.selectable:
            return
        self.set_selected(row.key, not self.is_selected(row.key))
        self.action_cursor_down()

    def action_extend(self, step: int) -> None:
        """shift+↓/↑: select this row and the next (or previous) one."""
        row = self.current
        if row is None or not self.selectable:
            return
        self.set_selected(row.key, True)
        self._step(step, then=self._select_current)

    def _select_current(self) -> None:
        row = self.current
        if row is not None:
            self.set_selected(row.key, True)

    # -- navigation -----------------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def _step(self, step: int, then: Callable[[], None] | None = None) -> None:
        """One row; past the edge of the page the rows scroll by one."""
        if not self.page_rows:
            return
        target = self.cursor_row + step
        if 0 <= target < len(self.page_rows):
            self.move_cursor(row=target)
            if then is not None:
                then()
            return
        self._scroll_rows(step, then)

    def action_page_down(self) -> None:
        if self.page_rows:
            self._go(_Move(PageRequest("after", self.page_size, self.page_rows[-1].cursor), self._land_page_down))

    def action_page_up(self) -> None:
        if self.page_rows:
            self._go(_Move(PageRequest("before", self.page_size, self.page_rows[0].cursor), self._land_page_up))

    def action_scroll_top(self) -> None:
        self._go(_Move(PageRequest("first", self.page_size), _land_first))

    def action_scroll_bottom(self) -> None:
        self._go(_Move(PageRequest("last", self.page_size), self._land_last))

    action_scroll_home = action_scroll_top  # Home and End move through the rows, not the columns
    action_scroll_end = action_scroll_bottom

    def _on_mouse_scroll_down(self, event: MouseScrollDown) -> None:
        """The wheel scrolls through the whole result, not just the rows held."""
        if not (event.ctrl or event.shift) and self.page_rows:
            event.stop()
            self._scroll_rows(1)
        else:
            super()._on_mouse_scroll_down(event)

    def _on_mouse_scroll_up(self, event: MouseScrollUp) -> None:
        if not (event.ctrl or event.shift) and self.page_rows:
            event.stop()
            self._scroll_rows(-1)
        else:
            super()._on_mouse_scroll_up(event)

    def _scroll_rows(self, step: int, then: Callable[[], None] | None = None) -> None:
        """The rows move by one under the cursor (the cursor keeps its line of the screen)."""
        if step > 0:
            self._go(_Move(PageRequest("after", 1, self.page_rows[-1].cursor), self._land_scrolled_down, then))
        else:
            self._go(_Move(PageRequest("before", 1, self.page_rows[0].cursor), self._land_scrolled_up, then))

    # -- where the cursor lands -----------------------------------------------------------------

    def _land_scrolled_down(self, got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
        """The rows move up under the cursor, which stays on its line of the screen."""
        if not got:
            return old, self.cursor_row, 0
        rows = (old + got)[-len(old) :]
        return rows, self.cursor_row, len(old) + len(got) - len(rows)

    def _land_scrolled_up(self, got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
        if not got:
            return old, self.cursor_row, 0
        return (got + old)[: len(old)], self.cursor_row, -len(got)

    def _land_page_down(self, got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
        if not got:
            return old, len(old) - 1, 0
        rows = (old + got)[-self.page_size :]
        return rows, self.cursor_row, len(old) + len(got) - len(rows)

    def _land_page_up(self, got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
        if not got:
            return old, 0, 0
        return (got + old)[: self.page_size], self.cursor_row, -len(got)

    def _land_last(self, got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
        return got, len(got) - 1, 0

    def _land_same(self, got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
        keep = self.current.key if self.current else None
        index = next((i for i, r in enumerate(got) if r.key == keep), self.cursor_row)
        return got, index, 0

    # -- running requests -----------------------------------------------------------------------

    def _go(self, move: _Move) -> None:
        """Fetch in a thread; a move asked for while one runs waits for it (the latest one only)."""
        if self.source is None:
            return
        if self._busy:
            self._pending = _merged(self._pending, move)
            return
        self._busy = True
        generation, source = self._generation, self.source
        self.set_timer(SLOW_FETCH_S, self._show_loading)
        self.run_worker(lambda: self._fetch(source, move, generation), thread=True, group="paged-table-rows")

    def _show_loading(self) -> None:
        """Only a slow fetch shows the loading state: a 1 ms one would just flicker."""
        if self._busy:
            self.loading = True

    def _fetch(self, source: PageSource, move: _Move, generation: int) -> None:
        try:
            got = source.fetch(move.request)
        except TscrmError as exc:
            self.app.call_from_thread(self._failed, str(exc), generation)
            return
        self.app.call_from_thread(self._arrived, move, got, generation)

    def _done_fetching(self) -> None:
        self._busy = False
        if self.loading:
            self.loading = False

    def _failed(self, message: str, generation: int) -> None:
        self._done_fetching()
        self._pending = None
        if generation == self._generation:
            self.app.notify(message, severity="error")

    def _arrived(self, move: _Move, got: list[PageRow], generation: int) -> None:
        self._done_fetching()
        if generation == self._generation:
            self._apply(move, got)
        pending, self._pending = self._pending, None
        if pending is not None:
            self._go(_rebase(pending, self))

    def _apply(self, move: _Move, got: list[PageRow]) -> None:
        where = move.request.where
        if where == "start" and len(got) < move.request.limit and self.first_index != 0:
            # rows went away below: show the last full page instead
            self._go(_Move(PageRequest("last", self.page_size), self._land_last))
            return
        old = self.page_rows
        rows, cursor_row, shift = move.land(got, old)
        if where == "first":
            self.first_index = 0
        elif where == "last":
            self.first_index = None if self.total is None else max(self.total - len(rows), 0)
        elif self.first_index is not None:
            self.first_index = max(self.first_index + shift, 0)
        if where == "last":
            self.at_end = True
        elif where in ("first", "after", "start"):
            # fewer rows than asked for: nothing comes after them
            self.at_end = len(got) < move.request.limit or (self.at_end and where == "after" and not got)
        elif where == "before":
            self.at_end = self.at_end and len(got) + len(old) == len(rows)  # nothing fell off the bottom
        self._show(rows, cursor_row)
        if move.then is not None:
            move.then()
        if where in ("first", "start") and got and not self.at_end and len(rows) < self.page_size:
            # asked before the table knew its height: fill the screen
            self._go(_Move(PageRequest("start", self.page_size, rows[0].cursor), self._land_same))

    def _show(self, rows: list[PageRow], cursor_row: int) -> None:
        self.page_rows = rows
        self.clear()
        for row in rows:
            cells = (self._mark(row.key), *row.cells) if self.selectable else row.cells
            self.add_row(*cells, key=str(row.key))
        if rows:
            self.move_cursor(row=min(max(cursor_row, 0), len(rows) - 1), animate=False)
        self.post_message(self.Changed(self))

    def _count(self) -> None:
        if self.source is None:
            return
        generation, source = self._generation, self.source
        self.run_worker(lambda: self._count_rows(source, generation), thread=True, group="paged-table-count", exclusive=True)

    def _count_rows(self, source: PageSource, generation: int) -> None:
        try:
            total = source.count()
        except TscrmError:
            return
        self.app.call_from_thread(self._counted, total, generation)

    def _counted(self, total: int, generation: int) -> None:
        if generation != self._generation:
            return
        self.total = total
        if self.at_end:
            self.first_index = max(total - len(self.page_rows), 0)
        self.post_message(self.Changed(self))

    def on_resize(self, _event: Resize) -> None:
        """As many rows as now fit, the cursor staying on its row (a resize is not a move)."""
        if not self.page_rows or self.source is None or len(self.page_rows) == self.page_size:
            return
        if self.at_end and self.first_index == 0 and len(self.page_rows) < self.page_size:
            return  # the whole result is on screen already
        if self.at_end:
            self._go(_Move(PageRequest("last", self.page_size), self._land_same))
        else:
            self._go(_Move(PageRequest("start", self.page_size, self.page_rows[0].cursor), self._land_same))


def _land_first(got: list[PageRow], old: list[PageRow]) -> tuple[list[PageRow], int, int]:
    return got, 0, 0


def _merged(pending: _Move | None, move: _Move) -> _Move:
    """Keys pressed while rows are on their way add up: three ↓ at the bottom scroll by three."""
    same = pending is not None and pending.land == move.land and pending.then is None and move.then is None
    if same and pending is not None and move.request.where == pending.request.where and move.request.where in ("after", "before"):
        return replace(pending, request=replace(pending.request, limit=pending.request.limit + move.request.limit))
    return move


def _rebase(move: _Move, table: PagedTable) -> _Move:
    """A waiting move was asked for relative to rows that have changed since: ask from the new edge."""
    request = move.request
    if request.where == "after" and table.page_rows:
        return _Move(PageRequest("after", request.limit, table.page_rows[-1].cursor), move.land, move.then)
    if request.where == "before" and table.page_rows:
        return _Move(PageRequest("before", request.limit, table.page_rows[0].cursor), move.land, move.then)
    return move
