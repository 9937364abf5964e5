"""The calendar section: month, week and day views, across DST changes, and whose tasks one may see."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tscrm.core.services import tasks

from .conftest import wait_until

MADRID = ZoneInfo("Europe/Madrid")


def _at(y, m, d, h, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=MADRID)


def _add(db, actor, title, when, **kw):
    with db.write() as s:
        return tasks.create_task(s, actor, title=title, due_at=when, **kw).id


def _cell(app, cell_id: str) -> str:
    """What a day (month view) or an hour slot (week, day views) shows, as plain text."""
    found = app.screen.query(f"#{cell_id}")
    return str(found.first().render()) if found else ""


def _cell_head(app, head_id: str) -> str:
    found = app.screen.query(f"#{head_id}")
    return str(found.first().content) if found else ""


def _title(app) -> str:
    found = app.screen.query("#cal-title")  # none while a language switch rebuilds the screen
    return str(found.first().content) if found else ""


def _cursor(app) -> str:
    marked = app.screen.query(".-cursor")
    return marked.first().id if marked else ""


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def _open_calendar(app, pilot, title_part: str) -> None:
    await pilot.press("4")
    await wait_until(pilot, lambda: app.current_mode == "calendar" and title_part in _title(app) and _cursor(app))


async def test_week_and_day_views_across_the_spring_dst_change(db, admin, make_app):
    _add(db, admin, "Just after midnight", _at(2025, 3, 30, 0, 30))  # Saturday 23:30 in UTC
    _add(db, admin, "Early bird", _at(2025, 3, 30, 1, 30), type="call")  # 00:30 UTC
    _add(db, admin, "After the jump", _at(2025, 3, 30, 3, 30), type="video")  # 01:30 UTC
    app = make_app(admin, watch_changes=False)
    app.clock = lambda: datetime(2025, 3, 20, 10, 0, tzinfo=UTC)  # Thursday of the week before
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_calendar(app, pilot, "17 Mar – 23 Mar 2025")
        assert _cursor(app) == "slot-20250320-09"  # today, at the start of the working day
        await pilot.press("pagedown")  # the next week: Monday 24 to Sunday 30 March
        await wait_until(pilot, lambda: "Early bird" in _cell(app, "slot-20250330-01"))
        assert "24 Mar – 30 Mar 2025" in _title(app)
        assert ":30 ▶ After the jump" in _cell(app, "slot-20250330-03")
        assert "Just after midnight" in _cell(app, "slot-20250330-00")
        assert not _cell(app, "slot-20250329-23")  # not on Saturday, where UTC would put it
        assert app.screen.query_one("#slot-20250330-02").has_class("-gap")  # 02:00 does not exist that night
        assert not app.screen.query_one("#slot-20250330-03").has_class("-gap")
        assert _cursor(app) == "slot-20250327-09"

        await pilot.press("right", "right", "right", "up")  # Sunday 30, 08:00
        assert _cursor(app) == "slot-20250330-08"
        agenda = str(app.screen.query_one("#cal-agenda").content)
        assert "Sunday 30 March 2025" in agenda and agenda.index("00:30") < agenda.index("01:30") < agenda.index("03:30")

        await pilot.press("d")
        await wait_until(pilot, lambda: "Sunday 30 March 2025" in _title(app) and "Early bird" in _cell(app, "slot-20250330-01"))
        assert "After the jump" in _cell(app, "slot-20250330-03") and not _cell(app, "slot-20250330-02")
        await pilot.press("pagedown")  # the next day is empty
        await wait_until(pilot, lambda: "Monday 31 March 2025" in _title(app) and _cursor(app) == "slot-20250331-08")
        assert not any("Early bird" in str(c.render()) for c in app.screen.query("CalendarCell"))
        await pilot.press("t")  # back to today, in the day view
        await wait_until(pilot, lambda: "Thursday 20 March 2025" in _title(app) and _cursor(app) == "slot-20250320-08")


async def test_month_view_across_the_autumn_dst_change(db, admin, make_app):
    _add(db, admin, "Saturday late", _at(2025, 10, 25, 23, 30))
    _add(db, admin, "Before the change", _at(2025, 10, 26, 1, 30))  # 23:30 UTC on Saturday
    _add(db, admin, "After the change", _at(2025, 10, 26, 3, 30), type="sms", sms_text="Hello")  # 02:30 UTC
    app = make_app(admin, watch_changes=False)
    app.clock = lambda: datetime(2025, 9, 15, 8, 0, tzinfo=UTC)
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_calendar(app, pilot, "15 Sep – 21 Sep 2025")
        await pilot.press("m")
        await wait_until(pilot, lambda: "September 2025" in _title(app) and _cursor(app) == "day-20250915")
        await pilot.press("pagedown")
        await wait_until(pilot, lambda: "October 2025" in _title(app) and "Before the change" in _cell(app, "day-20251026"))
        sunday = _cell(app, "day-20251026")
        assert sunday.startswith("26") and sunday.index("01:30 • Before") < sunday.index("03:30 ✉ After")
        assert "Saturday late" in _cell(app, "day-20251025") and "Before" not in _cell(app, "day-20251025")
        assert _cursor(app) == "day-20251015"
        assert app.screen.query_one("#day-20250929").has_class("-other-month")  # weeks start on Monday
        await pilot.press("down", "right", "right", "right", "right")  # Wednesday 22, then Sunday 26
        assert _cursor(app) == "day-20251026"
        await pilot.press("enter")  # opens the day
        await wait_until(pilot, lambda: "Sunday 26 October 2025" in _title(app) and "Before the change" in _cell(app, "slot-20251026-01"))
        assert "After the change" in _cell(app, "slot-20251026-03")
        await pilot.press("up", "up", "up", "up", "up", "up", "up", "up")  # from 09:00 to 01:00
        assert _cursor(app) == "slot-20251026-01"
        await pilot.press("enter")  # acts on the slot's task
        await wait_until(pilot, lambda: any("not linked" in n for n in _notices(app)))
        await pilot.press("down", "down", "enter")  # the SMS at 03:30
        await wait_until(pilot, lambda: any("SMS scheduled for 2025-10-26 03:30" in n for n in _notices(app)))


async def test_weeks_start_on_the_users_week_start(db, admin, make_user, make_app):
    sunday_person = make_user("Intern", timezone="Europe/Madrid", week_start=6)
    _add(db, sunday_person, "Sunday meeting", _at(2025, 3, 30, 10), type="video")
    app = make_app(sunday_person, watch_changes=False)
    app.clock = lambda: datetime(2025, 3, 31, 10, 0, tzinfo=UTC)  # a Monday
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_calendar(app, pilot, "30 Mar – 5 Apr 2025")
        await wait_until(pilot, lambda: "Sunday meeting" in _cell(app, "slot-20250330-10"))
        heads = [w.id for w in app.screen.query(".cal-head .weekday")]
        assert heads[0] == "head-20250330" and heads[-1] == "head-20250405"
        app.switch_language("es")  # the same week, in Spanish, without reloading
        await wait_until(pilot, lambda: "30 mar – 5 abr 2025" in _title(app) and "Sunday meeting" in _cell(app, "slot-20250330-10"))
        await wait_until(pilot, lambda: _cell_head(app, "head-20250330").startswith("dom"))
        await wait_until(pilot, lambda: _cursor(app) == "slot-20250331-09")


async def test_admin_sees_another_users_task_intern_does_not(db, admin, make_user, make_app):
    intern = make_user("Intern", name="Ivy Intern", timezone="Europe/Madrid")
    _add(db, intern, "Ivy's call", _at(2025, 6, 11, 10), type="call")
    _add(db, admin, "Ana's review", _at(2025, 6, 12, 11))
    def clock():
        return datetime(2025, 6, 11, 8, 0, tzinfo=UTC)

    app = make_app(admin, watch_changes=False)
    app.clock = clock
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_calendar(app, pilot, "My calendar")
        await wait_until(pilot, lambda: "Ana's review" in _cell(app, "slot-20250612-11"))
        assert not _cell(app, "slot-20250611-10")
        await pilot.press("u")  # everyone
        await wait_until(pilot, lambda: "Ivy's call" in _cell(app, "slot-20250611-10"))
        assert "Everyone" in _title(app) and "Ivy Intern" in _cell(app, "slot-20250611-10")
        assert "Ana's review" in _cell(app, "slot-20250612-11")
        await pilot.press("u")  # then each colleague: Ivy
        await wait_until(pilot, lambda: "Ivy Intern" in _title(app) and not _cell(app, "slot-20250612-11"))
        assert "Ivy's call" in _cell(app, "slot-20250611-10")

    app = make_app(intern, watch_changes=False)
    app.clock = clock
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_calendar(app, pilot, "My calendar")
        await wait_until(pilot, lambda: "Ivy's call" in _cell(app, "slot-20250611-10"))
        await pilot.press("u")
        await wait_until(pilot, lambda: any("only see your own calendar" in n for n in _notices(app)))
        assert "My calendar" in _title(app)
        assert not any("Ana's review" in str(c.render()) for c in app.screen.query("CalendarCell"))


async def test_new_task_on_the_focused_slot(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    app.clock = lambda: datetime(2025, 10, 20, 7, 0, tzinfo=UTC)  # Monday 20 October, 09:00 in Madrid
    async with app.run_test(size=(140, 36)) as pilot:
        await _open_calendar(app, pilot, "20 Oct – 26 Oct 2025")
        await pilot.press(*["right"] * 6, "down")  # Sunday 26 (the day the clocks go back), 10:00
        assert _cursor(app) == "slot-20251026-10"
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        assert app.screen.query_one("#task-due").value == "2025-10-26 10:00"
        await pilot.press(*"Sunday call", "enter")
        await wait_until(pilot, lambda: "Sunday call" in _cell(app, "slot-20251026-10"))
        await pilot.press("m", "n")  # in the month view: that day, at 09:00
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        assert app.screen.query_one("#task-due").value == "2025-10-26 09:00"
        await pilot.press("escape")
    with db.read() as s:
        [task] = tasks.list_tasks(s, admin)
    assert (task.title, task.due_at) == ("Sunday call", datetime(2025, 10, 26, 9, 0, tzinfo=UTC))  # CET, +01:00
