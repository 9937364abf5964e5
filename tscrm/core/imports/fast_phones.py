"""Phone numbers of an import: a fast path for numbers already international, ``parse_phone`` otherwise.

The rule: a number written with its country code (``+`` or ``00``) is accepted when it has a length
its country uses -- phonenumbers' list of allocated ranges lags reality, and the sample exports of
other CRMs hold mobile numbers it does not list yet. A national number, whose country is only
guessed from a country column or the company's default region, must be fully valid there: that is
what stops the French local 0612345678 from becoming a wrong +34 number.

``phonenumbers`` parses about 60,000 numbers a second; an import of a million rows holds one and a
half million. Once separators are removed most numbers are "+<country code><number>", and the
length check needs only the country's metadata, read once. The fast path answers only when it is
certain to agree with ``parse_phone(..., require_valid=False)``: it declines (and the library
decides) when the number starts with 0, could carry a national prefix, has an unusual length or a
non-geographic code. Tests compare both on random numbers and on example numbers of every region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from tscrm.core.phones import parse_phone

# The separators tscrm.core.phones.parse_phone removes.
_SEPARATORS = re.compile(r"[\s().\-/]+")
_INTERNATIONAL = re.compile(r"\+[1-9][0-9]{3,19}")


@dataclass(frozen=True)
class _Country:
    code: str
    lengths: frozenset[int]
    national_prefix: re.Pattern[str] | None

    def e164(self, nsn: str) -> str | None:
        if len(nsn) not in self.lengths or nsn[0] == "0":
            return None
        if self.national_prefix is not None and self.national_prefix.match(nsn):
            return None
        return f"+{self.code}{nsn}"


def _build(code: str) -> _Country | None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(int(code))
    if not regions or regions[0] == "001":
        return None
    main = PhoneMetadata.metadata_for_region(regions[0])
    if main is None or main.general_desc is None or not main.general_desc.possible_length:
        return None
    lengths = frozenset(n for n in main.general_desc.possible_length if n > 1)
    prefix = main.national_prefix_for_parsing
    return _Country(code, lengths, re.compile(prefix) if prefix else None)


class PhoneParser:
    """``e164(raw, region)``: the number an import stores, or ``InvalidPhone`` with the reason."""

    def __init__(self) -> None:
        self._countries: dict[str, _Country | None] = {}
        self.fast_hits = 0

    def _country(self, code: str) -> _Country | None:
        if code not in self._countries:
            self._countries[code] = _build(code)
        return self._countries[code]

    def fast(self, raw: str) -> str | None:
        """The E.164 form when the fast path is sure, else None (then ask ``e164``)."""
        compact = _SEPARATORS.sub("", raw)
        if compact.startswith("00"):
            compact = "+" + compact[2:]
        if not _INTERNATIONAL.fullmatch(compact):
            return None
        digits = compact[1:]
        for size in (1, 2, 3):
            code = digits[:size]
            if int(code) in COUNTRY_CODE_TO_REGION_CODE:
                country = self._country(code)
                return country.e164(digits[size:]) if country is not None else None
        return None

    def e164(self, raw: str, region: str | None = None, *, field: str | None = None) -> str:
        result = self.fast(raw)
        if result is not None:
            self.fast_hits += 1
            return result
        return self.slow(raw, region, field=field)

    @staticmethod
    def slow(raw: str, region: str | None = None, *, field: str | None = None) -> str:
        """The library's answer: length check for international numbers, full validity for national ones."""
        compact = _SEPARATORS.sub("", (raw or "").strip())
        international = compact.startswith(("+", "00"))
        return parse_phone(raw, region, field=field, require_valid=not international).e164
