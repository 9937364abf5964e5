"""Every user-visible string has a Spanish and a French translation, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tscrm.i18n import LOCALE_DIR, _, set_language

ROOT = Path(__file__).resolve().parents[1] / "tscrm"
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _source_messages() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map=[("**.py", "python")], keywords={"_": None, "N_": None, "ngettext": (1, 2)}
    ):
        found.update(message if isinstance(message, tuple) else (message,))
    return {m for m in found if m}


@pytest.fixture(scope="module")
def source_messages() -> set[str]:
    return _source_messages()


@pytest.mark.parametrize("lang", ["es", "fr"])
def test_every_string_is_translated(lang, source_messages):
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / "tscrm.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            translated[msgid] = (strings, message.fuzzy)
    missing = sorted(m for m in source_messages if m not in translated or not all(translated[m][0]) or translated[m][1])
    assert missing == [], f"{len(missing)} strings lack a {lang} translation, e.g. {missing[:5]} (run make i18n-extract)"
    for msgid, (strings, _fuzzy) in translated.items():
        for string in strings:
            assert sorted(PLACEHOLDER.findall(string)) == sorted(PLACEHOLDER.findall(msgid)), (lang, msgid, string)


def test_switching_language_changes_text():
    try:
        assert set_language("es") == "es" and _("Dashboard") == "Panel"
        assert set_language("fr") == "fr" and _("Dashboard") == "Tableau de bord"
        assert set_language("de") == "en" and _("Dashboard") == "Dashboard"
    finally:
        set_language("en")
