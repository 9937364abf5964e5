"""The rules of a mail sync, free of IMAP: what to store, where it lands, who hears of it.

The IMAP side (tscrm.mail.sync) reads a folder's status, asks ``plan_folder`` what to do, fetches
messages in batches, parses them into ``ParsedMessage`` and hands each batch to ``store_batch`` in
one transaction with the folder's new state — so a sync killed midway re-runs from the last batch
committed, without duplicates. When the folder is done, ``finish_folder`` records its HIGHESTMODSEQ.

Rules (in the spirit of mbsync / vdirsyncer):
- A folder's state is (UIDVALIDITY, last UID, HIGHESTMODSEQ). A different UIDVALIDITY invalidates all
  UIDs of the folder: it is scanned again from UID 1, and messages already stored are recognised by
  their Message-ID (a stand-in hash of date, sender and subject when a message has none); nothing is
  ever deleted because the server forgot it.
- Direction: what is in the Sent folder, or in the inbox but *from* the account's own address, is
  "out"; sent mail never lands as inbound.
- Matching: an inbound message concerns its sender, an outbound one its recipients (To and Cc). Each
  address matches the clients that have it, else the leads that have it. One feed entry (Activity,
  kind email, ``data["mail_message_id"]``) per message and client or lead — once per Message-ID across
  accounts, so a mail seen by two accounts shows once in a feed.
- Exceptions (``MailException``): an address, or a domain and its subdomains. Excepted addresses are
  never matched nor made leads; a message whose counterparts are all excepted is not stored.
- Auto-lead (per account): an unknown counterpart address (not a client's, a lead's, ours, nor a
  no-reply robot's) becomes a lead owned by the account's owner — only for mail dated at most
  ``AUTO_LEAD_LOOKBACK`` before the account was added, so connecting an old mailbox does not flood
  the leads.
- Notifications: each new inbound message stored by an incremental sync (not the first sync of a
  folder) raises a ``MailNotification`` for each user of the account (owner + shared with).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tscrm.core.errors import NotFound, ValidationError
from tscrm.core.models import Activity, ActivityKind, Client, Email, Lead, User
from tscrm.core.models_mail import (
    FolderRole,
    MailAccount,
    MailDirection,
    MailException,
    MailFolderState,
    MailMessage,
    MailNotification,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity
from tscrm.core.services.mail_accounts import account_user_ids, can_see
from tscrm.core.types import utcnow
from tscrm.i18n import _

AUTO_LEAD_LOOKBACK = timedelta(days=7)
FEED_BODY_CHARS = 4000
MAX_BODY_CHARS = 200_000
ROBOT_LOCAL_PARTS = ("noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "mailer-daemon", "postmaster", "bounce")
LEAD_SOURCE = "Email"


@dataclass
class ParsedMessage:
    """One message as the parser read it (addresses lower-case; anything unreadable left empty)."""

    uid: int | None
    message_id: str = ""
    subject: str = ""
    sender: str = ""
    sender_name: str = ""
    recipients: list[str] = field(default_factory=list)  # To + Cc
    recipient_names: dict[str, str] = field(default_factory=dict)
    sent_at: datetime | None = None
    body_text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)  # {filename, content_type, size, part}
    in_reply_to: str | None = None


def stand_in_message_id(msg: ParsedMessage) -> str:
    """A stable id for a message without Message-ID, so that a rescan recognises it."""
    basis = "\x00".join(
        [msg.sent_at.isoformat() if msg.sent_at else "", msg.sender, msg.subject, ",".join(msg.recipients), msg.body_text[:500]]
    )
    return "<" + hashlib.sha1(basis.encode("utf-8", "replace")).hexdigest() + "@tscrm.no-message-id>"


# --- folder state -----------------------------------------------------------------------------


@dataclass
class FolderPlan:
    state: MailFolderState
    action: str  # "skip", "fetch" (UIDs above from_uid - 1), "rescan" (UIDVALIDITY changed: from UID 1)
    from_uid: int
    first_sync: bool  # the folder was never synced: old mail raises no notifications


def plan_folder(
    session: Session,
    account_id: int,
    folder: str,
    role: FolderRole | str,
    *,
    uidvalidity: int,
    uidnext: int | None = None,
    highestmodseq: int | None = None,
) -> FolderPlan:
    """What to do with a folder, from its status on the server and what we stored last time."""
    state = session.exec(
        select(MailFolderState).where(MailFolderState.account_id == account_id, MailFolderState.folder == folder)
    ).first()
    role = FolderRole(role)
    if state is None:
        state = MailFolderState(account_id=account_id, folder=folder, role=role, uidvalidity=uidvalidity, last_uid=0)
        try:
            with session.begin_nested():  # another sync of the account may create it right now
                session.add(state)
        except IntegrityError:
            state = session.exec(
                select(MailFolderState).where(MailFolderState.account_id == account_id, MailFolderState.folder == folder)
            ).one()
        else:
            return FolderPlan(state, "fetch", 1, True)
    state.role = role
    # the first sync is not over until the folder was read to its end once (a killed first sync
    # continues as a first sync: old mail raises no notifications)
    first = state.synced_at is None
    if state.uidvalidity != uidvalidity:
        seen_before = bool(state.last_uid) or state.synced_at is not None
        state.uidvalidity = uidvalidity
        state.last_uid = 0
        state.highestmodseq = None
        session.flush()
        return FolderPlan(state, "rescan" if seen_before else "fetch", 1, first)
    if highestmodseq is not None and state.highestmodseq is not None and highestmodseq == state.highestmodseq:
        return FolderPlan(state, "skip", state.last_uid + 1, first)
    if uidnext is not None and uidnext <= state.last_uid + 1:
        return FolderPlan(state, "skip", state.last_uid + 1, first)
    return FolderPlan(state, "fetch", state.last_uid + 1, first)


def finish_folder(session: Session, state: MailFolderState, highestmodseq: int | None) -> None:
    """The folder is synced up to its last UID: remember its HIGHESTMODSEQ (skip it while unchanged)."""
    state.highestmodseq = highestmodseq
    state.synced_at = utcnow()
    session.add(state)
    session.flush()


def reset_folders(session: Session, actor: Actor, account_id: int) -> int:
    """Forget where the sync stood (the next sync re-reads everything, duplicates are recognised)."""
    from tscrm.core.services.mail_accounts import get_account

    get_account(session, actor, account_id)
    result = session.execute(
        update(MailFolderState)
        .where(col(MailFolderState.account_id) == account_id)
        .values(last_uid=0, highestmodseq=None, uidvalidity=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- exceptions -------------------------------------------------------------------------------


def _normalise_pattern(value: str) -> str:
    text = (value or "").strip().lower().lstrip("@").strip()
    if not text or " " in text or text.count("@") > 1 or "." not in text.rpartition("@")[2]:
        raise ValidationError(
            _("pattern: {value!r} is neither an email address nor a domain (e.g. example.com)").format(value=value), "pattern"
        )
    return text


def add_exception(session: Session, actor: Actor, pattern: str) -> MailException:
    actor.require(Right.MANAGE_TEAM)
    text = _normalise_pattern(pattern)
    row = session.exec(select(MailException).where(MailException.pattern == text)).first()
    if row is None:
        row = MailException(pattern=text, created_by_id=actor.id)
        session.add(row)
        session.flush()
    return row


def list_exceptions(session: Session) -> list[MailException]:
    return list(session.exec(select(MailException).order_by(col(MailException.pattern))))


def remove_exception(session: Session, actor: Actor, pattern: str) -> None:
    actor.require(Right.MANAGE_TEAM)
    text = (pattern or "").strip().lower().lstrip("@")
    row = session.exec(select(MailException).where(MailException.pattern == text)).first()
    if row is None and text.isdigit():
        row = session.get(MailException, int(text))
    if row is None:
        raise NotFound(_("No mail exception {pattern!r}").format(pattern=pattern))
    session.delete(row)
    session.flush()


def is_excepted(address: str, patterns: set[str]) -> bool:
    address = address.lower()
    if not address or not patterns:
        return False
    if address in patterns:
        return True
    domain = address.rpartition("@")[2]
    parts = domain.split(".")
    return any(".".join(parts[i:]) in patterns for i in range(len(parts) - 1))


def _is_robot(address: str) -> bool:
    local = address.partition("@")[0]
    return any(local.startswith(p) for p in ROBOT_LOCAL_PARTS)


# --- storing a batch --------------------------------------------------------------------------


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    excepted: int = 0
    feed_entries: int = 0
    leads_created: int = 0
    notifications: int = 0
    stored_ids: list[int] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        for name in ("stored", "duplicates", "excepted", "feed_entries", "leads_created", "notifications"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.stored_ids.extend(other.stored_ids)


@dataclass
class _Context:
    """What one sync of one account looks up once."""

    own: set[str]
    exceptions: set[str]
    users: set[int]
    owner_actor: Actor | None


def _context(session: Session, account: MailAccount) -> _Context:
    own = {account.email.lower()}
    if "@" in account.username:
        own.add(account.username.lower())
    owner_actor = None
    if account.auto_lead:
        owner_actor = _owner_actor(session, account)
    return _Context(
        own=own,
        exceptions={e.pattern for e in list_exceptions(session)},
        users=account_user_ids(session, account),
        owner_actor=owner_actor,
    )


def _owner_actor(session: Session, account: MailAccount) -> Actor | None:
    from tscrm.core.services.users import actor_for

    user = session.get(User, account.owner_id) if account.owner_id is not None else None
    return actor_for(session, user) if user is not None and user.is_active else None


def direction_of(msg: ParsedMessage, role: FolderRole | str, own: set[str]) -> MailDirection:
    if FolderRole(role) == FolderRole.SENT or (msg.sender and msg.sender.lower() in own):
        return MailDirection.OUT
    return MailDirection.IN


def _counterparts(msg: ParsedMessage, direction: MailDirection, own: set[str]) -> list[str]:
    if direction == MailDirection.IN:
        return [msg.sender] if msg.sender else []
    return [a for a in dict.fromkeys(msg.recipients) if a and a not in own]


def _address_owners(session: Session, addresses: Iterable[str]) -> dict[str, tuple[list[int], list[int]]]:
    """address -> (client ids, lead ids) having it."""
    wanted = sorted(set(addresses))
    out: dict[str, tuple[list[int], list[int]]] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = session.exec(
            select(Email.address, Email.client_id, Email.lead_id).where(col(Email.address).in_(chunk))
        ).all()
        for address, client_id, lead_id in rows:
            clients, leads = out.setdefault(address, ([], []))
            if client_id is not None and client_id not in clients:
                clients.append(client_id)
            if lead_id is not None and lead_id not in leads:
                leads.append(lead_id)
    return out


def _feed_text(msg: MailMessage) -> str:
    subject = msg.subject or _("(no subject)")
    if msg.direction == MailDirection.IN:
        who = _("From: {sender}").format(sender=f"{msg.sender_name} <{msg.sender}>" if msg.sender_name else msg.sender)
    else:
        who = _("To: {recipients}").format(recipients=", ".join(msg.recipients))
    body = msg.body_text.strip()
    if len(body) > FEED_BODY_CHARS:
        body = body[:FEED_BODY_CHARS] + "…"
    return f"{subject}\n{who}" + (f"\n\n{body}" if body else "")


def _feed_data(msg: MailMessage) -> dict[str, Any]:
    return {
        "mail_message_id": msg.id,
        "account_id": msg.account_id,
        "direction": msg.direction.value,
        "subject": msg.subject,
        "sender": msg.sender,
        "sender_name": msg.sender_name,
        "recipients": msg.recipients,
        "sent_at": msg.sent_at.isoformat() if msg.sent_at else None,
        "attachments": len(msg.attachments),
    }


def write_feed(session: Session, msg: MailMessage, *, client_ids: Sequence[int] = (), lead_ids: Sequence[int] = (), author_id: int | None = None) -> int:
    """One email entry per client and lead (created at the message's date). Returns how many."""
    text = _feed_text(msg)
    data = _feed_data(msg)
    count = 0
    for key, ids in (("client_id", client_ids), ("lead_id", lead_ids)):
        for ref in ids:
            entry = activity.record(session, ActivityKind.EMAIL, author_id=author_id, text=text, data=dict(data), **{key: ref})
            entry.created_at = msg.sent_at or msg.created_at or utcnow()
            count += 1
    return count


def _auto_lead(session: Session, ctx: _Context, account: MailAccount, address: str, name: str) -> int | None:
    from tscrm.core.services import leads
    from tscrm.core.services.contacts import ContactInput

    if ctx.owner_actor is None:
        return None
    display = (name or "").strip() or address.partition("@")[0]
    try:
        with session.begin_nested():
            lead = leads.create_lead(
                session, ctx.owner_actor, ContactInput(name=display[:300], emails=[address], source=LEAD_SOURCE)
            )
    except ValidationError:
        return None
    return lead.id


def store_batch(
    session: Session,
    account: MailAccount,
    state: MailFolderState,
    messages: Sequence[ParsedMessage],
    *,
    last_uid: int | None = None,
    notify: bool = True,
    context: _Context | None = None,
) -> BatchResult:
    """Store one batch of a folder and move the folder's state to ``last_uid`` (same transaction)."""
    ctx = context or _context(session, account)
    result = BatchResult()
    # Two syncs of the same account at once (cron overlapping a manual run) queue here, so the
    # second sees what the first stored and recognises it (PostgreSQL; SQLite serialises writers).
    session.flush()
    session.refresh(state, with_for_update=True)
    prepared: list[tuple[ParsedMessage, MailDirection, list[str]]] = []
    for msg in messages:
        if not msg.message_id:
            msg.message_id = stand_in_message_id(msg)
        msg.message_id = msg.message_id[:500]
        direction = direction_of(msg, state.role, ctx.own)
        prepared.append((msg, direction, _counterparts(msg, direction, ctx.own)))

    mids = list({m.message_id for m, _d, _c in prepared})
    mine: dict[str, MailMessage] = {}
    elsewhere: set[str] = set()
    for i in range(0, len(mids), 500):
        chunk = mids[i : i + 500]
        for row in session.exec(select(MailMessage).where(col(MailMessage.message_id).in_(chunk))):
            if row.account_id == account.id:
                mine.setdefault(row.message_id, row)
            else:
                elsewhere.add(row.message_id)
    owners = _address_owners(session, (a for _m, _d, cps in prepared for a in cps))
    lookback = account.created_at - AUTO_LEAD_LOOKBACK if account.created_at else None
    new_leads: dict[str, int] = {}
    new_rows: list[MailMessage] = []
    pending_feed: list[tuple[MailMessage, list[int], list[int]]] = []

    for msg, direction, counterparts in prepared:
        existing = mine.get(msg.message_id)
        if existing is not None:
            # Seen before (a rescan after UIDVALIDITY changed, or the same mail in two folders):
            # point the row at where the message is now when it is this folder's copy.
            if existing.folder == state.folder or existing.folder is None:
                existing.uid, existing.uidvalidity, existing.folder = msg.uid, state.uidvalidity, state.folder
            result.duplicates += 1
            continue
        wanted = [a for a in counterparts if not is_excepted(a, ctx.exceptions)]
        if counterparts and not wanted:
            result.excepted += 1
            continue
        row = MailMessage(
            account_id=account.id,  # type: ignore[arg-type]
            folder=state.folder,
            uid=msg.uid,
            uidvalidity=state.uidvalidity,
            message_id=msg.message_id,
            in_reply_to=(msg.in_reply_to or None) and msg.in_reply_to[:500],
            subject=msg.subject,
            sender=msg.sender[:320],
            sender_name=msg.sender_name[:300],
            recipients=list(msg.recipients),
            sent_at=msg.sent_at,
            direction=direction,
            body_text=msg.body_text[:MAX_BODY_CHARS],
            attachments=list(msg.attachments),
        )
        session.add(row)
        mine[msg.message_id] = row
        new_rows.append(row)
        result.stored += 1
        if msg.message_id in elsewhere:
            continue  # another account brought it to the feeds already
        elsewhere.add(msg.message_id)
        client_ids: list[int] = []
        lead_ids: list[int] = []
        for address in wanted:
            clients, leads_ = owners.get(address, ([], []))
            if clients:
                client_ids += [c for c in clients if c not in client_ids]
            elif leads_:
                lead_ids += [lead for lead in leads_ if lead not in lead_ids]
            elif address in new_leads:
                lead_ids.append(new_leads[address])
            elif (
                account.auto_lead
                and address not in ctx.own
                and not _is_robot(address)
                and (msg.sent_at is None or lookback is None or msg.sent_at >= lookback)
            ):
                name = msg.sender_name if direction == MailDirection.IN else msg.recipient_names.get(address, "")
                lead_id = _auto_lead(session, ctx, account, address, name)
                if lead_id is not None:
                    new_leads[address] = lead_id
                    owners[address] = ([], [lead_id])
                    lead_ids.append(lead_id)
                    result.leads_created += 1
        if client_ids or lead_ids:
            pending_feed.append((row, client_ids, lead_ids))
    session.flush()  # one flush for the batch: the rows get their ids for the feed entries
    for row, client_ids, lead_ids in pending_feed:
        author = account.owner_id if row.direction == MailDirection.OUT else None
        result.feed_entries += write_feed(session, row, client_ids=client_ids, lead_ids=lead_ids, author_id=author)
    result.stored_ids = [r.id for r in new_rows]  # type: ignore[misc]
    if notify and ctx.users:
        for row in new_rows:
            if row.direction != MailDirection.IN:
                continue
            for user_id in sorted(ctx.users):
                session.add(MailNotification(user_id=user_id, message_id=row.id))  # type: ignore[arg-type]
                result.notifications += 1
    if last_uid is not None and last_uid > state.last_uid:
        state.last_uid = last_uid
    session.add(state)
    session.flush()
    return result


# --- reading: messages and notifications ------------------------------------------------------


def _message_visible(session: Session, actor: Actor, msg: MailMessage) -> bool:
    account = session.get(MailAccount, msg.account_id)
    if account is not None and can_see(session, actor, account):
        return True
    # a mail on the feed of a client or lead the actor sees is theirs to read
    entries = session.exec(
        select(Activity).where(
            Activity.kind == ActivityKind.EMAIL,
            Activity.data["mail_message_id"].as_integer() == msg.id,  # type: ignore[index]
        )
    )
    for entry in entries:
        if entry.client_id is not None:
            client = session.get(Client, entry.client_id)
            if client is not None and actor.can_see(client.owner_id):
                return True
        if entry.lead_id is not None:
            lead = session.get(Lead, entry.lead_id)
            if lead is not None and actor.can_see(lead.owner_id):
                return True
    return False


def get_message(session: Session, actor: Actor, message_id: int) -> MailMessage:
    msg = session.get(MailMessage, message_id)
    if msg is None or not _message_visible(session, actor, msg):
        raise NotFound(_("No mail message with id {id}").format(id=message_id))
    return msg


def list_messages(
    session: Session, actor: Actor, *, account_id: int | None = None, direction: MailDirection | None = None,
    limit: int = 100, offset: int = 0,
) -> list[MailMessage]:
    """Messages of the accounts the actor sees, newest first."""
    from tscrm.core.services.mail_accounts import list_accounts

    ids = [a.id for a in list_accounts(session, actor)]
    if account_id is not None:
        if account_id not in ids:
            raise NotFound(_("No mail account with id {id}").format(id=account_id))
        ids = [account_id]
    if not ids:
        return []
    query = select(MailMessage).where(col(MailMessage.account_id).in_(ids))
    if direction is not None:
        query = query.where(MailMessage.direction == MailDirection(direction))
    query = query.order_by(col(MailMessage.sent_at).desc(), col(MailMessage.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query))


def count_messages(session: Session, account_id: int) -> int:
    return int(session.exec(select(func.count()).select_from(MailMessage).where(MailMessage.account_id == account_id)).one())


def unseen_count(session: Session, user_id: int) -> int:
    """The header's counter: new mail the user has not looked at."""
    query = select(func.count()).select_from(MailNotification).where(
        MailNotification.user_id == user_id, col(MailNotification.seen_at).is_(None)
    )
    return int(session.exec(query).one())


def list_notifications(
    session: Session, actor: Actor, *, unseen_only: bool = False, limit: int = 100, offset: int = 0
) -> list[tuple[MailNotification, MailMessage]]:
    """The notification centre: the actor's new-mail notices with their messages, newest first."""
    query = (
        select(MailNotification, MailMessage)
        .join(MailMessage, col(MailMessage.id) == col(MailNotification.message_id))
        .where(MailNotification.user_id == actor.id)
    )
    if unseen_only:
        query = query.where(col(MailNotification.seen_at).is_(None))
    query = query.order_by(col(MailNotification.created_at).desc(), col(MailNotification.id).desc()).offset(offset).limit(limit)
    return [(n, m) for n, m in session.exec(query).all()]


def mark_seen(session: Session, actor: Actor, notification_ids: Iterable[int] | None = None) -> int:
    """Mark the actor's notifications seen (all of them when no ids are given). Returns how many."""
    stmt = update(MailNotification).where(
        col(MailNotification.user_id) == actor.id, col(MailNotification.seen_at).is_(None)
    )
    ids = list(notification_ids) if notification_ids is not None else None
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(col(MailNotification.id).in_(ids))
    result = session.execute(stmt.values(seen_at=utcnow()).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
