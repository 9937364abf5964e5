"""The frame every section shares: header, sidebar, content, key bar; refresh on outside changes."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.screen import Screen

from tscrm.tui.widgets.key_bar import KeyBar
from tscrm.tui.widgets.sidebar import Sidebar
from tscrm.tui.widgets.status_header import StatusHeader


class SectionScreen(Screen):
    """Subclasses set ``SECTION`` and implement ``compose_content`` and ``refresh_data``."""

    SECTION = "dashboard"
    BINDINGS = [Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False)]

    def __init__(self) -> None:
        super().__init__(id=f"screen-{self.SECTION}")
        self.stale = False

    @property
    def ctx(self):
        return self.app.ctx  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="frame"):
            yield Sidebar(self.SECTION, id="sidebar")
            with Container(id="content"):
                yield from self.compose_content()
        yield KeyBar()

    def compose_content(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.refresh_data()

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.refresh_data()

    def refresh_data(self) -> None:
        """Reload what the screen shows (from a worker, never blocking the event loop)."""

    def action_toggle_sidebar(self) -> None:
        sidebar = self.query_one(Sidebar)
        sidebar.display = not sidebar.display
