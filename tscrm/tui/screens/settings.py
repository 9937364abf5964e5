"""Settings: one tab per area, each tab a module ``tscrm.tui.screens.settings_<name>``.

A tab module defines ``TITLE`` (marked with ``N_``, translated where shown), ``ORDER`` (tabs sort by
it, then by name) and ``Pane``, a widget that builds the tab; ``Pane.refresh_data()`` (optional)
reloads it when the section is shown again or the data changed. Adding a tab is adding a module:
the screen finds them by name, nothing else to register.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from textual.app import ComposeResult
from textual.widgets import TabbedContent, TabPane

from tscrm.i18n import _
from tscrm.tui.screens.base import SectionScreen

TAB_PREFIX = "settings_"


class SettingsPane:
    """What the tabs' panes share (mixed into a Textual container): the app's context, and their data
    loaded by their ``load`` worker when mounted, when the section asks (``refresh_data``) and on r."""

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        self.load()  # type: ignore[attr-defined]

    def action_reload(self) -> None:
        self.refresh_data()

    def fill_table(self, rows: list[dict[str, Any]], cells: Callable[[dict[str, Any]], Iterable[Any]]) -> None:
        """Show ``rows`` (kept as ``self.rows``) in the pane's table, a row's key its ``id``, keeping
        the cursor where it was."""
        from textual.widgets import DataTable

        self.rows = rows
        table = self.query_one(DataTable)  # type: ignore[attr-defined]
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*cells(row), key=str(row["id"]))
        if rows and cursor is not None:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def _current(self) -> dict[str, Any] | None:
        """For a pane with one table whose rows are ``self.rows``: the highlighted row, if any."""
        from textual.widgets import DataTable

        table = self.query_one(DataTable)  # type: ignore[attr-defined]
        rows: list[dict[str, Any]] = self.rows  # type: ignore[attr-defined]
        if not rows or table.cursor_row is None or not 0 <= table.cursor_row < len(rows):
            return None
        return rows[table.cursor_row]

    def confirm(self, question: str, then: Callable[[], None], **options: Any) -> None:
        """Ask ``question`` (tscrm.tui.screens.clients.ConfirmDialog, given ``options``); on yes, ``then()``."""
        from tscrm.tui.screens.clients import ConfirmDialog

        def confirmed(yes: bool | None) -> None:
            if yes:
                then()

        self.app.push_screen(ConfirmDialog(question, **options), confirmed)  # type: ignore[attr-defined]


def tab_modules() -> list[ModuleType]:
    """The tab modules next to this one, in their ORDER."""
    from tscrm.tui import screens

    found = []
    for info in pkgutil.iter_modules(screens.__path__):
        if info.name.startswith(TAB_PREFIX):
            found.append(importlib.import_module(f"{screens.__name__}.{info.name}"))
    return sorted(found, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


class SettingsScreen(SectionScreen):
    SECTION = "settings"
    DEFAULT_CSS = """
    SettingsScreen TabbedContent { height: 1fr; }
    SettingsScreen TabPane { padding: 0 1; }
    """

    def compose_content(self) -> ComposeResult:
        with TabbedContent(id="settings-tabs"):
            for module in tab_modules():
                name = module.__name__.rsplit(".", 1)[-1].removeprefix(TAB_PREFIX)
                with TabPane(_(module.TITLE), id=f"settings-{name}"):
                    yield module.Pane(id=f"settings-{name}-pane", classes="settings-pane")

    def refresh_data(self) -> None:
        for pane in self.query(".settings-pane"):
            refresh = getattr(pane, "refresh_data", None)
            if refresh is not None:
                refresh()
