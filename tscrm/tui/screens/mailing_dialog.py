"""A mailing to the clients selected in the Clients list (bulk action "Send email").

Subject, text, signature and account; the fields ({first_name}, {company}…) are filled per recipient.
At most 100 recipients: more is refused with the count before anything is sent. Sending runs in a
thread worker with a progress bar; the result (sent, not sent, left out) ends as a notification, the
per-recipient report stays in ``tscrm mail report ID``. Keys: ctrl+s sends, escape cancels.
"""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, ProgressBar, Select, Static, TextArea

from tscrm.core.errors import TscrmError
from tscrm.i18n import N_, _
from tscrm.tui.screens.note_dialog import dialog_css

NO_SIGNATURE = -1


class MailingDialog(ModalScreen[int | None]):
    """Dismisses with the mailing's id once it was sent (None: cancelled)."""

    BINDINGS = [Binding("escape", "cancel", N_("Cancel")), Binding("ctrl+s", "send", N_("Send"))]
    DEFAULT_CSS = dialog_css("MailingDialog") + """
    MailingDialog > Vertical { width: 96; }
    MailingDialog #mailing-body { height: 10; }
    MailingDialog ProgressBar { height: auto; }
    """

    def __init__(self, target: Any) -> None:
        """``target``: a tscrm.tui.screens.clients.BulkTarget (ids, or a filter and its exclusions)."""
        super().__init__()
        self.target = target
        self.sending = False
        self.ready = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(_("Email to {what}").format(what=self.target.describe()), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Static(_("From"), classes="label")
                yield Select([], id="mailing-account", prompt=_("Loading…"))
            with Horizontal(classes="row"):
                yield Static(_("Signature"), classes="label")
                yield Select([(_("No signature"), NO_SIGNATURE)], id="mailing-signature", value=NO_SIGNATURE, allow_blank=False)
            with Horizontal(classes="row"):
                yield Static(_("Subject"), classes="label")
                yield Input(id="mailing-subject")
            yield TextArea(id="mailing-body", soft_wrap=True, tab_behavior="focus")
            yield ProgressBar(id="mailing-progress", show_eta=False)
            yield Static("", id="mailing-error", classes="dialog-error")
            yield Static(
                _("One personal message each, at most 100 · fields: {fields} · ctrl+s sends").format(
                    fields="{first_name} {name} {company} {owner}"
                ),
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Send"), variant="primary", id="mailing-send")
                yield Button(_("Cancel"), id="mailing-cancel")

    def on_mount(self) -> None:
        self.query_one("#mailing-progress").display = False
        self.query_one("#mailing-subject", Input).focus()
        self.load()

    @work(thread=True, exclusive=True, group="mailing-load")
    def load(self) -> None:
        from tscrm.core.services import mailing
        from tscrm.core.services.mail_accounts import accounts_for_user

        ctx = self.app.ctx  # type: ignore[attr-defined]
        with ctx.db.read() as session:
            accounts = [(f"{a.name} <{a.email}>", a.id) for a in accounts_for_user(session, ctx.actor.id)]
            default = mailing.sending_account(session, ctx.actor).id if accounts else None
            signatures = [(s.name, s.id) for s in mailing.list_signatures(session, ctx.actor)]
        self.app.call_from_thread(self._loaded, accounts, default, signatures)

    def _loaded(self, accounts: list[tuple[str, int]], default: int | None, signatures: list[tuple[str, int]]) -> None:
        account = self.query_one("#mailing-account", Select)
        account.set_options(accounts)
        if default is not None:
            account.value = default
        else:
            self._error(_("You have no mail account to send from: add one in Settings → Email (key 0)."))
        self.query_one("#mailing-signature", Select).set_options([(_("No signature"), NO_SIGNATURE), *signatures])
        self.query_one("#mailing-signature", Select).value = NO_SIGNATURE
        self.ready = default is not None

    def action_cancel(self) -> None:
        if not self.sending:
            self.dismiss(None)

    @on(Button.Pressed, "#mailing-cancel")
    def _cancel(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#mailing-send")
    def action_send(self) -> None:
        if self.sending or not self.ready:
            return
        account = self.query_one("#mailing-account", Select).value
        signature = self.query_one("#mailing-signature", Select).value
        self.sending = True
        self.query_one("#mailing-error", Static).update(_("Preparing…"))
        self.send(
            self.query_one("#mailing-subject", Input).value,
            self.query_one("#mailing-body", TextArea).text,
            account if isinstance(account, int) else None,
            signature if isinstance(signature, int) and signature != NO_SIGNATURE else None,
        )

    @work(thread=True, exclusive=True, group="mailing-send")
    def send(self, subject: str, body: str, account_id: int | None, signature_id: int | None) -> None:
        from tscrm.core.services import mailing
        from tscrm.mail.smtp import open_transport

        ctx = self.app.ctx  # type: ignore[attr-defined]
        try:
            with ctx.db.write() as session:
                ids = self.target.resolve(session, ctx.actor)
                plan = mailing.create_mailing(
                    session, ctx.actor, mailing.Audience(client_ids=ids), subject=subject, body=body, signature=signature_id, account_id=account_id
                )
                mailing_id, total, skipped = plan.mailing.id, len(plan.recipients), len(plan.skipped)
            self.app.call_from_thread(self._started, total)
            entries = mailing.send_mailing(
                ctx.db, ctx.actor, mailing_id, open_transport, progress=lambda _entry: self.app.call_from_thread(self._advance)  # type: ignore[arg-type]
            )
        except TscrmError as exc:
            self.app.call_from_thread(self._error, str(exc))
            return
        sent = sum(1 for e in entries if e.ok)
        self.app.call_from_thread(self._done, mailing_id, sent, len(entries) - sent, skipped)

    def _started(self, total: int) -> None:
        bar = self.query_one("#mailing-progress", ProgressBar)
        bar.display = True
        bar.update(total=total, progress=0)
        self.query_one("#mailing-error", Static).update(_("Sending…"))

    def _advance(self) -> None:
        self.query_one("#mailing-progress", ProgressBar).advance(1)

    def _done(self, mailing_id: int, sent: int, failed: int, skipped: int) -> None:
        message = _("Mailing {id}: {sent} sent, {failed} not sent, {skipped} left out (no address).").format(
            id=mailing_id, sent=sent, failed=failed, skipped=skipped
        )
        self.app.notify(message, severity="error" if failed else "information", timeout=12)
        self.dismiss(mailing_id)

    def _error(self, message: str) -> None:
        self.sending = False
        self.query_one("#mailing-error", Static).update(message)
