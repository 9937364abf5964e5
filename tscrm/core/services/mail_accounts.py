"""Mail accounts: IMAP + SMTP settings with presets, personal or shared, passwords in tscrm.core.secrets.

Who sees an account: its owner, the users it is shared with (when ``shared``), and whoever manages the
team (admins, to manage them). Who may use it (sync notifications, sending): the owner and the users
it is shared with. Adding an account for oneself needs no right; for another owner, managing the team.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_
from sqlmodel import Session, col, select

from tscrm.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tscrm.core.models import User
from tscrm.core.models_mail import (
    MailAccount,
    MailAccountUser,
    MailPreset,
    MailSecurity,
)
from tscrm.core.permissions import Actor, Right
from tscrm.core.services import accounts_common as common
from tscrm.core.services.accounts_common import required as _required
from tscrm.core.services.users import normalise_email
from tscrm.i18n import N_, _

# The product's limit of mail integrations per CRM.
MAX_ACCOUNTS = 20


@dataclass(frozen=True)
class Preset:
    label: str
    imap_host: str
    imap_port: int
    imap_security: MailSecurity
    smtp_host: str
    smtp_port: int
    smtp_security: MailSecurity
    note: str = ""


PRESETS: dict[str, Preset] = {
    MailPreset.GMAIL: Preset(
        "Gmail", "imap.gmail.com", 993, MailSecurity.SSL, "smtp.gmail.com", 465, MailSecurity.SSL,
        N_("Use an app password (Google account → Security → App passwords)."),
    ),
    MailPreset.OUTLOOK: Preset(
        "Outlook / Office 365", "outlook.office365.com", 993, MailSecurity.SSL,
        "smtp.office365.com", 587, MailSecurity.STARTTLS,
    ),
    MailPreset.YAHOO: Preset(
        "Yahoo", "imap.mail.yahoo.com", 993, MailSecurity.SSL, "smtp.mail.yahoo.com", 465, MailSecurity.SSL,
        N_("Use an app password (Yahoo account security)."),
    ),
    MailPreset.ZOHO: Preset(
        "Zoho", "imap.zoho.com", 993, MailSecurity.SSL, "smtp.zoho.com", 465, MailSecurity.SSL,
    ),
    MailPreset.YANDEX: Preset(
        "Yandex", "imap.yandex.com", 993, MailSecurity.SSL, "smtp.yandex.com", 465, MailSecurity.SSL,
        N_("Use an app password (Yandex ID → Security → App passwords)."),
    ),
}

DEFAULT_PORTS = {
    ("imap", MailSecurity.SSL): 993,
    ("imap", MailSecurity.STARTTLS): 143,
    ("imap", MailSecurity.NONE): 143,
    ("smtp", MailSecurity.SSL): 465,
    ("smtp", MailSecurity.STARTTLS): 587,
    ("smtp", MailSecurity.NONE): 25,
}


def _preset(value: str | MailPreset) -> MailPreset:
    try:
        return MailPreset(str(value).strip().lower())
    except ValueError:
        raise ValidationError(
            _("preset: {value!r} is not one of {choices}").format(value=value, choices=", ".join(p.value for p in MailPreset)),
            "preset",
        ) from None


def _security(value: str | MailSecurity, field: str) -> MailSecurity:
    try:
        return MailSecurity(str(value).strip().lower())
    except ValueError:
        raise ValidationError(
            _("{field}: {value!r} is not one of {choices}").format(
                field=field, value=value, choices=", ".join(s.value for s in MailSecurity)
            ),
            field,
        ) from None


def _host(value: str | None, field: str) -> str:
    host = (value or "").strip()
    if not host or any(c.isspace() for c in host) or len(host) > 255:
        raise ValidationError(_("{field}: a host name is needed (e.g. imap.example.com)").format(field=field), field)
    return host


def _port(value: Any, field: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 1 <= port <= 65535:
        raise ValidationError(_("{field}: {value!r} is not a port (1-65535)").format(field=field, value=value), field)
    return port


def _server(kind: str, preset: Preset | None, host: str | None, port: Any, security: Any) -> tuple[str, int, MailSecurity]:
    """Host, port and security of one side: what is given, else the preset's, else the usual port."""
    field = f"{kind}_security"
    sec = _security(security, field) if security else (getattr(preset, field) if preset else MailSecurity.SSL)
    host_value = host if host else (getattr(preset, f"{kind}_host") if preset else None)
    port_value = port if port else (getattr(preset, f"{kind}_port") if preset and not security else DEFAULT_PORTS[(kind, sec)])
    return _host(host_value, f"{kind}_host"), _port(port_value, f"{kind}_port"), sec


def _check_users(session: Session, user_ids: Iterable[int]) -> list[int]:
    out: list[int] = []
    for uid in user_ids:
        if session.get(User, uid) is None:
            raise NotFound(_("No user with id {id}").format(id=uid))
        if uid not in out:
            out.append(uid)
    return out


def count_accounts(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(MailAccount)).one())


def add_account(
    session: Session,
    actor: Actor,
    *,
    name: str,
    email: str,
    preset: str | MailPreset = MailPreset.CUSTOM,
    imap_host: str | None = None,
    imap_port: int | None = None,
    imap_security: str | MailSecurity | None = None,
    smtp_host: str | None = None,
    smtp_port: int | None = None,
    smtp_security: str | MailSecurity | None = None,
    username: str | None = None,
    password: str,
    owner_id: int | None = None,
    shared: bool = False,
    shared_with: Iterable[int] = (),
    auto_lead: bool = False,
    active: bool = True,
) -> MailAccount:
    """Add an account (the password goes to the keyring or the encrypted store). At most 20 per CRM."""
    kind = _preset(preset)
    chosen = PRESETS.get(kind)
    address = normalise_email(email, "email")
    imap = _server("imap", chosen, imap_host, imap_port, imap_security)
    smtp = _server("smtp", chosen, smtp_host, smtp_port, smtp_security)
    common.check_password(password)
    owner = actor.id if owner_id is None else owner_id
    if owner != actor.id:
        actor.require(Right.MANAGE_TEAM)
    _check_users(session, [owner])
    users = _check_users(session, shared_with)
    if users and not shared:
        shared = True
    if count_accounts(session) >= MAX_ACCOUNTS:
        raise Conflict(
            _("A CRM can have at most {limit} mail accounts; remove one first (tscrm mail accounts remove ID).").format(
                limit=MAX_ACCOUNTS
            )
        )
    account = MailAccount(
        name=_required(name, "name", 200),
        email=address,
        preset=kind,
        imap_host=imap[0],
        imap_port=imap[1],
        imap_security=imap[2],
        smtp_host=smtp[0],
        smtp_port=smtp[1],
        smtp_security=smtp[2],
        username=_required(username or address, "username", 320),
        owner_id=owner,
        shared=bool(shared),
        auto_lead=bool(auto_lead),
        active=bool(active),
    )
    session.add(account)
    session.flush()
    common.store_password(session, account, SECRET_KIND, password)
    for uid in users:
        if uid != owner:
            session.add(MailAccountUser(account_id=account.id, user_id=uid))  # type: ignore[arg-type]
    session.flush()
    return account


SECRET_KIND = "mail"  # its password is the secret mail/<id>/password


def shared_user_ids(session: Session, account_id: int) -> list[int]:
    return list(
        session.exec(
            select(MailAccountUser.user_id).where(MailAccountUser.account_id == account_id).order_by(col(MailAccountUser.user_id))
        )
    )


def account_user_ids(session: Session, account: MailAccount) -> set[int]:
    """The users who use the account (and get its new-mail notifications): owner + shared with."""
    ids = {account.owner_id} if account.owner_id is not None else set()
    if account.shared:
        ids.update(shared_user_ids(session, account.id))  # type: ignore[arg-type]
    return ids


def can_use(session: Session, actor: Actor, account: MailAccount) -> bool:
    return actor.id in account_user_ids(session, account)


def can_see(session: Session, actor: Actor, account: MailAccount) -> bool:
    return actor.can(Right.MANAGE_TEAM) or can_use(session, actor, account)


def _can_manage(actor: Actor, account: MailAccount) -> bool:
    return actor.can(Right.MANAGE_TEAM) or account.owner_id == actor.id


def _visible_query(actor: Actor):
    query = select(MailAccount)
    if not actor.can(Right.MANAGE_TEAM):
        shared_ids = select(MailAccountUser.account_id).where(MailAccountUser.user_id == actor.id)
        query = query.where(
            or_(MailAccount.owner_id == actor.id, (col(MailAccount.shared).is_(True)) & col(MailAccount.id).in_(shared_ids))
        )
    return query


def list_accounts(session: Session, actor: Actor) -> list[MailAccount]:
    """Accounts the actor sees: own, shared with them, all for those who manage the team."""
    return list(session.exec(_visible_query(actor).order_by(col(MailAccount.id))))


def get_account(session: Session, actor: Actor, account_id: int) -> MailAccount:
    account = session.get(MailAccount, account_id)
    if account is None or not can_see(session, actor, account):
        raise NotFound(_("No mail account with id {id}").format(id=account_id))
    return account


def accounts_for_user(session: Session, user_id: int, *, active_only: bool = True) -> list[MailAccount]:
    """Accounts a user may use (own and shared with them) — e.g. to send from."""
    shared_ids = select(MailAccountUser.account_id).where(MailAccountUser.user_id == user_id)
    query = select(MailAccount).where(
        or_(MailAccount.owner_id == user_id, (col(MailAccount.shared).is_(True)) & col(MailAccount.id).in_(shared_ids))
    )
    if active_only:
        query = query.where(col(MailAccount.active).is_(True))
    return list(session.exec(query.order_by(col(MailAccount.id))))


def account_password(session: Session, account: MailAccount) -> str:
    return common.load_password(session, account, _("Mail account {name!r} has no password: set it again.").format(name=account.name))


def update_account(session: Session, actor: Actor, account_id: int, **changes: Any) -> MailAccount:
    """Change settings: name, email, imap_*/smtp_*, username, password, shared, shared_with, auto_lead, active."""
    account = get_account(session, actor, account_id)
    if not _can_manage(actor, account):
        raise PermissionDenied(_("{user} may not change mail account {name!r}").format(user=actor.name, name=account.name))
    allowed = {
        "name", "email", "imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security",
        "username", "password", "shared", "shared_with", "auto_lead", "active", "owner_id",
    }
    common.reject_unknown(changes, allowed, N_("Unknown mail account field: {field}"))
    if "name" in changes:
        account.name = _required(changes["name"], "name", 200)
    if "email" in changes:
        account.email = normalise_email(changes["email"], "email")
    if "username" in changes:
        account.username = _required(changes["username"], "username", 320)
    for kind in ("imap", "smtp"):
        if f"{kind}_host" in changes:
            setattr(account, f"{kind}_host", _host(changes[f"{kind}_host"], f"{kind}_host"))
        if f"{kind}_port" in changes:
            setattr(account, f"{kind}_port", _port(changes[f"{kind}_port"], f"{kind}_port"))
        if f"{kind}_security" in changes:
            setattr(account, f"{kind}_security", _security(changes[f"{kind}_security"], f"{kind}_security"))
    if "owner_id" in changes and changes["owner_id"] != account.owner_id:
        actor.require(Right.MANAGE_TEAM)
        account.owner_id = _check_users(session, [changes["owner_id"]])[0]
    for flag in ("shared", "auto_lead", "active"):
        if flag in changes:
            setattr(account, flag, bool(changes[flag]))
    if "shared_with" in changes:
        users = _check_users(session, changes["shared_with"] or ())
        session.execute(delete(MailAccountUser).where(col(MailAccountUser.account_id) == account.id))
        for uid in users:
            if uid != account.owner_id:
                session.add(MailAccountUser(account_id=account.id, user_id=uid))  # type: ignore[arg-type]
        if users and "shared" not in changes:
            account.shared = True
    if "password" in changes:
        common.store_password(session, account, SECRET_KIND, changes["password"])
    session.flush()
    return account


def remove_account(session: Session, actor: Actor, account_id: int) -> None:
    """Delete the account, its password, its sync state and its messages (feed entries stay)."""
    account = get_account(session, actor, account_id)
    if not _can_manage(actor, account):
        raise PermissionDenied(_("{user} may not remove mail account {name!r}").format(user=actor.name, name=account.name))
    common.delete_account(session, account)


def record_sync(session: Session, account_id: int, error: str | None) -> None:
    """Stamp a sync's outcome on the account (``error`` None = success)."""
    common.record_sync(session, MailAccount, account_id, error)


SYNC_EVERY = timedelta(minutes=10)  # how often the scheduler syncs an account


def accounts_due_for_sync(session: Session, now: datetime, every: timedelta = SYNC_EVERY) -> list[int]:
    """Active accounts whose last sync is ``every`` old or more (or never synced), in id order: what a
    scheduler run (every minute under cron) syncs, so that each account is synced every ten minutes."""
    return common.accounts_due_for_sync(session, MailAccount, now, every)


def preset_choices() -> list[str]:
    return [p.value for p in MailPreset]
