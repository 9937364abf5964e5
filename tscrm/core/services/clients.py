"""Clients: create, read, edit, delete, list with filters, bulk actions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    delete,
    func,
    insert,
    tuple_,
    update,
)
from sqlmodel import Session, col, select

from tscrm.core import search
from tscrm.core.errors import NotFound, PermissionDenied, ValidationError
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Client,
    ClientTag,
    Deal,
    Email,
    Phone,
    SearchEntry,
    Tag,
    User,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import activity, contacts
from tscrm.core.services.company import get_company
from tscrm.core.services.contacts import ContactInput, PhoneInput
from tscrm.core.text import fold
from tscrm.core.types import utcnow
from tscrm.i18n import N_, Phrase, _


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
        session, ActivityKind.CREATED, author_id=actor.id, client_id=client.id, text=Phrase(N_("Client created"))
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
            text=Phrase(N_("Responsible changed")),
            data={"from": old, "to": client.owner_id},
        )
    if changed:
        client.updated_at = utcnow()
        activity.record(
            session, ActivityKind.EDITED, author_id=actor.id, client_id=client.id, text=Phrase(N_("Client edited")), data={"fields": changed}
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
    query = contacts.filter_contacts(
        query, "client", owner_id=filt.owner_id, tags=filt.tags, source=filt.source,
        created_from=filt.created_from, created_to=filt.created_to,
    )
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
    _check_sort(sort)
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


# --- pages for the Clients table ------------------------------------------------------------

PageCursor = tuple[Any, int]
"""Where a row sits in the list's order: (its value of the sort column, its id)."""

_SORT_ATTRIBUTES = {"name": "name", "company": "company_name", "created": "created_at", "id": "id"}
_NULLABLE_SORTS = frozenset({"company"})


def page_cursor(client: Client, sort: str) -> PageCursor:
    """The cursor of a row, to ask for the page after or before it."""
    return (getattr(client, _SORT_ATTRIBUTES[sort]), client.id)  # type: ignore[return-value]


def page_clients(
    session: Session,
    actor: Actor,
    filt: ClientFilter | None = None,
    *,
    sort: str = "name",
    descending: bool = False,
    limit: int = 50,
    after: PageCursor | None = None,
    before: PageCursor | None = None,
    start: PageCursor | None = None,
    last: bool = False,
) -> list[Client]:
    """One page of the list in its order (``sort``, then id), at the same cost anywhere in it.

    Keyset pagination: a page is read from an index seek next to a known row (``page_cursor``),
    never by skipping rows with OFFSET, so the millionth row costs what the first does:

    - no cursor: the first page; ``last``: the last page, read backwards (End costs what Home does);
    - ``after`` / ``before``: the ``limit`` rows just after / just before that row (PageDown / PageUp);
    - ``start``: the page starting at that row, itself included (reloading a page in place).

    Rows always come back in list order. The indexes (name, id), (company_name, id),
    (owner_id, name, id), (owner_id, created_at) and created_at serve every sort of "My clients" and
    "All clients". Empty companies sort where the database puts NULLs (first on SQLite, last on
    PostgreSQL), the same place ``list_clients`` puts them.
    """
    filt = filt or ClientFilter()
    _check_sort(sort)
    backwards = last or before is not None
    seek = after if after is not None else before if before is not None else start
    inclusive = after is None and before is None and start is not None
    rows = _scan(session, actor, filt, sort, descending != backwards, seek, inclusive, limit)
    return rows[::-1] if backwards else rows


def _check_sort(sort: str) -> None:
    if sort not in SORTS:
        raise ValidationError(_("sort: one of {choices}").format(choices=", ".join(SORTS)), "sort")


def _beyond(keys: ColumnElement, value: Any, desc: bool, inclusive: bool) -> ColumnElement[bool]:
    """Rows past ``value`` in scan order (``keys`` is a column or a row of columns)."""
    if desc:
        return keys <= value if inclusive else keys < value
    return keys >= value if inclusive else keys > value


def _scan(
    session: Session, actor: Actor, filt: ClientFilter, sort: str, desc: bool, seek: PageCursor | None, inclusive: bool, limit: int
) -> list[Client]:
    """Up to ``limit`` rows in scan order (``desc`` or not), from the start or just past ``seek``."""
    column, id_col = SORTS[sort], col(Client.id)
    base = _filtered(session, actor, filt, select(Client))

    def read(query: Select, keys: tuple, wanted: int) -> list[Client]:
        return list(session.exec(query.order_by(*(k.desc() if desc else k for k in keys)).limit(wanted)))

    if sort == "id":
        query = base if seek is None else base.where(_beyond(id_col, seek[1], desc, inclusive))
        return read(query, (id_col,), limit)
    if sort not in _NULLABLE_SORTS:
        query = base if seek is None else base.where(_beyond(tuple_(column, id_col), tuple(seek), desc, inclusive))
        return read(query, (column, id_col), limit)
    # A nullable column: the empty values form a segment of their own, ordered by id, read as one
    # more index range; row comparisons with NULL are never true, so each range excludes the other.
    nulls_first = (session.get_bind().dialect.name == "sqlite") != desc
    segments = ["null", "value"] if nulls_first else ["value", "null"]
    if seek is not None:
        segments = segments[segments.index("null" if seek[0] is None else "value") :]
    rows: list[Client] = []
    for i, segment in enumerate(segments):
        if segment == "null":
            query = base.where(column.is_(None))
            if seek is not None and i == 0:
                query = query.where(_beyond(id_col, seek[1], desc, inclusive))
            rows += read(query, (id_col,), limit - len(rows))
        else:
            query = base.where(column.is_not(None))
            if seek is not None and i == 0:
                query = query.where(_beyond(tuple_(column, id_col), tuple(seek), desc, inclusive))
            rows += read(query, (column, id_col), limit - len(rows))
        if len(rows) >= limit:
            break
    return rows


# --- bulk actions -----------------------------------------------------------------------------
#
# "Select all matching" can mean a million clients, so the bulk actions work on chunks of ids with a
# few set-based statements each (rights checked for the whole chunk, links and feed entries inserted
# together, search entries rewritten together) instead of a dozen statements per client. They stay
# one transaction: all or nothing, and the same errors as the one-client functions.

BULK_CHUNK = 500


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), BULK_CHUNK):
        yield unique[start : start + BULK_CHUNK]


def _editable(session: Session, actor: Actor, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """name and owner of each client, after the checks of get_client and require_edit (same errors)."""
    rows = {cid: (name, owner) for cid, name, owner in session.exec(select(Client.id, Client.name, Client.owner_id).where(col(Client.id).in_(ids)))}
    for cid in ids:
        if cid not in rows or not (rows[cid][1] == actor.id or actor.can(Right.SEE_ALL)):
            raise NotFound(_("No client with id {id}").format(id=cid))
        actor.require_edit(rows[cid][1], _("client {name}").format(name=rows[cid][0]))
    return rows


def _reindex(session: Session, ids: list[int]) -> None:
    """Rewrite the search entries of these clients (what ``search.index_client`` stores, in a few statements)."""
    if not ids:
        return
    session.flush()
    phones: dict[int, list[str]] = {cid: [] for cid in ids}
    emails: dict[int, list[str]] = {cid: [] for cid in ids}
    tags: dict[int, list[str]] = {cid: [] for cid in ids}
    for cid, e164 in session.exec(select(Phone.client_id, Phone.e164).where(col(Phone.client_id).in_(ids)).order_by(col(Phone.position))):
        phones[cid].append(e164)  # type: ignore[index]
    for cid, address in session.exec(select(Email.client_id, Email.address).where(col(Email.client_id).in_(ids)).order_by(col(Email.position))):
        emails[cid].append(address)  # type: ignore[index]
    tag_rows = session.exec(
        select(ClientTag.client_id, Tag.name).join(Tag, col(Tag.id) == col(ClientTag.tag_id)).where(col(ClientTag.client_id).in_(ids)).order_by(col(Tag.name))
    )
    for cid, name in tag_rows:
        tags[cid].append(name)
    table = SearchEntry.__table__  # type: ignore[attr-defined]
    rows = []
    for cid, name, company, owner in session.exec(select(Client.id, Client.name, Client.company_name, Client.owner_id).where(col(Client.id).in_(ids))):
        fields = search.entry_fields(name, company, emails[cid], tags[cid], phones[cid])
        rows.append({"ref": cid, "owner": owner, "n": fields.name, "nk": fields.name_key, "t": fields.text, "d": fields.digits})
    statement = (
        table.update()
        .where(table.c.kind == "client", table.c.ref_id == bindparam("ref"))
        .values(owner_id=bindparam("owner"), name=bindparam("n"), name_key=bindparam("nk"), text=bindparam("t"), digits=bindparam("d"))
    )
    session.connection().execute(statement, rows)


def _tagged_entries(actor: Actor, changes: dict[int, list[str]], key: str) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {"kind": ActivityKind.TAGGED, "author_id": actor.id, "client_id": cid, "text": ", ".join(names), "data": {key: names}, "created_at": now}
        for cid, names in changes.items()
    ]


def bulk_add_tags(session: Session, actor: Actor, client_ids: list[int], tags: list[str]) -> int:
    """Attach the tags to every client; returns how many clients got at least one of them."""
    wanted = contacts.get_or_create_tags(session, tags)
    if not wanted:
        return 0
    done = 0
    for ids in _chunks(client_ids):
        _editable(session, actor, ids)
        have = set(
            session.exec(
                select(ClientTag.client_id, ClientTag.tag_id).where(
                    col(ClientTag.client_id).in_(ids), col(ClientTag.tag_id).in_([t.id for t in wanted])
                )
            )
        )
        added = {cid: [t for t in wanted if (cid, t.id) not in have] for cid in ids}
        added = {cid: new for cid, new in added.items() if new}
        if not added:
            continue
        session.execute(insert(ClientTag), [{"client_id": cid, "tag_id": t.id} for cid, new in added.items() for t in new])
        session.execute(insert(Activity), _tagged_entries(actor, {cid: [t.name for t in new] for cid, new in added.items()}, "added"))
        _reindex(session, list(added))
        done += len(added)
    return done


def bulk_remove_tags(session: Session, actor: Actor, client_ids: list[int], tags: list[str]) -> int:
    """Detach the tags from every client; returns how many clients had at least one of them."""
    keys = [fold(t) for t in tags if t.strip()]
    found = list(session.exec(select(Tag).where(col(Tag.key).in_(keys)))) if keys else []
    if not found:
        for ids in _chunks(client_ids):
            _editable(session, actor, ids)
        return 0
    names = {t.id: t.name for t in found}
    done = 0
    for ids in _chunks(client_ids):
        _editable(session, actor, ids)
        links = session.exec(
            select(ClientTag.client_id, ClientTag.tag_id).where(col(ClientTag.client_id).in_(ids), col(ClientTag.tag_id).in_(list(names)))
        ).all()
        if not links:
            continue
        removed: dict[int, list[str]] = {}
        for cid, tag_id in links:
            removed.setdefault(cid, []).append(names[tag_id])
        session.execute(
            delete(ClientTag).where(col(ClientTag.client_id).in_(list(removed)), col(ClientTag.tag_id).in_(list(names)))
        )
        session.execute(insert(Activity), _tagged_entries(actor, {cid: sorted(v, key=fold) for cid, v in removed.items()}, "removed"))
        _reindex(session, list(removed))
        done += len(removed)
    return done


def bulk_change_owner(session: Session, actor: Actor, client_ids: list[int], owner_id: int) -> int:
    """Give every client to ``owner_id``; each one whose owner changes gets a feed entry. Returns len(client_ids)."""
    owner = _check_owner(session, actor, owner_id)
    for ids in _chunks(client_ids):
        rows = _editable(session, actor, ids)
        moving = [cid for cid in ids if rows[cid][1] != owner]
        if not moving:
            continue
        now = utcnow()
        session.execute(update(Client).where(col(Client.id).in_(moving)).values(owner_id=owner))
        phrase = Phrase(N_("Responsible changed"))
        text, stored = phrase.render(), phrase.to_data()
        session.execute(
            insert(Activity),
            [
                {"kind": ActivityKind.OWNER_CHANGED, "author_id": actor.id, "client_id": cid, "text": text, "data": {"from": rows[cid][1], "to": owner, "phrase": stored}, "created_at": now}
                for cid in moving
            ],
        )
        search_entry = SearchEntry.__table__  # type: ignore[attr-defined]
        session.execute(
            search_entry.update().where(search_entry.c.kind == "client", search_entry.c.ref_id.in_(moving)).values(owner_id=owner)
        )
    return len(client_ids)


def bulk_delete(session: Session, actor: Actor, client_ids: list[int]) -> int:
    """Delete every client (their phones, emails, deals, tasks and feed go with them). Returns len(client_ids)."""
    actor.require(Right.DELETE)
    for ids in _chunks(client_ids):
        rows = {cid: owner for cid, owner in session.exec(select(Client.id, Client.owner_id).where(col(Client.id).in_(ids)))}
        for cid in ids:  # get_client's check
            if cid not in rows or not (rows[cid] == actor.id or actor.can(Right.SEE_ALL)):
                raise NotFound(_("No client with id {id}").format(id=cid))
        deal_ids = select(Deal.id).where(col(Deal.client_id).in_(ids))
        session.execute(delete(SearchEntry).where(col(SearchEntry.kind) == "deal", col(SearchEntry.ref_id).in_(deal_ids)))
        session.execute(delete(SearchEntry).where(col(SearchEntry.kind) == "client", col(SearchEntry.ref_id).in_(ids)))
        session.execute(delete(Client).where(col(Client.id).in_(ids)))
    session.expire_all()  # rows deleted behind the ORM's back
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
