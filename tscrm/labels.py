"""What enumeration values are called on screen (translated where shown).

Shared by the CLI and the TUI. The keys are the values of the enumerations in tscrm.core.models,
written out here so that the CLI need not import the models at start-up; a test checks that the two
never drift apart.
"""

from __future__ import annotations

from tscrm.i18n import N_, _

PHONE_KINDS: dict[str, str] = {"work": N_("work"), "mobile": N_("mobile"), "home": N_("home"), "other": N_("other")}

LEAD_STATUSES: dict[str, str] = {
    "unprocessed": N_("unprocessed"),
    "in_progress": N_("in progress"),
    "finished": N_("finished"),
    "bad_quality": N_("bad quality"),
}

DEAL_STATUSES: dict[str, str] = {
    "new": N_("new"),
    "in_progress": N_("in progress"),
    "decision_pending": N_("decision pending"),
    "payment_expected": N_("payment expected"),
    "won": N_("won"),
    "cancelled": N_("cancelled"),
}

TASK_TYPES: dict[str, str] = {"task": N_("task"), "call": N_("call"), "video": N_("video call"), "sms": N_("SMS")}

ACTIVITY_KINDS: dict[str, str] = {
    "created": N_("created"),
    "edited": N_("edited"),
    "status_changed": N_("status"),
    "claimed": N_("claimed"),
    "owner_changed": N_("responsible"),
    "converted": N_("converted"),
    "note": N_("note"),
    "call": N_("call"),
    "task": N_("task"),
    "task_done": N_("task done"),
    "deal": N_("deal"),
    "tagged": N_("tags"),
    "email": N_("email"),
    "sms": N_("SMS"),
}

CALL_DIRECTIONS: dict[str, str] = {"inbound": N_("inbound"), "outbound": N_("outbound"), "internal": N_("internal")}

CALL_OUTCOMES: dict[str, str] = {
    "answered": N_("answered"),
    "no_answer": N_("no answer"),
    "busy": N_("busy"),
    "rejected": N_("rejected"),
    "failed": N_("failed"),
}

# The built-in groups (tscrm.core.permissions.BUILTIN_GROUPS); groups an admin adds keep their own name.
GROUP_NAMES: dict[str, str] = {"Admin": N_("Admin"), "Manager": N_("Manager"), "Intern": N_("Intern")}

SEARCH_KINDS: dict[str, str] = {"client": N_("client"), "lead": N_("lead"), "deal": N_("deal")}


def label(mapping: dict[str, str], value: object) -> str:
    """The translated label of an enumeration value (the raw value when unknown)."""
    key = str(getattr(value, "value", value))
    return _(mapping[key]) if key in mapping else key
