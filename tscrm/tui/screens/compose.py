"""Write an email from a client or lead card (``m``), or answer one from its feed (``R``).

``ComposeDialog`` sends in a thread worker through tscrm.core.services.mailing.send_one (a mailing of
one: personalisation fields work, the message lands in the Sent folder and the feed) and dismisses
with True once the server accepted it; a refusal stays on screen with the reason.
``ReplyPicker`` lists the emails of a feed, newest first; Enter answers the highlighted one.
Keys: ctrl+s sends, escape cancels.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css

NO_SIGNATURE = -1


class ComposeDialog(ModalScreen[bool | None]):
    BINDINGS = [
        Binding("escape", "dismiss(None)", N_("Cancel")),
        Binding("ctrl+s", "send", N_("Send")),
    ]
    DEFAULT_CSS = dialog_css("ComposeDialog") + """
    ComposeDialog > Vertical { width: 96; }
    ComposeDialog #compose-body { height: 10; }
    """

    def __init__(
        self,
        *,
        client_id: int | None = None,
        lead_id: int | None = None,
        to: str = "",
        about: str = "",
        reply_to: int | None = None,
    ) -> None:
        """``reply_to``: the id of a stored mail message to answer (to, subject, quote prefilled)."""
        super().__init__()
        self.client_id, self.lead_id = client_id, lead_id
        self.to, self.about, self.reply_to = to, about, reply_to
        self.in_reply_to: str | None = None
        self.sending = False
        self.ready = False

    def compose(self) -> ComposeResult:
        if self.reply_to is not None:
            title = _("Reply")
        else:
            title = _("Email to {name}").format(name=self.about) if self.about else _("New email")
        with Vertical(id="compose-box"):
            yield Static(title, classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("To"), classes="label")
                yield Input(self.to, id="compose-to")
            with Horizontal(classes="row"):
                yield Static(_("From"), classes="label")
                yield Select([], id="compose-account", allow_blank=True, prompt=_("Loading…"))
            with Horizontal(classes="row"):
                yield Static(_("Signature"), classes="label")
                yield Select([(_("No signature"), NO_SIGNATURE)], id="compose-signature", value=NO_SIGNATURE, allow_blank=False)
            with Horizontal(classes="row"):
                yield Static(_("Subject"), classes="label")
                yield Input(id="compose-subject")
            yield TextArea(id="compose-body", soft_wrap=True, tab_behavior="focus")
            yield Static("", id="compose-error", classes="dialog-error")
            yield Static(
                _("Fields: {fields} · ctrl+s sends · escape cancels").format(fields="{first_name} {name} {company} {owner}"),
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Send"), variant="primary", id="compose-send")
                yield Button(_("Cancel"), id="compose-cancel")

    def on_mount(self) -> None:
        self.query_one("#compose-subject" if self.to else "#compose-to", Input).focus()
        self.load()

    # -- data ------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="compose-load")
    def load(self) -> None:
        from tscrm.core.services import mailing
        from tscrm.core.services.mail_accounts import accounts_for_user

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.read() as session:
                accounts = [(f"{a.name} <{a.email}>", a.id) for a in accounts_for_user(session, ctx.actor.id)]
                default = mailing.sending_account(session, ctx.actor).id if accounts else None
                signatures = [(s.name, s.id) for s in mailing.list_signatures(session, ctx.actor)]
                draft = mailing.reply_draft(session, ctx.actor, self.reply_to) if self.reply_to is not None else None
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._loaded, accounts, default, signatures, draft)

    def _loaded(self, accounts: list[tuple[str, int]], default: int | None, signatures: list[tuple[str, int]], draft: dict[str, str] | None) -> None:
        account = self.query_one("#compose-account", Select)
        account.set_options(accounts)
        if not accounts:
            account.prompt = _("no account")
            self._error(_("You have no mail account to send from: add one in Settings → Email (key 0)."))
        if draft is not None:
            self.in_reply_to = draft["in_reply_to"]
            if not self.query_one("#compose-to", Input).value:
                self.query_one("#compose-to", Input).value = draft["to"]
            self.query_one("#compose-subject", Input).value = draft["subject"]
            body = self.query_one("#compose-body", TextArea)
            body.text = draft["body"]
            if any(value == int(draft["account_id"]) for _label, value in accounts):
                default = int(draft["account_id"])
            body.focus()
            body.move_cursor((0, 0))
        if default is not None:
            account.value = default
        self.query_one("#compose-signature", Select).set_options([(_("No signature"), NO_SIGNATURE), *signatures])
        self.query_one("#compose-signature", Select).value = NO_SIGNATURE
        self.ready = bool(accounts)

    # -- sending ---------------------------------------------------------------------------------

    @on(Button.Pressed, "#compose-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#compose-send")
    def action_send(self) -> None:
        if self.sending or not self.ready:
            return
        to = self.query_one("#compose-to", Input).value.strip()
        subject = self.query_one("#compose-subject", Input).value
        body = self.query_one("#compose-body", TextArea).text
        account = self.query_one("#compose-account", Select).value
        signature = self.query_one("#compose-signature", Select).value
        if not to:
            self._error(_("to: an address is needed"))
            return
        self.sending = True
        self.query_one("#compose-error", Static).update(_("Sending…"))
        self.send(
            to,
            subject,
            body,
            account if isinstance(account, int) else None,
            signature if isinstance(signature, int) and signature != NO_SIGNATURE else None,
        )

    @work(thread=True, exclusive=True, group="compose-send")
    def send(self, to: str, subject: str, body: str, account_id: int | None, signature_id: int | None) -> None:
        from tscrm.core.services import mailing
        from tscrm.mail.smtp import open_transport

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            entry = mailing.send_one(
                ctx.db,
                ctx.actor,
                open_transport,
                to=to,
                client_id=self.client_id,
                lead_id=self.lead_id,
                subject=subject,
                body=body,
                signature=signature_id,
                account_id=account_id,
                in_reply_to=self.in_reply_to,
            )
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        self.app.call_from_thread(self._done, entry)

    def _done(self, entry: Any) -> None:
        if not entry.ok:
            self._error(_("Not sent: {reason}").format(reason=entry.error or entry.status))
            self.app.notify(_("Email to {to} not sent.").format(to=entry.address), severity="error")
            return
        message = _("Email sent to {to}.").format(to=entry.address)
        if entry.error:  # sent, with a note (e.g. no copy in the Sent folder)
            self.app.notify(message + " " + entry.error, severity="warning", timeout=10)
        else:
            self.app.notify(message)
        self.dismiss(True)

    def _error(self, message: str) -> None:
        self.sending = False
        self.query_one("#compose-error", Static).update(message)


class ReplyPicker(ModalScreen[int | None]):
    """The emails of a feed, newest first; dismisses with the chosen mail message's id."""

    BINDINGS = [Binding("escape", "dismiss(None)", N_("Cancel"))]
    DEFAULT_CSS = dialog_css("ReplyPicker") + """
    ReplyPicker #reply-list { height: auto; max-height: 20; }
    """

    def __init__(self, entries: list[Any], tz: str) -> None:
        super().__init__()
        self.entries = entries
        self.tz = tz

    def compose(self) -> ComposeResult:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.tz)
        options = []
        for entry in self.entries:
            data = entry.data or {}
            line = Text()
            line.append(entry.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), style="dim")
            arrow = "←" if data.get("direction") == "in" else "→"
            who = data.get("sender") if data.get("direction") == "in" else ", ".join(data.get("recipients") or [])
            line.append(f"  {arrow} {who}  ")
            line.append(data.get("subject") or _("(no subject)"), style="bold")
            options.append(Option(line, id=f"mail-{data['mail_message_id']}"))
        with Vertical():
            yield Static(_("Reply to which email?"), classes="dialog-title")
            yield OptionList(*options, id="reply-list")
            yield Static(_("enter answers · escape cancels"), classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(int((event.option.id or "mail-0").removeprefix("mail-")))


def email_entries(feed: list[Any]) -> list[Any]:
    """The feed's email entries that point at a stored message, newest first."""
    from tscrm.core.models import ActivityKind

    found = [e for e in feed if e.kind == ActivityKind.EMAIL and (e.data or {}).get("mail_message_id")]
    return sorted(found, key=lambda e: (e.created_at, e.id), reverse=True)


def open_compose(screen, *, client_id: int | None = None, lead_id: int | None = None, record: dict[str, Any] | None = None, done=None) -> None:
    """What a card's ``m`` does: the compose dialog, addressed to the record's first email."""
    record = record or {}
    emails = record.get("emails") or []
    screen.app.push_screen(
        ComposeDialog(client_id=client_id, lead_id=lead_id, to=emails[0] if emails else "", about=record.get("name", "")), done
    )


def open_reply(screen, feed: list[Any], *, client_id: int | None = None, lead_id: int | None = None, done=None) -> None:
    """What a card's ``R`` does: pick one of the feed's emails (or the only one), then answer it."""
    entries = email_entries(feed)
    if not entries:
        screen.notify(_("No email in this feed to reply to."), severity="warning")
        return

    def answer(message_id: int | None) -> None:
        if message_id:
            screen.app.push_screen(ComposeDialog(client_id=client_id, lead_id=lead_id, reply_to=message_id), done)

    if len(entries) == 1:
        answer(int(entries[0].data["mail_message_id"]))
    else:
        screen.app.push_screen(ReplyPicker(entries, screen.app.ctx.actor.timezone), answer)
