"""The rights catalogue, the built-in groups, and the checks every service makes.

A right lets a user act on records of *other* users; what a user owns is always theirs to see and
edit (deleting needs the delete right even for one's own records). Pool leads (no owner) are
visible to every agent, that is what the pool is for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tscrm.core.errors import PermissionDenied
from tscrm.i18n import N_, _


class Right(StrEnum):
    SEE_ALL = "records.see_all"  # see all clients, leads and deals, not only one's own
    EDIT = "records.edit"  # edit records owned by others
    DELETE = "records.delete"
    IMPORT = "data.import"
    EXPORT = "data.export"
    BULK_MESSAGING = "messaging.bulk"  # bulk SMS and email
    MANAGE_TEAM = "team.manage"  # users, groups, company settings
    SEE_ANALYTICS = "analytics.see"
    SEE_OTHER_CALENDARS = "calendar.see_others"
    ASSIGN_TASKS = "tasks.assign_others"  # create tasks for other users


RIGHT_LABELS: dict[Right, str] = {
    Right.SEE_ALL: N_("See all clients, leads and deals (not only own)"),
    Right.EDIT: N_("Edit records of other users"),
    Right.DELETE: N_("Delete records"),
    Right.IMPORT: N_("Import data"),
    Right.EXPORT: N_("Export data"),
    Right.BULK_MESSAGING: N_("Send bulk SMS and email"),
    Right.MANAGE_TEAM: N_("Manage the team and company settings"),
    Right.SEE_ANALYTICS: N_("See analytics"),
    Right.SEE_OTHER_CALENDARS: N_("See other users' calendars"),
    Right.ASSIGN_TASKS: N_("Create tasks for other users"),
}

BUILTIN_GROUPS: dict[str, frozenset[Right]] = {
    "Admin": frozenset(Right),
    "Manager": frozenset(Right) - {Right.MANAGE_TEAM},
    "Intern": frozenset(),
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: the user's id and what the services need to know about them."""

    id: int
    name: str
    email: str
    rights: frozenset[Right] = field(default_factory=frozenset)
    timezone: str = "UTC"
    language: str = "en"
    week_start: int = 0
    group: str = ""

    def can(self, right: Right) -> bool:
        return right in self.rights

    def require(self, right: Right) -> None:
        if right not in self.rights:
            raise PermissionDenied(
                _("{user} lacks the right: {right}").format(user=self.name, right=_(RIGHT_LABELS[right]))
            )

    def can_see(self, owner_id: int | None) -> bool:
        return owner_id is None or owner_id == self.id or self.can(Right.SEE_ALL)

    def can_edit(self, owner_id: int | None) -> bool:
        return owner_id is None or owner_id == self.id or (self.can(Right.EDIT) and self.can(Right.SEE_ALL))

    def require_edit(self, owner_id: int | None, what: str) -> None:
        if not self.can_edit(owner_id):
            raise PermissionDenied(_("{user} may not change {what}").format(user=self.name, what=what))


def parse_rights(values: list[str]) -> frozenset[Right]:
    known = {r.value for r in Right}
    return frozenset(Right(v) for v in values if v in known)
