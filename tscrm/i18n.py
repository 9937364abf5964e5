"""Translation of every user-visible string (gettext catalogues compiled with Babel).

Use ``from tscrm.i18n import _`` and wrap literals: ``_("Lead {id} not found").format(id=7)``.
The active language is process-wide; ``set_language`` switches it at once, so an app can
re-render in the new language without a restart.
"""

from __future__ import annotations

import gettext as _gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "tscrm"
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español", "fr": "Français"}
DEFAULT_LANGUAGE = "en"

_current: _gettext.NullTranslations = _gettext.NullTranslations()
_current_code = DEFAULT_LANGUAGE


def _load(code: str) -> _gettext.NullTranslations:
    if code == "en":
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[code], fallback=True)


def set_language(code: str | None) -> str:
    """Switch the interface language; unknown codes fall back to English. Returns the code in use."""
    global _current, _current_code
    code = (code or DEFAULT_LANGUAGE).split("_")[0].split("-")[0].lower()
    if code not in LANGUAGES:
        code = DEFAULT_LANGUAGE
    _current = _load(code)
    _current_code = code
    return code


def current_language() -> str:
    return _current_code


def _(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _current.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _current.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (translated where shown)."""
    return message
