"""The Team section: colleagues, presence from the heartbeat, working hours, calling a colleague."""

from __future__ import annotations

from datetime import timedelta

from tscrm.core.models import User
from tscrm.core.services import users
from tscrm.core.types import utcnow

from .conftest import wait_until

SIZE = (150, 40)


def _rows(app) -> dict[str, tuple[str, ...]]:
    """The visible rows by name (the second column)."""
    if type(app.screen).__name__ != "TeamScreen":
        return {}
    table = app.screen.query_one("#team-table")
    rows = [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
    return {row[1]: row for row in rows}


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _seen(db, user_id: int, ago: timedelta | None) -> None:
    with db.write() as s:
        s.get(User, user_id).last_seen_at = None if ago is None else utcnow() - ago


async def test_team_shows_who_is_online_from_last_seen(db, admin, make_user, make_app):
    bob = make_user("Intern", name="Bob Online", extension="201", phone="+34611000000")
    cleo = make_user("Manager", name="Cleo Earlier", extension="202")
    make_user("Intern", name="Dan Never", extension="203")
    _seen(db, admin.id, timedelta(seconds=5))
    _seen(db, bob.id, timedelta(seconds=30))
    _seen(db, cleo.id, timedelta(seconds=90))
    with db.write() as s:
        users.set_working_hours(s, admin, cleo.id, {"mon": ["07:00", "15:00"], "tue": ["07:00", "15:00"], "wed": ["07:00", "15:00"]})
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await wait_until(pilot, lambda: len(_rows(app)) == 4)
        rows = _rows(app)
        assert list(rows) == ["Ana Admin", "Bob Online", "Cleo Earlier", "Dan Never"]
        assert rows["Ana Admin"][0] == "● online" and rows["Bob Online"][0] == "● online"
        assert rows["Cleo Earlier"][0] == "○ offline" and rows["Dan Never"][0] == "○ offline"
        assert rows["Bob Online"][2:6] == ("201", bob.email, "+34 611 00 00 00", "Intern")
        assert rows["Cleo Earlier"][5:] == ("Manager", "Mon–Wed 07:00–15:00 · UTC")
        assert rows["Ana Admin"][6] == "Mon–Fri 09:00–18:00 · Madrid"
        assert "4 colleague(s), 2 online" in str(app.screen.query_one("#team-status").render())

        _seen(db, bob.id, timedelta(seconds=61))  # Bob's app stopped beating
        _seen(db, cleo.id, timedelta(seconds=1))  # Cleo's started
        await pilot.press("r")
        await wait_until(pilot, lambda: _rows(app)["Bob Online"][0] == "○ offline")
        assert _rows(app)["Cleo Earlier"][0] == "● online"


async def test_call_a_colleague_in_one_key(db, admin, make_user, make_app):
    from .fake_backend import FakeBackend

    make_user("Intern", name="Bob Online", extension="201")
    fake = FakeBackend("sip")
    app = make_app(admin, watch_changes=False)
    app.phone.backend_factory = lambda session, user: fake
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await wait_until(pilot, lambda: len(_rows(app)) == 2 and app.phone.status == "ready")
        table = app.screen.query_one("#team-table")
        table.move_cursor(row=1)
        await pilot.press("x")  # the colleague's extension rings
        await wait_until(pilot, lambda: ("originate", "100", "201", "fake-1") in fake.calls)
        assert app.phone.call.name == "Bob Online"
        app.phone.call = None
        table.focus()  # the call widget took the focus
        table.move_cursor(row=0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "That is you." in _notices(app))
