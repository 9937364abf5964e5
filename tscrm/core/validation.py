"""Small input checks shared by the services; each error names its field."""

from __future__ import annotations

from tscrm.core.errors import ValidationError
from tscrm.i18n import _


def required_text(value: str | None, field: str, max_length: int = 300) -> str:
    """Trimmed, inner whitespace collapsed, not empty, not too long."""
    text = " ".join((value or "").split())
    if not text:
        raise ValidationError(_("{field}: must not be empty").format(field=field), field)
    if len(text) > max_length:
        raise ValidationError(_("{field}: at most {n} characters").format(field=field, n=max_length), field)
    return text


def optional_text(value: str | None) -> str | None:
    return (value or "").strip() or None
