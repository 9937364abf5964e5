"""The section list on the left: number keys or arrows + Enter switch sections."""

from __future__ import annotations

from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tscrm.i18n import _
from tscrm.tui.messages import OpenSection
from tscrm.tui.sections import SECTIONS


class Sidebar(OptionList):
    DEFAULT_CSS = """
    Sidebar { width: 20; height: 1fr; border: none; border-right: tall $panel; background: $surface; }
    """

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(*self._options(), **kwargs)
        self.current = current

    @staticmethod
    def _options() -> list[Option]:
        return [Option(f"{s.key.upper():>2} {_(s.label)}", id=s.name) for s in SECTIONS]

    def on_mount(self) -> None:
        self.highlighted = next(i for i, s in enumerate(SECTIONS) if s.name == self.current)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id and event.option.id != self.current:
            self.post_message(OpenSection(event.option.id))
