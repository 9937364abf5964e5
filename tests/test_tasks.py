from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from tscrm.core.errors import NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, Task, TaskParticipant, TaskType
from tscrm.core.services import activity, clients, deals, leads, tasks
from tscrm.core.services.clients import new_contact
from tscrm.core.services.tasks import TaskFilter, task_bucket

NOW = datetime(2025, 6, 11, 10, 0, tzinfo=UTC)  # a Wednesday


def _task(db, actor, **kw):
    kw.setdefault("title", "Call back")
    with db.write() as s:
        return tasks.create_task(s, actor, **kw).id


def test_task_defaults_to_the_actor(db, admin):
    tid = _task(db, admin, description="  ask about fibre ", due_at=NOW)
    with db.read() as s:
        task = s.get(Task, tid)
        assert (task.assignee_id, task.created_by_id, task.type) == (admin.id, admin.id, "task")
        assert task.description == "ask about fibre" and task.due_at == NOW and task.completed_at is None


def test_intern_cannot_assign_to_others_manager_can(db, admin, make_user):
    intern = make_user("Intern")
    manager = make_user("Manager")
    with pytest.raises(PermissionDenied, match="may not create tasks for other users"):
        _task(db, intern, assignee_id=manager.id)
    with pytest.raises(PermissionDenied, match="may not add other users"):
        _task(db, intern, type="video", participant_ids=[manager.id])
    tid = _task(db, manager, assignee_id=intern.id, participant_ids=[manager.id, admin.id])
    with db.read() as s:
        assert s.get(Task, tid).assignee_id == intern.id
        assert tasks.participant_ids(s, tid) == sorted([manager.id, admin.id])
        assert [t.id for t in tasks.list_tasks(s, intern)] == [tid]


def test_assignee_must_be_an_existing_user(db, admin):
    with pytest.raises(ValidationError, match="assignee_id: no active user with id 999"):
        _task(db, admin, assignee_id=999)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"due_at": datetime(2025, 6, 11, 10, 0)}, "due_at"),
        ({"start_at": NOW, "due_at": NOW - timedelta(minutes=1)}, "due_at"),
        ({"type": TaskType.SMS, "due_at": NOW}, "sms_text"),
        ({"type": TaskType.SMS, "sms_text": "Hello"}, "due_at"),
        ({"sms_text": "Hello"}, "sms_text"),
        ({"title": "   "}, "title"),
        ({"type": "fax"}, "type"),
    ],
)
def test_invalid_tasks_are_refused_naming_the_field(db, admin, kw, field):
    with pytest.raises(ValidationError) as err:
        _task(db, admin, **kw)
    assert err.value.field == field and str(err.value).startswith(field)
    with db.read() as s:
        assert s.exec(select(Task)).all() == []


def test_naive_time_message_says_what_to_do(db, admin):
    with pytest.raises(ValidationError, match="due_at: 2025-06-11T10:00 has no time zone"):
        _task(db, admin, due_at=datetime(2025, 6, 11, 10, 0))


def test_sms_and_video_tasks(db, admin):
    sms = _task(db, admin, type="sms", sms_text=" See you tomorrow ", due_at=NOW)
    video = _task(db, admin, type=TaskType.VIDEO, start_at=NOW, due_at=NOW + timedelta(hours=1))
    other_video = _task(db, admin, type=TaskType.VIDEO)
    with db.read() as s:
        assert s.get(Task, sms).sms_text == "See you tomorrow"
        url = s.get(Task, video).meeting_url
        assert re.fullmatch(r"https://meet\.jit\.si/tscrm-[A-Za-z0-9_-]{12}", url)
        assert s.get(Task, other_video).meeting_url != url


def test_linked_task_appears_on_every_feed(db, admin):
    with db.write() as s:
        cid = clients.create_client(s, admin, new_contact("Client")).id
        did = deals.create_deal(s, admin, client_id=cid, title="Deal").id
        lid = leads.create_lead(s, admin, new_contact("Lead")).id
    on_deal = _task(db, admin, title="Send offer", deal_id=did)
    on_lead = _task(db, admin, title="Qualify", lead_id=lid)
    _task(db, admin, title="Unlinked")
    with db.read() as s:
        assert s.get(Task, on_deal).client_id == cid  # a deal's task is also its client's
        entry = [a for a in activity.feed(s, deal_id=did) if a.kind == "task"]
        assert len(entry) == 1 and (entry[0].client_id, entry[0].deal_id) == (cid, did)
        assert entry[0].data["task_id"] == on_deal and entry[0].text == "Task: Send offer"
        assert [a.data["task_id"] for a in activity.feed(s, lead_id=lid) if a.kind == "task"] == [on_lead]
        assert len(s.exec(select(Activity).where(Activity.kind == "task")).all()) == 2


def test_linked_records_must_be_visible(db, admin, make_user):
    intern = make_user("Intern")
    with db.write() as s:
        cid = clients.create_client(s, admin, new_contact("Admin's client")).id
        lid = leads.create_lead(s, admin, new_contact("Admin's lead")).id
    with pytest.raises(NotFound, match="No client"):
        _task(db, intern, client_id=cid)
    with pytest.raises(NotFound, match="No lead"):
        _task(db, intern, lead_id=lid)


def test_complete_and_reopen_rights_and_feed(db, admin, make_user):
    intern = make_user("Intern")
    other = make_user("Intern")
    manager = make_user("Manager")
    with db.write() as s:
        cid = clients.create_client(s, intern, new_contact("Mine")).id
    tid = _task(db, intern, client_id=cid)
    with pytest.raises(NotFound):  # another intern does not even see it
        with db.write() as s:
            tasks.complete_task(s, other, tid)
    with db.write() as s:
        tasks.complete_task(s, intern, tid, at=NOW)
        tasks.complete_task(s, intern, tid)  # done already: unchanged, no second entry
    with db.read() as s:
        assert s.get(Task, tid).completed_at == NOW
        assert [a.kind for a in activity.feed(s, client_id=cid)] == ["created", "task", "task_done"]
    with db.write() as s:
        tasks.reopen_task(s, manager, tid)
    with db.read() as s:
        assert s.get(Task, tid).completed_at is None


def test_participant_sees_but_cannot_change(db, admin, make_user):
    intern = make_user("Intern")
    tid = _task(db, admin, type="video", participant_ids=[intern.id])
    with db.read() as s:
        assert tasks.get_task(s, intern, tid).id == tid
    with pytest.raises(PermissionDenied, match="may not change task"):
        with db.write() as s:
            tasks.complete_task(s, intern, tid)


def test_update_task_revalidates(db, admin, make_user):
    intern = make_user("Intern")
    tid = _task(db, intern, due_at=NOW)
    with db.write() as s:
        tasks.update_task(s, intern, tid, title="Visit", type="video", start_at=NOW - timedelta(hours=1))
    with db.read() as s:
        task = s.get(Task, tid)
        assert (task.title, task.type) == ("Visit", "video") and task.meeting_url
    with pytest.raises(ValidationError, match="due_at: must not be before start_at"):
        with db.write() as s:
            tasks.update_task(s, intern, tid, due_at=NOW - timedelta(hours=2))
    with pytest.raises(PermissionDenied):
        with db.write() as s:
            tasks.update_task(s, intern, tid, assignee_id=admin.id)
    with pytest.raises(ValidationError, match="Unknown task field: priority"):
        with db.write() as s:
            tasks.update_task(s, intern, tid, priority=1)
    with db.read() as s:
        assert s.get(Task, tid).due_at == NOW and s.get(Task, tid).assignee_id == intern.id


def test_delete_task(db, admin, make_user):
    intern = make_user("Intern")
    own = _task(db, intern, type="video", participant_ids=[intern.id])
    assigned = _task(db, admin, assignee_id=intern.id)
    created_by_admin = _task(db, admin)
    with db.write() as s:
        tasks.delete_task(s, intern, own)
        tasks.delete_task(s, intern, assigned)
    with pytest.raises(NotFound):
        with db.write() as s:
            tasks.delete_task(s, intern, created_by_admin)
    with db.read() as s:
        assert [t.id for t in s.exec(select(Task))] == [created_by_admin]
        assert s.exec(select(TaskParticipant)).all() == []


def test_list_tasks_order_and_filters(db, admin, make_user):
    intern = make_user("Intern")
    manager = make_user("Manager")
    late = _task(db, intern, title="late", due_at=NOW - timedelta(days=1))
    undated = _task(db, intern, title="someday")
    soon = _task(db, intern, title="soon", type="call", due_at=NOW + timedelta(hours=2))
    done = _task(db, intern, title="done", due_at=NOW - timedelta(days=2))
    other = _task(db, manager, title="manager's", due_at=NOW)
    with db.write() as s:
        tasks.complete_task(s, intern, done)
    with db.read() as s:
        ids = lambda actor, f=None, **kw: [t.id for t in tasks.list_tasks(s, actor, f, now=NOW, **kw)]  # noqa: E731
        assert ids(intern) == [late, soon, undated]
        assert ids(intern, TaskFilter(open_only=False)) == [done, late, soon, undated]
        assert ids(intern, TaskFilter(overdue=True)) == [late]
        assert ids(intern, TaskFilter(types=(TaskType.CALL,))) == [soon]
        assert ids(intern, TaskFilter(due_from=NOW, due_to=NOW + timedelta(days=1))) == [soon]
        assert ids(intern, limit=1, offset=1) == [soon]
        assert tasks.count_tasks(s, intern, TaskFilter(overdue=True), now=NOW) == 1
        with pytest.raises(PermissionDenied):
            tasks.list_tasks(s, intern, TaskFilter(all_users=True))
        with pytest.raises(PermissionDenied):
            tasks.list_tasks(s, intern, TaskFilter(assignee_id=manager.id))
        assert ids(manager, TaskFilter(assignee_id=intern.id)) == [late, soon, undated]
        assert ids(manager, TaskFilter(all_users=True)) == [late, other, soon, undated]


def test_participating_tasks_are_listed_on_request(db, admin, make_user):
    intern = make_user("Intern")
    meeting = _task(db, admin, type="video", due_at=NOW, participant_ids=[intern.id])
    with db.read() as s:
        assert tasks.list_tasks(s, intern) == []
        assert [t.id for t in tasks.list_tasks(s, intern, TaskFilter(include_participating=True))] == [meeting]


MADRID = ZoneInfo("Europe/Madrid")


def _at(y, m, d, h, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=MADRID)


@pytest.mark.parametrize(
    ("due", "week_start", "bucket"),
    [
        (None, 0, "no_date"),
        (_at(2025, 3, 28, 9), 0, "overdue"),
        (_at(2025, 3, 28, 23, 30), 0, "today"),  # Friday 23:30 local is still today
        (_at(2025, 3, 29, 0, 30), 0, "tomorrow"),
        (_at(2025, 3, 30, 23, 30), 0, "this_week"),  # Sunday, after the DST jump: still this week
        (_at(2025, 3, 31, 0, 30), 0, "later"),  # Monday starts a new week
        (_at(2025, 3, 30, 23, 30), 6, "later"),  # ... unless weeks start on Sunday
        (_at(2025, 3, 29, 18), 5, "tomorrow"),  # tomorrow wins over the next week
    ],
)
def test_task_bucket_in_user_zone(due, week_start, bucket):
    now = _at(2025, 3, 28, 12)  # Friday before the spring DST change
    task = Task(title="x", due_at=due.astimezone(UTC) if due else None)
    assert task_bucket(task, now.astimezone(UTC), "Europe/Madrid", week_start) == bucket


def test_task_bucket_done_wins():
    task = Task(title="x", due_at=NOW - timedelta(days=3), completed_at=NOW)
    assert task_bucket(task, NOW, MADRID, 0) == "done"


def test_calendar_tasks_of_a_period_by_start_or_due(db, admin, make_user):
    intern = make_user("Intern")
    week = (_at(2025, 3, 24, 0), _at(2025, 3, 31, 0))  # Monday to Monday, across the DST change
    early = _task(db, intern, title="Sunday 00:30", due_at=_at(2025, 3, 30, 0, 30))  # Saturday 23:30 UTC
    meeting = _task(db, intern, title="meeting", type="video", start_at=_at(2025, 3, 25, 9), due_at=_at(2025, 4, 2, 9))
    _task(db, intern, title="next Monday", due_at=_at(2025, 3, 31, 0))  # the end is excluded
    _task(db, intern, title="starts before", start_at=_at(2025, 3, 20, 9), due_at=_at(2025, 3, 26, 9))
    _task(db, intern, title="someday")
    done = _task(db, intern, title="done", due_at=_at(2025, 3, 24, 8))
    with db.write() as s:
        tasks.complete_task(s, intern, done)
    with db.read() as s:
        titles = lambda **kw: [t.title for t in tasks.calendar_tasks(s, intern, *week, **kw)]  # noqa: E731
        assert titles() == ["done", "meeting", "Sunday 00:30"]
        assert titles(include_done=False) == ["meeting", "Sunday 00:30"]
        assert tasks.calendar_time(s.get(Task, meeting)) == _at(2025, 3, 25, 9)
        assert tasks.calendar_time(s.get(Task, early)) == _at(2025, 3, 30, 0, 30)


def test_calendar_of_others_needs_the_right(db, admin, make_user):
    intern = make_user("Intern")
    other = make_user("Intern")
    week = (_at(2025, 6, 9, 0), _at(2025, 6, 16, 0))
    own = _task(db, intern, title="intern's", due_at=_at(2025, 6, 10, 9))
    invited = _task(db, admin, title="admin's meeting", type="video", due_at=_at(2025, 6, 11, 9), participant_ids=[intern.id])
    admins = _task(db, admin, title="admin's", due_at=_at(2025, 6, 12, 9))
    with db.read() as s:
        ids = lambda actor, **kw: [t.id for t in tasks.calendar_tasks(s, actor, *week, **kw)]  # noqa: E731
        assert ids(intern) == [own, invited]  # own and taking part, not the admin's other task
        assert ids(other) == []
        assert ids(admin) == [invited, admins]
        assert ids(admin, user_id=intern.id) == [own, invited]
        assert ids(admin, all_users=True) == [own, invited, admins]
        for kw in ({"user_id": admin.id}, {"all_users": True}):
            with pytest.raises(PermissionDenied, match="See other users' calendars"):
                tasks.calendar_tasks(s, intern, *week, **kw)


def test_done_tasks_most_recent_first(db, admin, make_user):
    intern = make_user("Intern")
    first = _task(db, intern, title="first", due_at=NOW)
    second = _task(db, intern, title="second", type="call", due_at=NOW - timedelta(days=5))
    _task(db, intern, title="open", due_at=NOW)
    with db.write() as s:
        tasks.complete_task(s, intern, first, at=NOW)
        tasks.complete_task(s, intern, second, at=NOW + timedelta(hours=1))
    with db.read() as s:
        assert [t.id for t in tasks.list_done_tasks(s, intern)] == [second, first]
        assert [t.id for t in tasks.list_done_tasks(s, intern, TaskFilter(types=(TaskType.TASK,), overdue=True))] == [first]
        assert tasks.list_done_tasks(s, admin) == []


@pytest.mark.parametrize(
    ("view", "day", "week_start", "first", "end"),
    [
        ("day", date(2025, 3, 30), 0, date(2025, 3, 30), date(2025, 3, 31)),
        ("week", date(2025, 3, 30), 0, date(2025, 3, 24), date(2025, 3, 31)),  # Sunday ends a Monday week
        ("week", date(2025, 3, 30), 6, date(2025, 3, 30), date(2025, 4, 6)),  # ... and starts a Sunday one
        ("month", date(2025, 3, 12), 0, date(2025, 2, 24), date(2025, 4, 7)),  # whole weeks around March
        ("month", date(2025, 2, 3), 0, date(2025, 1, 27), date(2025, 3, 3)),
        ("month", date(2025, 6, 1), 6, date(2025, 6, 1), date(2025, 7, 6)),
    ],
)
def test_calendar_days_of_a_view(view, day, week_start, first, end):
    assert tasks.calendar_days(view, day, week_start) == (first, end)


def test_calendar_bounds_are_local_midnights_across_dst():
    start, end = tasks.calendar_bounds("day", date(2025, 3, 30), "Europe/Madrid")
    assert (start, end) == (datetime(2025, 3, 29, 23, tzinfo=UTC), datetime(2025, 3, 30, 22, tzinfo=UTC))  # 23 hours
    start, end = tasks.calendar_bounds("day", date(2025, 10, 26), "Europe/Madrid")
    assert end - start == timedelta(hours=25)
