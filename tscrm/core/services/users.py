"""Users, groups and who is acting."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, func, select

from tscrm.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Group, User
from tscrm.core.permissions import BUILTIN_GROUPS, Actor, Right, parse_rights
from tscrm.core.types import utcnow
from tscrm.i18n import LANGUAGES, _

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: str, field: str = "email") -> str:
    address = (value or "").strip().lower()
    if not _EMAIL.match(address):
        raise ValidationError(_("{field}: {value!r} is not an email address").format(field=field, value=value), field)
    return address


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("timezone: unknown time zone {name!r}").format(name=name), "timezone") from exc
    return name


def ensure_builtin_groups(session: Session) -> dict[str, Group]:
    groups = {g.name: g for g in session.exec(select(Group))}
    for name, rights in BUILTIN_GROUPS.items():
        if name not in groups:
            group = Group(name=name, rights=sorted(r.value for r in rights), builtin=True)
            session.add(group)
            groups[name] = group
    session.flush()
    return groups


def get_group(session: Session, name: str) -> Group:
    group = session.exec(select(Group).where(func.lower(Group.name) == name.strip().lower())).first()
    if group is None:
        raise NotFound(_("No group named {name!r}").format(name=name))
    return group


def _password_hasher():
    from argon2 import PasswordHasher  # only loaded when passwords are used

    return PasswordHasher()


def hash_password(password: str) -> str:
    return _password_hasher().hash(password)


def create_user(
    session: Session,
    actor: Actor | None,
    *,
    name: str,
    email: str,
    group: str = "Intern",
    extension: str | None = None,
    phone: str | None = None,
    password: str | None = None,
    timezone: str = "UTC",
    language: str = "en",
    week_start: int = 0,
) -> User:
    """Add a user. ``actor`` None is the setup assistant creating the first admin."""
    if actor is not None:
        actor.require(Right.MANAGE_TEAM)
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("name: a user needs a name"), "name")
    address = normalise_email(email)
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        raise Conflict(_("A user with email {email} already exists").format(email=address))
    if extension is not None:
        extension = extension.strip()
        if not extension.isdigit():
            raise ValidationError(_("extension: {value!r} must be digits").format(value=extension), "extension")
        if session.exec(select(User.id).where(User.extension == extension)).first() is not None:
            raise Conflict(_("Extension {ext} is already taken").format(ext=extension))
    if language not in LANGUAGES:
        raise ValidationError(_("language: choose one of {choices}").format(choices=", ".join(LANGUAGES)), "language")
    if not 0 <= week_start <= 6:
        raise ValidationError(_("week_start: 0 (Monday) to 6 (Sunday)"), "week_start")
    ensure_builtin_groups(session)
    user = User(
        name=name,
        email=address,
        extension=extension,
        phone=phone,
        group_id=get_group(session, group).id,
        password_hash=hash_password(password) if password else None,
        timezone=check_timezone(timezone),
        language=language,
        week_start=week_start,
    )
    session.add(user)
    session.flush()
    return user


def actor_for(session: Session, user: User) -> Actor:
    group = session.get(Group, user.group_id)
    return Actor(
        id=user.id,  # type: ignore[arg-type]
        name=user.name,
        email=user.email,
        rights=parse_rights(group.rights if group else []),
        timezone=user.timezone,
        language=user.language,
        week_start=user.week_start,
        group=group.name if group else "",
    )


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(_("No user with id {id}").format(id=user_id))
    return user


def find_user(session: Session, email_or_ext: str) -> User:
    key = email_or_ext.strip().lower()
    user = session.exec(select(User).where((User.email == key) | (User.extension == key))).first()
    if user is None:
        raise NotFound(_("No user {who}").format(who=email_or_ext))
    return user


def resolve_actor(session: Session, who: str | None = None) -> Actor:
    """The acting user: the one named (email or extension), else the only admin of the database."""
    if who:
        user = find_user(session, who)
    else:
        admins = list(
            session.exec(
                select(User)
                .join(Group, col(Group.id) == col(User.group_id))
                .where(Group.name == "Admin", col(User.is_active).is_(True))
                .order_by(col(User.id))
            )
        )
        if not admins:
            raise NotFound(_("No user yet. Run `tscrm init` first."))
        if len(admins) > 1:
            raise ValidationError(
                _("Several admins exist: say who you are with --user EMAIL (or `user` in config.toml)"), "user"
            )
        user = admins[0]
    if not user.is_active:
        raise PermissionDenied(_("User {email} is deactivated").format(email=user.email))
    return actor_for(session, user)


def authenticate(session: Session, email: str, password: str) -> Actor:
    from argon2.exceptions import VerificationError

    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    wrong = PermissionDenied(_("Wrong email or password"))
    if user is None or not user.password_hash or not user.is_active:
        raise wrong
    try:
        _password_hasher().verify(user.password_hash, password)
    except VerificationError as exc:
        raise wrong from exc
    return actor_for(session, user)


def touch(session: Session, user_id: int) -> None:
    """Presence heartbeat: the user's app is running."""
    user = session.get(User, user_id)
    if user is not None:
        user.last_seen_at = utcnow()


def list_users(session: Session, *, active_only: bool = True) -> list[User]:
    query = select(User).order_by(col(User.name))
    if active_only:
        query = query.where(col(User.is_active).is_(True))
    return list(session.exec(query))


def ui_setting(session: Session, user_id: int, key: str, default=None):
    """A per-user preference (dashboard layout, language, ...)."""
    user = session.get(User, user_id)
    return (user.settings or {}).get(key, default) if user else default


def save_ui_setting(session: Session, actor: Actor, key: str, value) -> None:
    user = get_user(session, actor.id)
    user.settings = {**(user.settings or {}), key: value}  # a new dict, so the JSON column is written


def set_language(session: Session, actor: Actor, language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError(_("language: choose one of {choices}").format(choices=", ".join(LANGUAGES)), "language")
    get_user(session, actor.id).language = language


# --- presence and working hours (the Team section) ---------------------------------------------

# The app beats every 30 s (tscrm.tui.app.HEARTBEAT_S): one missed beat still counts as online.
ONLINE_WINDOW = timedelta(seconds=60)
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKING_HOURS_KEY = "working_hours"
# Working hours: weekday -> (start, end) as "HH:MM" local to the user; a day not listed is a day off.
WorkingHours = dict[str, tuple[str, str]]
DEFAULT_WORKING_HOURS: WorkingHours = {day: ("09:00", "18:00") for day in WEEKDAYS[:5]}
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def is_online(last_seen_at: datetime | None, now: datetime) -> bool:
    """Seen within the last 60 s (a beat stamped slightly ahead by another machine's clock counts too)."""
    return last_seen_at is not None and now - last_seen_at <= ONLINE_WINDOW


def parse_working_hours(raw: Mapping[str, Sequence[str]]) -> WorkingHours:
    """Check working hours such as {"mon": ["09:00", "18:00"], ...}; the message names the bad day."""
    hours: WorkingHours = {}
    for day, span in raw.items():
        key = str(day).strip().lower()[:3]
        if key not in WEEKDAYS:
            raise ValidationError(
                _("working_hours: {day!r} is not a weekday ({choices})").format(day=day, choices=", ".join(WEEKDAYS)),
                "working_hours",
            )
        if isinstance(span, str) or len(span) != 2 or not all(isinstance(t, str) and _HHMM.match(t) for t in span):
            raise ValidationError(
                _("working_hours: {day} needs a start and an end like 09:00 and 18:00").format(day=key), "working_hours"
            )
        start, end = span
        if start >= end:
            raise ValidationError(
                _("working_hours: {day} ends ({end}) before it starts ({start})").format(day=key, start=start, end=end),
                "working_hours",
            )
        hours[key] = (start, end)
    return {day: hours[day] for day in WEEKDAYS if day in hours}


def working_hours(user: User) -> WorkingHours:
    """The user's working hours; Monday to Friday 09:00–18:00 until someone sets them."""
    raw = (user.settings or {}).get(WORKING_HOURS_KEY)
    if raw is None:
        return dict(DEFAULT_WORKING_HOURS)
    try:
        return parse_working_hours(raw)
    except (ValidationError, AttributeError, TypeError):
        return dict(DEFAULT_WORKING_HOURS)  # a hand-edited value gone wrong must not break the Team list


def set_working_hours(session: Session, actor: Actor, user_id: int, hours: Mapping[str, Sequence[str]]) -> WorkingHours:
    """Set a user's working hours: one's own, or anyone's with the team right. {} means no working days."""
    if user_id != actor.id:
        actor.require(Right.MANAGE_TEAM)
    user = get_user(session, user_id)
    checked = parse_working_hours(hours)
    user.settings = {**(user.settings or {}), WORKING_HOURS_KEY: {d: list(span) for d, span in checked.items()}}
    session.flush()
    return checked


def working_hours_text(hours: WorkingHours) -> str:
    """E.g. "Mon–Fri 09:00–18:00" or "Mon–Thu 09:00–18:00, Fri 09:00–14:00", in the current language."""
    from babel.dates import get_day_names

    from tscrm.i18n import current_language

    if not hours:
        return _("no working days")
    names = get_day_names("abbreviated", locale=current_language())
    runs: list[tuple[int, int, tuple[str, str]]] = []  # (first day, last day, span) of consecutive equal days
    for index, day in enumerate(WEEKDAYS):
        span = hours.get(day)
        if span is None:
            continue
        if runs and runs[-1][1] == index - 1 and runs[-1][2] == span:
            runs[-1] = (runs[-1][0], index, span)
        else:
            runs.append((index, index, span))
    parts = []
    for first, last, (start, end) in runs:
        days = names[first] if first == last else f"{names[first]}–{names[last]}"
        parts.append(f"{days} {start}–{end}")
    return ", ".join(parts)


@dataclass(frozen=True)
class TeamMember:
    """One colleague as the Team section shows them."""

    id: int
    name: str
    email: str
    extension: str | None
    phone: str | None
    group: str
    timezone: str
    working_hours: WorkingHours
    last_seen_at: datetime | None
    online: bool


def team_members(session: Session, now: datetime | None = None, *, active_only: bool = True) -> list[TeamMember]:
    """Everyone (active) by name, with group, working hours and presence as of ``now``, in one query."""
    moment = now or utcnow()
    query = select(User, Group.name).join(Group, col(Group.id) == col(User.group_id)).order_by(col(User.name), col(User.id))
    if active_only:
        query = query.where(col(User.is_active).is_(True))
    return [
        TeamMember(
            id=user.id,  # type: ignore[arg-type]
            name=user.name,
            email=user.email,
            extension=user.extension,
            phone=user.phone,
            group=group_name,
            timezone=user.timezone,
            working_hours=working_hours(user),
            last_seen_at=user.last_seen_at,
            online=is_online(user.last_seen_at, moment),
        )
        for user, group_name in session.exec(query)
    ]
