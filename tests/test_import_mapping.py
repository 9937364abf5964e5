"""Which column goes to which field: suggestions in three languages, overrides, saved mappings; and the
phone numbers of an import (the fast path agrees with the library)."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tscrm.core.errors import InvalidPhone, NotFound, ValidationError
from tscrm.core.imports.fast_phones import PhoneParser
from tscrm.core.imports.mapping import (
    apply_overrides,
    load_mapping,
    mapping_for,
    parse_overrides,
    save_mapping,
    suggest_mapping,
)
from tscrm.core.models import CustomField, CustomFieldType
from tscrm.core.phones import parse_phone


@pytest.mark.parametrize(
    "header,field",
    [
        ("Nombre del cliente", "name"),
        ("Número de teléfono", "phone"),
        ("Téléphone portable", "mobile"),
        ("Mobile Phone Number", "mobile"),
        ("Teléfono móvil", "mobile"),
        ("Correo electrónico", "email"),
        ("E-mail", "email"),
        ("Courriel", "email"),
        ("Société", "company_name"),
        ("Account Name", "company_name"),
        ("Empresa", "company_name"),
        ("Etiquetas", "tags"),
        ("Tags", "tags"),
        ("Ville", "city"),
        ("Address City", "city"),
        ("Código postal", "zip"),
        ("País", "country"),
        ("Responsable", "owner"),
        ("Contact owner", "owner"),
        ("Description", "note"),
        ("Cargo", "position"),
        ("Phone 2", "phone"),
        ("Lead Source", "source"),
        ("Fax", ""),
        ("Whatever", ""),
    ],
)
def test_column_names_in_english_spanish_and_french(header, field):
    assert suggest_mapping([header], "client").columns[header] == field


def test_first_and_last_names_in_three_languages():
    assert suggest_mapping(["Nombre", "Apellidos"], "client").columns == {"Nombre": "first_name", "Apellidos": "last_name"}
    assert suggest_mapping(["Nom", "Prénom"], "client").columns == {"Nom": "last_name", "Prénom": "first_name"}
    assert suggest_mapping(["First Name", "Last Name"], "client").columns == {"First Name": "first_name", "Last Name": "last_name"}
    assert suggest_mapping(["Nombre", "Teléfono"], "client").columns["Nombre"] == "name"
    assert suggest_mapping(["Nom"], "client").columns["Nom"] == "name"


def test_one_value_fields_keep_their_first_column_and_utm_is_for_leads():
    columns = suggest_mapping(["Name", "Full name", "Phone", "Phone (2)", "UTM Source"], "client").columns
    assert columns == {"Name": "name", "Full name": "", "Phone": "phone", "Phone (2)": "phone", "UTM Source": ""}
    assert suggest_mapping(["UTM Source"], "lead").columns["UTM Source"] == "utm_source"


def test_custom_fields_by_label_or_key():
    custom = [
        CustomField(entity="client", key="vat_number", label="Número de IVA", type=CustomFieldType.TEXT),
        CustomField(entity="lead", key="budget", label="Budget", type=CustomFieldType.NUMBER),
    ]
    columns = suggest_mapping(["Número de IVA", "Budget"], "client", custom).columns
    assert columns == {"Número de IVA": "custom:vat_number", "Budget": ""}  # Budget is a lead field
    assert suggest_mapping(["VAT_number"], "client", custom).columns == {"VAT_number": "custom:vat_number"}


def test_overrides_with_aliases_and_what_is_unmapped():
    headers = ["Cliente", "Tel", "Móvil", "Notas internas"]
    mapping = mapping_for(headers, "client", overrides=parse_overrides(["Móvil=home phone", "tel=", "Notas internas=notes"]))
    assert mapping.columns == {"Cliente": "name", "Tel": "", "Móvil": "home_phone", "Notas internas": "note"}
    assert mapping.unmapped() == ["Tel"]
    # taking a one-value field over from another column
    mapping = apply_overrides(mapping, headers, {"Notas internas": "name"})
    assert mapping.columns["Cliente"] == "" and mapping.columns["Notas internas"] == "name"


@pytest.mark.parametrize(
    "option,message",
    [
        ("Nope=name", "no column 'Nope'.*Cliente, Tel"),
        ("Tel=telepathy", "unknown field 'telepathy'"),
        ("Tel", "should look like"),
    ],
)
def test_bad_overrides_name_what_exists(option, message):
    with pytest.raises(ValidationError, match=message):
        mapping_for(["Cliente", "Tel"], "client", overrides=parse_overrides([option]))


def test_saved_mappings_are_reused(db, admin):
    headers = ["Nombre", "Tlf", "X"]
    with db.write() as s:
        mapping = mapping_for(headers, "client", overrides={"Tlf": "mobile", "X": "note"})
        save_mapping(s, admin, "Feria", mapping)
    with db.read() as s:
        saved = load_mapping(s, "Feria", "client")
        assert mapping_for(["nombre", "TLF", "Y"], "client", saved=saved).columns == {"nombre": "name", "TLF": "mobile", "Y": ""}
        with pytest.raises(NotFound, match="Feria"):
            load_mapping(s, "Nope", "client")


# --- phone numbers ------------------------------------------------------------------------------

parser = PhoneParser()


def reference(raw: str, region: str | None = None) -> str:
    """The import's rule spelled out with the library only."""
    compact = re.sub(r"[\s().\-/]+", "", raw)
    international = compact.startswith(("+", "00"))
    return parse_phone(raw, region, require_valid=not international).e164


def outcome(function, raw, region=None):
    try:
        return function(raw, region)
    except InvalidPhone as exc:
        return f"error: {exc}"


def test_fast_path_agrees_with_the_library_on_every_regions_example_numbers():
    rng = random.Random(3)
    cases = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE) or phonenumbers.example_number(region)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        cases += [e164, "00" + e164[1:], phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL), e164 + "5", e164[:-2]]
        digits = e164[1:]
        cases.append("+" + "".join(d if rng.random() < 0.8 else rng.choice("0123456789") for d in digits))
    for raw in cases:
        assert outcome(parser.e164, raw) == outcome(reference, raw), raw
    assert parser.fast_hits > 200


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="+0123456789 -.()/", min_size=1, max_size=22))
def test_fast_path_agrees_with_the_library_on_random_input(raw):
    assert outcome(parser.e164, raw, "ES") == outcome(reference, raw, "ES")


def test_a_french_local_number_never_becomes_a_wrong_spanish_one():
    with pytest.raises(InvalidPhone):
        parser.e164("0612345678", "ES")
    assert parser.e164("06 12 34 56 78", "FR") == "+33612345678"
    assert parser.e164("+33 6 96 69 09 11") == "+33696690911"  # international: right length is enough
    with pytest.raises(InvalidPhone, match="wrong length"):
        parser.e164("+34 612 345")


# --- search entries -----------------------------------------------------------------------------

words = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(name=words, company=st.one_of(st.none(), words), emails=st.lists(words, max_size=3), tags=st.lists(words, max_size=40))
def test_the_importers_search_fields_are_the_services(name, company, emails, tags):
    from tscrm.core import search
    from tscrm.core.imports.records import SearchFields

    maker = SearchFields()
    reference = search.entry_fields(name, company, emails, tags, ["+34612345678"])
    assert maker._fast(name, company, emails, tags, ["+34612345678"]) == (reference.name, reference.name_key, reference.text, reference.digits)
