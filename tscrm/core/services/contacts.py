"""What clients and leads share: phones, emails, tags, custom fields, source labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import Select, delete, exists
from sqlmodel import Session, col, select

from tscrm.core.errors import ValidationError
from tscrm.core.models import (
    Client,
    ClientTag,
    CustomField,
    CustomFieldType,
    Email,
    Lead,
    LeadTag,
    Phone,
    PhoneKind,
    SourceLabel,
    Tag,
)
from tscrm.core.phones import parse_phone
from tscrm.core.services.users import normalise_email
from tscrm.core.text import fold
from tscrm.core.validation import optional_text, required_text
from tscrm.i18n import _

Owner = Literal["client", "lead"]


@dataclass
class PhoneInput:
    number: str
    kind: PhoneKind = PhoneKind.WORK


@dataclass
class ContactInput:
    """The contact data a client or a lead is created or edited with."""

    name: str
    company_name: str | None = None
    position: str | None = None
    address: str | None = None
    phones: list[PhoneInput] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)


def as_phone_inputs(values: list[str] | list[PhoneInput], kind: PhoneKind = PhoneKind.WORK) -> list[PhoneInput]:
    """Accept "number" or "kind:number" strings (e.g. "mobile:+34 612 345 678")."""
    out: list[PhoneInput] = []
    for value in values:
        if isinstance(value, PhoneInput):
            out.append(value)
            continue
        head, sep, tail = value.partition(":")
        if sep and head.strip().lower() in {k.value for k in PhoneKind}:
            out.append(PhoneInput(tail.strip(), PhoneKind(head.strip().lower())))
        else:
            out.append(PhoneInput(value.strip(), kind))
    return out


def validate_name(name: str) -> str:
    return required_text(name, "name")


@dataclass
class CheckedContact:
    """A ContactInput after validation: what a client or lead row and its children are made of."""

    fields: dict[str, Any]  # name, company_name, position, address, source_id, custom
    phones: list[tuple[PhoneKind, str]]
    emails: list[str]
    tags: list[str]


def check_contact(session: Session, entity: Owner, data: ContactInput, region: str | None) -> CheckedContact:
    """Validate everything before anything is written, so a bad phone leaves no half-made record."""
    fields = {
        "name": validate_name(data.name),
        "company_name": optional_text(data.company_name),
        "position": optional_text(data.position),
        "address": optional_text(data.address),
    }
    phones = parse_phones(data.phones, region)
    emails = parse_emails(data.emails)
    fields["custom"] = validate_custom(session, entity, data.custom)
    fields["source_id"] = source_id(session, data.source)
    return CheckedContact(fields, phones, emails, list(data.tags))


def write_details(session: Session, entity: Owner, owner_id: int, phones, emails: list[str], tags: list[str]) -> None:
    """Phones, emails and tags of a freshly created client or lead."""
    set_phones(session, entity, owner_id, phones)
    set_emails(session, entity, owner_id, emails)
    add_tags(session, entity, owner_id, tags)


def parse_phones(phones: list[PhoneInput], region: str | None) -> list[tuple[PhoneKind, str]]:
    seen: set[str] = set()
    parsed: list[tuple[PhoneKind, str]] = []
    for i, phone in enumerate(phones):
        e164 = parse_phone(phone.number, region, field=f"phones[{i}]").e164
        if e164 not in seen:
            seen.add(e164)
            parsed.append((phone.kind, e164))
    return parsed


def parse_emails(emails: list[str]) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(emails):
        address = normalise_email(value, field=f"emails[{i}]")
        if address not in out:
            out.append(address)
    return out


def set_phones(session: Session, owner: Owner, owner_id: int, phones: list[tuple[PhoneKind, str]]) -> None:
    column = Phone.client_id if owner == "client" else Phone.lead_id
    session.execute(delete(Phone).where(col(column) == owner_id))
    for position, (kind, e164) in enumerate(phones):
        session.add(
            Phone(
                **{f"{owner}_id": owner_id},
                kind=kind,
                e164=e164,
                rdigits=e164[1:][::-1],
                position=position,
            )
        )


def set_emails(session: Session, owner: Owner, owner_id: int, emails: list[str]) -> None:
    column = Email.client_id if owner == "client" else Email.lead_id
    session.execute(delete(Email).where(col(column) == owner_id))
    for position, address in enumerate(emails):
        session.add(Email(**{f"{owner}_id": owner_id}, address=address, position=position))


def get_or_create_tags(session: Session, names: list[str]) -> list[Tag]:
    tags: list[Tag] = []
    for raw in names:
        name = " ".join((raw or "").split())
        if not name:
            continue
        if len(name) > 100:
            raise ValidationError(_("tags: {tag!r} is longer than 100 characters").format(tag=name[:20] + "…"), "tags")
        key = fold(name)
        tag = session.exec(select(Tag).where(Tag.key == key)).first()
        if tag is None:
            tag = Tag(name=name, key=key)
            session.add(tag)
            session.flush()
        if tag not in tags:
            tags.append(tag)
    return tags


def filter_contacts(
    query: Select,
    owner: Owner,
    *,
    owner_id: int | None = None,
    tags: Iterable[str] = (),
    source: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> Select:
    """The conditions clients and leads are filtered on alike: the responsible, every one of the
    tags, the source label, and the creation time (half-open: from <= created_at < to)."""
    model = Client if owner == "client" else Lead
    link = ClientTag if owner == "client" else LeadTag
    link_col = link.client_id if owner == "client" else link.lead_id  # type: ignore[attr-defined]
    if owner_id is not None:
        query = query.where(model.owner_id == owner_id)
    for tag in tags:
        query = query.where(exists().where(link_col == model.id).where(link.tag_id == Tag.id).where(Tag.key == fold(tag)))
    if source:
        query = query.where(col(model.source_id).in_(select(SourceLabel.id).where(SourceLabel.name == source)))
    if created_from is not None:
        query = query.where(col(model.created_at) >= created_from)
    if created_to is not None:
        query = query.where(col(model.created_at) < created_to)
    return query


def tag_names(session: Session, owner: Owner, owner_id: int) -> list[str]:
    link = ClientTag if owner == "client" else LeadTag
    link_col = link.client_id if owner == "client" else link.lead_id  # type: ignore[attr-defined]
    rows = session.exec(
        select(Tag.name).join(link, col(link.tag_id) == col(Tag.id)).where(link_col == owner_id).order_by(col(Tag.key))
    )
    return list(rows)


def add_tags(session: Session, owner: Owner, owner_id: int, names: list[str]) -> list[str]:
    """Attach tags; returns the names newly attached."""
    current = {fold(n) for n in tag_names(session, owner, owner_id)}
    added: list[str] = []
    for tag in get_or_create_tags(session, names):
        if tag.key in current:
            continue
        if owner == "client":
            session.add(ClientTag(client_id=owner_id, tag_id=tag.id))  # type: ignore[arg-type]
        else:
            session.add(LeadTag(lead_id=owner_id, tag_id=tag.id))  # type: ignore[arg-type]
        current.add(tag.key)
        added.append(tag.name)
    session.flush()
    return added


def remove_tags(session: Session, owner: Owner, owner_id: int, names: list[str]) -> list[str]:
    keys = [fold(n) for n in names if n.strip()]
    tags = list(session.exec(select(Tag).where(col(Tag.key).in_(keys)))) if keys else []
    removed: list[str] = []
    for tag in tags:
        if owner == "client":
            result = session.execute(
                delete(ClientTag).where(col(ClientTag.client_id) == owner_id, col(ClientTag.tag_id) == tag.id)
            )
        else:
            result = session.execute(
                delete(LeadTag).where(col(LeadTag.lead_id) == owner_id, col(LeadTag.tag_id) == tag.id)
            )
        if result.rowcount:  # type: ignore[attr-defined]
            removed.append(tag.name)
    return removed


def set_tags(session: Session, owner: Owner, owner_id: int, names: list[str]) -> None:
    current = tag_names(session, owner, owner_id)
    wanted = {fold(n) for n in names if n.strip()}
    remove_tags(session, owner, owner_id, [n for n in current if fold(n) not in wanted])
    add_tags(session, owner, owner_id, names)


def source_id(session: Session, name: str | None) -> int | None:
    label = " ".join((name or "").split())
    if not label:
        return None
    row = session.exec(select(SourceLabel).where(SourceLabel.name == label)).first()
    if row is None:
        row = SourceLabel(name=label[:100])
        session.add(row)
        session.flush()
    return row.id


def source_name(session: Session, source_id_: int | None) -> str | None:
    if source_id_ is None:
        return None
    row = session.get(SourceLabel, source_id_)
    return row.name if row else None


def custom_fields(session: Session, entity: Owner) -> list[CustomField]:
    return list(
        session.exec(select(CustomField).where(CustomField.entity == entity).order_by(col(CustomField.position)))
    )


def validate_custom(session: Session, entity: Owner, values: dict[str, Any]) -> dict[str, Any]:
    """Check values against the admin-defined fields; stored as JSON-friendly text/numbers."""
    if not values:
        return {}
    defs = {f.key: f for f in custom_fields(session, entity)}
    out: dict[str, Any] = {}
    for key, raw in values.items():
        definition = defs.get(key)
        if definition is None:
            raise ValidationError(
                _("custom field {key!r} does not exist (known: {known})").format(key=key, known=", ".join(defs) or "-"),
                key,
            )
        if raw is None or raw == "":
            continue
        out[key] = _coerce_custom(definition, raw)
    return out


def _coerce_custom(definition: CustomField, raw: Any) -> Any:
    key = definition.key
    if definition.type == CustomFieldType.NUMBER:
        try:
            return str(Decimal(str(raw).replace(",", ".")))
        except InvalidOperation as exc:
            raise ValidationError(_("{field}: {value!r} is not a number").format(field=key, value=raw), key) from exc
    if definition.type == CustomFieldType.DATE:
        try:
            return (raw if isinstance(raw, date) else date.fromisoformat(str(raw).strip())).isoformat()
        except ValueError as exc:
            raise ValidationError(
                _("{field}: {value!r} is not a date (YYYY-MM-DD)").format(field=key, value=raw), key
            ) from exc
    if definition.type == CustomFieldType.CHOICE:
        if str(raw) not in definition.choices:
            raise ValidationError(
                _("{field}: {value!r} is not one of {choices}").format(
                    field=key, value=raw, choices=", ".join(definition.choices)
                ),
                key,
            )
        return str(raw)
    return str(raw)


def define_custom_field(
    session: Session,
    entity: Owner,
    key: str,
    label: str,
    type_: CustomFieldType = CustomFieldType.TEXT,
    choices: list[str] | None = None,
) -> CustomField:
    import re

    if entity not in ("client", "lead"):
        raise ValidationError(_("entity: client or lead"), "entity")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
        raise ValidationError(_("key: lower-case letters, digits and _ (e.g. vat_number)"), "key")
    if type_ == CustomFieldType.CHOICE and not choices:
        raise ValidationError(_("choices: a choice field needs at least one choice"), "choices")
    if session.exec(select(CustomField).where(CustomField.entity == entity, CustomField.key == key)).first():
        raise ValidationError(_("key: {key!r} already exists").format(key=key), "key")
    position = len(custom_fields(session, entity))
    row = CustomField(entity=entity, key=key, label=label or key, type=type_, choices=choices or [], position=position)
    session.add(row)
    session.flush()
    return row


@dataclass
class ContactView:
    """Phones, emails and tags of one client or lead, for showing."""

    phones: list[tuple[PhoneKind, str]]
    emails: list[str]
    tags: list[str]


def view(session: Session, owner: Owner, owner_id: int) -> ContactView:
    pcol = Phone.client_id if owner == "client" else Phone.lead_id
    ecol = Email.client_id if owner == "client" else Email.lead_id
    phones = session.exec(select(Phone).where(col(pcol) == owner_id).order_by(col(Phone.position))).all()
    emails = session.exec(select(Email.address).where(col(ecol) == owner_id).order_by(col(Email.position))).all()
    return ContactView([(p.kind, p.e164) for p in phones], list(emails), tag_names(session, owner, owner_id))
