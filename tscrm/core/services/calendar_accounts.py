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

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from tscrm.core import secrets
from tscrm.core.errors import ConfigError, Conflict, NotFound, ValidationError
from tscrm.core.models_calendar import CalendarAccount
from tscrm.core.permissions import Actor
from tscrm.core.types import utcnow
from tscrm.i18n import _

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


def _required(value: str | None, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(_("{field}: must not be empty").format(field=field), field)
    if len(text) > limit:
        raise ValidationError(_("{field}: longer than {limit} characters").format(field=field, limit=limit), field)
    return text


def _secret_name(account_id: int) -> str:
    return f"calendar/{account_id}/password"


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
    if not password:
        raise ValidationError(_("password: must not be empty"), "password")
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
    account.secret_ref = secrets.store_secret(session, _secret_name(account.id), password)  # type: ignore[arg-type]
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
    if not account.secret_ref:
        raise ConfigError(_("Calendar account {name!r} has no password: set it again.").format(name=account.name))
    return secrets.load_secret(session, account.secret_ref)


def update_account(session: Session, actor: Actor, account_id: int, **changes: Any) -> CalendarAccount:
    """Change name, url, username, password, calendar or active. A new url or calendar starts over:
    the sync status is dropped and the next sync is a first sync with the new calendar (the tasks are
    written to it, its events become tasks; the old calendar is left as it is)."""
    from sqlalchemy import delete

    from tscrm.core.models_calendar import CalendarItem

    account = get_account(session, actor, account_id)
    allowed = {"name", "url", "username", "password", "calendar", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(_("Unknown calendar account field: {field}").format(field=", ".join(sorted(unknown))), min(unknown))
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
        if not changes["password"]:
            raise ValidationError(_("password: must not be empty"), "password")
        account.secret_ref = secrets.store_secret(session, _secret_name(account.id), changes["password"])  # type: ignore[arg-type]
    session.flush()
    return account


def remove_account(session: Session, actor: Actor, account_id: int) -> None:
    """Delete the account, its password and its sync status (tasks and remote events stay)."""
    account = get_account(session, actor, account_id)
    if account.secret_ref:
        secrets.delete_secret(session, account.secret_ref)
    session.delete(account)
    session.flush()


def record_sync(session: Session, account_id: int, error: str | None) -> None:
    """Stamp a sync's outcome on the account (``error`` None = success)."""
    account = session.get(CalendarAccount, account_id)
    if account is None:
        return
    account.last_sync_at = utcnow()
    account.last_error = error[:2000] if error else None
    session.flush()


def set_calendar_url(session: Session, account_id: int, url: str) -> None:
    account = session.get(CalendarAccount, account_id)
    if account is not None and account.calendar_url != url:
        account.calendar_url = url
        session.flush()


def accounts_due_for_sync(session: Session, now: datetime, every: timedelta = SYNC_EVERY) -> list[int]:
    """Active accounts last synced ``every`` ago or more (or never), in id order: what a scheduler run syncs."""
    last = col(CalendarAccount.last_sync_at)
    query = (
        select(CalendarAccount.id)
        .where(col(CalendarAccount.active).is_(True), or_(last.is_(None), last <= now - every))
        .order_by(col(CalendarAccount.id))
    )
    return list(session.exec(query))  # type: ignore[arg-type]
