"""Clients: create, read, edit, delete, list with filters, bulk actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func
from sqlmodel import Session, col, select

from tscrm.core import search
from tscrm.core.errors import NotFound, PermissionDenied, ValidationError
from tscrm.core.models import (
    ActivityKind,
    Client,
    ClientTag,
    Deal,
    Email,
    Phone,
    SourceLabel,
    Tag,
    User,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity, contacts
from tscrm.core.services.company import get_company
from tscrm.core.services.contacts import ContactInput, PhoneInput
from tscrm.core.text import fold
from tscrm.core.types import utcnow
from tscrm.i18n import _


def _check_owner(session: Session, actor: Actor, owner_id: int | None) -> int | None:
    if owner_id is None or owner_id == actor.id:
        return owner_id
    if not (actor.can(Right.EDIT) and actor.can(Right.SEE_ALL)):
        raise PermissionDenied(_("{user} may not give records to other users").format(user=actor.name))
    if session.get(User, owner_id) is None:
        raise NotFound(_("No user with id {id}").format(id=owner_id))
    return owner_id


def create_client(
    session: Session,
    actor: Actor,
    data: ContactInput,
    *,
    owner_id: int | None = -1,
    created_at: datetime | None = None,
    external_ref: str | None = None,
) -> Client:
    """Add a client. The owner ("responsible") is the actor unless another user is named."""
    checked = contacts.check_contact(session, "client", data, get_company(session).default_region)
    owner = actor.id if owner_id == -1 else _check_owner(session, actor, owner_id)
    now = created_at or utcnow()
    client = Client(
        **checked.fields,
        owner_id=owner,
        created_by_id=actor.id,
        external_ref=external_ref,
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    contacts.write_details(session, "client", client.id, checked.phones, checked.emails, checked.tags)  # type: ignore[arg-type]
    activity.record(
        session, ActivityKind.CREATED, author_id=actor.id, client_id=client.id, text=_("Client created")
    ).created_at = now
    search.index_client(session, client)
    return client


def get_client(session: Session, actor: Actor, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None or not (client.owner_id == actor.id or actor.can(Right.SEE_ALL)):
        raise NotFound(_("No client with id {id}").format(id=client_id))
    return client


_EDITABLE = ("name", "company_name", "position", "address")


def update_client(session: Session, actor: Actor, client_id: int, **changes: Any) -> Client:
    """Change any of: name, company_name, position, address, phones, emails, tags, source, custom, owner_id.

    ``phones``/``emails``/``tags`` replace the lists; ``custom`` is merged (None removes a key).
    """
    client = get_client(session, actor, client_id)
    actor.require_edit(client.owner_id, _("client {name}").format(name=client.name))
    unknown = set(changes) - {*_EDITABLE, "phones", "emails", "tags", "source", "custom", "owner_id"}
    if unknown:
        raise ValidationError(_("Unknown client field: {field}").format(field=", ".join(sorted(unknown))), sorted(unknown)[0])
    changed: list[str] = []
    for key in _EDITABLE:
        if key in changes:
            value = contacts.validate_name(changes[key]) if key == "name" else ((changes[key] or "").strip() or None)
            if getattr(client, key) != value:
                setattr(client, key, value)
                changed.append(key)
    if "phones" in changes:
        region = get_company(session).default_region
        parsed = contacts.parse_phones(contacts.as_phone_inputs(changes["phones"]), region)
        contacts.set_phones(session, "client", client_id, parsed)
        changed.append("phones")
    if "emails" in changes:
        contacts.set_emails(session, "client", client_id, contacts.parse_emails(changes["emails"]))
        changed.append("emails")
    if "tags" in changes:
        contacts.set_tags(session, "client", client_id, changes["tags"])
        changed.append("tags")
    if "source" in changes:
        client.source_id = contacts.source_id(session, changes["source"])
        changed.append("source")
    if "custom" in changes:
        merged = dict(client.custom)
        merged.update(contacts.validate_custom(session, "client", {k: v for k, v in changes["custom"].items() if v not in (None, "")}))
        for key, value in changes["custom"].items():
            if value in (None, ""):
                merged.pop(key, None)
        client.custom = merged
        changed.append("custom")
    if "owner_id" in changes and changes["owner_id"] != client.owner_id:
        old = client.owner_id
        client.owner_id = _check_owner(session, actor, changes["owner_id"])
        activity.record(
            session,
            ActivityKind.OWNER_CHANGED,
            author_id=actor.id,
            client_id=client.id,
            text=_("Responsible changed"),
            data={"from": old, "to": client.owner_id},
        )
    if changed:
        client.updated_at = utcnow()
        activity.record(
            session, ActivityKind.EDITED, author_id=actor.id, client_id=client.id, text=_("Client edited"), data={"fields": changed}
        )
    search.index_client(session, client)
    return client


def delete_client(session: Session, actor: Actor, client_id: int) -> None:
    client = get_client(session, actor, client_id)
    actor.require(Right.DELETE)
    search.remove(session, "client", client_id)
    for (deal_id,) in session.execute(select(Deal.id).where(Deal.client_id == client_id)):
        search.remove(session, "deal", deal_id)
    session.delete(client)
    session.flush()


# --- listing ----------------------------------------------------------------------------------


@dataclass
class ClientFilter:
    mine: bool = False  # only the actor's own clients ("My clients")
    owner_id: int | None = None
    tags: list[str] = field(default_factory=list)  # all of them
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    custom: dict[str, str] = field(default_factory=dict)  # equality on custom fields
    ids: list[int] | None = None


SORTS = {
    "name": col(Client.name),
    "company": col(Client.company_name),
    "created": col(Client.created_at),
    "id": col(Client.id),
}


def _filtered(session: Session, actor: Actor, filt: ClientFilter, query: Select) -> Select:
    if filt.mine or not actor.can(Right.SEE_ALL):
        query = query.where(Client.owner_id == actor.id)
    if filt.owner_id is not None:
        query = query.where(Client.owner_id == filt.owner_id)
    for tag in filt.tags:
        query = query.where(
            exists()
            .where(ClientTag.client_id == Client.id)
            .where(ClientTag.tag_id == Tag.id)
            .where(Tag.key == fold(tag))
        )
    if filt.source:
        query = query.where(
            col(Client.source_id).in_(select(SourceLabel.id).where(SourceLabel.name == filt.source))
        )
    if filt.created_from is not None:
        query = query.where(Client.created_at >= filt.created_from)
    if filt.created_to is not None:
        query = query.where(Client.created_at < filt.created_to)
    for key, value in filt.custom.items():
        query = query.where(Client.custom[key].as_string() == str(value))  # type: ignore[index]
    if filt.ids is not None:
        query = query.where(col(Client.id).in_(filt.ids))
    return query


def list_clients(
    session: Session,
    actor: Actor,
    filt: ClientFilter | None = None,
    *,
    sort: str = "name",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Client]:
    filt = filt or ClientFilter()
    if sort not in SORTS:
        raise ValidationError(_("sort: one of {choices}").format(choices=", ".join(SORTS)), "sort")
    column = SORTS[sort]
    order = (column.desc(), col(Client.id).desc()) if descending else (column, col(Client.id))
    query = _filtered(session, actor, filt, select(Client)).order_by(*order).offset(offset).limit(limit)
    return list(session.exec(query))


def count_clients(session: Session, actor: Actor, filt: ClientFilter | None = None) -> int:
    query = _filtered(session, actor, filt or ClientFilter(), select(func.count()).select_from(Client))
    return int(session.exec(query).one())


def matching_ids(session: Session, actor: Actor, filt: ClientFilter) -> list[int]:
    """Every id the filter selects ("select all matching"), for bulk actions."""
    return list(session.exec(_filtered(session, actor, filt, select(Client.id))))


# --- bulk actions -----------------------------------------------------------------------------


def bulk_add_tags(session: Session, actor: Actor, client_ids: list[int], tags: list[str]) -> int:
    done = 0
    for cid in client_ids:
        client = get_client(session, actor, cid)
        actor.require_edit(client.owner_id, _("client {name}").format(name=client.name))
        added = contacts.add_tags(session, "client", cid, tags)
        if added:
            activity.record(session, ActivityKind.TAGGED, author_id=actor.id, client_id=cid, text=", ".join(added), data={"added": added})
            search.index_client(session, client)
            done += 1
    return done


def bulk_remove_tags(session: Session, actor: Actor, client_ids: list[int], tags: list[str]) -> int:
    done = 0
    for cid in client_ids:
        client = get_client(session, actor, cid)
        actor.require_edit(client.owner_id, _("client {name}").format(name=client.name))
        removed = contacts.remove_tags(session, "client", cid, tags)
        if removed:
            activity.record(session, ActivityKind.TAGGED, author_id=actor.id, client_id=cid, text=", ".join(removed), data={"removed": removed})
            search.index_client(session, client)
            done += 1
    return done


def bulk_change_owner(session: Session, actor: Actor, client_ids: list[int], owner_id: int) -> int:
    for cid in client_ids:
        update_client(session, actor, cid, owner_id=owner_id)
    return len(client_ids)


def bulk_delete(session: Session, actor: Actor, client_ids: list[int]) -> int:
    actor.require(Right.DELETE)
    for cid in client_ids:
        delete_client(session, actor, cid)
    return len(client_ids)


# --- lookups ----------------------------------------------------------------------------------


def find_by_phone(session: Session, e164: str) -> list[Client]:
    ids = select(Phone.client_id).where(Phone.e164 == e164, col(Phone.client_id).is_not(None))
    return list(session.exec(select(Client).where(col(Client.id).in_(ids))))


def find_by_email(session: Session, address: str) -> list[Client]:
    ids = select(Email.client_id).where(Email.address == address.strip().lower(), col(Email.client_id).is_not(None))
    return list(session.exec(select(Client).where(col(Client.id).in_(ids))))


def new_contact(name: str, phones: list[str] | None = None, emails: list[str] | None = None, **kw: Any) -> ContactInput:
    """Shorthand used by the CLI, the demo and tests."""
    return ContactInput(name=name, phones=[PhoneInput(p) if isinstance(p, str) else p for p in (phones or [])], emails=emails or [], **kw)
