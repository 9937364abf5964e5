"""Send one SMS from the call widget or a card, through the Zadarma SMS API when the company set it up.

It goes through tscrm.core.services.sms like bulk SMS: logged, in the recipient's feed, do-not-call respected.
Keys: ctrl+s sends, escape cancels.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static, TextArea

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css


class SmsDialog(ModalScreen[bool | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "send", N_("Send")),
    ]
    DEFAULT_CSS = dialog_css("SmsDialog") + """
    SmsDialog #sms-text { height: 6; }
    """

    def __init__(self, number: str, about: str = "") -> None:
        super().__init__()
        self.number = number
        self.about = about

    def compose(self) -> ComposeResult:
        with Vertical():
            title = _("SMS to {who}").format(who=self.about) if self.about else _("SMS")
            yield Static(title, classes="dialog-title")
            yield Input(self.number, placeholder=_("Number"), id="sms-number")
            yield TextArea(id="sms-text")
            yield Static(_("ctrl+s sends · escape cancels"), classes="dialog-hint")
            yield Static("", classes="dialog-error", id="sms-error")

    def on_mount(self) -> None:
        self.query_one("#sms-text", TextArea).focus()

    def action_send(self) -> None:
        number = self.query_one("#sms-number", Input).value.strip()
        text = self.query_one("#sms-text", TextArea).text.strip()
        if not number or not text:
            self.query_one("#sms-error", Static).update(_("Both the number and the text are needed."))
            return
        self.send(number, text)

    @work(thread=True, exclusive=True, group="sms-send", exit_on_error=False)
    def send(self, number: str, text: str) -> None:
        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            message = send_one_sms(ctx, number, text)
        except TscrmError as exc:
            self.app.call_from_thread(self.query_one("#sms-error", Static).update, str(exc))
            return
        self.app.call_from_thread(self.app.notify, message)
        self.app.call_from_thread(self.dismiss, True)


def send_one_sms(ctx, number: str, text: str) -> str:
    """Send ``text`` to ``number`` through the company's SMS service (the SMS log and the feed of the
    client or lead with that number get it, as for bulk SMS); the message to show. TscrmError when it
    cannot go."""
    from tscrm.core.errors import ConfigError, TelephonyError
    from tscrm.core.services import sms
    from tscrm.telephony.sms_factory import close_sms_backend, sms_backend_for

    with ctx.db.read() as session:
        try:
            backend = sms_backend_for(session)
        except ConfigError as exc:
            raise TelephonyError(
                _("SMS go through the Zadarma SMS API, not set up yet: an admin enters the key and secret in Settings → Telephony.")
            ) from exc
    try:
        row = sms.send_one(ctx.db, ctx.actor, text, backend, number=number)
    finally:
        close_sms_backend(backend)
    if row.status != "sent":
        raise TelephonyError(_("The SMS to {number} was refused: {error}").format(number=row.number, error=row.error or row.status))
    cost = f" ({row.cost} {row.currency or ''})".rstrip() if row.cost is not None else ""
    return _("SMS sent to {number}{cost}.").format(number=row.number, cost=cost)
