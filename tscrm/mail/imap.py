"""The IMAP side of a mail account (imapclient): connect, find INBOX and Sent, read folder status,
fetch messages in batches, fetch one message for an attachment.

Every failure becomes a ``MailError`` naming the account, the server and the step that failed
(DNS, connect, TLS, login, or the IMAP command).
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tscrm.core.errors import MailError
from tscrm.core.models_mail import FolderRole, MailAccount, MailSecurity
from tscrm.i18n import _

TIMEOUT_S = 30
BATCH = 200  # messages per FETCH
BATCH_BYTES = 32 * 1024 * 1024  # and at most this much mail per FETCH (a big attachment goes alone)
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "INBOX/Sent", "[Gmail]/Sent Mail", "Gesendet", "Enviados", "Envoyés")


def _fail(account: MailAccount, step: str, exc: BaseException | str) -> MailError:
    reason = exc if isinstance(exc, str) else (str(exc).strip() or type(exc).__name__)
    return MailError(
        _("{account}: IMAP {host}:{port}: {step} failed: {reason}").format(
            account=account.name, host=account.imap_host, port=account.imap_port, step=step, reason=reason
        )
    )


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def connect(account: MailAccount, password: str, *, timeout: float = TIMEOUT_S):
    """A logged-in IMAPClient. Raises MailError saying which step failed."""
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError, LoginError

    host, port = account.imap_host, account.imap_port
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _fail(account, _("DNS lookup"), exc) from None
    security = MailSecurity(account.imap_security)
    context = ssl.create_default_context() if security != MailSecurity.NONE else None
    try:
        client = IMAPClient(host, port=port, ssl=security == MailSecurity.SSL, ssl_context=context, timeout=timeout)
    except ssl.SSLError as exc:
        raise _fail(account, _("TLS"), exc) from None
    except (OSError, IMAPClientError) as exc:
        raise _fail(account, _("connect"), exc) from None
    try:
        if security == MailSecurity.STARTTLS:
            try:
                client.starttls(context)
            except (ssl.SSLError, OSError, IMAPClientError) as exc:
                raise _fail(account, _("TLS (STARTTLS)"), exc) from None
        try:
            client.login(account.username, password)
        except LoginError as exc:
            raise _fail(account, _("login"), _text(exc.args[0]) if exc.args else exc) from None
        except (OSError, IMAPClientError) as exc:
            raise _fail(account, _("login"), exc) from None
    except BaseException:
        _logout(client)
        raise
    return client


def _logout(client) -> None:
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001, S110 - nothing left to close
            pass


@dataclass
class FolderStatus:
    name: str
    role: FolderRole
    uidvalidity: int
    uidnext: int | None
    highestmodseq: int | None


class ImapSession:
    """One logged-in connection of one account."""

    def __init__(self, account: MailAccount, password: str, *, timeout: float = TIMEOUT_S) -> None:
        self.account = account
        self.client = connect(account, password, timeout=timeout)
        try:
            caps = {_text(c).upper() for c in self.client.capabilities()}
        except Exception:  # noqa: BLE001
            caps = set()
        self.condstore = "CONDSTORE" in caps or "QRESYNC" in caps
        self.special_use = "SPECIAL-USE" in caps

    def close(self) -> None:
        _logout(self.client)

    def __enter__(self) -> ImapSession:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, step: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MailError:
            raise
        except Exception as exc:  # noqa: BLE001 - IMAP errors, aborts, timeouts: one message
            raise _fail(self.account, step, exc) from None

    def folders(self) -> list[tuple[str, FolderRole]]:
        """INBOX and the Sent folder (flagged \\Sent by SPECIAL-USE, else a usual name), if any."""
        listing = self._run("LIST", self.client.list_folders)
        names = [name for _flags, _delim, name in listing]
        found: list[tuple[str, FolderRole]] = [("INBOX", FolderRole.INBOX)]
        sent = None
        for flags, _delim, name in listing:
            if any(_text(f).lower() == "\\sent" for f in flags):
                sent = name
                break
        if sent is None:
            lowered = {n.lower(): n for n in names}
            for candidate in SENT_NAMES:
                if candidate.lower() in lowered:
                    sent = lowered[candidate.lower()]
                    break
        if sent is not None and sent.upper() != "INBOX":
            found.append((sent, FolderRole.SENT))
        return found

    def status(self, name: str, role: FolderRole) -> FolderStatus:
        items = [b"UIDVALIDITY", b"UIDNEXT"] + ([b"HIGHESTMODSEQ"] if self.condstore else [])
        data = self._run(f"STATUS {name}", self.client.folder_status, name, items)
        values = {_text(k).upper(): v for k, v in data.items()}
        return FolderStatus(
            name=name,
            role=role,
            uidvalidity=int(values["UIDVALIDITY"]),
            uidnext=int(values["UIDNEXT"]) if "UIDNEXT" in values else None,
            highestmodseq=int(values["HIGHESTMODSEQ"]) if values.get("HIGHESTMODSEQ") else None,
        )

    def select_status(self, name: str, role: FolderRole) -> FolderStatus:
        """SELECT the folder (read-only) and read its state from the answer: what is then fetched is
        of exactly this UIDVALIDITY."""
        info = self.select(name)
        modseq = info.get("HIGHESTMODSEQ")
        return FolderStatus(
            name=name,
            role=role,
            uidvalidity=int(info["UIDVALIDITY"]),
            uidnext=int(info["UIDNEXT"]) if info.get("UIDNEXT") is not None else None,
            highestmodseq=int(modseq) if modseq and self.condstore else None,
        )

    def select(self, name: str) -> dict[str, Any]:
        info = self._run(f"SELECT {name}", self.client.select_folder, name, readonly=True)
        return {_text(k).upper(): v for k, v in info.items()}

    def uids_from(self, first_uid: int) -> list[int]:
        """UIDs >= first_uid in the selected folder ("N:*" always names the last message: filtered)."""
        uids = self._run("UID SEARCH", self.client.search, ["UID", f"{max(1, first_uid)}:*"])
        return sorted(u for u in uids if u >= first_uid)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """RFC822.SIZE of each message (cheap: no bodies), asked 2,000 UIDs at a time."""
        out: dict[int, int] = {}
        for i in range(0, len(uids), 2000):
            data = self._run("FETCH", self.client.fetch, uids[i : i + 2000], ["RFC822.SIZE"])
            for uid, item in data.items():
                size = item.get(b"RFC822.SIZE")
                out[uid] = int(size) if size is not None else 0
        return out

    def fetch_raw(self, uids: list[int]) -> Iterator[tuple[int, bytes]]:
        """(uid, raw message) in UID order; a message the server lost meanwhile is skipped."""
        data = self._run("FETCH", self.client.fetch, uids, ["BODY.PEEK[]"])
        for uid in sorted(data):
            item = data[uid]
            raw = item.get(b"BODY[]")
            if raw is None:
                raw = next((v for k, v in item.items() if _text(k).upper().startswith("BODY[")), None)
            yield uid, raw if isinstance(raw, bytes) else b""

    def fetch_one(self, folder: str, uid: int | None, uidvalidity: int | None, message_id: str) -> bytes:
        """One message: by UID while the folder's UIDVALIDITY is the stored one, else by Message-ID."""
        info = self.select(folder)
        current = info.get("UIDVALIDITY")
        if uid is None or uidvalidity is None or current is None or int(current) != int(uidvalidity):
            found = self._run("UID SEARCH", self.client.search, ["HEADER", "Message-ID", message_id])
            if not found:
                raise _fail(self.account, "FETCH", _("the message {mid} is no longer in {folder}").format(mid=message_id, folder=folder))
            uid = found[0]
        for got_uid, raw in self.fetch_raw([uid]):
            if got_uid == uid and raw:
                return raw
        raise _fail(self.account, "FETCH", _("the message {mid} is no longer in {folder}").format(mid=message_id, folder=folder))
