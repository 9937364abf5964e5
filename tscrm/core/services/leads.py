"""Leads and the shared pool ("Unsorted").

Claiming is one conditional UPDATE (``... WHERE owner_id IS NULL``): the database decides the race,
so exactly one agent wins on SQLite (write transactions are serialised) and on PostgreSQL (the row
lock makes the second UPDATE re-check the condition and match nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, tuple_, update
from sqlmodel import Session, col, select

from tscrm.core import search
from tscrm.core.errors import Conflict, LeadAlreadyClaimed, NotFound, ValidationError
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Client,
    Email,
    Lead,
    LeadStatus,
    Phone,
    User,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity, contacts
from tscrm.core.services.company import get_company
from tscrm.core.services.contacts import ContactInput
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _
from tscrm.labels import LEAD_STATUSES

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
OPEN_STATUSES = (LeadStatus.UNPROCESSED, LeadStatus.IN_PROGRESS)


def create_lead(
    session: Session,
    actor: Actor,
    data: ContactInput,
    *,
    to_pool: bool = False,
    utm: dict[str, str] | None = None,
    external_ref: str | None = None,
) -> Lead:
    """Add a lead: "in my leads" (the actor owns it) or "to the pool" (no owner, unprocessed)."""
    checked = contacts.check_contact(session, "lead", data, get_company(session).default_region)
    utm = utm or {}
    unknown = set(utm) - set(UTM_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown UTM field: {field}").format(field=", ".join(sorted(unknown))), sorted(unknown)[0])
    now = utcnow()
    lead = Lead(
        **checked.fields,
        status=LeadStatus.UNPROCESSED if to_pool else LeadStatus.IN_PROGRESS,
        owner_id=None if to_pool else actor.id,
        claimed_at=None if to_pool else now,
        created_by_id=actor.id,
        external_ref=external_ref,
        created_at=now,
        updated_at=now,
        **{k: (v or None) for k, v in utm.items()},
    )
    session.add(lead)
    session.flush()
    contacts.write_details(session, "lead", lead.id, checked.phones, checked.emails, checked.tags)  # type: ignore[arg-type]
    text = Phrase(N_("Lead added to the pool") if to_pool else N_("Lead created"))
    activity.record(session, ActivityKind.CREATED, author_id=actor.id, lead_id=lead.id, text=text)
    search.index_lead(session, lead)
    return lead


def get_lead(session: Session, actor: Actor, lead_id: int) -> Lead:
    lead = session.get(Lead, lead_id)
    if lead is None or not actor.can_see(lead.owner_id):
        raise NotFound(_("No lead with id {id}").format(id=lead_id))
    return lead


def _owner_name(session: Session, user_id: int | None) -> str:
    user = session.get(User, user_id) if user_id is not None else None
    return user.name if user else "?"


def claim_lead(session: Session, actor: Actor, lead_id: int) -> Lead:
    """Assign a pool lead to the actor. Exactly one of many simultaneous claimers wins."""
    now = utcnow()
    result = session.execute(
        update(Lead)
        .where(col(Lead.id) == lead_id, col(Lead.owner_id).is_(None), col(Lead.status).in_([s.value for s in OPEN_STATUSES]))
        .values(owner_id=actor.id, claimed_at=now, updated_at=now, status=LeadStatus.IN_PROGRESS.value)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        row = session.execute(select(Lead.owner_id, Lead.status).where(Lead.id == lead_id)).first()
        if row is None:
            raise NotFound(_("No lead with id {id}").format(id=lead_id))
        owner_id, status = row
        if owner_id == actor.id:
            return session.get(Lead, lead_id)  # type: ignore[return-value]
        if owner_id is None:
            raise Conflict(_("Lead {id} is closed ({status}) and cannot be claimed").format(id=lead_id, status=_(status)))
        name = _owner_name(session, owner_id)
        raise LeadAlreadyClaimed(
            _("Lead {id} was already claimed by {owner}").format(id=lead_id, owner=name), lead_id, name
        )
    activity.record(session, ActivityKind.CLAIMED, author_id=actor.id, lead_id=lead_id, text=Phrase(N_("Claimed by {user}"), {"user": actor.name}))
    lead = session.get(Lead, lead_id)
    session.refresh(lead)  # type: ignore[arg-type]
    search.index_lead(session, lead)  # type: ignore[arg-type]
    return lead  # type: ignore[return-value]


def claim_next(session: Session, actor: Actor) -> Lead | None:
    """Take the oldest unprocessed lead of the pool. None when the pool is empty."""
    for _attempt in range(20):
        query = (
            select(Lead.id)
            .where(col(Lead.owner_id).is_(None), Lead.status == LeadStatus.UNPROCESSED)
            .order_by(col(Lead.created_at), col(Lead.id))
            .limit(1)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        lead_id = session.exec(query).first()
        if lead_id is None:
            return None
        try:
            with session.begin_nested():
                return claim_lead(session, actor, lead_id)
        except LeadAlreadyClaimed:
            continue  # somebody was faster; take the next one
    return None


def release_lead(session: Session, actor: Actor, lead_id: int) -> Lead:
    """Give an open lead back to the pool."""
    lead = get_lead(session, actor, lead_id)
    actor.require_edit(lead.owner_id, _("lead {name}").format(name=lead.name))
    if lead.status not in OPEN_STATUSES:
        raise Conflict(_("Lead {id} is closed").format(id=lead_id))
    lead.owner_id = None
    lead.status = LeadStatus.UNPROCESSED
    lead.updated_at = utcnow()
    activity.record(session, ActivityKind.OWNER_CHANGED, author_id=actor.id, lead_id=lead_id, text=Phrase(N_("Returned to the pool")))
    search.index_lead(session, lead)
    return lead


def set_status(session: Session, actor: Actor, lead_id: int, status: LeadStatus) -> Lead:
    """Move between unprocessed and in progress. Closing goes through ``close_as_client`` / ``close_as_bad``."""
    lead = get_lead(session, actor, lead_id)
    actor.require_edit(lead.owner_id, _("lead {name}").format(name=lead.name))
    status = LeadStatus(status)
    if status not in OPEN_STATUSES:
        raise ValidationError(_("status: close a lead as a client or as bad quality instead"), "status")
    if lead.status not in OPEN_STATUSES:
        raise Conflict(_("Lead {id} is closed").format(id=lead_id))
    if lead.status != status:
        old = lead.status
        lead.status = status
        lead.updated_at = utcnow()
        activity.record(
            session,
            ActivityKind.STATUS_CHANGED,
            author_id=actor.id,
            lead_id=lead_id,
            text=Phrase(N_("Status: {old} → {new}"), {"old": LEAD_STATUSES[old.value], "new": LEAD_STATUSES[status.value]}, ("old", "new")),
            data={"from": old.value, "to": status.value},
        )
    return lead


def update_lead(session: Session, actor: Actor, lead_id: int, **changes: Any) -> Lead:
    lead = get_lead(session, actor, lead_id)
    actor.require_edit(lead.owner_id, _("lead {name}").format(name=lead.name))
    allowed = {"name", "company_name", "position", "address", "phones", "emails", "tags", "source", "custom", *UTM_FIELDS}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(_("Unknown lead field: {field}").format(field=", ".join(sorted(unknown))), sorted(unknown)[0])
    changed: list[str] = []
    for key in ("name", "company_name", "position", "address", *UTM_FIELDS):
        if key in changes:
            value = contacts.validate_name(changes[key]) if key == "name" else ((changes[key] or "").strip() or None)
            if getattr(lead, key) != value:
                setattr(lead, key, value)
                changed.append(key)
    if "phones" in changes:
        region = get_company(session).default_region
        contacts.set_phones(session, "lead", lead_id, contacts.parse_phones(contacts.as_phone_inputs(changes["phones"]), region))
        changed.append("phones")
    if "emails" in changes:
        contacts.set_emails(session, "lead", lead_id, contacts.parse_emails(changes["emails"]))
        changed.append("emails")
    if "tags" in changes:
        contacts.set_tags(session, "lead", lead_id, changes["tags"])
        changed.append("tags")
    if "source" in changes:
        lead.source_id = contacts.source_id(session, changes["source"])
        changed.append("source")
    if "custom" in changes:
        merged = {**lead.custom, **contacts.validate_custom(session, "lead", changes["custom"])}
        lead.custom = {k: v for k, v in merged.items() if v not in (None, "")}
        changed.append("custom")
    if changed:
        lead.updated_at = utcnow()
        activity.record(session, ActivityKind.EDITED, author_id=actor.id, lead_id=lead_id, text=Phrase(N_("Lead edited")), data={"fields": changed})
    search.index_lead(session, lead)
    return lead


def _require_closable(session: Session, actor: Actor, lead_id: int) -> Lead:
    lead = get_lead(session, actor, lead_id)
    actor.require_edit(lead.owner_id, _("lead {name}").format(name=lead.name))
    if lead.status not in OPEN_STATUSES:
        raise Conflict(_("Lead {id} is already closed ({status})").format(id=lead_id, status=_(lead.status.value)))
    return lead


def close_as_client(session: Session, actor: Actor, lead_id: int) -> Client:
    """Finish a lead by turning it into a client: phones, emails, tags, source and the whole feed move over."""
    lead = _require_closable(session, actor, lead_id)
    now = utcnow()
    client_custom_keys = {f.key for f in contacts.custom_fields(session, "client")}
    client = Client(
        name=lead.name,
        company_name=lead.company_name,
        position=lead.position,
        address=lead.address,
        owner_id=lead.owner_id or actor.id,
        source_id=lead.source_id,
        created_by_id=actor.id,
        custom={k: v for k, v in lead.custom.items() if k in client_custom_keys},
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    view = contacts.view(session, "lead", lead_id)
    contacts.write_details(session, "client", client.id, view.phones, view.emails, view.tags)  # type: ignore[arg-type]
    # The feed comes along: every entry of the lead now also belongs to the client.
    session.execute(
        update(Activity).where(col(Activity.lead_id) == lead_id).values(client_id=client.id).execution_options(synchronize_session=False)
    )
    from tscrm.core.models import Call, Task

    session.execute(update(Task).where(col(Task.lead_id) == lead_id).values(client_id=client.id).execution_options(synchronize_session=False))
    session.execute(update(Call).where(col(Call.lead_id) == lead_id).values(client_id=client.id).execution_options(synchronize_session=False))
    lead.status = LeadStatus.FINISHED
    lead.client_id = client.id
    lead.closed_at = now
    lead.updated_at = now
    if lead.owner_id is None:
        lead.owner_id = actor.id
    activity.record(
        session,
        ActivityKind.CONVERTED,
        author_id=actor.id,
        lead_id=lead_id,
        client_id=client.id,
        text=Phrase(N_("Lead closed as finished: client created")),
    )
    search.index_lead(session, lead)
    search.index_client(session, client)
    return client


def close_as_bad(session: Session, actor: Actor, lead_id: int, reason: str = "") -> Lead:
    """Bad quality: gone from lists and search, still counted in analytics."""
    lead = _require_closable(session, actor, lead_id)
    old = lead.status
    lead.status = LeadStatus.BAD_QUALITY
    lead.closed_at = lead.updated_at = utcnow()
    activity.record(
        session,
        ActivityKind.STATUS_CHANGED,
        author_id=actor.id,
        lead_id=lead_id,
        text=Phrase(N_("Lead closed as bad quality"), tail=f": {reason}" if reason else ""),
        data={"from": old.value, "to": LeadStatus.BAD_QUALITY.value},
    )
    search.index_lead(session, lead)
    return lead


# --- listing ----------------------------------------------------------------------------------

LeadScope = Literal["mine", "pool", "all"]


@dataclass
class LeadFilter:
    scope: LeadScope = "mine"
    statuses: tuple[LeadStatus, ...] = OPEN_STATUSES  # empty: every status
    source: str | None = None
    owner_id: int | None = None
    tags: tuple[str, ...] = ()  # all of them
    created_from: datetime | None = None  # half-open: from <= created_at < to
    created_to: datetime | None = None


def _filtered(actor: Actor, filt: LeadFilter, query):
    if filt.scope == "mine":
        query = query.where(Lead.owner_id == actor.id)
    elif filt.scope == "pool":
        query = query.where(col(Lead.owner_id).is_(None))
    elif not actor.can(Right.SEE_ALL):
        query = query.where((Lead.owner_id == actor.id) | col(Lead.owner_id).is_(None))
    if filt.statuses:
        query = query.where(col(Lead.status).in_([LeadStatus(s).value for s in filt.statuses]))
    return contacts.filter_contacts(
        query, "lead", owner_id=filt.owner_id, tags=filt.tags, source=filt.source,
        created_from=filt.created_from, created_to=filt.created_to,
    )


def list_leads(session: Session, actor: Actor, filt: LeadFilter | None = None, *, limit: int = 50, offset: int = 0) -> list[Lead]:
    filt = filt or LeadFilter()
    query = _filtered(actor, filt, select(Lead)).order_by(col(Lead.created_at), col(Lead.id)).offset(offset).limit(limit)
    return list(session.exec(query))


PageCursor = tuple[Any, int]
"""Where a lead sits in the list's order: (its created_at, its id)."""


def page_cursor(lead: Lead) -> PageCursor:
    return (lead.created_at, lead.id)  # type: ignore[return-value]


def page_leads(
    session: Session,
    actor: Actor,
    filt: LeadFilter | None = None,
    *,
    limit: int = 50,
    after: PageCursor | None = None,
    before: PageCursor | None = None,
    start: PageCursor | None = None,
    last: bool = False,
) -> list[Lead]:
    """One page in ``list_leads`` order by keyset (see ``clients.page_clients``): the first page, the
    ``last`` one, the rows just ``after`` / ``before`` a row, or the page from ``start`` (included)."""
    backwards = last or before is not None
    seek = after if after is not None else before if before is not None else start
    keys = tuple_(col(Lead.created_at), col(Lead.id))
    query = _filtered(actor, filt or LeadFilter(), select(Lead))
    if seek is not None:
        if backwards:
            query = query.where(keys < tuple(seek))
        else:
            query = query.where(keys >= tuple(seek) if start is not None and after is None else keys > tuple(seek))
    order = (col(Lead.created_at).desc(), col(Lead.id).desc()) if backwards else (col(Lead.created_at), col(Lead.id))
    rows = list(session.exec(query.order_by(*order).limit(limit)))
    return rows[::-1] if backwards else rows


def count_leads(session: Session, actor: Actor, filt: LeadFilter | None = None) -> int:
    return int(session.exec(_filtered(actor, filt or LeadFilter(), select(func.count()).select_from(Lead))).one())


def find_by_phone(session: Session, e164: str) -> list[Lead]:
    ids = select(Phone.lead_id).where(Phone.e164 == e164, col(Phone.lead_id).is_not(None))
    return list(session.exec(select(Lead).where(col(Lead.id).in_(ids), col(Lead.status).in_([s.value for s in OPEN_STATUSES]))))


def find_by_email(session: Session, address: str) -> list[Lead]:
    ids = select(Email.lead_id).where(Email.address == address.strip().lower(), col(Email.lead_id).is_not(None))
    return list(session.exec(select(Lead).where(col(Lead.id).in_(ids))))
