import pytest

from tscrm.core.errors import InvalidPhone
from tscrm.core.phones import dial_string, format_phone, parse_phone, split_phones


@pytest.mark.parametrize(
    "raw,region,expected",
    [
        ("+34 612 34 56 78", None, "+34612345678"),
        ("0034612345678", None, "+34612345678"),
        ("+34-612-345-678", None, "+34612345678"),
        ("+33.6.11.47.10.49", None, "+33611471049"),
        ("(+44) 7911 123456", None, "+447911123456"),
        ("612 345 678", "ES", "+34612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
    ],
)
def test_parse_to_e164(raw, region, expected):
    assert parse_phone(raw, region).e164 == expected


@pytest.mark.parametrize(
    "raw,region,reason",
    [
        ("612345678", None, "international format"),
        ("12345", None, "international format"),
        ("+34 12", None, "wrong length|not a valid"),
        ("hello", "ES", "not a phone number"),
        # a French local number read as Spanish must not slip in as a wrong +34 number
        ("0612345678", "ES", "wrong length|not a valid"),
        ("+999 1234567", None, "unknown country code|not a valid|wrong length"),
    ],
)
def test_invalid_numbers_are_refused_with_number_and_reason(raw, region, reason):
    with pytest.raises(InvalidPhone, match=reason) as info:
        parse_phone(raw, region, field="phones[0]")
    assert raw in str(info.value) or raw == info.value.number
    assert info.value.field == "phones[0]"


def test_split_cells_and_formatting():
    assert split_phones("+34 612 345 678, +33 6 11 47 10 49;+44 7911 123456") == [
        "+34 612 345 678",
        "+33 6 11 47 10 49",
        "+44 7911 123456",
    ]
    assert format_phone("+34612345678", "ES") == "612 34 56 78"
    assert format_phone("+34612345678", "FR") == "+34 612 34 56 78"


def test_call_without_country_code_changes_dialling_only():
    assert dial_string("+34612345678", "ES", True) == "612345678"
    assert dial_string("+33612345678", "ES", True) == "+33612345678"
    assert dial_string("+34612345678", "ES", False) == "+34612345678"
