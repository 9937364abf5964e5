"""Users: presence (the heartbeat) and working hours, as the Team section and ``tscrm team`` use them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tscrm.core.errors import PermissionDenied, ValidationError
from tscrm.core.models import User
from tscrm.core.services import users
from tscrm.core.services.users import (
    DEFAULT_WORKING_HOURS,
    is_online,
    parse_working_hours,
    set_working_hours,
    team_members,
    working_hours_text,
)
from tscrm.i18n import set_language

NOW = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)


def _seen(db, user_id: int, at: datetime | None) -> None:
    with db.write() as s:
        s.get(User, user_id).last_seen_at = at


def test_online_means_seen_in_the_last_60_seconds():
    assert is_online(NOW - timedelta(seconds=60), NOW)
    assert not is_online(NOW - timedelta(seconds=61), NOW)
    assert is_online(NOW + timedelta(seconds=2), NOW)  # another machine's clock a little ahead
    assert not is_online(None, NOW)


def test_team_lists_everyone_with_presence_group_and_hours(db, admin, make_user):
    bob = make_user("Intern", name="Bob Beat", phone="+34611000000")
    cleo = make_user("Manager", name="Cleo Gone")
    dan = make_user("Intern", name="Dan Never")
    _seen(db, bob.id, NOW - timedelta(seconds=20))
    _seen(db, cleo.id, NOW - timedelta(minutes=5))
    with db.write() as s:
        s.get(User, dan.id).is_active = False
    with db.read() as s:
        team = team_members(s, NOW)
        everyone = team_members(s, NOW, active_only=False)
    assert [(m.name, m.online, m.group) for m in team] == [
        ("Ana Admin", False, "Admin"),
        ("Bob Beat", True, "Intern"),
        ("Cleo Gone", False, "Manager"),
    ]
    bob_row = team[1]
    assert (bob_row.phone, bob_row.email) == ("+34611000000", bob.email) and bob_row.extension.isdigit()
    assert bob_row.working_hours == DEFAULT_WORKING_HOURS
    assert "Dan Never" in [m.name for m in everyone]


def test_the_heartbeat_makes_a_user_online(db, admin):
    with db.write() as s:
        users.touch(s, admin.id)
    with db.read() as s:
        (me,) = team_members(s)
    assert me.online and me.last_seen_at is not None


def test_working_hours_are_set_checked_and_kept_beside_other_settings(db, admin, make_user):
    intern = make_user("Intern", name="Ivo Intern")
    with db.write() as s:
        users.save_ui_setting(s, intern, "dashboard", {"hidden": ["clients"]})
        set_working_hours(s, intern, intern.id, {"mon": ["08:00", "14:00"], "tuesday": ("08:00", "14:00"), "fri": ["10:00", "16:00"]})
    with db.read() as s:
        user = s.get(User, intern.id)
        assert user.settings["working_hours"] == {"mon": ["08:00", "14:00"], "tue": ["08:00", "14:00"], "fri": ["10:00", "16:00"]}
        assert user.settings["dashboard"] == {"hidden": ["clients"]}
        member = next(m for m in team_members(s, NOW) if m.id == intern.id)
    assert working_hours_text(member.working_hours) == "Mon–Tue 08:00–14:00, Fri 10:00–16:00"
    with db.write() as s, pytest.raises(PermissionDenied):
        set_working_hours(s, intern, admin.id, {"mon": ["09:00", "10:00"]})  # someone else's: needs the team right
    with db.write() as s:
        set_working_hours(s, admin, intern.id, {})  # the admin may; {} means no working days
    with db.read() as s:
        assert users.working_hours(s.get(User, intern.id)) == {}
    assert working_hours_text({}) == "no working days"


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon": ["18:00", "09:00"]}, "mon ends"),
        ({"mon": ["9:00", "18:00"]}, "mon needs a start and an end"),
        ({"mon": "09:00-18:00"}, "mon needs a start and an end"),
        ({"funday": ["09:00", "18:00"]}, "'funday' is not a weekday"),
    ],
)
def test_bad_working_hours_are_refused_naming_the_day(hours, message):
    with pytest.raises(ValidationError, match=message):
        parse_working_hours(hours)


def test_broken_stored_hours_fall_back_to_the_default():
    user = User(name="X", email="x@acme.test", group_id=1, settings={"working_hours": ["nonsense"]})
    assert users.working_hours(user) == DEFAULT_WORKING_HOURS


def test_working_hours_text_in_the_users_language():
    hours = {"mon": ("09:00", "18:00"), "tue": ("09:00", "18:00"), "wed": ("09:00", "13:00"), "sat": ("10:00", "12:00")}
    assert working_hours_text(hours) == "Mon–Tue 09:00–18:00, Wed 09:00–13:00, Sat 10:00–12:00"
    set_language("es")
    assert working_hours_text(DEFAULT_WORKING_HOURS) == "lun–vie 09:00–18:00"
