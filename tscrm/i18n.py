"""Translation of every user-visible string (gettext catalogues compiled with Babel).

Use ``from tscrm.i18n import _`` and wrap literals: ``_("Lead {id} not found").format(id=7)``.
The active language is process-wide; ``set_language`` switches it at once, so an app can
re-render in the new language without a restart.
"""

from __future__ import annotations

import gettext as _gettext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Phrase:
    """A message kept untranslated, so that each reader sees it in their own language.

    ``msgid`` must be marked with ``N_`` where the phrase is made (so that it is extracted).
    ``args`` fill its placeholders; those named in ``translated_args`` are msgids themselves (a
    status such as "won") and are translated too. ``tail`` is appended as it is (a user's note, an
    SMS body). ``to_data``/``from_data`` keep it in JSON, e.g. in an activity's ``data``.
    """

    msgid: str
    args: dict[str, str] = field(default_factory=dict)
    translated_args: tuple[str, ...] = ()
    tail: str = ""

    def render(self) -> str:
        """The text in the current language."""
        text = _(self.msgid)
        if self.args:
            values = {key: _(value) if value and key in self.translated_args else value for key, value in self.args.items()}
            try:
                text = text.format(**values)
            except (KeyError, IndexError, ValueError):  # a translation that lost its placeholders
                text = self.msgid.format(**values)
        return text + self.tail

    def __str__(self) -> str:
        return self.render()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"msgid": self.msgid}
        if self.args:
            data["args"] = dict(self.args)
        if self.translated_args:
            data["translated_args"] = list(self.translated_args)
        if self.tail:
            data["tail"] = self.tail
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Phrase:
        return cls(
            str(data["msgid"]),
            {str(key): str(value) for key, value in (data.get("args") or {}).items()},
            tuple(str(key) for key in data.get("translated_args") or ()),
            str(data.get("tail") or ""),
        )
