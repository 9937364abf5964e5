"""Text folding shared by search, tags and dedupe: lower case, accents removed, spaces collapsed."""

from __future__ import annotations

import unicodedata

_FOLD_CACHE_LIMIT = 4096


def fold(text: str | None) -> str:
    """'  José  GARCÍA ' -> 'jose garcia'. Same result on every database, computed in Python."""
    if not text:
        return ""
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
