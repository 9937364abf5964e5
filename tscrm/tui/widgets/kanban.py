"""A keyboard kanban: columns of focusable cards, arrows move the focus, one key moves a card.

Generic on purpose (deals use it for the pipeline, tasks may use it for their time buckets): the
owner gives plain data (``KanbanColumn`` with ``KanbanCard``s) to ``set_columns`` and listens for
``Kanban.CardChosen`` (enter) and ``Kanban.MoveRequested`` (shift+←/→ or [ / ]). The widget never
moves a card by itself: the owner saves the move and calls ``set_columns`` again, and the focus
follows the moved card into its new column.

Updates happen in place: a column whose cards are unchanged only has its texts refreshed, so a
live refresh every second neither flickers nor loses the focus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tscrm.i18n import N_, _

CardKey = str | int


@dataclass(frozen=True)
class KanbanCard:
    key: CardKey
    content: RenderableType  # a str or rich Text: a few short lines


@dataclass(frozen=True)
class KanbanColumn:
    key: str
    title: str
    subtitle: str = ""  # e.g. "3 · 1 200,00 €"
    cards: tuple[KanbanCard, ...] = field(default_factory=tuple)
    more: int = 0  # cards of this column not shown: a "+K more" line


class CardView(Static, can_focus=True):
    """One card; focus shows it highlighted."""

    DEFAULT_CSS = """
    CardView { border: round $panel-lighten-2; padding: 0 1; height: auto; width: 1fr; }
    CardView:focus { border: round $accent; background: $boost; }
    """

    def __init__(self, card: KanbanCard) -> None:
        super().__init__(card.content, classes="kanban-card")
        self.card = card

    def show(self, card: KanbanCard) -> None:
        if card.content != self.card.content:
            self.update(card.content)
        self.card = card


class _CardList(VerticalScroll, inherit_bindings=False, can_focus=False):
    """The scrolling list of one column; its arrow keys belong to the kanban, not to scrolling."""

    DEFAULT_CSS = """
    _CardList { height: 1fr; scrollbar-size-vertical: 1; }
    """


class ColumnView(Vertical):
    DEFAULT_CSS = """
    ColumnView { width: 24; height: 1fr; margin: 0 1 0 0; }
    ColumnView > .kanban-header { height: auto; padding: 0 1; background: $panel; border-bottom: solid $panel-lighten-2; }
    ColumnView .kanban-more { height: auto; color: $text-muted; padding: 0 1; }
    ColumnView.-focused > .kanban-header { background: $accent 40%; }
    """

    def __init__(self, column: KanbanColumn) -> None:
        super().__init__(classes="kanban-column")
        self.column = column

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="kanban-header")
        more = Static(self._more(), classes="kanban-more")
        more.display = bool(self.column.more)
        yield _CardList(*[CardView(card) for card in self.column.cards], more)

    def _header(self) -> Text:
        text = Text(self.column.title, style="bold", no_wrap=True, overflow="ellipsis")
        if self.column.subtitle:
            text.append("\n" + self.column.subtitle, style="dim")
        return text

    def _more(self) -> str:
        return _("+{n} more").format(n=self.column.more) if self.column.more else ""

    @property
    def cards(self) -> list[CardView]:
        return list(self.query_one(_CardList).query_children(CardView))

    async def show(self, column: KanbanColumn) -> None:
        """Show ``column``: texts change in place; cards are remounted only when the set changed."""
        found = self.query(".kanban-more")
        if not found:  # not composed yet (a refresh right after mounting): compose shows ``column``
            self.column = column
            return
        more = found.first(Static)
        views = self.cards
        if [v.card.key for v in views] == [c.key for c in column.cards]:
            for view, card in zip(views, column.cards, strict=True):
                view.show(card)
        else:
            cards = self.query_one(_CardList)
            await cards.remove_children(CardView)
            await cards.mount_all([CardView(card) for card in column.cards], before=more)
        # ``column`` and the header last: once they are new, the cards below match them
        self.column = column
        more.update(self._more())
        more.display = bool(column.more)
        self.query_one(".kanban-header", Static).update(self._header())


class Kanban(HorizontalScroll, inherit_bindings=False, can_focus=False):
    """Columns side by side; left/right/up/down move the focus between cards.

    The columns share the width; below ``MIN_COLUMN_WIDTH`` each, the board scrolls sideways and
    follows the focus.
    """

    MIN_COLUMN_WIDTH = 20

    DEFAULT_CSS = """
    Kanban { height: 1fr; width: 1fr; }
    """
    BINDINGS = [
        Binding("enter", "choose", N_("Open")),
        Binding("shift+left,left_square_bracket", "move(-1)", N_("Move left"), key_display="⇧← ["),
        Binding("shift+right,right_square_bracket", "move(1)", N_("Move right"), key_display="⇧→ ]"),
        Binding("left", "step_column(-1)", show=False),
        Binding("right", "step_column(1)", show=False),
        Binding("up", "step_card(-1)", show=False),
        Binding("down", "step_card(1)", show=False),
        Binding("home", "edge_card(0)", show=False),
        Binding("end", "edge_card(-1)", show=False),
    ]

    class CardChosen(Message):
        """Enter on a card."""

        def __init__(self, kanban: Kanban, key: CardKey, column: str) -> None:
            super().__init__()
            self.kanban, self.key, self.column = kanban, key, column

        @property
        def control(self) -> Kanban:
            return self.kanban

    class MoveRequested(Message):
        """The user wants the card in ``target`` (the previous or next column)."""

        def __init__(self, kanban: Kanban, key: CardKey, source: str, target: str) -> None:
            super().__init__()
            self.kanban, self.key, self.source, self.target = kanban, key, source, target

        @property
        def control(self) -> Kanban:
            return self.kanban

    def __init__(self, columns: Sequence[KanbanColumn] = (), *, movable: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self._initial = tuple(columns)
        self.movable = movable  # False: no "move card" keys (cards whose column follows from their data)
        self._follow: CardKey | None = None  # focus this card after the next update (it was moved)
        self._lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        for column in self._initial:
            yield ColumnView(column)

    def on_mount(self) -> None:
        self._fit_columns()

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        views = self.columns
        if not views or not self.size.width:
            return
        width = max(self.MIN_COLUMN_WIDTH, self.size.width // len(views) - 1)  # 1: the gap between columns
        for view in views:
            view.styles.width = width

    # -- data ---------------------------------------------------------------------------------

    @property
    def columns(self) -> list[ColumnView]:
        return list(self.query_children(ColumnView))

    @property
    def focused_card(self) -> CardView | None:
        focused = self.screen.focused if self.is_attached else None
        return focused if isinstance(focused, CardView) and self in focused.ancestors else None

    @property
    def focused_key(self) -> CardKey | None:
        card = self.focused_card
        return card.card.key if card else None

    def card_keys(self) -> dict[str, list[CardKey]]:
        """What is shown: column key -> card keys, in order (for tests and callers)."""
        return {view.column.key: [c.card.key for c in view.cards] for view in self.columns}

    async def set_columns(self, columns: Sequence[KanbanColumn]) -> None:
        """Show ``columns``, keeping the focus on the same card (or where it was) when it was inside."""
        async with self._lock:
            position = self._focus_position()
            views = self.columns
            if [v.column.key for v in views] != [c.key for c in columns]:
                await self.remove_children()
                await self.mount_all([ColumnView(c) for c in columns])
                self._fit_columns()
            else:
                for view, column in zip(views, columns, strict=True):
                    await view.show(column)
            if position is not None:
                self._restore_focus(*position)
            elif self._follow is not None and self.focus_card(self._follow):
                self._follow = None
            self._mark_focused_column()

    def focus_card(self, key: CardKey) -> bool:
        for view in self.columns:
            for card in view.cards:
                if card.card.key == key:
                    card.focus()
                    return True
        return False

    def follow(self, key: CardKey) -> None:
        """Focus card ``key`` after the next update (e.g. a card just created elsewhere)."""
        self._follow = key

    def focus_first(self) -> None:
        """Focus the first card of the first non-empty column (e.g. when the screen opens)."""
        for view in self.columns:
            if view.cards:
                view.cards[0].focus()
                return

    def _focus_position(self) -> tuple[CardKey | None, int, int] | None:
        """(key, column index, card index) of the focused card, or None when the focus is elsewhere."""
        card = self.focused_card
        if card is None:
            return None
        views = self.columns
        for i, view in enumerate(views):
            cards = view.cards
            if card in cards:
                return card.card.key, i, cards.index(card)
        return None

    def _restore_focus(self, key: CardKey | None, column_index: int, card_index: int) -> None:
        follow, self._follow = self._follow, None
        if follow is not None and self.focus_card(follow):
            return
        if key is not None and self.focus_card(key):
            return
        views = self.columns
        if not views:
            return
        # the card left (moved by someone else, deleted): stay where it was, or the nearest column
        order = sorted(range(len(views)), key=lambda i: abs(i - column_index))
        for i in order:
            cards = views[i].cards
            if cards:
                cards[min(card_index, len(cards) - 1)].focus()
                return

    def _mark_focused_column(self) -> None:
        card = self.focused_card
        for view in self.columns:
            view.set_class(card is not None and card in view.cards, "-focused")

    def on_descendant_focus(self) -> None:
        self._mark_focused_column()

    def on_descendant_blur(self) -> None:
        self.call_after_refresh(self._mark_focused_column)

    # -- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "move" and not self.movable:
            return False  # hidden from the key bar, and the keys go on to the screen
        return True

    def _where(self) -> tuple[int, int] | None:
        position = self._focus_position()
        return (position[1], position[2]) if position else None

    def action_step_column(self, step: int) -> None:
        where = self._where()
        if where is None:
            self.focus_first()
            return
        column_index, card_index = where
        views = self.columns
        i = column_index + step
        while 0 <= i < len(views):  # skip empty columns
            cards = views[i].cards
            if cards:
                card = cards[min(card_index, len(cards) - 1)]
                card.focus()
                card.scroll_visible(animate=False)
                return
            i += step

    def action_step_card(self, step: int) -> None:
        where = self._where()
        if where is None:
            self.focus_first()
            return
        column_index, card_index = where
        cards = self.columns[column_index].cards
        j = card_index + step
        if 0 <= j < len(cards):
            cards[j].focus()
            cards[j].scroll_visible(animate=False)

    def action_edge_card(self, index: int) -> None:
        where = self._where()
        if where is None:
            return
        cards = self.columns[where[0]].cards
        if cards:
            cards[index].focus()
            cards[index].scroll_visible(animate=False)

    def action_choose(self) -> None:
        where = self._where()
        card = self.focused_card
        if where is not None and card is not None:
            self.post_message(self.CardChosen(self, card.card.key, self.columns[where[0]].column.key))

    def action_move(self, step: int) -> None:
        where = self._where()
        card = self.focused_card
        if where is None or card is None:
            return
        views = self.columns
        target = where[0] + step
        if 0 <= target < len(views):
            self._follow = card.card.key
            self.post_message(self.MoveRequested(self, card.card.key, views[where[0]].column.key, views[target].column.key))
