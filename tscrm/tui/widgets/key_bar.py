"""The footer: the keys of the focused screen, with translated descriptions."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tscrm.i18n import _


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $panel; color: $text-muted; }
    """

    shown: Text = Text()

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self.render_keys()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, _screen) -> None:
        self.render_keys()

    def keys_text(self) -> Text:
        """The keys of the screen's bindings as they are now, the disabled ones dimmed."""
        text = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for _ns, binding, enabled, _tip in self.screen.active_bindings.values():
            if not binding.show or not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or self.app.get_key_display(binding)
            text.append(f" {key} ", style="bold reverse" if enabled else "dim reverse")
            text.append(f" {_(binding.description)}  ", style="" if enabled else "dim")
        return text

    def render_keys(self) -> None:
        self.shown = self.keys_text()
        self.update(self.shown)

    @property
    def current(self) -> bool:
        """Whether what is shown is up to date (the bar redraws on a signal, a moment after a change)."""
        return self.shown == self.keys_text()
