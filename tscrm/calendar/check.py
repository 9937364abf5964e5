"""``tscrm calendar accounts test``: log in, find the chosen calendar, list it; say exactly which step failed."""

from __future__ import annotations

from dataclasses import dataclass

from tscrm.calendar.dav import CalendarSession
from tscrm.core.errors import CalendarError
from tscrm.core.models_calendar import CalendarAccount
from tscrm.i18n import _


@dataclass
class CheckResult:
    step: str
    ok: bool
    detail: str


def check_account(account: CalendarAccount, password: str, *, connect=CalendarSession, timeout: float = 20) -> list[CheckResult]:
    """Login (and the calendars it sees), then the chosen calendar and how many events it holds."""
    results: list[CheckResult] = []
    with connect(account.url, account.username, password, label=account.name, timeout=timeout) as dav:
        try:
            found = dav.calendars()
        except CalendarError as exc:
            return [CheckResult(_("login"), False, str(exc))]
        names = ", ".join(c.name for c in found) or _("none")
        results.append(CheckResult(_("login"), True, _("{url}: logged in as {user}; calendars: {names}").format(url=account.url, user=account.username, names=names)))
        try:
            chosen = dav.resolve(account.calendar, account.calendar_url)
            count = len(dav.etags(chosen.url))
        except CalendarError as exc:
            results.append(CheckResult(_("calendar"), False, str(exc)))
            return results
        results.append(CheckResult(_("calendar"), True, _("{name} ({url}): {n} events").format(name=chosen.name, url=chosen.url, n=count)))
    return results
