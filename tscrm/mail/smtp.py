"""Sending through an account: SMTP (smtplib) out, a copy APPENDed to the IMAP Sent folder (imapclient).

``SmtpTransport`` is the ``Transport`` of tscrm.core.services.mailing: one SMTP connection (and one
IMAP connection for the Sent copies) kept for a whole mailing, opened on the first message.
Security per account: ``ssl`` (TLS from the first byte), ``starttls``, ``none`` (plain, for loopback
test servers only). The Sent folder is the one the server flags ``\\Sent`` (SPECIAL-USE), else a
usual name, found by tscrm.mail.imap. Gmail's SMTP files a copy in Sent by itself, so no copy is
appended for Gmail accounts.
Every failure becomes a MailError naming the account, the server and the step.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from tscrm.core.errors import MailError
from tscrm.core.models_mail import MailAccount, MailPreset, MailSecurity
from tscrm.core.services.mailing import OutgoingMail, SentCopy
from tscrm.i18n import _

TIMEOUT_S = 30
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)", re.IGNORECASE)


def build_message(mail: OutgoingMail) -> EmailMessage:
    """The RFC 5322 message: From, To, Subject, Date, Message-ID (In-Reply-To for replies), text body."""
    msg = EmailMessage()
    msg["From"] = formataddr((mail.from_name, mail.from_addr)) if mail.from_name else mail.from_addr
    msg["To"] = ", ".join(mail.to)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.date)
    msg["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
        msg["References"] = mail.in_reply_to
    msg["X-Mailer"] = "tscrm"
    msg.set_content(mail.body)
    return msg


def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


class SmtpTransport:
    """Sends through one account; ``append_sent`` keeps a copy in the IMAP Sent folder."""

    def __init__(self, account: MailAccount, password: str, *, append_sent: bool | None = None, timeout: float = TIMEOUT_S) -> None:
        self.account = account
        self.password = password
        self.timeout = timeout
        self.append_sent = account.preset != MailPreset.GMAIL if append_sent is None else append_sent
        self._smtp: smtplib.SMTP | None = None
        self._imap = None
        self._sent_folder: str | None = None
        self._imap_failed: str | None = None

    # -- SMTP ------------------------------------------------------------------------------------

    def _error(self, step: str, exc: BaseException) -> MailError:
        reason = str(exc).strip() or type(exc).__name__
        return MailError(
            _("{account}: SMTP {host}:{port}: {step} failed: {reason}").format(
                account=self.account.name, host=self.account.smtp_host, port=self.account.smtp_port, step=step, reason=reason
            )
        )

    def connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        account = self.account
        try:
            if account.smtp_security == MailSecurity.SSL:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(account.smtp_host, account.smtp_port, timeout=self.timeout, context=_tls_context())
            else:
                smtp = smtplib.SMTP(account.smtp_host, account.smtp_port, timeout=self.timeout)
                smtp.ehlo()
                if account.smtp_security == MailSecurity.STARTTLS:
                    smtp.starttls(context=_tls_context())
                    smtp.ehlo()
        except (OSError, smtplib.SMTPException) as exc:
            raise self._error(_("connecting"), exc) from None
        try:
            if smtp.has_extn("auth"):
                smtp.login(account.username, self.password)
        except (OSError, smtplib.SMTPException) as exc:
            _quit(smtp)
            raise self._error(_("logging in"), exc) from None
        self._smtp = smtp
        return smtp

    def send(self, mail: OutgoingMail) -> SentCopy | None:
        try:
            msg = build_message(mail)
        except (ValueError, TypeError) as exc:  # e.g. a header the email package refuses
            raise self._error(_("building the message"), exc) from None
        smtp = self.connect()
        try:
            refused = smtp.send_message(msg, from_addr=mail.from_addr, to_addrs=mail.to)
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise self._error(_("sending"), exc) from None
        except (OSError, smtplib.SMTPException, UnicodeError) as exc:
            if isinstance(exc, OSError):
                self._smtp = None
            else:
                _reset(smtp)
            raise self._error(_("sending"), exc) from None
        if refused:
            address, (code, reason) = next(iter(refused.items()))
            raise self._error(_("sending"), Exception(f"{address}: {code} {reason.decode(errors='replace')}"))
        if not self.append_sent:
            return None
        return self._append(msg, mail)

    # -- IMAP Sent copy --------------------------------------------------------------------------

    def _imap_connect(self):
        """The account's IMAP session (tscrm.mail.imap), opened on the first copy."""
        if self._imap is None:
            from tscrm.mail.imap import ImapSession

            self._imap = ImapSession(self.account, self.password, timeout=self.timeout)
        return self._imap

    def _sent(self, session) -> str | None:
        """The Sent folder: flagged \\Sent by SPECIAL-USE, else a usual name (tscrm.mail.imap)."""
        if self._sent_folder is None:
            from tscrm.core.models_mail import FolderRole

            self._sent_folder = next((name for name, role in session.folders() if role == FolderRole.SENT), None)
        return self._sent_folder

    def _append(self, msg: EmailMessage, mail: OutgoingMail) -> SentCopy:
        """The message went out; a failure here only adds a warning to the copy's report."""
        if self._imap_failed is not None:
            return SentCopy(warning=self._imap_failed)
        try:
            session = self._imap_connect()
            folder = self._sent(session)
            if folder is None:
                return SentCopy(warning=_("sent, but the account has no Sent folder to keep a copy in"))
            response = session.client.append(folder, msg.as_bytes(), flags=[b"\\Seen"], msg_time=mail.date)
        except MailError as exc:
            self._imap_failed = _("sent, but not copied to the Sent folder: {reason}").format(reason=exc)
            return SentCopy(warning=self._imap_failed)
        except Exception as exc:  # noqa: BLE001 - imapclient raises its own errors and socket errors
            self._drop_imap()
            return SentCopy(warning=_("sent, but not copied to the Sent folder: {reason}").format(reason=str(exc) or type(exc).__name__))
        found = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
        if found:
            return SentCopy(folder=folder, uid=int(found.group(2)), uidvalidity=int(found.group(1)))
        return SentCopy(folder=folder)

    def _drop_imap(self) -> None:
        if self._imap is not None:
            self._imap.close()
            self._imap = None

    # -- end -------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._smtp is not None:
            _quit(self._smtp)
            self._smtp = None
        self._drop_imap()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _reset(smtp: smtplib.SMTP) -> None:
    try:
        smtp.rset()
    except (OSError, smtplib.SMTPException):
        pass


def open_transport(account: MailAccount, password: str) -> SmtpTransport:
    """The TransportFactory the CLI and the TUI hand to tscrm.core.services.mailing."""
    return SmtpTransport(account, password)
