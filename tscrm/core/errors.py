"""Domain errors. Edges turn them into friendly messages: CLI exit codes, TUI notices, HTTP 4xx."""

from __future__ import annotations


class TscrmError(Exception):
    """Base of every error tscrm reports to a user. ``str(err)`` is the translated message."""

    exit_code = 1
    http_status = 400


class ValidationError(TscrmError):
    """Input that cannot be accepted; the message names the field and the reason."""

    exit_code = 2
    http_status = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidPhone(ValidationError):
    def __init__(self, message: str, number: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.number = number


class NotFound(TscrmError):
    exit_code = 3
    http_status = 404


class PermissionDenied(TscrmError):
    exit_code = 4
    http_status = 403


class Conflict(TscrmError):
    exit_code = 5
    http_status = 409


class LeadAlreadyClaimed(Conflict):
    def __init__(self, message: str, lead_id: int, owner_name: str) -> None:
        super().__init__(message)
        self.lead_id = lead_id
        self.owner_name = owner_name


class SchemaOutOfDate(TscrmError):
    """The database schema is behind the code (or ahead of it)."""

    exit_code = 6


class ConfigError(TscrmError):
    exit_code = 7
