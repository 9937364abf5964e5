"""Which file column goes to which tscrm field: suggestions from column names, overrides, saved mappings.

Column names are recognised in English, Spanish and French ("Nombre del cliente" -> name,
"Número de teléfono" -> work phone, "Téléphone portable" -> mobile), custom fields by their label or
key, and a "Tags"/"Etiquetas" column to tags. "Nombre"/"Nom" mean the first or the last name when the
file also has the other half ("Nombre" + "Apellidos", "Nom" + "Prénom"); first and last names are
joined into the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel import Session, col, select

from tscrm.core.errors import NotFound, ValidationError
from tscrm.core.models import CustomField
from tscrm.core.models_import import SavedMapping
from tscrm.core.permissions import Actor, Right
from tscrm.core.text import fold
from tscrm.core.types import utcnow
from tscrm.i18n import N_, _

Entity = Literal["client", "lead"]
IGNORE = ""
CUSTOM_PREFIX = "custom:"

# Every field a column can feed, with the label a mapping screen shows.
FIELDS: dict[str, str] = {
    "name": N_("Name"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "company_name": N_("Company"),
    "position": N_("Position"),
    "address": N_("Address"),
    "city": N_("City"),
    "zip": N_("Postal code"),
    "country": N_("Country (region of national phone numbers)"),
    "phone": N_("Work phone"),
    "mobile": N_("Mobile phone"),
    "home_phone": N_("Home phone"),
    "other_phone": N_("Other phone"),
    "email": N_("Email"),
    "tags": N_("Tags"),
    "source": N_("Source"),
    "owner": N_("Responsible (user email, extension or name)"),
    "note": N_("Note (added to the feed)"),
    "external_ref": N_("External id"),
    "utm_source": N_("UTM source"),
    "utm_medium": N_("UTM medium"),
    "utm_campaign": N_("UTM campaign"),
    "utm_term": N_("UTM term"),
    "utm_content": N_("UTM content"),
}
LEAD_ONLY = frozenset({"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"})
PHONE_FIELDS: dict[str, str] = {"phone": "work", "mobile": "mobile", "home_phone": "home", "other_phone": "other"}
# Fields several columns may feed (their values are added up); the others take one column.
MULTI_FIELDS = frozenset({*PHONE_FIELDS, "email", "tags", "note", "address"})

# Other spellings accepted in --map "Column=field".
FIELD_ALIASES: dict[str, str] = {
    "company": "company_name",
    "work_phone": "phone",
    "telephone": "phone",
    "mobile_phone": "mobile",
    "emails": "email",
    "tag": "tags",
    "responsible": "owner",
    "owner_email": "owner",
    "notes": "note",
    "description": "note",
    "postal_code": "zip",
    "external_id": "external_ref",
    "id": "external_ref",
    "ignore": IGNORE,
    "skip": IGNORE,
    "none": IGNORE,
    "-": IGNORE,
}

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "full name", "fullname", "contact", "contact name", "client", "client name", "customer",
        "customer name", "lead", "lead name", "display name", "person", "nombre completo", "nombre del cliente",
        "nombre cliente", "cliente", "nombre y apellidos", "contacto", "nombre del contacto", "nom complet",
        "nom du client", "nom et prenom", "prenom et nom", "nom prenom", "prenom nom",
    ),
    "first_name": ("first name", "firstname", "given name", "forename", "first", "nombre de pila", "prenom", "prenoms"),
    "last_name": (
        "last name", "lastname", "surname", "family name", "last", "apellido", "apellidos", "primer apellido",
        "nom de famille",
    ),
    "company_name": (
        "company", "company name", "account", "account name", "organization", "organisation", "organization name",
        "business", "business name", "employer", "empresa", "nombre de la empresa", "compania", "razon social",
        "organizacion", "societe", "entreprise", "nom de l entreprise", "nom de la societe", "raison sociale",
    ),
    "position": ("title", "job title", "position", "job", "role", "cargo", "puesto", "poste", "fonction", "titre"),
    "address": (
        "address", "street", "street address", "address street", "address line 1", "mailing street", "direccion",
        "domicilio", "calle", "direccion postal", "adresse", "rue", "adresse postale",
    ),
    "city": (
        "city", "address city", "town", "mailing city", "ciudad", "localidad", "poblacion", "municipio", "ville",
        "commune", "localite",
    ),
    "zip": (
        "zip", "zip code", "postal code", "postcode", "address postal code", "mailing zip", "codigo postal", "cp",
        "code postal",
    ),
    "country": ("country", "address country", "country code", "mailing country", "pais", "pays"),
    "phone": (
        "phone", "phone number", "telephone", "telephone number", "tel", "work phone", "office phone",
        "business phone", "phone work", "landline", "telefono", "numero de telefono", "telefono fijo", "tlf",
        "tfno", "telefono trabajo", "telefono de contacto", "numero de telephone", "tel fixe", "telephone fixe",
        "telephone professionnel", "telephone bureau",
    ),
    "mobile": (
        "mobile", "mobile phone", "mobile phone number", "mobile number", "cell", "cell phone", "cellphone",
        "phone mobile", "movil", "telefono movil", "numero de movil", "celular", "numero movil", "portable",
        "telephone portable", "tel portable", "numero de portable", "gsm", "telephone mobile",
    ),
    "home_phone": ("home phone", "phone home", "telefono casa", "telefono particular", "telephone domicile", "tel domicile"),
    "other_phone": ("other phone", "phone other", "otro telefono", "autre telephone"),
    "email": (
        "email", "e mail", "email address", "e mail address", "mail", "primary email", "work email",
        "correo", "correo electronico", "direccion de correo", "courriel", "adresse e mail", "adresse email",
        "adresse mail", "mel",
    ),
    "tags": ("tags", "tag", "labels", "label", "etiquetas", "etiqueta", "etiquettes", "etiquette", "mots cles"),
    "source": ("source", "lead source", "origin", "channel", "fuente", "origen", "canal", "origine"),
    "owner": (
        "owner", "contact owner", "lead owner", "account owner", "assigned to", "assigned user", "responsible",
        "sales rep", "propietario", "responsable", "asignado a", "comercial", "proprietaire", "attribue a",
        "commercial",
    ),
    "note": (
        "description", "notes", "note", "comment", "comments", "remarks", "descripcion", "notas", "nota",
        "comentario", "comentarios", "observaciones", "commentaire", "commentaires", "remarques",
    ),
    "external_ref": (
        "id", "record id", "contact id", "external id", "lead id", "customer id", "client id", "id externo",
        "identifiant", "reference", "ref",
    ),
    "utm_source": ("utm source",),
    "utm_medium": ("utm medium",),
    "utm_campaign": ("utm campaign",),
    "utm_term": ("utm term",),
    "utm_content": ("utm content",),
}
_LOOKUP: dict[str, str] = {syn: target for target, names in _SYNONYMS.items() for syn in names}
# Headers that name the whole name alone, or one half next to the other half.
_AMBIGUOUS_NAME: dict[str, str] = {"nombre": "first_name", "nom": "last_name"}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_TRAILING_NUMBER = re.compile(r"(?: \d+)+$")
_MOBILE_WORDS = ("mobile", "movil", "portable", "cell", "celular", "gsm")
_PHONE_WORDS = ("phone", "telefono", "telephone", "tel", "tlf", "tfno")
_EMAIL_WORDS = ("email", "e mail", "correo", "courriel")


def normalise_header(header: str) -> str:
    """'Número de teléfono (2)' -> 'numero de telefono': what the synonym tables are keyed on."""
    text = _NON_ALNUM.sub(" ", fold(header)).strip()
    return _TRAILING_NUMBER.sub("", text)


def field_label(key: str) -> str:
    if key.startswith(CUSTOM_PREFIX):
        return _("Custom field {key}").format(key=key[len(CUSTOM_PREFIX):])
    if key == IGNORE:
        return _("(not imported)")
    return _(FIELDS[key])


def known_fields(entity: Entity, custom: list[CustomField] | None = None) -> list[str]:
    keys = [k for k in FIELDS if entity == "lead" or k not in LEAD_ONLY]
    return keys + [CUSTOM_PREFIX + f.key for f in custom or [] if f.entity == entity]


@dataclass
class Mapping:
    """File column -> field key ("" when the column is not imported), for one entity."""

    entity: Entity
    columns: dict[str, str] = field(default_factory=dict)

    def columns_for(self, key: str) -> list[str]:
        return [c for c, f in self.columns.items() if f == key]

    def unmapped(self) -> list[str]:
        return [c for c, f in self.columns.items() if f == IGNORE]

    def as_dict(self) -> dict[str, str]:
        return dict(self.columns)


def _guess(normalised: str, entity: Entity, custom_lookup: dict[str, str]) -> str:
    if normalised in custom_lookup:
        return custom_lookup[normalised]
    target = _LOOKUP.get(normalised)
    if target is None and normalised in _AMBIGUOUS_NAME:
        target = "name"
    if target is None:
        padded = f" {normalised} "
        if any(f" {w} " in padded for w in _EMAIL_WORDS):
            target = "email"
        elif any(f" {w} " in padded for w in _PHONE_WORDS) or any(f" {w} " in padded for w in _MOBILE_WORDS):
            target = "mobile" if any(f" {w} " in padded for w in _MOBILE_WORDS) else "phone"
    if target in LEAD_ONLY and entity != "lead":
        return IGNORE
    return target or IGNORE


def suggest_mapping(headers: list[str], entity: Entity, custom: list[CustomField] | None = None) -> Mapping:
    """The mapping a user would choose for these column names (custom fields by label or key)."""
    custom_lookup: dict[str, str] = {}
    for definition in custom or []:
        if definition.entity == entity:
            custom_lookup[normalise_header(definition.label)] = CUSTOM_PREFIX + definition.key
            custom_lookup[normalise_header(definition.key.replace("_", " "))] = CUSTOM_PREFIX + definition.key
    normalised = {h: normalise_header(h) for h in headers}
    columns = {h: _guess(normalised[h], entity, custom_lookup) for h in headers}
    # "Nombre" next to "Apellidos" is the first name; "Nom" next to "Prénom" the last name.
    targets = set(columns.values())
    for header in headers:
        half = _AMBIGUOUS_NAME.get(normalised[header])
        if half and columns[header] == "name":
            other = "last_name" if half == "first_name" else "first_name"
            if other in targets:
                columns[header] = half
    _drop_repeats(columns)
    return Mapping(entity, columns)


def _drop_repeats(columns: dict[str, str]) -> None:
    """A one-value field keeps its first column; a whole name beats first + last name."""
    seen: set[str] = set()
    for header, target in columns.items():
        if target == IGNORE or target in MULTI_FIELDS:
            continue
        if target in seen:
            columns[header] = IGNORE
        seen.add(target)


def resolve_field(value: str, entity: Entity, custom: list[CustomField] | None = None) -> str:
    """A field key from what a user typed: 'phone', 'Work phone', 'custom:vat', 'vat', 'ignore'..."""
    raw = value.strip()
    key = raw.lower().replace("-", "_").replace(" ", "_")
    key = FIELD_ALIASES.get(key, key)
    custom_keys = {f.key for f in custom or [] if f.entity == entity}
    if key == IGNORE:
        return IGNORE
    if key in FIELDS and (entity == "lead" or key not in LEAD_ONLY):
        return key
    for prefix in (CUSTOM_PREFIX, "custom.", "custom_"):
        if raw.lower().startswith(prefix) and raw[len(prefix):] in custom_keys:
            return CUSTOM_PREFIX + raw[len(prefix):]
    if raw in custom_keys:
        return CUSTOM_PREFIX + raw
    for known, label in FIELDS.items():  # the label in the current language ("Mobile phone")
        if fold(_(label)) == fold(raw) and (entity == "lead" or known not in LEAD_ONLY):
            return known
    raise ValidationError(
        _("--map: unknown field {field!r} (fields: {known})").format(
            field=value, known=", ".join(known_fields(entity, custom))
        ),
        "map",
    )


def parse_overrides(values: list[str] | None) -> dict[str, str]:
    """``--map "Column=field"`` options as a dict (the last one wins for a column)."""
    out: dict[str, str] = {}
    for raw in values or ():
        column, sep, target = raw.rpartition("=")
        if not sep or not column.strip():
            raise ValidationError(_("--map: {value!r} should look like \"Column=field\"").format(value=raw), "map")
        out[column.strip()] = target.strip()
    return out


def _find_column(headers: list[str], wanted: str) -> str | None:
    if wanted in headers:
        return wanted
    folded = fold(wanted)
    for header in headers:
        if fold(header) == folded:
            return header
    return None


def apply_overrides(
    mapping: Mapping, headers: list[str], overrides: dict[str, str], custom: list[CustomField] | None = None
) -> Mapping:
    """The mapping with the user's choices applied; unknown columns or fields name what exists."""
    columns = dict(mapping.columns)
    for wanted, target in overrides.items():
        header = _find_column(headers, wanted)
        if header is None:
            raise ValidationError(
                _("--map: the file has no column {column!r} (columns: {known})").format(
                    column=wanted, known=", ".join(headers)
                ),
                "map",
            )
        key = resolve_field(target, mapping.entity, custom) if target else IGNORE
        if key and key not in MULTI_FIELDS:
            for other, other_key in columns.items():  # the user's choice takes the field over
                if other_key == key and other != header:
                    columns[other] = IGNORE
        columns[header] = key
    return Mapping(mapping.entity, columns)


def mapping_for(
    headers: list[str],
    entity: Entity,
    custom: list[CustomField] | None = None,
    *,
    saved: dict[str, str] | None = None,
    overrides: dict[str, str] | None = None,
) -> Mapping:
    """Suggestions, then a saved mapping's choices for the columns it knows, then ``--map``."""
    mapping = suggest_mapping(headers, entity, custom)
    if saved:
        known = {fold(k): v for k, v in saved.items()}
        for header in headers:
            if fold(header) in known:
                mapping.columns[header] = known[fold(header)]
    if overrides:
        mapping = apply_overrides(mapping, headers, overrides, custom)
    check_mapping(mapping, custom)
    return mapping


def check_mapping(mapping: Mapping, custom: list[CustomField] | None = None) -> None:
    """Refuse a mapping that cannot produce a record (no name, unknown fields from a stale save)."""
    allowed = set(known_fields(mapping.entity, custom)) | {IGNORE}
    for header, key in mapping.columns.items():
        if key not in allowed:
            raise ValidationError(
                _("Column {column!r} is mapped to {field!r}, which does not exist (any more)").format(
                    column=header, field=key
                ),
                "map",
            )
    used = set(mapping.columns.values())
    if not used & {"name", "first_name", "last_name", "company_name"}:
        raise ValidationError(
            _("No column gives the name: map one with --map \"Column=name\" (columns: {known})").format(
                known=", ".join(mapping.columns)
            ),
            "map",
        )


# --- saved mappings -------------------------------------------------------------------------------


def save_mapping(session: Session, actor: Actor, name: str, mapping: Mapping) -> SavedMapping:
    """Store (or replace) a named mapping for later imports of files shaped the same way."""
    actor.require(Right.IMPORT)
    label = " ".join((name or "").split())
    if not label or len(label) > 100:
        raise ValidationError(_("--save-mapping: a name of 1 to 100 characters"), "save_mapping")
    row = session.exec(
        select(SavedMapping).where(SavedMapping.entity == mapping.entity, SavedMapping.name == label)
    ).first()
    if row is None:
        row = SavedMapping(entity=mapping.entity, name=label, created_by_id=actor.id)
        session.add(row)
    row.columns = {k: v for k, v in mapping.columns.items()}
    row.created_at = utcnow()
    session.flush()
    return row


def load_mapping(session: Session, name: str, entity: Entity) -> dict[str, str]:
    row = session.exec(
        select(SavedMapping).where(SavedMapping.entity == entity, SavedMapping.name == " ".join(name.split()))
    ).first()
    if row is None:
        names = session.exec(select(SavedMapping.name).where(SavedMapping.entity == entity).order_by(col(SavedMapping.name))).all()
        raise NotFound(
            _("No saved mapping {name!r} for {entity} imports (saved: {names})").format(
                name=name, entity=entity, names=", ".join(names) or "-"
            )
        )
    return dict(row.columns)


def list_mappings(session: Session, entity: Entity | None = None) -> list[SavedMapping]:
    query = select(SavedMapping).order_by(col(SavedMapping.entity), col(SavedMapping.name))
    if entity:
        query = query.where(SavedMapping.entity == entity)
    return list(session.exec(query))


def describe(mapping: Mapping) -> list[dict[str, Any]]:
    """One line per column (column, field, label), for reports and the mapping screen."""
    return [{"column": c, "field": f, "label": field_label(f)} for c, f in mapping.columns.items()]
