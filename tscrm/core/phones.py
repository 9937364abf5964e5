"""Phone numbers: parse anything people type into E.164, and back into something to dial.

International form (+ or 00) is required unless a region is given (the company's default region, or a
country column in an import). The company's "call without country code" option changes dialling only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from tscrm.core.errors import InvalidPhone
from tscrm.i18n import _

_SEPARATORS = re.compile(r"[\s().\-/]+")
# A number already international and plausibly complete: parse it without the region guesswork.
_FAST_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_SPLIT = re.compile(r"[;,]")


@dataclass(frozen=True)
class ParsedPhone:
    e164: str

    @property
    def digits(self) -> str:
        return self.e164[1:]

    @property
    def rdigits(self) -> str:
        return self.digits[::-1]


def parse_phone(raw: str, region: str | None = None, *, field: str | None = None, require_valid: bool = True) -> ParsedPhone:
    """Parse one number or raise ``InvalidPhone`` naming the number and the reason.

    ``require_valid=False`` accepts a number of the right length for its country even when the
    metadata does not list its range (imports: ranges get allocated before phonenumbers knows them).
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("Empty phone number"), raw, field)
    compact = _SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.startswith("+") and not region:
        raise InvalidPhone(
            _("{number}: not in international format (start with + or 00, or set a default region)").format(
                number=text
            ),
            raw,
            field,
        )
    try:
        number = phonenumbers.parse(compact, None if compact.startswith("+") else region.upper())
    except NumberParseException as exc:
        raise InvalidPhone(_("{number}: not a phone number ({reason})").format(number=text, reason=_reason(exc)), raw, field) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone(_("{number}: wrong length for its country").format(number=text), raw, field)
    if not require_valid and phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidPhone(_("{number}: wrong length for its country").format(number=text), raw, field)  # local-only lengths
    if require_valid and not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_("{number}: not a valid number").format(number=text), raw, field)
    return ParsedPhone(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def _reason(exc: NumberParseException) -> str:
    reasons = {
        NumberParseException.INVALID_COUNTRY_CODE: _("unknown country code"),
        NumberParseException.NOT_A_NUMBER: _("not a number"),
        NumberParseException.TOO_SHORT_AFTER_IDD: _("too short"),
        NumberParseException.TOO_SHORT_NSN: _("too short"),
        NumberParseException.TOO_LONG: _("too long"),
    }
    return reasons.get(exc.error_type, str(exc))


def split_phones(cell: str) -> list[str]:
    """Several numbers in one cell, separated by commas or semicolons."""
    return [part.strip() for part in _SPLIT.split(cell or "") if part.strip()]


def format_phone(e164: str, region: str | None = None) -> str:
    """Readable form: national for numbers of ``region``, international otherwise."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return e164
    if region and phonenumbers.region_code_for_number(number) == region.upper():
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


def dial_string(e164: str, region: str | None, without_country_code: bool) -> str:
    """What to send to the PBX. Storage stays E.164; only dialling drops the country code."""
    if not without_country_code or not region:
        return e164
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) != region.upper():
        return e164
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL).replace(" ", "")


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
