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


class TelephonyError(TscrmError):
    """A call or SMS backend failed: unreachable, refused our credentials, or rejected the request."""

    exit_code = 8
    http_status = 502


class TelephonyUnsupported(TelephonyError):
    """The current call mode cannot do this (e.g. transfer in desk-phone mode); the message says what to do."""

    http_status = 409


class MailError(TscrmError):
    """A mail server refused us or could not be reached; the message names the account and the step."""

    exit_code = 9
    http_status = 502


class TelephonyRateLimited(TelephonyError):
    """The PBX said "too many requests" (HTTP 429): nothing was done; the same request may succeed later."""

    transient = True


class TelephonyUnavailable(TelephonyError):
    """The PBX could not be reached, timed out or failed on its side (HTTP 5xx): worth trying again later."""

    transient = True


class CalendarError(TscrmError):
    """A CalDAV server refused us or could not be reached; the message names the account and the step."""

    exit_code = 10
    http_status = 502


class CalendarSyncRefused(CalendarError):
    """A calendar sync that would have deleted much on one side (it suddenly looks empty): nothing was done."""

    exit_code = 11
    http_status = 409
