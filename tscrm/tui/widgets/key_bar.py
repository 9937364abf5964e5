"""The footer: the keys of the focused screen, with translated descriptions."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tscrm.i18n import _


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.render_keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, _screen) -> None:
        self.render_keys()

    def render_keys(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for _ns, binding, enabled, _tip in self.screen.active_bindings.values():
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or self.app.get_key_display(binding)
            text.append(f" {key} ", style="bold reverse" if enabled else "dim reverse")
            text.append(f" {_(binding.description)}  ", style="" if enabled else "dim")
        self.update(text)
