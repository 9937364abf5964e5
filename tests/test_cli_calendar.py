"""``tscrm calendar``: a day, week or month of tasks in the user's zone, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tscrm.core.services import tasks

MADRID = ZoneInfo("Europe/Madrid")


def _at(y, m, d, h, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=MADRID)


@pytest.fixture
def run(cli):
    return lambda *args, **kw: cli("calendar", *args, **kw)


def _add(db, actor, title, when, **kw):
    with db.write() as s:
        return tasks.create_task(s, actor, title=title, due_at=when, **kw).id


def _titles_by_day(out: dict) -> dict[str, list[tuple[str, str]]]:
    return {d["date"]: [(t["at"][11:16], t["title"]) for t in d["tasks"]] for d in out["days"]}


def test_week_across_the_spring_dst_change(db, admin, run):
    _add(db, admin, "Early bird", _at(2025, 3, 30, 1, 30), type="call")
    _add(db, admin, "After the jump", _at(2025, 3, 30, 3, 30), type="video")
    _add(db, admin, "Just after midnight", _at(2025, 3, 30, 0, 30))  # Saturday 23:30 in UTC
    _add(db, admin, "Reminder", _at(2025, 3, 28, 9), type="sms", sms_text="See you Sunday")
    out = json.loads(run("--week", "--date", "2025-03-27", "--json").stdout)
    assert (out["view"], out["from"], out["to"], out["timezone"]) == ("week", "2025-03-24", "2025-03-30", "Europe/Madrid")
    days = _titles_by_day(out)
    assert list(days) == [f"2025-03-{d}" for d in range(24, 31)]
    assert days["2025-03-29"] == []
    assert days["2025-03-30"] == [("00:30", "Just after midnight"), ("01:30", "Early bird"), ("03:30", "After the jump")]
    assert [t["at"][-6:] for t in out["days"][6]["tasks"]] == ["+01:00", "+01:00", "+02:00"]
    assert days["2025-03-28"] == [("09:00", "Reminder")]

    shown = run("--date", "2025-03-27").stdout  # --week is the default
    assert "24 Mar – 30 Mar 2025" in shown and "Sun 30 Mar" in shown
    assert "01:30 ☎ Early bird" in shown and "03:30 ▶ After the jump" in shown and "09:00 ✉ Reminder" in shown


def test_day_and_month_across_the_autumn_dst_change(db, admin, run):
    _add(db, admin, "Before the change", _at(2025, 10, 26, 1, 30))  # 23:30 UTC the day before
    _add(db, admin, "After the change", _at(2025, 10, 26, 3, 30), type="video")
    _add(db, admin, "Late Saturday", _at(2025, 10, 25, 22))
    day = json.loads(run("--day", "--date", "2025-10-26", "--json").stdout)
    assert _titles_by_day(day) == {"2025-10-26": [("01:30", "Before the change"), ("03:30", "After the change")]}
    assert _titles_by_day(json.loads(run("--day", "--date", "2025-10-25", "--json").stdout)) == {
        "2025-10-25": [("22:00", "Late Saturday")]
    }
    shown = run("--day", "--date", "2025-10-26").stdout
    assert "Sunday 26 October 2025" in shown and "https://meet.jit.si/tscrm-" in shown
    assert shown.index("01:30") < shown.index("Before the change") < shown.index("03:30") < shown.index("After the change")

    month = json.loads(run("--month", "--date", "2025-10-09", "--json").stdout)
    assert (month["from"], month["to"]) == ("2025-09-29", "2025-11-02")  # whole weeks, Monday to Sunday
    assert [t for d in month["days"] for t in d["tasks"]] and len(month["days"]) == 35
    text = run("--month", "--date", "2025-10-09").stdout
    assert "October 2025" in text and "01:30 • Before the change" in text


def test_weeks_start_on_the_users_week_start(db, admin, make_user, run):
    sunday_person = make_user("Intern", email="sun@acme.test", timezone="Europe/Madrid", week_start=6)
    _add(db, sunday_person, "Sunday task", _at(2025, 3, 30, 10))
    out = json.loads(run("--date", "2025-03-30", "--json", user="sun@acme.test").stdout)
    assert (out["from"], out["to"]) == ("2025-03-30", "2025-04-05")
    assert _titles_by_day(out)["2025-03-30"] == [("10:00", "Sunday task")]


def test_other_calendars_need_the_right(db, admin, make_user, run):
    intern = make_user("Intern", name="Ivy Intern", email="ivy@acme.test")
    _add(db, intern, "Ivy's call", _at(2025, 6, 11, 10), type="call")
    _add(db, admin, "Ana's meeting", _at(2025, 6, 12, 10), type="video")

    def titles(*args, user=None):
        out = json.loads(run("--date", "2025-06-11", "--json", *args, user=user).stdout)
        return [t["title"] for d in out["days"] for t in d["tasks"]]

    assert titles() == ["Ana's meeting"]  # the admin's own calendar by default
    assert titles("--user", "ivy@acme.test") == ["Ivy's call"]
    assert titles("--all") == ["Ivy's call", "Ana's meeting"]
    assert "Ivy Intern" in run("--date", "2025-06-11", "--day", "--all").stdout  # the assignee column
    assert titles(user="ivy@acme.test") == ["Ivy's call"]
    for args in (("--all",), ("--user", "ana@acme.test")):
        refused = run("--date", "2025-06-11", *args, user="ivy@acme.test", code=4)
        assert "See other users' calendars" in refused.stderr


def test_usage_mistakes_exit_2(db, admin, run):
    assert "--day, --week and --month" in run("--day", "--week", code=2).stderr
    assert "--date: '30/03/2025' is not a date" in run("--date", "30/03/2025", code=2).stderr
    assert "--user or --all" in run("--all", "--user", "ana@acme.test", code=2).stderr
    assert "No tasks in this period." in run("--date", "2025-01-01").stdout
