"""SMS: one message or a bulk send, templates, parts counting, delivery reports, the feed.

Sending goes through an SMS backend (``tscrm.telephony.base.SmsBackend``: ``send(numbers, text,
sender) -> [SmsResult]``), passed in by the caller: core does not know which service it is.

Every message is a row of ``sms_message`` written *before* it is handed to the backend
(``queued`` → ``sending`` → ``sent`` / ``failed``), so a crash leaves ``sending`` rows that say "maybe
sent" instead of messages sent twice; the scheduler reports those as ``uncertain`` (see
tscrm.core.services.scheduler).
"""

from __future__ import annotations

import math
import string
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from tscrm.core.errors import Conflict, InvalidPhone, NotFound, TelephonyError, ValidationError
from tscrm.core.models import ActivityKind, Client, Lead, Phone, PhoneKind, User
from tscrm.core.models_dialer import DoNotCall, SmsMessage, SmsStatus, SmsTemplate
from tscrm.core.permissions import Actor, Right
from tscrm.core.phones import format_phone, parse_phone
from tscrm.core.services import activity, calls, clients, contacts, leads
from tscrm.core.services.company import get_company
from tscrm.core.timeutil import require_aware
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _

# --- parts: GSM 03.38 or UCS-2 ------------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # each takes two septets (escape + char)


@dataclass(frozen=True)
class SmsParts:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int

    @property
    def per_part(self) -> int:
        if self.encoding == "GSM-7":
            return 160 if self.parts <= 1 else 153
        return 70 if self.parts <= 1 else 67


def sms_parts(text: str) -> SmsParts:
    """How many SMS a text takes: GSM-7 fits 160 characters in one part and 153 per part when split
    (the rest is the concatenation header); any other character makes it UCS-2: 70, then 67."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return SmsParts("GSM-7", units, 1 if units <= 160 else math.ceil(units / 153))
    units = len(text.encode("utf-16-le")) // 2
    return SmsParts("UCS-2", units, 1 if units <= 70 else math.ceil(units / 67))


# --- templates ------------------------------------------------------------------------------------

TEMPLATE_FIELDS: dict[str, str] = {
    "name": N_("the recipient's full name"),
    "first_name": N_("the recipient's first name"),
    "last_name": N_("the recipient's last name"),
    "company": N_("the recipient's company"),
    "position": N_("the recipient's position"),
    "phone": N_("the number the SMS goes to"),
    "owner": N_("the name of the recipient's responsible agent"),
    "agent": N_("the name of the user sending"),
    "our_company": N_("our company's name"),
}


def template_fields(text: str) -> list[str]:
    """The fields a template uses; an unknown one (or a broken brace) is a ValidationError naming it."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValidationError(_("template: {error} (write {{{{ and }}}} for literal braces)").format(error=exc), "template") from exc
    used: list[str] = []
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            raise ValidationError(
                _("template: unknown field {{{name}}} (known: {known})").format(
                    name=name, known=", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
                ),
                "template",
            )
        if name not in used:
            used.append(name)
    return used


def render(text: str, values: dict[str, str]) -> str:
    template_fields(text)
    return text.format_map({k: values.get(k, "") or "" for k in TEMPLATE_FIELDS})


def _template_text(text: str) -> str:
    value = (text or "").strip()
    if not value:
        raise ValidationError(_("text: an SMS needs a text"), "text")
    template_fields(value)
    return value


def add_template(session: Session, actor: Actor, name: str, text: str) -> SmsTemplate:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("name: a template needs a name"), "name")
    if len(name) > 100:
        raise ValidationError(_("name: at most 100 characters"), "name")
    body = _template_text(text)
    if session.exec(select(SmsTemplate.id).where(SmsTemplate.name == name)).first() is not None:
        raise Conflict(_("An SMS template named {name!r} already exists").format(name=name))
    template = SmsTemplate(name=name, text=body)
    session.add(template)
    session.flush()
    return template


def list_templates(session: Session) -> list[SmsTemplate]:
    return list(session.exec(select(SmsTemplate).order_by(col(SmsTemplate.name))))


def get_template(session: Session, name_or_id: str | int) -> SmsTemplate:
    template = None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        template = session.get(SmsTemplate, int(name_or_id))
    if template is None:
        template = session.exec(select(SmsTemplate).where(SmsTemplate.name == str(name_or_id).strip())).first()
    if template is None:
        raise NotFound(_("No SMS template {name!r}").format(name=str(name_or_id)))
    return template


def remove_template(session: Session, actor: Actor, name_or_id: str | int) -> None:
    session.delete(get_template(session, name_or_id))
    session.flush()


# --- recipients -------------------------------------------------------------------------------------


@dataclass
class Recipient:
    number: str  # E.164
    name: str = ""
    client_id: int | None = None
    lead_id: int | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class Selection:
    recipients: list[Recipient]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (who, why)
    bad_lines: list[Any] = field(default_factory=list)  # dialer.BadLine of pasted numbers


def _split_name(name: str) -> tuple[str, str]:
    first, _sep, rest = (name or "").strip().partition(" ")
    return first, rest.strip()


def _best_phones(session: Session, owner: str, ids: list[int]) -> dict[int, str]:
    """Each record's number for SMS: its first mobile phone, else its first phone."""
    column = col(Phone.client_id) if owner == "client" else col(Phone.lead_id)
    best: dict[int, tuple[int, int, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for owner_id, kind, position, e164 in session.exec(select(column, Phone.kind, Phone.position, Phone.e164).where(column.in_(chunk))):
            rank = (0 if kind == PhoneKind.MOBILE else 1, position)
            if owner_id not in best or rank < best[owner_id][:2]:
                best[owner_id] = (*rank, e164)
    return {k: v[2] for k, v in best.items()}


def _record_recipients(session: Session, owner: str, ids: list[int], selection: Selection) -> None:
    if not ids:
        return
    model = Client if owner == "client" else Lead
    owners = {u.id: u.name for u in session.exec(select(User))}
    phones = _best_phones(session, owner, ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = {r.id: r for r in session.exec(select(model).where(col(model.id).in_(chunk)))}  # type: ignore[attr-defined]
        for rid in chunk:
            row = rows.get(rid)
            if row is None:
                continue
            number = phones.get(rid)
            if number is None:
                selection.skipped.append((row.name, "no_phone"))
                continue
            first, last = _split_name(row.name)
            selection.recipients.append(
                Recipient(
                    number,
                    row.name,
                    client_id=rid if owner == "client" else None,
                    lead_id=rid if owner == "lead" else None,
                    fields={
                        "name": row.name,
                        "first_name": first,
                        "last_name": last,
                        "company": row.company_name or "",
                        "position": row.position or "",
                        "owner": owners.get(row.owner_id, "") if row.owner_id else "",
                    },
                )
            )


STATUS_LABELS: dict[SmsStatus, str] = {
    SmsStatus.QUEUED: N_("queued"),
    SmsStatus.SENDING: N_("sending"),
    SmsStatus.SENT: N_("sent"),
    SmsStatus.FAILED: N_("failed"),
    SmsStatus.UNCERTAIN: N_("uncertain"),
}

SKIP_LABELS: dict[str, str] = {
    "no_phone": N_("no phone number"),
    "do_not_call": N_("on the do-not-call list"),
    "duplicate": N_("already a recipient"),
}


def select_recipients(
    session: Session,
    actor: Actor,
    *,
    client_ids: Sequence[int] = (),
    lead_ids: Sequence[int] = (),
    tag: str | None = None,
    client_filter: clients.ClientFilter | None = None,
    numbers_text: str | None = None,
) -> Selection:
    """Who a bulk SMS goes to: each client's / lead's mobile (else first) phone, plus pasted numbers.

    Numbers on the do-not-call list are left out (a person who asked not to be called does not
    want marketing texts either), and every number gets one message only.
    """
    from tscrm.core.services import dialer

    selection = Selection([])
    wanted_clients = dialer._visible_client_ids(session, actor, client_ids)
    wanted_leads = dialer._visible_lead_ids(session, actor, lead_ids)
    if tag:
        wanted_clients += dialer._tagged_client_ids(session, actor, tag)
        wanted_leads += dialer._tagged_lead_ids(session, actor, tag)
    if client_filter is not None:
        wanted_clients += clients.matching_ids(session, actor, client_filter)
    _record_recipients(session, "client", list(dict.fromkeys(wanted_clients)), selection)
    _record_recipients(session, "lead", list(dict.fromkeys(wanted_leads)), selection)
    if numbers_text:
        pasted, selection.bad_lines = dialer.parse_number_lines(session, numbers_text)
        dialer._match_known(session, pasted)
        for cand in pasted:
            first, last = _split_name(cand.name or "")
            selection.recipients.append(
                Recipient(
                    cand.number,
                    cand.name or "",
                    cand.client_id,
                    cand.lead_id,
                    {"name": cand.name or "", "first_name": first, "last_name": last},
                )
            )
    flagged = dialer._flagged(session, {r.number for r in selection.recipients})
    seen: set[str] = set()
    kept: list[Recipient] = []
    for rec in selection.recipients:
        if rec.number in flagged:
            selection.skipped.append((rec.name or rec.number, "do_not_call"))
        elif rec.number in seen:
            selection.skipped.append((rec.name or rec.number, "duplicate"))
        else:
            seen.add(rec.number)
            kept.append(rec)
    selection.recipients = kept
    return selection


def recipient_for_number(session: Session, actor: Actor, number: str) -> Recipient:
    """A number typed by hand: the client (else open lead) it belongs to, when known."""
    e164 = parse_phone(number, get_company(session).default_region, field="number").e164
    selection = select_recipients(session, actor, numbers_text=e164)
    if not selection.recipients:
        return Recipient(e164)
    return selection.recipients[0]


# --- preview ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewRow:
    recipient: Recipient
    text: str
    parts: SmsParts


def _values(session: Session, actor: Actor, rec: Recipient, region: str | None) -> dict[str, str]:
    return {
        **rec.fields,
        "phone": format_phone(rec.number, region),
        "agent": actor.name,
        "our_company": get_company(session).name,
    }


def preview(session: Session, actor: Actor, recipients: Sequence[Recipient], text: str, limit: int = 3) -> list[PreviewRow]:
    """The first messages as they will be sent, with their parts."""
    body = _template_text(text)
    region = get_company(session).default_region
    rows = []
    for rec in recipients[:limit]:
        rendered = render(body, _values(session, actor, rec, region))
        rows.append(PreviewRow(rec, rendered, sms_parts(rendered)))
    return rows


# --- sending ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    message_id: int
    number: str
    name: str
    status: SmsStatus
    error: str
    parts: int
    cost: Decimal | None
    currency: str | None


@dataclass
class DeliveryReport:
    batch_id: str
    rows: list[DeliveryRow] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(1 for r in self.rows if r.status == SmsStatus.SENT)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r.status != SmsStatus.SENT)

    def cost_by_currency(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for r in self.rows:
            if r.cost is not None:
                key = r.currency or ""
                totals[key] = totals.get(key, Decimal(0)) + r.cost
        return totals


ProgressCallback = Callable[[int, int, DeliveryRow], None]
# After this many backend errors in a row (not per-number refusals) the rest of a batch is not tried.
MAX_BACKEND_ERRORS = 3


class _Pacer:
    """At most ``rate`` sends per second, using the injected clock and sleep."""

    def __init__(self, rate: float, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.sleep = sleep
        self.clock = clock
        self.last: float | None = None

    def wait(self) -> None:
        if self.last is not None and self.interval:
            pause = self.last + self.interval - self.clock()
            if pause > 0:
                self.sleep(pause)
        self.last = self.clock()


def _auto_lead(session: Session, actor: Actor, rec: Recipient) -> None:
    if rec.client_id is not None or rec.lead_id is not None:
        return
    lead = leads.create_lead(
        session, actor, contacts.ContactInput(name=rec.name or rec.number, phones=[contacts.PhoneInput(rec.number)], source="sms")
    )
    rec.lead_id = lead.id


def queue(
    session: Session,
    actor: Actor,
    recipients: Sequence[Recipient],
    text: str,
    *,
    batch_id: str | None = None,
    auto_lead: bool = False,
    task_id: int | None = None,
) -> list[SmsMessage]:
    """Write the messages (rendered) as ``queued`` rows; nothing is sent yet."""
    body = _template_text(text)
    if len(recipients) > 1:
        actor.require(Right.BULK_MESSAGING)
    region = get_company(session).default_region
    out = []
    for rec in recipients:
        if auto_lead:
            _auto_lead(session, actor, rec)
        rendered = render(body, _values(session, actor, rec, region))
        message = SmsMessage(
            number=rec.number,
            client_id=rec.client_id,
            lead_id=rec.lead_id,
            author_id=actor.id or None,
            text=rendered,
            parts=sms_parts(rendered).parts,
            batch_id=batch_id,
            task_id=task_id,
        )
        session.add(message)
        out.append(message)
    session.flush()
    return out


def deliver(
    db: Any,
    message_id: int,
    backend: Any,
    *,
    sender: str | None = None,
    retries: int = 3,
    backoff_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> SmsMessage:
    return _deliver(db, message_id, backend, sender=sender, retries=retries, backoff_s=backoff_s, sleep=sleep)[0]


def _deliver(
    db: Any,
    message_id: int,
    backend: Any,
    *,
    sender: str | None,
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None],
) -> tuple[SmsMessage, bool]:
    """Hand one queued message to the backend and record the answer (each step committed).

    Transient refusals (``SmsResult.transient``: rate limit, timeout, 5xx) are retried ``retries``
    times with a doubling pause; a ``TelephonyError`` from the backend fails the message with its text.
    """
    with db.write() as session:
        message = session.get(SmsMessage, message_id)
        if message is None:
            raise NotFound(_("No SMS with id {id}").format(id=message_id))
        if message.status != SmsStatus.QUEUED:
            raise Conflict(_("SMS {id} is {status}, not queued").format(id=message_id, status=message.status.value))
        message.status = SmsStatus.SENDING
        number, text = message.number, message.text
    result = None
    error = ""
    attempts = 0
    unknown = False  # the backend broke in a way that does not say whether the SMS went out
    for attempt in range(retries + 1):
        attempts += 1
        try:
            result = backend.send([number], text, sender)[0]
        except TelephonyError as exc:
            result, error = None, str(exc)
            break
        except Exception as exc:  # noqa: BLE001 - recorded on the message, not lost with a traceback
            result, error, unknown = None, f"{type(exc).__name__}: {exc}", True
            break
        if result.ok or not result.transient or attempt == retries:
            break
        sleep(backoff_s * (2**attempt))
    with db.write() as session:
        message = session.get(SmsMessage, message_id)
        assert message is not None
        message.attempts += attempts
        if result is not None and result.ok:
            message.status = SmsStatus.SENT
            message.sent_at = utcnow()
            message.cost = result.cost
            message.currency = result.currency
            message.parts = result.parts or message.parts
        else:
            message.status = SmsStatus.UNCERTAIN if unknown else SmsStatus.FAILED
            message.error = ((result.error if result is not None else error) or _("refused"))[:500]
        _feed(session, message)
        session.flush()
        service_trouble = result is None or (not result.ok and result.transient)
        return message, service_trouble


def _feed(session: Session, message: SmsMessage) -> None:
    if message.client_id is None and message.lead_id is None:
        return
    tail = f"\n{message.text}"
    if message.status == SmsStatus.SENT:
        text = Phrase(N_("SMS sent"), tail=tail)
    elif message.status == SmsStatus.UNCERTAIN:
        text = Phrase(N_("SMS maybe not sent: {error}"), {"error": message.error or ""}, tail=tail)
    else:
        text = Phrase(N_("SMS not sent: {error}"), {"error": message.error or ""}, tail=tail)
    activity.record(
        session,
        ActivityKind.SMS,
        author_id=message.author_id,
        client_id=message.client_id,
        lead_id=message.lead_id,
        text=text,
        data={
            "sms_id": message.id,
            "number": message.number,
            "status": message.status.value,
            "parts": message.parts,
            "cost": str(message.cost) if message.cost is not None else None,
            "currency": message.currency,
            "task_id": message.task_id,
            "batch_id": message.batch_id,
        },
    )


def _row(message: SmsMessage, name: str) -> DeliveryRow:
    return DeliveryRow(
        message.id,  # type: ignore[arg-type]
        message.number,
        name,
        message.status,
        message.error or "",
        message.parts,
        message.cost,
        message.currency,
    )


def send_bulk(
    db: Any,
    actor: Actor,
    recipients: Sequence[Recipient],
    text: str,
    backend: Any,
    *,
    sender: str | None = None,
    rate_per_s: float = 5.0,
    retries: int = 3,
    backoff_s: float = 1.0,
    auto_lead: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    progress: ProgressCallback | None = None,
    skipped: Sequence[tuple[str, str]] = (),
) -> DeliveryReport:
    """Send ``text`` (a template) to every recipient at most ``rate_per_s`` a second; the report has
    one row per recipient: sent (with parts and cost when the service gives it) or failed (with why)."""
    batch_id = uuid.uuid4().hex
    with db.write() as session:
        messages = queue(session, actor, recipients, text, batch_id=batch_id, auto_lead=auto_lead)
        ids = [m.id for m in messages]
    report = DeliveryReport(batch_id, skipped=list(skipped))
    pacer = _Pacer(rate_per_s, sleep, clock)
    backend_errors = 0
    for index, (message_id, rec) in enumerate(zip(ids, recipients, strict=True), start=1):
        if backend_errors >= MAX_BACKEND_ERRORS:
            with db.write() as session:
                message = session.get(SmsMessage, message_id)
                message.status = SmsStatus.FAILED  # type: ignore[union-attr]
                message.error = _("not tried: the SMS service failed {n} times in a row").format(n=MAX_BACKEND_ERRORS)  # type: ignore[union-attr]
                _feed(session, message)  # type: ignore[arg-type]
        else:
            pacer.wait()
            message, trouble = _deliver(db, message_id, backend, sender=sender, retries=retries, backoff_s=backoff_s, sleep=sleep)
            backend_errors = backend_errors + 1 if trouble else 0
        row = _row(message, rec.name)  # type: ignore[arg-type]
        report.rows.append(row)
        if progress is not None:
            progress(index, len(ids), row)
    return report


def send_one(
    db: Any,
    actor: Actor,
    text: str,
    backend: Any,
    *,
    number: str | None = None,
    client_id: int | None = None,
    lead_id: int | None = None,
    auto_lead: bool = False,
    sender: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryRow:
    """One SMS to a number, or to a client's / lead's mobile (else first) phone."""
    with db.read() as session:
        if number:
            rec = recipient_for_number(session, actor, number)
        else:
            selection = select_recipients(
                session, actor, client_ids=[client_id] if client_id else [], lead_ids=[lead_id] if lead_id else []
            )
            if not selection.recipients:
                reason = selection.skipped[0][1] if selection.skipped else "no_phone"
                raise ValidationError(_("Cannot send an SMS: {reason}").format(reason=_(SKIP_LABELS.get(reason, reason))), "number")
            rec = selection.recipients[0]
    report = send_bulk(db, actor, [rec], text, backend, sender=sender, retries=3, auto_lead=auto_lead, sleep=sleep)
    return report.rows[0]


def batch_messages(session: Session, batch_id: str) -> list[SmsMessage]:
    return list(session.exec(select(SmsMessage).where(SmsMessage.batch_id == batch_id).order_by(col(SmsMessage.id))))


def is_flagged(session: Session, number: str) -> bool:
    return session.exec(select(DoNotCall.id).where(DoNotCall.number == number)).first() is not None


# --- incoming SMS (the PBX's SMS webhook) ------------------------------------------------------------


@dataclass(frozen=True)
class IncomingSms:
    """Where an incoming SMS landed: the feed entry (None when nobody matches and no lead is made)."""

    number: str
    client_id: int | None
    lead_id: int | None
    lead_created: bool
    activity_id: int | None


def record_incoming(session: Session, number: str, text: str, did: str | None = None, at: Any = None) -> IncomingSms:
    """An SMS from ``number`` to our number ``did``: an SMS entry in the sender's feed (the matching
    client, else open lead). An unknown sender becomes a lead (in the pool, source from the DID as for
    calls) when the company creates leads for incoming calls. No ``sms_message`` row: that table holds
    the messages we send. ``at`` (aware) is when it arrived; default now."""
    from tscrm.core.services import telephony  # telephony's helpers for DIDs and automatic leads

    body = (text or "").strip()
    region = get_company(session).default_region
    sender, is_e164 = calls.normalise_number(number, region)
    moment = require_aware(at, "at") if at is not None else utcnow()
    client_id, lead_id = calls._match(session, sender, None) if is_e164 else (None, None)
    our = None
    if did and did.strip():
        try:
            our = parse_phone(did, region, field="did", require_valid=False).e164
        except InvalidPhone:
            our = did.strip()[:32]
    created = False
    if client_id is None and lead_id is None and is_e164 and telephony.company_settings(session).auto_lead_incoming:
        contact = contacts.ContactInput(
            name=format_phone(sender, region),
            phones=[contacts.PhoneInput(sender)],
            source=telephony.source_for_did(session, our),
        )
        lead_id = leads.create_lead(session, telephony._system_actor(), contact, to_pool=True).id
        created = True
    if client_id is None and lead_id is None:
        return IncomingSms(sender, None, None, False, None)
    entry = activity.record(
        session,
        ActivityKind.SMS,
        author_id=None,
        client_id=client_id,
        lead_id=lead_id,
        text=Phrase(N_("SMS received"), tail=f"\n{body}"),
        data={"direction": "inbound", "number": sender, "did": our, "parts": sms_parts(body).parts},
    )
    entry.created_at = moment
    session.flush()
    return IncomingSms(sender, client_id, lead_id, created, entry.id)
