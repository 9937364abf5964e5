"""``tscrm mail sync``: bring every active account's INBOX and Sent folder into the feeds, cron-safe.

Per account: log in, list INBOX and Sent, read each folder's STATUS (UIDVALIDITY, UIDNEXT,
HIGHESTMODSEQ when the server has CONDSTORE) and ask core (tscrm.core.services.mail.plan_folder)
whether anything changed. New messages are fetched ``BATCH`` UIDs per FETCH, parsed, and stored with
the folder's new last UID in one transaction per batch: a sync killed midway re-runs from the last
committed batch without duplicates. One failing account does not stop the others: its error is saved
on the account (``last_error``) and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tscrm.core.db import Database
from tscrm.core.errors import MailError
from tscrm.core.models_mail import MailAccount, MailFolderState, MailMessage
from tscrm.core.services import mail as core_mail
from tscrm.core.services.accounts_common import SyncReport, active_account_ids, sync_outcome
from tscrm.core.services.mail_accounts import account_password, record_sync
from tscrm.i18n import _
from tscrm.mail import imap as imap_mod
from tscrm.mail.parse import attachment_bytes, parse_message

BATCH = imap_mod.BATCH


@dataclass
class FolderReport:
    folder: str
    role: str
    action: str  # skip, fetch, rescan
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    excepted: int = 0
    feed_entries: int = 0
    leads_created: int = 0
    notifications: int = 0


@dataclass
class AccountReport(SyncReport):
    folders: list[FolderReport] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(getattr(f, what) for f in self.folders)


@dataclass
class Progress:
    account: str
    folder: str
    done: int
    total: int


ProgressCallback = Callable[[Progress], None]


def _password(db: Database, account_id: int) -> tuple[MailAccount, str]:
    with db.read() as session:
        account = session.get(MailAccount, account_id)
        if account is None:
            raise MailError(_("No mail account with id {id}").format(id=account_id))
        password = account_password(session, account)
        session.expunge(account)
    return account, password


def sync_account(
    db: Database, account_id: int, *, progress: ProgressCallback | None = None, batch_size: int = BATCH
) -> AccountReport:
    """Sync one account; never raises for the account's own failures (they are in the report)."""
    report = AccountReport(account_id=account_id, name=str(account_id))
    with sync_outcome(db, report, record_sync, label=lambda: str(account_id)):
        account, password = _password(db, account_id)
        report.name = account.name
        with imap_mod.ImapSession(account, password) as conn:
            for folder, role in conn.folders():
                status = conn.select_status(folder, role)
                report.folders.append(_sync_folder(db, conn, account, status, progress, batch_size))
    return report


def _sync_folder(
    db: Database,
    conn: imap_mod.ImapSession,
    account: MailAccount,
    status: imap_mod.FolderStatus,
    progress: ProgressCallback | None,
    batch_size: int,
) -> FolderReport:
    with db.write() as session:
        plan = core_mail.plan_folder(
            session,
            account.id,  # type: ignore[arg-type]
            status.name,
            status.role,
            uidvalidity=status.uidvalidity,
            uidnext=status.uidnext,
            highestmodseq=status.highestmodseq,
        )
        state_id, from_uid, action, first = plan.state.id, plan.from_uid, plan.action, plan.first_sync
    report = FolderReport(folder=status.name, role=status.role.value, action=action)
    if action == "skip":
        return report
    uids = conn.uids_from(from_uid)
    total = len(uids)
    if progress:
        progress(Progress(account.name, status.name, 0, total))
    done = 0
    for batch in batches(uids, conn.sizes(uids) if uids else {}, batch_size):
        parsed = [parse_message(uid, raw) for uid, raw in conn.fetch_raw(batch)]
        with db.write() as session:
            acc = session.get(MailAccount, account.id)
            state = session.get(MailFolderState, state_id)
            if acc is None or state is None:
                raise MailError(_("{account}: the account was removed during the sync").format(account=account.name))
            result = core_mail.store_batch(session, acc, state, parsed, last_uid=batch[-1], notify=not first)
        report.fetched += len(parsed)
        for name in ("stored", "duplicates", "excepted", "feed_entries", "leads_created", "notifications"):
            setattr(report, name, getattr(report, name) + getattr(result, name))
        done += len(batch)
        if progress:
            progress(Progress(account.name, status.name, done, total))
    with db.write() as session:
        state = session.get(MailFolderState, state_id)
        if state is not None:
            core_mail.finish_folder(session, state, status.highestmodseq)
    return report


def batches(uids: list[int], sizes: dict[int, int], batch_size: int = BATCH, max_bytes: int = imap_mod.BATCH_BYTES) -> list[list[int]]:
    """UIDs in FETCH batches of at most ``batch_size`` messages and ``max_bytes`` (one big message alone)."""
    out: list[list[int]] = []
    current: list[int] = []
    weight = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if current and (len(current) >= batch_size or weight + size > max_bytes):
            out.append(current)
            current, weight = [], 0
        current.append(uid)
        weight += size
    if current:
        out.append(current)
    return out


def due_accounts(db: Database, account_ids: list[int] | None = None) -> list[int]:
    """Active accounts (all, or those named), in id order."""
    return active_account_ids(db, MailAccount, account_ids)


def sync_all(
    db: Database, account_ids: list[int] | None = None, *, progress: ProgressCallback | None = None, batch_size: int = BATCH
) -> list[AccountReport]:
    """Sync every active account (or those named); one account's failure does not stop the others."""
    return [sync_account(db, aid, progress=progress, batch_size=batch_size) for aid in due_accounts(db, account_ids)]


def fetch_attachment(session, account: MailAccount, message: MailMessage, part: str) -> tuple[str, str, bytes]:
    """(filename, content type, bytes) of one attachment, fetched from the server on demand."""
    if not any(str(a.get("part")) == str(part) for a in message.attachments):
        from tscrm.core.errors import NotFound

        raise NotFound(_("Message {id} has no attachment {part}").format(id=message.id, part=part))
    if not message.folder:
        raise MailError(_("Message {id} is not on the IMAP server").format(id=message.id))
    password = account_password(session, account)
    with imap_mod.ImapSession(account, password) as conn:
        raw = conn.fetch_one(message.folder, message.uid, message.uidvalidity, message.message_id)
    return attachment_bytes(raw, part)
