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
        status = self.live_status or " · ".join((self._mail_status(), self._phone_status(), self._dialer_status()))
        text.append(" │ " + status, style="italic")
        return text

    # -- the new-mail counter (tscrm.tui.widgets.mail_counter) -----------------------------------

    def on_mount(self) -> None:
        from tscrm.tui.widgets.mail_counter import MailCounter

        if getattr(self.app, "ctx", None) is not None:
            MailCounter.of(self.app).attach(self)
        phone = getattr(self.app, "phone", None)  # tscrm.tui.telephony.Phone: its state in place of "no calls"
        if phone is not None:
            phone.changed.subscribe(self, lambda _phone: self.refresh())
        from tscrm.tui.widgets.dialer_panel import dialer_signal

        dialer_signal(self.app).subscribe(self, lambda _run: self.refresh())

    def _phone_status(self) -> str:
        phone = getattr(self.app, "phone", None)  # tscrm.tui.telephony.Phone
        if phone is None or phone.status == "off":
            return _("no calls")
        return phone.status_text()

    def _mail_status(self) -> str:
        from tscrm.tui.widgets.mail_counter import MailCounter

        return MailCounter.of(self.app).label() or _("no new emails")

    def _dialer_status(self) -> str:
        from tscrm.tui.widgets.dialer_panel import dialer_status_text

        return dialer_status_text(self.app)
