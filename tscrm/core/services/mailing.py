"""Sending mail: personalised templates, signatures, mailings of up to 100 recipients, task reminders.

Everything here is free of SMTP and IMAP: messages leave through a ``Transport`` the caller opens
(``tscrm.mail.smtp.open_transport``), so the rules are tested with a fake one and with real servers.

Mailings. A mailing is created with its recipients in one transaction (at most ``MAX_RECIPIENTS``;
more is refused before anything is written or sent) and every template is rendered for every
recipient up front, so an unknown field is reported before the first message leaves. A single mail
(compose, reply) is a mailing of one. Sending goes recipient by recipient, each in three steps:

1. a transaction marks the recipient ``sending`` (only if it is still ``pending``) and commits;
2. the message is sent (and appended to the account's Sent folder);
3. a transaction marks it ``sent`` (or ``failed`` with the reason) and stores the message in the
   feeds of the clients and leads with that address.

A re-run (``send_mailing`` again, ``tscrm mail resume``) sends only the ``pending`` recipients, so no
message goes out twice; a run killed between steps 1 and 3 leaves the recipient ``sending``, which
the report shows as "interrupted, may have been sent" (its Message-ID is stored with it, so the next
mail sync of the Sent folder tells) instead of sending it again or forgetting it.

Task reminders follow the same rule with ``task_reminder`` (one row per task, ``task_id`` unique):
the row is inserted and committed *before* the email goes out, so two runs (cron and a user, two
machines) cannot both send it and a crash cannot make a second run send it again; ``sent_at`` is
stamped after the server accepted the message. When the server refuses the message (nothing was
sent), the row is deleted again so the next run retries. A crash between the two leaves a row
without ``sent_at``: every later run lists it as unconfirmed, it is never silently lost.

Which account sends reminders: the one named (``--account``), else the company's first active
*shared* account (lowest id) — a personal account belongs to one agent and should not write to
the whole team. Without one, reminders stop with a message saying how to add one.
"""

from __future__ import annotations

import secrets as _secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tscrm.core.errors import ConfigError, NotFound, TscrmError, ValidationError
from tscrm.core.models import Client, Email, Lead, Task, User
from tscrm.core.models_mail import MailAccount, MailDirection, MailMessage
from tscrm.core.models_mailing import (
    Mailing,
    MailingRecipient,
    MailingStatus,
    MailSignature,
    RecipientStatus,
    TaskReminder,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services.users import normalise_email
from tscrm.core.types import utcnow
from tscrm.i18n import N_, _

if TYPE_CHECKING:
    from tscrm.core.db import Database
    from tscrm.core.services.clients import ClientFilter

# The product's limit of recipients per mailing.
MAX_RECIPIENTS = 100

# Personalisation fields a template may use, with what each one is.
TEMPLATE_FIELDS: dict[str, str] = {
    "first_name": N_("the recipient's first name (first word of the name)"),
    "last_name": N_("the rest of the recipient's name"),
    "name": N_("the recipient's full name"),
    "company": N_("the recipient's company"),
    "position": N_("the recipient's position"),
    "email": N_("the recipient's address"),
    "owner": N_("the name of the user responsible for the recipient"),
    "sender": N_("the name of the user sending"),
    "sender_email": N_("the address the mail is sent from"),
}
SIGNATURE_SEPARATOR = "\n\n-- \n"


# --- templates ----------------------------------------------------------------------------------


def render(template: str, values: Mapping[str, str], where: str = "body") -> str:
    """``template`` with ``{field}`` replaced; ``{{`` and ``}}`` are literal braces.

    Only the fields of ``TEMPLATE_FIELDS`` exist: no attribute or index access, no positional
    fields, so a template cannot reach anything but these strings. Anything else is a
    ValidationError naming the field and where it was found.
    """
    out: list[str] = []
    try:
        parts = list(string.Formatter().parse(template or ""))
    except ValueError as exc:
        raise ValidationError(
            _("{where}: {reason} (write {{{{ and }}}} for literal braces)").format(where=where, reason=exc), where
        ) from None
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS:
            raise ValidationError(
                _("{where}: unknown field {{{field}}} (known: {known})").format(
                    where=where, field=name, known=", ".join(f"{{{k}}}" for k in TEMPLATE_FIELDS)
                ),
                where,
            )
        if conversion or spec:
            raise ValidationError(
                _("{where}: write the field {{{field}}} without a format or conversion").format(where=where, field=name), where
            )
        out.append(str(values.get(name, "") or ""))
    return "".join(out)


def sample_fields() -> dict[str, str]:
    return {key: key for key in TEMPLATE_FIELDS}


def check_template(template: str, where: str) -> None:
    render(template, sample_fields(), where)


def person_fields(name: str | None, company: str | None, position: str | None, owner: str | None) -> dict[str, str]:
    words = (name or "").split()
    return {
        "first_name": words[0] if words else "",
        "last_name": " ".join(words[1:]),
        "name": " ".join(words),
        "company": company or "",
        "position": position or "",
        "owner": owner or "",
    }


def one_line(text: str) -> str:
    """A header value: no line breaks (they would start new headers)."""
    return " ".join((text or "").split())


# --- signatures ---------------------------------------------------------------------------------


def _signature_name(name: str) -> str:
    text = " ".join((name or "").split())
    if not text:
        raise ValidationError(_("name: a signature needs a name"), "name")
    if len(text) > 100:
        raise ValidationError(_("name: longer than {limit} characters").format(limit=100), "name")
    return text


def add_signature(session: Session, actor: Actor, name: str, text: str, *, shared: bool = False) -> MailSignature:
    """A signature of one's own, or (``shared``, managing the team) one for everyone."""
    if shared:
        actor.require(Right.MANAGE_TEAM)
    clean = _signature_name(name)
    check_template(text, "text")
    owner = None if shared else actor.id
    for row in list_signatures(session, actor):
        if row.name.casefold() == clean.casefold() and row.owner_id == owner:
            raise ValidationError(_("name: a signature called {name!r} already exists").format(name=clean), "name")
    row = MailSignature(name=clean, text=text.strip("\n"), owner_id=owner)
    session.add(row)
    session.flush()
    return row


def list_signatures(session: Session, actor: Actor) -> list[MailSignature]:
    """The actor's own signatures and the shared ones."""
    query = select(MailSignature).where((MailSignature.owner_id == actor.id) | col(MailSignature.owner_id).is_(None))
    return list(session.exec(query.order_by(col(MailSignature.name), col(MailSignature.id))))


def get_signature(session: Session, actor: Actor, ref: int | str) -> MailSignature:
    """By id or by name (own signatures before shared ones)."""
    rows = list_signatures(session, actor)
    text = str(ref).strip()
    for row in rows:
        if text.isdigit() and row.id == int(text):
            return row
    matches = sorted((r for r in rows if r.name.casefold() == text.casefold()), key=lambda r: r.owner_id is None)
    if not matches:
        raise NotFound(_("No signature {ref!r}").format(ref=text))
    return matches[0]


def remove_signature(session: Session, actor: Actor, ref: int | str) -> None:
    row = get_signature(session, actor, ref)
    if row.owner_id is None:
        actor.require(Right.MANAGE_TEAM)
    session.execute(update(Mailing).where(col(Mailing.signature_id) == row.id).values(signature_id=None))
    session.delete(row)
    session.flush()


# --- accounts -----------------------------------------------------------------------------------


def sending_account(session: Session, actor: Actor, account_id: int | None = None) -> MailAccount:
    """The account the actor sends from: the one named (they must be allowed to use it), else
    their own first active account, else the first shared with them."""
    from tscrm.core.services.mail_accounts import accounts_for_user

    usable = accounts_for_user(session, actor.id)
    if account_id is not None:
        for account in usable:
            if account.id == account_id:
                return account
        raise NotFound(_("No active mail account with id {id} that {user} may send from").format(id=account_id, user=actor.name))
    if not usable:
        raise ConfigError(
            _("{user} has no mail account to send from: add one (tscrm mail accounts add, or Settings → Email).").format(user=actor.name)
        )
    own = [a for a in usable if a.owner_id == actor.id]
    return (own or usable)[0]


def reminder_account(session: Session, account_id: int | None = None) -> MailAccount:
    """The account task reminders are sent from: the one named, else the first active shared one."""
    if account_id is not None:
        account = session.get(MailAccount, account_id)
        if account is None or not account.active:
            raise NotFound(_("No active mail account with id {id}").format(id=account_id))
        return account
    account = session.exec(
        select(MailAccount).where(col(MailAccount.shared).is_(True), col(MailAccount.active).is_(True)).order_by(col(MailAccount.id))
    ).first()
    if account is None:
        raise ConfigError(
            _("Task reminders are sent from the first shared mail account, and there is none: add one with --shared, or name one with --account.")
        )
    return account


# --- who receives a mailing ---------------------------------------------------------------------


@dataclass
class Audience:
    """Whom a mailing goes to: any mix of clients, leads, a tag, a client filter and addresses."""

    client_ids: list[int] = field(default_factory=list)
    lead_ids: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)  # clients with any of these tags
    filter: ClientFilter | None = None  # clients the filter selects (tscrm.core.services.clients)
    addresses: list[str] = field(default_factory=list)
    exclude_client_ids: list[int] = field(default_factory=list)
    exclude_lead_ids: list[int] = field(default_factory=list)
    exclude_addresses: list[str] = field(default_factory=list)

    @property
    def is_bulk(self) -> bool:
        return bool(self.tags or self.filter is not None)


@dataclass
class Recipient:
    address: str
    client_id: int | None = None
    lead_id: int | None = None
    name: str = ""


@dataclass
class Skipped:
    what: str  # "client 12", "lead 3"
    reason: str


def _first_emails(session: Session, column, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        chunk = list(ids[i : i + 500])
        rows = session.exec(
            select(column, Email.address).where(col(column).in_(chunk)).order_by(col(column), col(Email.position), col(Email.id))
        )
        for ref, address in rows:
            out.setdefault(ref, address)
    return out


def _names(session: Session, model, ids: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 500):
        for ref, name in session.exec(select(model.id, model.name).where(col(model.id).in_(list(ids[i : i + 500])))):
            out[ref] = name
    return out


def resolve_audience(session: Session, actor: Actor, audience: Audience) -> tuple[list[Recipient], list[Skipped]]:
    """The recipients (one per address, in the order given) and what was left out, and why."""
    from tscrm.core.services import clients as clients_service
    from tscrm.core.services import leads as leads_service
    from tscrm.core.services.clients import ClientFilter

    client_ids: list[int] = []
    for cid in audience.client_ids:
        clients_service.get_client(session, actor, cid)  # NotFound for what the actor may not see
        client_ids.append(cid)
    for tag in audience.tags:
        found = clients_service.matching_ids(session, actor, ClientFilter(tags=[tag]))
        if not found:
            raise ValidationError(_("tag: no client you may see has the tag {tag!r}").format(tag=tag), "tag")
        client_ids += sorted(found)
    if audience.filter is not None:
        client_ids += sorted(clients_service.matching_ids(session, actor, audience.filter))
    excluded_clients = set(audience.exclude_client_ids)
    client_ids = [c for c in dict.fromkeys(client_ids) if c not in excluded_clients]
    lead_ids: list[int] = []
    for lid in dict.fromkeys(audience.lead_ids):
        leads_service.get_lead(session, actor, lid)
        if lid not in audience.exclude_lead_ids:
            lead_ids.append(lid)

    excluded = {normalise_email(a, "exclude") for a in audience.exclude_addresses}
    recipients: dict[str, Recipient] = {}
    skipped: list[Skipped] = []
    for model, ids, key, who in (
        (Client, client_ids, "client_id", _("client {id} ({name})")),
        (Lead, lead_ids, "lead_id", _("lead {id} ({name})")),
    ):
        names = _names(session, model, ids)
        emails = _first_emails(session, getattr(Email, key), ids)
        for rid in ids:
            address = emails.get(rid)
            if address is None:
                skipped.append(Skipped(who.format(id=rid, name=names.get(rid, "")), _("no email address")))
            elif address not in excluded and address not in recipients:
                recipients[address] = Recipient(address, name=names.get(rid, ""), **{key: rid})
    for i, raw in enumerate(audience.addresses):
        address = normalise_email(raw, f"to[{i}]")
        if address in excluded or address in recipients:
            continue
        recipients[address] = _recipient_for_address(session, actor, address)
    return list(recipients.values()), skipped


def _recipient_for_address(session: Session, actor: Actor, address: str) -> Recipient:
    """An address typed by hand, linked to the client (else lead) the actor sees with it, if any."""
    rows = session.exec(select(Email.client_id, Email.lead_id).where(Email.address == address).order_by(col(Email.id))).all()
    for client_id, _lead in rows:
        if client_id is not None:
            client = session.get(Client, client_id)
            if client is not None and (client.owner_id == actor.id or actor.can(Right.SEE_ALL)):
                return Recipient(address, client_id=client_id, name=client.name)
    for _client, lead_id in rows:
        if lead_id is not None:
            lead = session.get(Lead, lead_id)
            if lead is not None and actor.can_see(lead.owner_id):
                return Recipient(address, lead_id=lead_id, name=lead.name)
    return Recipient(address)


def check_limit(count: int) -> None:
    if count > MAX_RECIPIENTS:
        raise ValidationError(
            _("A mailing may have at most {limit} recipients; this one has {count}. Nothing was sent.").format(
                limit=MAX_RECIPIENTS, count=count
            ),
            "recipients",
        )
    if count == 0:
        raise ValidationError(_("recipients: nobody to send to"), "recipients")


# --- mailings -----------------------------------------------------------------------------------


@dataclass
class MailingPlan:
    mailing: Mailing
    recipients: list[MailingRecipient]
    skipped: list[Skipped]


def create_mailing(
    session: Session,
    actor: Actor,
    audience: Audience,
    *,
    subject: str,
    body: str,
    signature: int | str | None = None,
    account_id: int | None = None,
    in_reply_to: str | None = None,
) -> MailingPlan:
    """A mailing with its recipients, checked whole before anything is stored (limit, rights, templates).

    More than one recipient (or a tag / filter) needs the bulk messaging right.
    """
    if not (subject or "").strip():
        raise ValidationError(_("subject: must not be empty"), "subject")
    check_template(subject, "subject")
    check_template(body, "body")
    account = sending_account(session, actor, account_id)
    sig = get_signature(session, actor, signature) if signature not in (None, "") else None
    recipients, skipped = resolve_audience(session, actor, audience)
    check_limit(len(recipients))
    if len(recipients) > 1 or audience.is_bulk:
        actor.require(Right.BULK_MESSAGING)
    mailing = Mailing(
        account_id=account.id,
        subject=subject.strip(),
        body=body,
        signature_id=sig.id if sig else None,
        created_by=actor.id,
        in_reply_to=(in_reply_to or None) and one_line(in_reply_to)[:998],
    )
    session.add(mailing)
    session.flush()
    rows = [
        MailingRecipient(mailing_id=mailing.id, client_id=r.client_id, lead_id=r.lead_id, address=r.address)  # type: ignore[arg-type]
        for r in recipients
    ]
    session.add_all(rows)
    session.flush()
    sender = session.get(User, actor.id)
    for row in rows:  # every personalisation error now, before the first message leaves
        compose(session, mailing, row, account=account, sender=sender, signature=sig)
    return MailingPlan(mailing, rows, skipped)


def get_mailing(session: Session, actor: Actor, mailing_id: int) -> Mailing:
    mailing = session.get(Mailing, mailing_id)
    if mailing is None or not (mailing.created_by == actor.id or actor.can(Right.SEE_ALL)):
        raise NotFound(_("No mailing with id {id}").format(id=mailing_id))
    return mailing


def recipients_of(session: Session, mailing_id: int) -> list[MailingRecipient]:
    return list(
        session.exec(select(MailingRecipient).where(MailingRecipient.mailing_id == mailing_id).order_by(col(MailingRecipient.id)))
    )


def _require_draft(session: Session, mailing: Mailing) -> None:
    started = session.exec(
        select(MailingRecipient.id).where(MailingRecipient.mailing_id == mailing.id, MailingRecipient.status != RecipientStatus.PENDING)
    ).first()
    if started is not None:
        raise ValidationError(_("mailing {id}: sending has started, its recipients can no longer change").format(id=mailing.id), "mailing")


def add_recipients(session: Session, actor: Actor, mailing_id: int, audience: Audience) -> list[Skipped]:
    """Add recipients to a mailing not yet sent (the limit counts them all)."""
    mailing = get_mailing(session, actor, mailing_id)
    _require_draft(session, mailing)
    current = {r.address for r in recipients_of(session, mailing_id)}
    found, skipped = resolve_audience(session, actor, audience)
    new = [r for r in found if r.address not in current]
    check_limit(len(current) + len(new))
    if len(current) + len(new) > 1:
        actor.require(Right.BULK_MESSAGING)
    for r in new:
        session.add(MailingRecipient(mailing_id=mailing_id, client_id=r.client_id, lead_id=r.lead_id, address=r.address))
    session.flush()
    for row in recipients_of(session, mailing_id):
        compose(session, mailing, row)
    return skipped


def remove_recipients(session: Session, actor: Actor, mailing_id: int, addresses: Iterable[str]) -> int:
    mailing = get_mailing(session, actor, mailing_id)
    _require_draft(session, mailing)
    wanted = {a.strip().lower() for a in addresses}
    removed = 0
    for row in recipients_of(session, mailing_id):
        if row.address in wanted:
            session.delete(row)
            removed += 1
    session.flush()
    return removed


# --- composing ------------------------------------------------------------------------------------


@dataclass
class OutgoingMail:
    """One message ready for a transport."""

    account_id: int
    from_addr: str
    from_name: str
    to: list[str]
    subject: str
    body: str
    message_id: str  # "<...@domain>"
    date: datetime
    in_reply_to: str | None = None


def new_message_id(address: str) -> str:
    domain = address.rpartition("@")[2] or "tscrm.invalid"
    return f"<{utcnow():%Y%m%d%H%M%S}.{_secrets.token_hex(8)}@{domain}>"


def recipient_fields(session: Session, row: MailingRecipient, sender: User | None, account: MailAccount) -> dict[str, str]:
    record: Client | Lead | None = None
    if row.client_id is not None:
        record = session.get(Client, row.client_id)
    elif row.lead_id is not None:
        record = session.get(Lead, row.lead_id)
    owner = session.get(User, record.owner_id) if record is not None and record.owner_id is not None else None
    values = person_fields(
        record.name if record else "",
        record.company_name if record else "",
        record.position if record else "",
        owner.name if owner else "",
    )
    values.update(email=row.address, sender=sender.name if sender else "", sender_email=account.email)
    return values


def compose(
    session: Session,
    mailing: Mailing,
    row: MailingRecipient,
    *,
    account: MailAccount | None = None,
    sender: User | None = None,
    signature: MailSignature | None = None,
    message_id: str | None = None,
) -> OutgoingMail:
    """The message one recipient gets (personalised subject, body and signature)."""
    account = account or session.get(MailAccount, mailing.account_id)
    if account is None:
        raise NotFound(_("mailing {id}: its mail account was removed").format(id=mailing.id))
    sender = sender or (session.get(User, mailing.created_by) if mailing.created_by is not None else None)
    if signature is None and mailing.signature_id is not None:
        signature = session.get(MailSignature, mailing.signature_id)
    values = recipient_fields(session, row, sender, account)
    body = render(mailing.body, values, "body").rstrip()
    if signature is not None and signature.text.strip():
        body += SIGNATURE_SEPARATOR + render(signature.text, values, _("signature {name}").format(name=signature.name))
    return OutgoingMail(
        account_id=account.id,  # type: ignore[arg-type]
        from_addr=account.email,
        from_name=sender.name if sender else account.name,
        to=[row.address],
        subject=one_line(render(mailing.subject, values, "subject")),
        body=body + "\n",
        message_id=message_id or row.message_id or new_message_id(account.email),
        date=utcnow(),
        in_reply_to=mailing.in_reply_to,
    )


def preview(session: Session, mailing: Mailing, limit: int = 3) -> list[OutgoingMail]:
    return [compose(session, mailing, row) for row in recipients_of(session, mailing.id)[:limit]]  # type: ignore[arg-type]


# --- the sent message in the feeds ------------------------------------------------------------------


@dataclass
class SentCopy:
    """Where the transport put the copy of a sent message (APPEND to the Sent folder)."""

    folder: str | None = None
    uid: int | None = None
    uidvalidity: int | None = None
    warning: str | None = None  # the message went out but its copy could not be stored


def record_sent(
    session: Session,
    mail: OutgoingMail,
    *,
    author_id: int | None,
    copy: SentCopy | None = None,
    client_ids: Sequence[int] | None = None,
    lead_ids: Sequence[int] | None = None,
) -> MailMessage:
    """Store a sent message (direction out) and its entry in the feed of each client and lead.

    ``client_ids`` / ``lead_ids`` default to the clients with the recipients' addresses, else the
    leads (the sync's rule). The row carries the Message-ID, so the sync of the Sent folder
    recognises the copy and does not store it twice.
    """
    from tscrm.core.services.mail import _address_owners, write_feed

    existing = session.exec(
        select(MailMessage).where(MailMessage.account_id == mail.account_id, MailMessage.message_id == mail.message_id)
    ).first()
    if existing is not None:
        return existing
    row = MailMessage(
        account_id=mail.account_id,
        folder=copy.folder if copy else None,
        uid=copy.uid if copy else None,
        uidvalidity=copy.uidvalidity if copy else None,
        message_id=mail.message_id[:500],
        in_reply_to=mail.in_reply_to[:500] if mail.in_reply_to else None,
        subject=mail.subject,
        sender=mail.from_addr.lower()[:320],
        sender_name=mail.from_name[:300],
        recipients=[a.lower() for a in mail.to],
        sent_at=mail.date,
        direction=MailDirection.OUT,
        body_text=mail.body,
    )
    session.add(row)
    session.flush()
    if client_ids is None and lead_ids is None:
        owners = _address_owners(session, row.recipients)
        client_ids, lead_ids = [], []
        for address in row.recipients:
            clients, leads = owners.get(address, ([], []))
            if clients:
                client_ids += [c for c in clients if c not in client_ids]
            else:
                lead_ids += [lead for lead in leads if lead not in lead_ids]
    write_feed(session, row, client_ids=client_ids or (), lead_ids=lead_ids or (), author_id=author_id)
    session.flush()
    return row


# --- sending --------------------------------------------------------------------------------------


class Transport(Protocol):
    """Sends messages through one account (tscrm.mail.smtp.SmtpTransport); raises MailError."""

    def send(self, mail: OutgoingMail) -> SentCopy | None: ...

    def close(self) -> None: ...


TransportFactory = Callable[[MailAccount, str], Transport]  # (account, password) -> an open transport


@dataclass
class RecipientReport:
    recipient_id: int
    address: str
    status: str  # RecipientStatus value
    error: str | None = None
    message_id: str | None = None
    client_id: int | None = None
    lead_id: int | None = None
    sent_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status == RecipientStatus.SENT


def report(session: Session, mailing_id: int) -> list[RecipientReport]:
    return [
        RecipientReport(r.id, r.address, r.status.value, r.error, r.message_id, r.client_id, r.lead_id, r.sent_at)  # type: ignore[arg-type]
        for r in recipients_of(session, mailing_id)
    ]


def interrupted_note() -> str:
    return _("interrupted while sending: it may have been sent (not sent again)")


def _claim(session: Session, recipient_id: int, message_id: str) -> bool:
    """pending -> sending, only if still pending (one run wins)."""
    result = session.execute(
        update(MailingRecipient)
        .where(col(MailingRecipient.id) == recipient_id, col(MailingRecipient.status) == RecipientStatus.PENDING)
        .values(status=RecipientStatus.SENDING, message_id=message_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def send_mailing(
    db: Database,
    actor: Actor,
    mailing_id: int,
    open_transport: TransportFactory,
    *,
    progress: Callable[[RecipientReport], None] | None = None,
    retry_failed: bool = False,
) -> list[RecipientReport]:
    """Send every pending recipient of the mailing (see the module's notes) and return the report.

    ``retry_failed`` first puts the failed recipients back to pending (their server refused them:
    nothing went out), e.g. after fixing the account's password.
    """
    from tscrm.core.services.mail_accounts import account_password

    with db.write() as session:
        mailing = get_mailing(session, actor, mailing_id)
        if retry_failed:
            session.execute(
                update(MailingRecipient)
                .where(col(MailingRecipient.mailing_id) == mailing_id, col(MailingRecipient.status) == RecipientStatus.FAILED)
                .values(status=RecipientStatus.PENDING, error=None, message_id=None)
            )
        account = session.get(MailAccount, mailing.account_id) if mailing.account_id is not None else None
        if account is None:
            raise NotFound(_("mailing {id}: its mail account was removed").format(id=mailing_id))
        pending = [r.id for r in recipients_of(session, mailing_id) if r.status == RecipientStatus.PENDING]
        password = account_password(session, account) if pending else ""
        if pending:
            mailing.status = MailingStatus.SENDING
    transport = open_transport(account, password) if pending else None
    try:
        for recipient_id in pending:
            with db.write() as session:
                mailing = session.get(Mailing, mailing_id)
                row = session.get(MailingRecipient, recipient_id)
                if mailing is None or row is None:
                    continue
                mail = compose(session, mailing, row, account=account, message_id=new_message_id(account.email))
                if not _claim(session, recipient_id, mail.message_id):
                    continue
            error: str | None = None
            copy: SentCopy | None = None
            try:
                copy = transport.send(mail)  # type: ignore[union-attr]
            except TscrmError as exc:
                error = str(exc)
            with db.write() as session:
                row = session.get(MailingRecipient, recipient_id)
                assert row is not None
                if error is None:
                    row.status, row.sent_at = RecipientStatus.SENT, mail.date
                    row.error = copy.warning if copy else None
                    client_ids = [row.client_id] if row.client_id is not None else []
                    lead_ids = [row.lead_id] if row.lead_id is not None else []
                    if client_ids or lead_ids:
                        record_sent(session, mail, author_id=actor.id, copy=copy, client_ids=client_ids, lead_ids=lead_ids)
                    else:
                        record_sent(session, mail, author_id=actor.id, copy=copy)
                else:
                    row.status, row.error = RecipientStatus.FAILED, error[:2000]
                entry = RecipientReport(row.id, row.address, row.status.value, row.error, row.message_id, row.client_id, row.lead_id, row.sent_at)  # type: ignore[arg-type]
            if progress is not None:
                progress(entry)
    finally:
        if transport is not None:
            transport.close()
        with db.write() as session:
            mailing = session.get(Mailing, mailing_id)
            if mailing is not None:
                left = session.exec(
                    select(MailingRecipient.id).where(
                        MailingRecipient.mailing_id == mailing_id, MailingRecipient.status == RecipientStatus.PENDING
                    )
                ).first()
                mailing.status = MailingStatus.SENDING if left is not None else MailingStatus.DONE
    with db.read() as session:
        return report(session, mailing_id)


def send_one(
    db: Database,
    actor: Actor,
    open_transport: TransportFactory,
    *,
    to: str | None = None,
    client_id: int | None = None,
    lead_id: int | None = None,
    subject: str,
    body: str,
    signature: int | str | None = None,
    account_id: int | None = None,
    in_reply_to: str | None = None,
) -> RecipientReport:
    """One message (compose, reply): a mailing of one. ``to`` overrides the record's first address."""
    with db.write() as session:
        if to:
            address = normalise_email(to, "to")
            audience = Audience(addresses=[address])
            plan = create_mailing(
                session, actor, audience, subject=subject, body=body, signature=signature, account_id=account_id, in_reply_to=in_reply_to
            )
            row = plan.recipients[0]
            if row.client_id is None and row.lead_id is None and (client_id or lead_id):  # the card it was written from
                row.client_id, row.lead_id = _visible_link(session, actor, client_id, lead_id)
        else:
            audience = Audience(client_ids=[client_id] if client_id else [], lead_ids=[lead_id] if lead_id else [])
            plan = create_mailing(
                session, actor, audience, subject=subject, body=body, signature=signature, account_id=account_id, in_reply_to=in_reply_to
            )
        mailing_id = plan.mailing.id
    result = send_mailing(db, actor, mailing_id, open_transport)  # type: ignore[arg-type]
    return result[0]


def _visible_link(session: Session, actor: Actor, client_id: int | None, lead_id: int | None) -> tuple[int | None, int | None]:
    from tscrm.core.services import clients as clients_service
    from tscrm.core.services import leads as leads_service

    if client_id:
        clients_service.get_client(session, actor, client_id)
        return client_id, None
    if lead_id:
        leads_service.get_lead(session, actor, lead_id)
        return None, lead_id
    return None, None


def reply_draft(session: Session, actor: Actor, mail_message_id: int) -> dict[str, str]:
    """To, subject ("Re: …"), quoted body and In-Reply-To for answering a stored message."""
    msg = session.get(MailMessage, mail_message_id)
    if msg is None:
        raise NotFound(_("No mail message with id {id}").format(id=mail_message_id))
    to = msg.sender if msg.direction == MailDirection.IN else (msg.recipients[0] if msg.recipients else "")
    subject = msg.subject or ""
    if not subject.lower().startswith("re:"):
        subject = "Re: " + subject
    when = msg.sent_at.strftime("%Y-%m-%d %H:%M") if msg.sent_at else ""
    quoted = "\n".join("> " + line for line in (msg.body_text or "").strip().splitlines())
    intro = _("On {date}, {who} wrote:").format(date=when, who=msg.sender_name or msg.sender)
    # literal braces in the quoted text must not be read as template fields
    body = "\n\n" + (intro + "\n" + quoted).replace("{", "{{").replace("}", "}}") + "\n"
    return {"to": to, "subject": subject.replace("{", "{{").replace("}", "}}"), "body": body, "in_reply_to": msg.message_id, "account_id": str(msg.account_id)}


# --- task reminders ---------------------------------------------------------------------------------


DEFAULT_REMINDER_LEAD = timedelta(minutes=15)


def due_reminders(session: Session, now: datetime, before: timedelta) -> list[Task]:
    """Open tasks due within ``before`` from ``now`` (not already past), with an assignee, never reminded."""
    reminded = select(TaskReminder.task_id)
    query = (
        select(Task)
        .where(
            col(Task.completed_at).is_(None),
            col(Task.assignee_id).is_not(None),
            col(Task.due_at) > now,
            col(Task.due_at) <= now + before,
            col(Task.id).not_in(reminded),
        )
        .order_by(col(Task.due_at), col(Task.id))
    )
    return list(session.exec(query))


def claim_reminder(session: Session, task_id: int) -> bool:
    """Insert the task's reminder row (before sending); False if another run has it already."""
    try:
        with session.begin_nested():
            session.add(TaskReminder(task_id=task_id))
            session.flush()
    except IntegrityError:
        return False
    return True


def reminder_mail(session: Session, task: Task, account: MailAccount, now: datetime) -> OutgoingMail | None:
    """The reminder for the task's assignee, in their language and time zone (None: no address)."""
    from zoneinfo import ZoneInfo

    from tscrm.i18n import current_language, set_language

    user = session.get(User, task.assignee_id) if task.assignee_id is not None else None
    if user is None or not user.email or not user.is_active:
        return None
    previous = current_language()
    set_language(user.language)
    try:
        due = task.due_at.astimezone(ZoneInfo(user.timezone)) if task.due_at else None  # type: ignore[union-attr]
        minutes = max(1, round((task.due_at - now).total_seconds() / 60)) if task.due_at else 0  # type: ignore[operator]
        lines = [
            _("Reminder: {title}").format(title=task.title),
            _("Due at {time} ({zone}), in {minutes} min.").format(time=due.strftime("%Y-%m-%d %H:%M") if due else "", zone=user.timezone, minutes=minutes),
        ]
        if task.description:
            lines += ["", task.description]
        for label, model, ref in ((_("Client"), Client, task.client_id), (_("Lead"), Lead, task.lead_id)):
            record = session.get(model, ref) if ref is not None else None
            if record is not None:
                lines.append(f"{label}: {record.name}")
        if task.meeting_url:
            lines.append(_("Meeting: {url}").format(url=task.meeting_url))
        subject = _("Reminder: {title} at {time}").format(title=task.title, time=due.strftime("%H:%M") if due else "")
    finally:
        set_language(previous)
    return OutgoingMail(
        account_id=account.id,  # type: ignore[arg-type]
        from_addr=account.email,
        from_name=account.name,
        to=[user.email],
        subject=one_line(subject),
        body="\n".join(lines) + "\n",
        message_id=new_message_id(account.email),
        date=utcnow(),
    )


@dataclass
class ReminderRun:
    sent: list[tuple[int, str]] = field(default_factory=list)  # (task id, address)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (task id, reason): retried next run
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (task id, reason)
    unconfirmed: list[int] = field(default_factory=list)  # task ids: claimed by a run that never confirmed


def unconfirmed_reminders(session: Session, older_than: datetime) -> list[int]:
    rows = session.exec(
        select(TaskReminder.task_id).where(col(TaskReminder.sent_at).is_(None), col(TaskReminder.created_at) < older_than)
    )
    return sorted(rows)


def send_reminders(
    db: Database,
    now: datetime,
    before: timedelta,
    open_transport: TransportFactory,
    *,
    account_id: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReminderRun:
    """Email each assignee whose task is due within ``before``, once per task (see the module's notes)."""
    from tscrm.core.services.mail_accounts import account_password

    if before <= timedelta(0):
        raise ValidationError(_("before: must be a positive duration"), "before")
    run = ReminderRun()
    with db.read() as session:
        run.unconfirmed = unconfirmed_reminders(session, now - timedelta(minutes=5))
        tasks = [t.id for t in due_reminders(session, now, before)]
        if not tasks:
            return run
        account = reminder_account(session, account_id)
        password = account_password(session, account)
    transport: Transport | None = None
    try:
        for task_id in tasks:
            with db.write() as session:
                task = session.get(Task, task_id)
                mail = reminder_mail(session, task, account, now) if task is not None else None
                if mail is None:
                    run.skipped.append((task_id, _("the assignee has no active account with an address")))  # type: ignore[arg-type]
                    continue
                if not claim_reminder(session, task_id):  # type: ignore[arg-type]
                    continue
            try:
                if transport is None:
                    transport = open_transport(account, password)
                transport.send(mail)
            except TscrmError as exc:
                with db.write() as session:  # nothing went out: let the next run try again
                    session.execute(TaskReminder.__table__.delete().where(TaskReminder.__table__.c.task_id == task_id))  # type: ignore[attr-defined]
                run.failed.append((task_id, str(exc)))  # type: ignore[arg-type]
                continue
            with db.write() as session:
                session.execute(
                    update(TaskReminder).where(col(TaskReminder.task_id) == task_id).values(sent_at=utcnow())
                )
            run.sent.append((task_id, mail.to[0]))  # type: ignore[arg-type]
            if progress is not None:
                progress(task_id)  # type: ignore[arg-type]
    finally:
        if transport is not None:
            transport.close()
    return run


def parse_duration(text: str, field: str = "before") -> timedelta:
    """"15m", "2h", "1d", "90s", "1h30m" -> timedelta."""
    import re

    raw = (text or "").strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+)([dhms])", raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise ValidationError(_("{field}: {value!r} is not a duration like 15m, 2h or 1d").format(field=field, value=text), field)
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(int(n) * units[u] for n, u in parts))
