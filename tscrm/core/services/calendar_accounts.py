"""Calendar accounts: one CalDAV calendar per account, personal to its owner, password in tscrm.core.secrets.

A calendar account holds the owner's private appointments, so only the owner sees it, tests it,
syncs it and removes it (managing the team gives no access to it: an admin who needs a calendar
synced adds their own). Each user may have several (a work calendar on the company's server, a
personal iCloud one); each syncs the owner's tasks that have a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, col, select

from tscrm.core.errors import Conflict, NotFound, ValidationError
from tscrm.core.models_calendar import CalendarAccount
from tscrm.core.permissions import Actor
from tscrm.core.services import accounts_common as common
from tscrm.core.services.accounts_common import required as _required
from tscrm.i18n import N_, _

MAX_ACCOUNTS_PER_USER = 10
SYNC_EVERY = timedelta(minutes=10)  # how often the scheduler syncs an account

# Where the big providers' CalDAV lives (what to give as --url).
KNOWN_SERVERS = {
    "google": "https://apidata.googleusercontent.com/caldav/v2/",
    "icloud": "https://caldav.icloud.com/",
}


def _url(value: str | None) -> str:
    url = (value or "").strip()
    if url.lower() in KNOWN_SERVERS:
        return KNOWN_SERVERS[url.lower()]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 1000:
        raise ValidationError(
            _("url: {value!r} is not a CalDAV address like https://cal.example.com/dav/ (or google, icloud)").format(value=value),
            "url",
        )
    return url


SECRET_KIND = "calendar"  # its password is the secret calendar/<id>/password


def add_account(
    session: Session,
    actor: Actor,
    *,
    name: str,
    url: str,
    username: str,
    password: str,
    calendar: str = "",
    active: bool = True,
) -> CalendarAccount:
    """Add a calendar for the actor (the password goes to the keyring or the encrypted store)."""
    common.check_password(password)
    count = session.exec(select(func.count()).select_from(CalendarAccount).where(CalendarAccount.owner_id == actor.id)).one()
    if int(count) >= MAX_ACCOUNTS_PER_USER:
        raise Conflict(_("A user can have at most {limit} calendar accounts; remove one first.").format(limit=MAX_ACCOUNTS_PER_USER))
    account = CalendarAccount(
        owner_id=actor.id,
        name=_required(name, "name", 200),
        url=_url(url),
        username=_required(username, "username", 320),
        calendar=(calendar or "").strip()[:1000],
        active=bool(active),
    )
    session.add(account)
    session.flush()
    common.store_password(session, account, SECRET_KIND, password)
    session.flush()
    return account


def list_accounts(session: Session, actor: Actor) -> list[CalendarAccount]:
    """The actor's own calendar accounts."""
    query = select(CalendarAccount).where(CalendarAccount.owner_id == actor.id).order_by(col(CalendarAccount.id))
    return list(session.exec(query))


def get_account(session: Session, actor: Actor, account_id: int) -> CalendarAccount:
    account = session.get(CalendarAccount, account_id)
    if account is None or account.owner_id != actor.id:
        raise NotFound(_("No calendar account with id {id}").format(id=account_id))
    return account


def account_password(session: Session, account: CalendarAccount) -> str:
    return common.load_password(session, account, _("Calendar account {name!r} has no password: set it again.").format(name=account.name))


def update_account(session: Session, actor: Actor, account_id: int, **changes: Any) -> CalendarAccount:
    """Change name, url, username, password, calendar or active. A new url or calendar starts over:
    the sync status is dropped and the next sync is a first sync with the new calendar (the tasks are
    written to it, its events become tasks; the old calendar is left as it is)."""
    from sqlalchemy import delete

    from tscrm.core.models_calendar import CalendarItem

    account = get_account(session, actor, account_id)
    allowed = {"name", "url", "username", "password", "calendar", "active"}
    common.reject_unknown(changes, allowed, N_("Unknown calendar account field: {field}"))
    if "name" in changes:
        account.name = _required(changes["name"], "name", 200)
    if "username" in changes:
        account.username = _required(changes["username"], "username", 320)
    moved = False
    if "url" in changes and _url(changes["url"]) != account.url:
        account.url, moved = _url(changes["url"]), True
    if "calendar" in changes and (changes["calendar"] or "").strip() != account.calendar:
        account.calendar, moved = (changes["calendar"] or "").strip()[:1000], True
    if moved:
        account.calendar_url = None
        session.execute(delete(CalendarItem).where(col(CalendarItem.account_id) == account.id))
    if "active" in changes:
        account.active = bool(changes["active"])
    if "password" in changes:
        common.store_password(session, account, SECRET_KIND, changes["password"])
    session.flush()
    return account


def remove_account(session: Session, actor: Actor, account_id: int) -> None:
    """Delete the account, its password and its sync status (tasks and remote events stay)."""
    common.delete_account(session, get_account(session, actor, account_id))


def record_sync(session: Session, account_id: int, error: str | None) -> None:
    """Stamp a sync's outcome on the account (``error`` None = success)."""
    common.record_sync(session, CalendarAccount, account_id, error)


def set_calendar_url(session: Session, account_id: int, url: str) -> None:
    account = session.get(CalendarAccount, account_id)
    if account is not None and account.calendar_url != url:
        account.calendar_url = url
        session.flush()


def accounts_due_for_sync(session: Session, now: datetime, every: timedelta = SYNC_EVERY) -> list[int]:
    """Active accounts last synced ``every`` ago or more (or never), in id order: what a scheduler run syncs."""
    return common.accounts_due_for_sync(session, CalendarAccount, now, every)
