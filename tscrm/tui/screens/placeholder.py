"""A section whose screen has not been built yet says so plainly (and what to use meanwhile)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from tscrm.i18n import N_, _
from tscrm.tui.screens.base import SectionScreen

# What the CLI already offers for each section that has no screen yet.
CLI_TWINS = {
    "deals": "tscrm deals list / deals move",
    "calendar": "tscrm tasks list",
    "tasks": "tscrm tasks list / tasks add / tasks done",
    "calls": "tscrm calls",
    "team": "tscrm team",
    "settings": "config.toml",
}
NOT_YET = N_("This screen is not built yet.")


def placeholder(section: str) -> type[SectionScreen]:
    class Placeholder(SectionScreen):
        SECTION = section

        def compose_content(self) -> ComposeResult:
            yield Static(
                _(NOT_YET) + "\n" + _("Meanwhile, from the command line: {cmd}").format(cmd=CLI_TWINS.get(section, "-")),
                classes="note",
            )

    Placeholder.__name__ = f"{section.title()}Placeholder"
    return Placeholder
