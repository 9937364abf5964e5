"""Turning one row of a file into a clean record: the values exactly as they will be stored.

A :class:`RowPreparer` knows the mapping, the company's default region, the users (for a
"responsible" column), the custom fields and the country names; ``prepare`` returns the
:class:`Record` of a row, or the row's :class:`RowError` s (every bad value, not just the first).
The same records feed the import, its dry run and the preview of a mapping screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from tscrm.core import search
from tscrm.core.errors import InvalidPhone, ValidationError
from tscrm.core.imports.fast_phones import PhoneParser
from tscrm.core.imports.mapping import CUSTOM_PREFIX, PHONE_FIELDS, Entity, Mapping
from tscrm.core.imports.reading import RawRow
from tscrm.core.models import CustomField, CustomFieldType, User
from tscrm.core.permissions import Actor, Right
from tscrm.core.phones import split_phones
from tscrm.core.services.contacts import _coerce_custom, custom_fields
from tscrm.core.services.users import normalise_email
from tscrm.core.text import fold
from tscrm.i18n import _

_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_TAG_SPLIT = re.compile(r"[;,]")
# Column widths of the contact tables: a longer value is an error, never silently cut.
MAX_LENGTHS = {
    "name": 300,
    "company_name": 300,
    "position": 200,
    "address": 500,
    "external_ref": 100,
    "utm": 200,
    "email": 320,
    "tag": 100,
}
DEFAULT_OWNER = -1  # "the importing user", as in the services


@dataclass(slots=True)
class RowError:
    """One reason a row was rejected: where (row, column), what (value) and why."""

    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


@dataclass(slots=True)
class Record:
    """A client or lead as it will be stored (phones in E.164, emails lower-case, tags cleaned)."""

    row: int
    name: str
    company_name: str | None = None
    position: str | None = None
    address: str | None = None
    phones: list[tuple[str, str]] = field(default_factory=list)  # (kind, e164)
    emails: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    source: str | None = None
    owner_id: int | None = DEFAULT_OWNER
    custom: dict[str, Any] = field(default_factory=dict)
    external_ref: str | None = None
    notes: list[str] = field(default_factory=list)
    utm: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None  # when another system knew it first (Teamsale)
    status: str | None = None  # a lead's status, when the source says (Teamsale)
    search: tuple[str, str, str, str] | None = None  # (name, name_key, text, digits) of its search entry

    def to_wire(self) -> tuple:
        """A plain tuple: pickles 15x faster than the object (rows travel between processes)."""
        return (
            self.row, self.name, self.company_name, self.position, self.address, self.phones, self.emails,
            self.tags, self.source, self.owner_id, self.custom, self.external_ref, self.notes, self.utm,
            self.created_at, self.status, self.search,
        )

    @classmethod
    def from_wire(cls, values: tuple) -> Record:
        return cls(*values)

    def merge(self, other: Record) -> list[str]:
        """Take ``other``'s values in (an update): non-empty values replace, lists are added up."""
        changed: list[str] = []
        for key in ("name", "company_name", "position", "address", "source", "external_ref", "status"):
            value = getattr(other, key)
            if value and value != getattr(self, key):
                setattr(self, key, value)
                changed.append(key)
        if other.owner_id != DEFAULT_OWNER and other.owner_id != self.owner_id:
            self.owner_id = other.owner_id
            changed.append("owner_id")
        known = {e for _k, e in self.phones}
        new_phones = [(k, e) for k, e in other.phones if e not in known]
        if new_phones:
            self.phones.extend(new_phones)
            changed.append("phones")
        new_emails = [e for e in other.emails if e not in self.emails]
        if new_emails:
            self.emails.extend(new_emails)
            changed.append("emails")
        keys = {fold(t) for t in self.tags}
        new_tags = [t for t in other.tags if fold(t) not in keys]
        if new_tags:
            self.tags.extend(new_tags)
            changed.append("tags")
        custom = {k: v for k, v in other.custom.items() if self.custom.get(k) != v}
        if custom:
            self.custom.update(custom)
            changed.append("custom")
        utm = {k: v for k, v in other.utm.items() if v and self.utm.get(k) != v}
        if utm:
            self.utm.update(utm)
            changed.append("utm")
        self.notes.extend(n for n in other.notes if n not in self.notes)
        if changed:
            self.search = None  # to be computed again from the merged values
        return changed

    def search_fields(self, maker: SearchFields | None = None) -> tuple[str, str, str, str]:
        """(name, name_key, text, digits) of the record's search entry, as the services store them."""
        if self.search is None:
            # tags in name order, as search.index_client reads them back
            self.search = (maker or _SEARCH_FIELDS)(self.name, self.company_name, self.emails, sorted(self.tags), [e for _k, e in self.phones])
        return self.search


class SearchFields:
    """``search.entry_fields`` for a million records: the same values, about three times faster.

    Companies, tags and email domains repeat, so their search keys are remembered, and the name is
    keyed once instead of twice. The text is put together here the way ``search.entry_text`` does,
    so the first records, and one in a thousand after them, are checked against ``entry_fields``
    itself: should the search module ever build entries differently, every record gets
    ``entry_fields`` from then on.
    """

    CHECK_FIRST = 100
    CHECK_EVERY = 1009
    _name_limit = len(search.entry_fields("x" * 1000).name)
    _text_limit = len(search.entry_text("a", None, [], ["y" * 90] * 100).encode())

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}
        self._made = 0
        self.trusted = True

    def _key(self, value: str) -> str:
        found = self._keys.get(value)
        if found is None:
            if len(self._keys) > 200_000:
                self._keys.clear()
            found = self._keys[value] = search.search_key(value)
        return found

    def __call__(self, name: str, company: str | None, emails: list[str], tags: list[str], phones: list[str]) -> tuple[str, str, str, str]:
        self._made += 1
        if self.trusted and self._made > self.CHECK_FIRST and self._made % self.CHECK_EVERY:
            return self._fast(name, company, emails, tags, phones)
        reference = search.entry_fields(name, company, emails, tags, phones)
        expected = (reference.name, reference.name_key, reference.text, reference.digits)
        if self.trusted and self._fast(name, company, emails, tags, phones) != expected:
            self.trusted = False
        return expected

    def _fast(self, name: str, company: str | None, emails: list[str], tags: list[str], phones: list[str]) -> tuple[str, str, str, str]:
        key = self._key
        name_key = search.name_key(name)
        parts = [name_key]
        if company:
            parts.append(key(company))
        parts.extend(key(e) for e in emails)
        parts.extend(key(t) for t in tags)
        text = "".join(" " + part for part in parts if part)
        if len(text) * 4 > self._text_limit and len(encoded := text.encode()) > self._text_limit:
            text = encoded[: self._text_limit].decode(errors="ignore")
        return (name[: self._name_limit], name_key, text, search.phone_digits(phones))


_SEARCH_FIELDS = SearchFields()


def country_codes() -> dict[str, str]:
    """Folded country names (English, Spanish, French) and ISO codes -> phone region ("españa" -> ES)."""
    import phonenumbers
    from babel import Locale

    regions = phonenumbers.SUPPORTED_REGIONS
    table: dict[str, str] = {code.lower(): code for code in regions}
    for language in ("en", "es", "fr"):
        for code, name in Locale.parse(language).territories.items():
            if code in regions:
                table.setdefault(fold(name), code)
    table.update({"uk": "GB", "england": "GB", "great britain": "GB", "usa": "US", "u s a": "US", "u k": "GB"})
    return table


def user_lookup(session: Session) -> dict[str, int]:
    """Active users by folded email, extension and (unambiguous) name, for a "responsible" column."""
    table: dict[str, int] = {}
    names: dict[str, list[int]] = {}
    for user in session.exec(select(User).where(User.is_active == True)):
        table[user.email.lower()] = user.id  # type: ignore[assignment]
        if user.extension:
            table[user.extension] = user.id  # type: ignore[assignment]
        names.setdefault(fold(user.name), []).append(user.id)  # type: ignore[arg-type]
    for name, ids in names.items():
        if len(ids) == 1:
            table.setdefault(name, ids[0])
    return table


@dataclass
class PrepareContext:
    """Everything a :class:`RowPreparer` needs, as plain data (it is sent to a worker process)."""

    entity: Entity
    headers: list[str]
    columns: dict[str, str]
    region: str | None
    actor_id: int
    actor_name: str
    may_give_away: bool
    default_source: str | None = None
    extra_tags: tuple[str, ...] = ()
    custom: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)
    with_search: bool = True  # compute the search entry's fields too (the writer needs them)

    @classmethod
    def build(
        cls,
        session: Session,
        actor: Actor,
        mapping: Mapping,
        headers: list[str],
        *,
        region: str | None,
        default_source: str | None = None,
        extra_tags: tuple[str, ...] = (),
    ) -> PrepareContext:
        definitions = [
            {"key": d.key, "label": d.label, "type": d.type.value, "choices": list(d.choices)}
            for d in custom_fields(session, mapping.entity)
        ]
        needs_users = any(f == "owner" for f in mapping.columns.values())
        return cls(
            entity=mapping.entity,
            headers=list(headers),
            columns=dict(mapping.columns),
            region=region,
            actor_id=actor.id,
            actor_name=actor.name,
            may_give_away=actor.can(Right.EDIT) and actor.can(Right.SEE_ALL),
            default_source=default_source,
            extra_tags=tuple(extra_tags),
            custom=definitions,
            users=user_lookup(session) if needs_users else {},
        )


class RowPreparer:
    """Builds a :class:`Record` from a row, or says precisely what is wrong with it."""

    def __init__(self, context: PrepareContext) -> None:
        self.context = context
        self.entity: Entity = context.entity
        self.actor_id = context.actor_id
        self.actor_name = context.actor_name
        headers = context.headers
        self.headers = headers
        self.region = context.region
        self.parser = PhoneParser()
        self.default_source = " ".join((context.default_source or "").split())[:100] or None
        self.extra_tags = [t for t in (" ".join(x.split()) for x in context.extra_tags) if t]
        self.with_search = context.with_search
        self.search_maker = SearchFields()
        mapping = Mapping(context.entity, dict(context.columns))
        index = {h: i for i, h in enumerate(headers)}

        def cols(key: str) -> list[int]:
            return [index[c] for c in mapping.columns_for(key) if c in index]

        self.name_cols = cols("name")
        self.first_cols = cols("first_name")
        self.last_cols = cols("last_name")
        self.company_cols = cols("company_name")
        self.position_cols = cols("position")
        self.address_cols = cols("address")
        self.city_cols = cols("city")
        self.zip_cols = cols("zip")
        self.country_cols = cols("country")
        self.phone_cols = [(i, kind) for key, kind in PHONE_FIELDS.items() for i in cols(key)]
        self.phone_cols.sort()
        self.email_cols = cols("email")
        self.tag_cols = cols("tags")
        self.source_cols = cols("source")
        self.owner_cols = cols("owner")
        self.note_cols = cols("note")
        self.ref_cols = cols("external_ref")
        self.utm_cols = [(key, i) for key in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content") for i in cols(key)]
        definitions = {
            d["key"]: CustomField(entity=context.entity, key=d["key"], label=d["label"], type=CustomFieldType(d["type"]), choices=d["choices"])
            for d in context.custom
        }
        self.custom_cols: list[tuple[int, CustomField]] = []
        for header, key in mapping.columns.items():
            if key.startswith(CUSTOM_PREFIX) and key[len(CUSTOM_PREFIX):] in definitions and header in index:
                self.custom_cols.append((index[header], definitions[key[len(CUSTOM_PREFIX):]]))
        self.countries = country_codes() if self.country_cols else {}
        self.users = context.users
        self.may_give_away = context.may_give_away

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _first(cells: list[str], columns: list[int]) -> str:
        for i in columns:
            value = cells[i].strip()
            if value:
                return value
        return ""

    def _check_length(self, key: str, value: str, column: str, row: int, errors: list[RowError]) -> str | None:
        limit = MAX_LENGTHS["utm" if key.startswith("utm") else key]
        if len(value) > limit:
            errors.append(
                RowError(row, column, value[:40] + "…", _("at most {n} characters (this one has {m})").format(n=limit, m=len(value)))
            )
            return None
        return value or None

    def _row_region(self, cells: list[str]) -> str | None:
        for i in self.country_cols:
            value = cells[i].strip()
            if value:
                code = self.countries.get(fold(value)) or self.countries.get(value.lower())
                if code:
                    return code
        return self.region

    # -- the row ---------------------------------------------------------------------------------

    def prepare(self, raw: RawRow) -> tuple[Record | None, list[RowError]]:
        row = raw.number
        cells = raw.cells
        errors: list[RowError] = []
        if raw.problem:
            errors.append(RowError(row, "", "", raw.problem))
        headers = self.headers

        name = self._first(cells, self.name_cols)
        if not name:
            name = " ".join(p for p in (self._first(cells, self.first_cols), self._first(cells, self.last_cols)) if p)
        name = " ".join(name.split())
        company = " ".join(self._first(cells, self.company_cols).split())
        if not name:
            name = company
        if not name:
            columns = [headers[i] for i in (self.name_cols or self.first_cols + self.last_cols)] or [_("name")]
            errors.append(RowError(row, ", ".join(columns), "", _("a name is needed (or a company name)")))
        elif len(name) > MAX_LENGTHS["name"]:
            col_name = headers[(self.name_cols or self.first_cols or self.company_cols or [0])[0]]
            self._check_length("name", name, col_name, row, errors)
        record = Record(row, name)
        if company:
            record.company_name = self._check_length("company_name", company, headers[self.company_cols[0]], row, errors)
        if self.position_cols:
            value = " ".join(self._first(cells, self.position_cols).split())
            if value:
                record.position = self._check_length("position", value, headers[self.position_cols[0]], row, errors)
        if self.address_cols or self.city_cols or self.zip_cols:
            parts = [cells[i].strip() for i in self.address_cols if cells[i].strip()]
            place = " ".join(p for p in (self._first(cells, self.zip_cols), self._first(cells, self.city_cols)) if p)
            if place:
                parts.append(place)
            address = ", ".join(" ".join(p.split()) for p in parts)
            if address:
                column = headers[(self.address_cols or self.city_cols or self.zip_cols)[0]]
                record.address = self._check_length("address", address, column, row, errors)

        if self.phone_cols:
            region = self._row_region(cells) if self.country_cols else self.region
            seen: set[str] = set()
            fast = self.parser.fast
            for i, kind in self.phone_cols:
                cell = cells[i]
                if not cell or cell.isspace():
                    continue
                numbers = split_phones(cell) if ("," in cell or ";" in cell) else [cell.strip()]
                for number in numbers:
                    e164 = fast(number)
                    if e164 is None:
                        try:
                            e164 = self.parser.slow(number, region, field=headers[i])
                        except InvalidPhone as exc:
                            errors.append(RowError(row, headers[i], number, str(exc)))
                            continue
                    if e164 not in seen:
                        seen.add(e164)
                        record.phones.append((kind, e164))

        for i in self.email_cols:
            cell = cells[i].strip()
            if not cell:
                continue
            for value in _EMAIL_SPLIT.split(cell) if (" " in cell or "," in cell or ";" in cell) else [cell]:
                if not value:
                    continue
                try:
                    address = normalise_email(value, headers[i])
                except ValidationError:
                    errors.append(RowError(row, headers[i], value, _("not an email address")))
                    continue
                if len(address) > MAX_LENGTHS["email"]:
                    self._check_length("email", address, headers[i], row, errors)
                elif address not in record.emails:
                    record.emails.append(address)

        tags = list(self.extra_tags)
        for i in self.tag_cols:
            cell = cells[i]
            if cell.strip():
                tags.extend(cell.split(",") if ";" not in cell else _TAG_SPLIT.split(cell))
        if tags:
            keys: set[str] = set()
            for raw_tag in tags:
                tag = " ".join(raw_tag.split())
                if not tag:
                    continue
                if len(tag) > MAX_LENGTHS["tag"]:
                    errors.append(RowError(row, headers[self.tag_cols[0]] if self.tag_cols else "", tag[:40] + "…", _("a tag has at most 100 characters")))
                    continue
                key = fold(tag)
                if key not in keys:
                    keys.add(key)
                    record.tags.append(tag)

        source = " ".join(self._first(cells, self.source_cols).split()) if self.source_cols else ""
        record.source = source[:100] or self.default_source

        if self.owner_cols:
            who = self._first(cells, self.owner_cols)
            if who:
                owner = self.users.get(who.lower()) or self.users.get(fold(who))
                column = headers[self.owner_cols[0]]
                if owner is None:
                    errors.append(RowError(row, column, who, _("no active user with this email, extension or name")))
                elif owner != self.actor_id and not self.may_give_away:
                    errors.append(RowError(row, column, who, _("{user} may not give records to other users").format(user=self.actor_name)))
                else:
                    record.owner_id = owner

        if self.ref_cols:
            ref = self._first(cells, self.ref_cols)
            if ref:
                record.external_ref = self._check_length("external_ref", ref, headers[self.ref_cols[0]], row, errors)
        for i in self.note_cols:
            text = cells[i].strip()
            if text:
                record.notes.append(text)
        for key, i in self.utm_cols:
            value = cells[i].strip()
            if value and key not in record.utm:
                checked = self._check_length(key, value, headers[i], row, errors)
                if checked:
                    record.utm[key] = checked
        for i, definition in self.custom_cols:
            value = cells[i].strip()
            if value:
                try:
                    record.custom[definition.key] = _coerce_custom(definition, value)
                except ValidationError as exc:
                    errors.append(RowError(row, headers[i], value, str(exc)))
        if errors:
            return None, errors
        if self.with_search:
            record.search_fields(self.search_maker)
        return record, errors
