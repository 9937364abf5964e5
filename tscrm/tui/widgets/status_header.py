"""The header: company, current user, and live status (emails, calls, dialer)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from tscrm.i18n import _
from tscrm.labels import GROUP_NAMES, label
from tscrm.tui.sections import SECTION_BY_NAME


class StatusHeader(Static):
    DEFAULT_CSS = """
    StatusHeader { dock: top; height: 1; background: $primary; color: $text; padding: 0 1; }
    """

    # Cards set their own title ("Client · Name"); sections leave it empty and show their label.
    section_title: reactive[str] = reactive("")
    live_status: reactive[str] = reactive("")

    def render(self) -> Text:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("tscrm ", style="bold")
        text.append(f"· {ctx.company_name} ", style="bold")
        section = SECTION_BY_NAME.get(getattr(self.screen, "SECTION", ""))
        if self.section_title:
            text.append(f"· {self.section_title} ")
        elif section is not None:  # looked up at each render, so a language switch shows at once
            text.append(f"· {_(section.label)} ")
        text.append(f"· {ctx.actor.name} ({label(GROUP_NAMES, ctx.actor.group)})")
        status = self.live_status or _("no new emails · no calls · dialer idle")
        text.append(" │ " + status, style="italic")
        return text
