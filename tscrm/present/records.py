"""How records look to a person (CLI tables, --json, TUI tables): plain dicts (clients, leads, deals, feed entries), a few queries per page.

The same dict feeds the rich tables and ``--json``, so both always say the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

from tscrm.present import user_names

if TYPE_CHECKING:
    from sqlmodel import Session

    from tscrm.core.models import Activity, Client, Deal, Lead

Owner = Literal["client", "lead"]


def contact_records(session: Session, owner: Owner, rows: list[Client] | list[Lead]) -> list[dict[str, Any]]:
    """Each client or lead with its phones, emails, tags, source and owner's name."""
    from sqlmodel import col, select

    from tscrm.core.models import ClientTag, Email, LeadTag, Phone, SourceLabel, Tag

    ids = [r.id for r in rows]
    if not ids:
        return []
    phone_col = col(Phone.client_id) if owner == "client" else col(Phone.lead_id)
    email_col = col(Email.client_id) if owner == "client" else col(Email.lead_id)
    link = ClientTag if owner == "client" else LeadTag
    link_col = col(ClientTag.client_id) if owner == "client" else col(LeadTag.lead_id)

    phones: dict[int, list[dict[str, str]]] = defaultdict(list)
    for phone in session.exec(select(Phone).where(phone_col.in_(ids)).order_by(col(Phone.position))):
        phones[getattr(phone, f"{owner}_id")].append({"kind": phone.kind.value, "number": phone.e164})
    emails: dict[int, list[str]] = defaultdict(list)
    for email in session.exec(select(Email).where(email_col.in_(ids)).order_by(col(Email.position))):
        emails[getattr(email, f"{owner}_id")].append(email.address)
    tags: dict[int, list[str]] = defaultdict(list)
    tag_rows = session.exec(
        select(link_col, Tag.name).join(link, col(link.tag_id) == col(Tag.id)).where(link_col.in_(ids)).order_by(col(Tag.name))
    )
    for owner_id, name in tag_rows:
        tags[owner_id].append(name)
    source_ids = {r.source_id for r in rows if r.source_id is not None}
    sources = (
        dict(session.exec(select(SourceLabel.id, SourceLabel.name).where(col(SourceLabel.id).in_(source_ids))).all())
        if source_ids
        else {}
    )
    owners = user_names(session, (r.owner_id for r in rows))

    records = []
    for row in rows:
        record: dict[str, Any] = {
            "id": row.id,
            "name": row.name,
            "company": row.company_name,
            "position": row.position,
            "address": row.address,
            "phones": phones.get(row.id, []),  # type: ignore[arg-type]
            "emails": emails.get(row.id, []),  # type: ignore[arg-type]
            "tags": tags.get(row.id, []),  # type: ignore[arg-type]
            "source": sources.get(row.source_id) if row.source_id is not None else None,
            "owner_id": row.owner_id,
            "owner": owners.get(row.owner_id) if row.owner_id is not None else None,
            "custom": dict(row.custom or {}),
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
        if owner == "lead":
            lead: Any = row
            record["status"] = lead.status.value
            record["client_id"] = lead.client_id
            record["claimed_at"] = lead.claimed_at
            record["closed_at"] = lead.closed_at
            record["utm"] = {
                key: getattr(lead, key)
                for key in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
                if getattr(lead, key)
            }
        records.append(record)
    return records


def deal_records(session: Session, rows: list[Deal]) -> list[dict[str, Any]]:
    """Each deal with its client's and owner's names."""
    from sqlmodel import col, select

    from tscrm.core.models import Client

    client_ids = {d.client_id for d in rows}
    clients = dict(session.exec(select(Client.id, Client.name).where(col(Client.id).in_(client_ids))).all()) if client_ids else {}
    owners = user_names(session, (d.owner_id for d in rows))
    return [
        {
            "id": d.id,
            "title": d.title,
            "client_id": d.client_id,
            "client": clients.get(d.client_id),
            "amount": d.amount,
            "currency": d.currency,
            "status": d.status.value,
            "owner_id": d.owner_id,
            "owner": owners.get(d.owner_id) if d.owner_id is not None else None,
            "created_at": d.created_at,
            "closed_at": d.closed_at,
        }
        for d in rows
    ]


def feed_records(session: Session, entries: list[Activity]) -> list[dict[str, Any]]:
    """Feed entries with their author's name; the text in the reader's language (see activity.display_text)."""
    from tscrm.core.services.activity import display_text

    authors = user_names(session, (e.author_id for e in entries))
    return [
        {
            "id": e.id,
            "kind": e.kind.value,
            "at": e.created_at,
            "author": authors.get(e.author_id) if e.author_id is not None else None,
            "text": display_text(e),
            "client_id": e.client_id,
            "lead_id": e.lead_id,
            "deal_id": e.deal_id,
        }
        for e in entries
    ]


def format_phone(e164: str) -> str:
    """A stored E.164 number, grouped the international way for reading."""
    from tscrm.core.phones import format_phone as readable

    return readable(e164)


def first_phone(record: dict[str, Any]) -> str:
    phones = record.get("phones") or []
    return format_phone(phones[0]["number"]) if phones else ""
