"""Two-way calendar sync against a real Radicale, on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from tscrm.calendar import ical
from tscrm.calendar import sync as cal_sync
from tscrm.calendar.dav import CalendarSession
from tscrm.core.errors import CalendarError, NotFound
from tscrm.core.models import Activity, Task, TaskType
from tscrm.core.models_calendar import CalendarItem
from tscrm.core.services import calendar_accounts, clients, tasks
from tscrm.core.services.clients import new_contact

from .conftest import USERS, vevent

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def sync(db, env, **kw):
    report = cal_sync.sync_account(db, env["account_id"], **kw)
    assert report.ok, report.error
    return report.counts


def add_task(db, actor, title: str, due: datetime, **kw) -> int:
    with db.write() as s:
        return tasks.create_task(s, actor, title=title, due_at=due, **kw).id


def remote(radicale, cal) -> dict[str, ical.EventData]:
    """The server's events by summary."""
    events = [ical.parse(text, "Europe/Madrid") for text in radicale.events(cal).values()]
    return {e.summary: e for e in events if e is not None}


def task_rows(db) -> dict[str, Task]:
    with db.read() as s:
        return {t.title: t for t in s.exec(select(Task))}


def etags(radicale, cal) -> dict[str, str]:
    with CalendarSession(radicale.url, "alice", USERS["alice"]) as dav:
        return dav.etags(cal)


def no_writes(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the sync wrote to the server")

    monkeypatch.setattr(CalendarSession, "put", refuse)
    monkeypatch.setattr(CalendarSession, "delete", refuse)


def test_first_sync_both_ways_then_nothing_to_do(db, admin, radicale, calendar_env, monkeypatch):
    cal = calendar_env["cal"]
    add_task(db, admin, "Call Jose", T0, type="call")
    add_task(db, admin, "Demo", T0 + timedelta(days=1), type="video")
    add_task(db, admin, "No date: not synced", None)
    radicale.put(cal, "phone-1", vevent("phone-1", "Dentist", ":20261202T150000Z", ":20261202T160000Z"))

    counts = sync(db, calendar_env)
    assert (counts.created_remote, counts.created_local) == (2, 1)

    events = remote(radicale, cal)
    assert sorted(events) == ["Call Jose", "Demo", "Dentist"]
    assert events["Call Jose"].kind == "call"
    assert (events["Call Jose"].start, events["Call Jose"].end) == (T0, T0 + timedelta(minutes=30))
    assert events["Demo"].kind == "video" and events["Demo"].url.startswith("https://meet.jit.si/")
    dentist = task_rows(db)["Dentist"]
    assert dentist.type == TaskType.TASK and dentist.assignee_id == admin.id
    assert (dentist.start_at, dentist.due_at) == (datetime(2026, 12, 2, 15, tzinfo=UTC), datetime(2026, 12, 2, 16, tzinfo=UTC))

    before = etags(radicale, cal)
    no_writes(monkeypatch)
    again = sync(db, calendar_env)
    assert (again.created_local, again.updated_local, again.deleted_local) == (0, 0, 0)
    assert (again.created_remote, again.updated_remote, again.deleted_remote, again.unchanged) == (0, 0, 0, 3)
    assert etags(radicale, cal) == before
    assert len(task_rows(db)) == 4


def test_remote_edit_updates_the_task(db, admin, radicale, calendar_env, monkeypatch):
    cal = calendar_env["cal"]
    radicale.put(cal, "phone-1", vevent("phone-1", "Lunch", ":20261202T120000Z", ":20261202T130000Z"))
    sync(db, calendar_env)
    radicale.put(cal, "phone-1", vevent("phone-1", "Lunch with Bob", ":20261203T120000Z", ":20261203T133000Z", extra="DESCRIPTION:at the port"))

    counts = sync(db, calendar_env)
    assert counts.updated_local == 1 and counts.updated_remote == 0
    task = task_rows(db)["Lunch with Bob"]
    assert (task.start_at, task.due_at, task.description) == (
        datetime(2026, 12, 3, 12, tzinfo=UTC), datetime(2026, 12, 3, 13, 30, tzinfo=UTC), "at the port",
    )
    no_writes(monkeypatch)
    assert sync(db, calendar_env).unchanged == 1


def test_local_edit_updates_the_event_and_keeps_its_alarm(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]
    alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT10M\r\nEND:VALARM"
    radicale.put(cal, "phone-1", vevent("phone-1", "Visit", ":20261202T120000Z", ":20261202T130000Z", extra=alarm))
    sync(db, calendar_env)
    task_id = task_rows(db)["Visit"].id
    with db.write() as s:
        tasks.update_task(s, admin, task_id, title="Visit the warehouse", type="call")

    counts = sync(db, calendar_env)
    assert counts.updated_remote == 1 and counts.updated_local == 0
    (text,) = radicale.events(cal).values()
    event = ical.parse(text, "UTC")
    assert (event.summary, event.kind, event.start) == ("Visit the warehouse", "call", datetime(2026, 12, 2, 12, tzinfo=UTC))
    assert "BEGIN:VALARM" in text  # what tscrm does not manage stays


@pytest.mark.parametrize("remote_is_newer", [True, False])
def test_both_edited_the_most_recent_change_wins(db, admin, radicale, calendar_env, remote_is_newer):
    cal = calendar_env["cal"]
    with db.write() as s:
        client = clients.create_client(s, admin, new_contact(name="Jose Garcia"))
        client_id = client.id
    task_id = add_task(db, admin, "Quote", T0, client_id=client_id)
    sync(db, calendar_env)
    (href,) = radicale.events(cal)
    with db.write() as s:
        tasks.update_task(s, admin, task_id, title="Quote (CRM)")
    uid = href.rsplit("/", 1)[-1].removesuffix(".ics")
    modified = datetime.now(UTC) + (timedelta(hours=1) if remote_is_newer else -timedelta(days=1))
    radicale.put(cal, uid, vevent(uid, "Quote (phone)", ":20261201T090000Z", ":20261201T093000Z", modified=modified))

    counts = sync(db, calendar_env)
    winner, loser = ("Quote (phone)", "Quote (CRM)") if remote_is_newer else ("Quote (CRM)", "Quote (phone)")
    assert [c["kept"] for c in counts.conflicts] == ["calendar" if remote_is_newer else "crm"]
    assert list(task_rows(db)) == [winner]
    assert list(remote(radicale, cal)) == [winner]
    with db.read() as s:
        feed = [a.text for a in s.exec(select(Activity).where(Activity.client_id == client_id))]
    assert any("Calendar conflict" in line and loser in line for line in feed), feed
    assert sync(db, calendar_env).unchanged == 1


def test_remote_delete_deletes_the_task_and_says_so(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact(name="Ana Lopez")).id
    add_task(db, admin, "Call Ana", T0, client_id=client_id, type="call")
    add_task(db, admin, "Keep me", T0)
    sync(db, calendar_env)
    href = next(h for h, text in radicale.events(cal).items() if "Call Ana" in text)
    radicale.delete(cal, href)

    counts = sync(db, calendar_env)
    assert counts.deleted_local == 1
    assert list(task_rows(db)) == ["Keep me"]
    with db.read() as s:
        feed = [a.text for a in s.exec(select(Activity).where(Activity.client_id == client_id))]
    assert "Task deleted in the calendar Work calendar: Call Ana" in feed


def test_local_delete_deletes_the_event(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]
    gone = add_task(db, admin, "Gone", T0)
    add_task(db, admin, "Stays", T0)
    sync(db, calendar_env)
    with db.write() as s:
        tasks.delete_task(s, admin, gone)

    counts = sync(db, calendar_env)
    assert counts.deleted_remote == 1
    assert list(remote(radicale, cal)) == ["Stays"]
    with db.read() as s:
        assert s.exec(select(func.count()).select_from(CalendarItem)).one() == 1


def test_refuses_when_one_side_suddenly_looks_empty(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]
    for i in range(3):
        add_task(db, admin, f"Task {i}", T0 + timedelta(hours=i))
    sync(db, calendar_env)
    for href in radicale.events(cal):
        radicale.delete(cal, href)
    add_task(db, admin, "New since", T0)

    report = cal_sync.sync_account(db, calendar_env["account_id"])
    assert not report.ok and report.refused
    assert "all 3 events synced last time are gone from the calendar" in report.error
    assert "--force-delete" in report.error
    assert len(task_rows(db)) == 4 and radicale.events(cal) == {}  # nothing changed on either side

    counts = sync(db, calendar_env, force_delete=True)
    assert counts.deleted_local == 3 and counts.created_remote == 1
    assert list(task_rows(db)) == ["New since"]


def test_refuses_when_the_tasks_are_gone(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]
    ids = [add_task(db, admin, f"Task {i}", T0) for i in range(3)]
    sync(db, calendar_env)
    with db.write() as s:
        for task_id in ids:
            tasks.delete_task(s, admin, task_id)
    report = cal_sync.sync_account(db, calendar_env["account_id"])
    assert report.refused and "gone from tscrm" in report.error
    assert len(radicale.events(cal)) == 3


@pytest.mark.parametrize("when", ["before_put", "after_put"])
def test_failure_midway_then_rerun_neither_duplicates_nor_deletes(db, admin, radicale, calendar_env, monkeypatch, when):
    cal = calendar_env["cal"]
    for i in range(6):
        add_task(db, admin, f"Local {i}", T0 + timedelta(hours=i))
    for i in range(4):
        radicale.put(cal, f"phone-{i}", vevent(f"phone-{i}", f"Remote {i}", f":2026120{i + 2}T100000Z"))
    real_put = CalendarSession.put
    calls = []

    def flaky_put(self, href, text, *, etag=None):
        calls.append(href)
        if len(calls) == 3 and when == "before_put":
            raise CalendarError("connection lost")
        result = real_put(self, href, text, etag=etag)
        if len(calls) == 3:
            raise CalendarError("connection lost after the write")
        return result

    monkeypatch.setattr(CalendarSession, "put", flaky_put)
    report = cal_sync.sync_account(db, calendar_env["account_id"])
    assert not report.ok and "connection lost" in report.error
    monkeypatch.setattr(CalendarSession, "put", real_put)

    counts = sync(db, calendar_env)
    assert counts.deleted_local == 0 and counts.deleted_remote == 0
    expected = sorted([f"Local {i}" for i in range(6)] + [f"Remote {i}" for i in range(4)])
    assert sorted(task_rows(db)) == expected
    events = radicale.events(cal)
    assert sorted(e.summary for e in (ical.parse(t, "UTC") for t in events.values())) == expected
    assert len(events) == 10
    no_writes(monkeypatch)
    assert sync(db, calendar_env).unchanged == 10


def test_failure_while_applying_remote_events_then_rerun(db, admin, radicale, calendar_env, monkeypatch):
    cal = calendar_env["cal"]
    for i in range(4):
        radicale.put(cal, f"phone-{i}", vevent(f"phone-{i}", f"Remote {i}", f":2026120{i + 2}T100000Z"))
    from tscrm.core.services import calendar_sync as core

    real = core.create_task_from_event
    made = []

    def flaky(*args, **kwargs):
        if len(made) == 2:
            raise RuntimeError("killed")
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(core, "create_task_from_event", flaky)
    report = cal_sync.sync_account(db, calendar_env["account_id"])
    assert not report.ok and "killed" in report.error
    assert len(task_rows(db)) == 2
    monkeypatch.setattr(core, "create_task_from_event", real)
    counts = sync(db, calendar_env)
    assert counts.created_local == 2 and counts.created_remote == 0
    assert sorted(task_rows(db)) == [f"Remote {i}" for i in range(4)]
    assert len(radicale.events(cal)) == 4


def test_all_day_dst_and_recurring_events(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]  # the admin lives in Europe/Madrid; 2026-03-29 is 23 hours long there
    radicale.put(cal, "holiday", vevent("holiday", "Holiday", ";VALUE=DATE:20260329", ";VALUE=DATE:20260330"))
    radicale.put(
        cal, "dst", vevent("dst", "After the change", ";TZID=Europe/Madrid:20260329T100000", ";TZID=Europe/Madrid:20260329T113000")
    )
    radicale.put(cal, "weekly", vevent("weekly", "Stand-up", ":20261201T090000Z", ":20261201T091500Z", extra="RRULE:FREQ=WEEKLY"))
    with db.write() as s:  # a local all-day task: local midnight to local midnight (25 hours: October's change)
        tasks.create_task(
            s, admin, title="Trade fair",
            start_at=datetime(2026, 10, 24, 22, tzinfo=UTC), due_at=datetime(2026, 10, 25, 23, tzinfo=UTC),
        )

    counts = sync(db, calendar_env)
    assert counts.created_local == 2 and counts.ignored == 1 and counts.created_remote == 1
    rows = task_rows(db)
    assert "Stand-up" not in rows  # a recurring event is left alone
    assert (rows["Holiday"].start_at, rows["Holiday"].due_at) == (
        datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC),
    )
    assert (rows["After the change"].start_at, rows["After the change"].due_at) == (
        datetime(2026, 3, 29, 8, tzinfo=UTC), datetime(2026, 3, 29, 9, 30, tzinfo=UTC),
    )
    fair = next(t for t in radicale.events(cal).values() if "Trade fair" in t)
    assert "DTSTART;VALUE=DATE:20261025" in fair and "DTEND;VALUE=DATE:20261026" in fair
    assert sync(db, calendar_env).unchanged == 3  # the all-day round trip is stable


def test_an_account_is_seen_only_by_its_user(db, admin, make_user, radicale, calendar_env):
    other = make_user("Manager")
    with db.read() as s:
        assert calendar_accounts.list_accounts(s, other) == []
        with pytest.raises(NotFound):
            calendar_accounts.get_account(s, other, calendar_env["account_id"])
        assert [a.id for a in calendar_accounts.list_accounts(s, admin)] == [calendar_env["account_id"]]
    add_task(db, other, "Not for Ana's calendar", T0)
    add_task(db, admin, "Ana's", T0)
    sync(db, calendar_env)
    assert list(remote(radicale, calendar_env["cal"])) == ["Ana's"]


def test_wrong_password_is_reported_on_the_account(db, admin, radicale, calendar_env):
    with db.write() as s:
        calendar_accounts.update_account(s, admin, calendar_env["account_id"], password="wrong")
    report = cal_sync.sync_account(db, calendar_env["account_id"])
    assert not report.ok and "login failed" in report.error
    with db.read() as s:
        assert "login failed" in calendar_accounts.get_account(s, admin, calendar_env["account_id"]).last_error


def test_a_second_sync_of_the_same_account_waits_its_turn(db, admin, radicale, calendar_env):
    """A CLI sync during the scheduler's: the second one does nothing instead of creating events twice."""
    from tscrm.core.locks import exclusive_lock

    add_task(db, admin, "Call Jose", T0, type="call")
    with exclusive_lock(db, f"calendar-sync-{calendar_env['account_id']}") as got:
        assert got
        report = cal_sync.sync_account(db, calendar_env["account_id"])
        assert not report.ok and "another sync of this account is running" in report.error
        assert remote(radicale, calendar_env["cal"]) == {}
    assert sync(db, calendar_env).created_remote == 1  # the lock is gone with its holder
    assert sorted(remote(radicale, calendar_env["cal"])) == ["Call Jose"]


def test_the_scheduler_syncs_accounts_every_ten_minutes(db, admin, radicale, calendar_env):
    from tscrm.cli.schedule import _jobs
    from tscrm.core.services import scheduler

    jobs = [job for job in _jobs() if job[0] == "calendar_sync"]
    add_task(db, admin, "From the scheduler", T0)
    now = datetime.now(UTC)
    first = scheduler.run_due(db, jobs=jobs, now=now)
    assert first.jobs == {"calendar_sync": "ok: 1 accounts"}
    assert list(remote(radicale, calendar_env["cal"])) == ["From the scheduler"]
    assert scheduler.run_due(db, jobs=jobs, now=now + timedelta(minutes=5)).jobs == {"calendar_sync": "ok: 0 accounts"}
    assert scheduler.run_due(db, jobs=jobs, now=now + timedelta(minutes=11)).jobs == {"calendar_sync": "ok: 1 accounts"}


def test_resources_tscrm_cannot_take_are_left_alone(db, admin, radicale, calendar_env, monkeypatch):
    cal = calendar_env["cal"]
    todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:todo-1\r\nSUMMARY:Buy milk\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    radicale.put(cal, "todo-1", todo)
    radicale.put(cal, "event-1", vevent("event-1", "Meeting", ":20261202T100000Z"))

    counts = sync(db, calendar_env)
    assert counts.created_local == 1 and counts.ignored == 1  # the to-do is not imported, nor overwritten
    assert list(task_rows(db)) == ["Meeting"] and len(radicale.events(cal)) == 2
    no_writes(monkeypatch)
    again = sync(db, calendar_env)
    assert (again.created_local, again.ignored, again.unchanged) == (0, 1, 1)
    assert "Buy milk" in radicale.events(cal)[next(h for h in radicale.events(cal) if "todo-1" in h)]


def test_deleted_on_one_side_and_changed_on_the_other_the_change_wins(db, admin, radicale, calendar_env):
    cal = calendar_env["cal"]
    kept_local = add_task(db, admin, "Edited here", T0)
    add_task(db, admin, "Edited there", T0 + timedelta(hours=1))
    sync(db, calendar_env)
    hrefs = {ical.parse(t, "UTC").summary: h for h, t in radicale.events(cal).items()}
    radicale.delete(cal, hrefs["Edited here"])
    with db.write() as s:
        tasks.update_task(s, admin, kept_local, title="Edited here again")
        tasks.delete_task(s, admin, task_rows(db)["Edited there"].id)
    uid = hrefs["Edited there"].rsplit("/", 1)[-1].removesuffix(".ics")
    radicale.put(cal, uid, vevent(uid, "Edited there again", ":20261201T100000Z"))

    counts = sync(db, calendar_env)
    assert (counts.created_remote, counts.created_local, counts.deleted_local, counts.deleted_remote) == (1, 1, 0, 0)
    assert sorted(task_rows(db)) == ["Edited here again", "Edited there again"]
    assert sorted(remote(radicale, cal)) == ["Edited here again", "Edited there again"]
