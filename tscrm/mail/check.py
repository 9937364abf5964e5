"""``tscrm mail accounts test``: log in to both servers and say exactly which step failed."""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass

from tscrm.core.errors import MailError
from tscrm.core.models_mail import MailAccount, MailSecurity
from tscrm.i18n import _
from tscrm.mail import imap as imap_mod

TIMEOUT_S = 20


@dataclass
class CheckResult:
    server: str  # "IMAP" or "SMTP"
    ok: bool
    detail: str


def check_imap(account: MailAccount, password: str, *, timeout: float = TIMEOUT_S) -> CheckResult:
    try:
        with imap_mod.ImapSession(account, password, timeout=timeout) as conn:
            folders = conn.folders()
    except MailError as exc:
        return CheckResult("IMAP", False, str(exc))
    names = ", ".join(name for name, _role in folders)
    return CheckResult(
        "IMAP", True, _("{host}:{port}: logged in; folders: {folders}").format(host=account.imap_host, port=account.imap_port, folders=names)
    )


def _smtp_fail(account: MailAccount, step: str, exc: BaseException | str) -> CheckResult:
    reason = exc if isinstance(exc, str) else (str(exc).strip() or type(exc).__name__)
    return CheckResult(
        "SMTP",
        False,
        _("{account}: SMTP {host}:{port}: {step} failed: {reason}").format(
            account=account.name, host=account.smtp_host, port=account.smtp_port, step=step, reason=reason
        ),
    )


def check_smtp(account: MailAccount, password: str, *, timeout: float = TIMEOUT_S) -> CheckResult:
    host, port = account.smtp_host, account.smtp_port
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return _smtp_fail(account, _("DNS lookup"), exc)
    security = MailSecurity(account.smtp_security)
    context = ssl.create_default_context()
    try:
        if security == MailSecurity.SSL:
            server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(host, port, timeout=timeout)
    except ssl.SSLError as exc:
        return _smtp_fail(account, _("TLS"), exc)
    except (OSError, smtplib.SMTPException) as exc:
        return _smtp_fail(account, _("connect"), exc)
    try:
        server.ehlo()
        if security == MailSecurity.STARTTLS:
            try:
                server.starttls(context=context)
                server.ehlo()
            except (ssl.SSLError, OSError, smtplib.SMTPException) as exc:
                return _smtp_fail(account, _("TLS (STARTTLS)"), exc)
        if server.has_extn("auth"):
            try:
                server.login(account.username, password)
            except smtplib.SMTPAuthenticationError as exc:
                return _smtp_fail(account, _("login"), exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc)
            except (OSError, smtplib.SMTPException) as exc:
                return _smtp_fail(account, _("login"), exc)
            detail = _("{host}:{port}: logged in").format(host=host, port=port)
        else:
            detail = _("{host}:{port}: connected (the server asks for no login)").format(host=host, port=port)
    except (OSError, smtplib.SMTPException) as exc:
        return _smtp_fail(account, _("greeting"), exc)
    finally:
        try:
            server.quit()
        except Exception:  # noqa: BLE001
            server.close()
    return CheckResult("SMTP", True, detail)


def check_account(account: MailAccount, password: str, *, timeout: float = TIMEOUT_S) -> list[CheckResult]:
    return [check_imap(account, password, timeout=timeout), check_smtp(account, password, timeout=timeout)]
