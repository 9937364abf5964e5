from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tscrm.core.errors import ValidationError
from tscrm.core.models import Lead
from tscrm.core.services import calls, clients, dashboard, leads, tasks
from tscrm.core.services.clients import new_contact
from tscrm.core.timeutil import day_bounds, week_bounds

MADRID = "Europe/Madrid"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- time bounds ------------------------------------------------------------------------------


def test_day_bounds_spring_forward_is_23_hours():
    start, end = day_bounds(utc(2025, 3, 30, 10), MADRID)
    assert (start, end) == (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))


def test_day_bounds_fall_back_is_25_hours():
    start, end = day_bounds(utc(2025, 10, 26, 22, 45), MADRID)  # 23:45 local
    assert (start, end) == (utc(2025, 10, 25, 22), utc(2025, 10, 26, 23))


def test_day_bounds_use_local_date_not_utc_date():
    # 23:30 UTC on the 29th is already the 30th in Madrid
    assert day_bounds(utc(2025, 3, 29, 23, 30), MADRID)[0] == utc(2025, 3, 29, 23)
    assert day_bounds(utc(2025, 3, 29, 23, 30), ZoneInfo("America/New_York"))[0] == utc(2025, 3, 29, 4)


@pytest.mark.parametrize(
    ("week_start", "bounds"),
    [
        (0, (utc(2025, 3, 23, 23), utc(2025, 3, 30, 22))),  # Monday to Monday, across the change
        (6, (utc(2025, 3, 29, 23), utc(2025, 4, 5, 22))),  # Sunday to Sunday
        (2, (utc(2025, 3, 25, 23), utc(2025, 4, 1, 22))),  # Wednesday to Wednesday
    ],
)
def test_week_bounds_follow_week_start_and_dst(week_start, bounds):
    assert week_bounds(utc(2025, 3, 30, 10), MADRID, week_start) == bounds


def test_naive_now_is_refused(db, admin):
    with pytest.raises(ValidationError, match="now: .* has no time zone"):
        with db.read() as s:
            dashboard.counters(s, admin, datetime(2025, 3, 30, 12))


# --- counters across a DST change -------------------------------------------------------------


def _lead_created(db, actor, when, **kw):
    with db.write() as s:
        lead = leads.create_lead(s, actor, new_contact("Lead"), **kw)
        s.get(Lead, lead.id).created_at = when  # create_lead stamps the real clock
        return lead.id


@pytest.mark.parametrize(
    ("now", "today", "week_only", "outside"),
    [
        # spring: Sunday 30 March 2025, 23:45 CEST; the day began at 00:00 CET
        (
            utc(2025, 3, 30, 21, 45),
            [utc(2025, 3, 29, 23, 30), utc(2025, 3, 30, 21, 30)],  # 00:30 CET, 23:30 CEST Sunday
            [utc(2025, 3, 29, 22, 30), utc(2025, 3, 23, 23, 30)],  # Saturday 23:30, Monday 00:30
            [utc(2025, 3, 23, 22, 30), utc(2025, 3, 30, 22, 30)],  # Sunday before, next Monday 00:30
        ),
        # autumn: Sunday 26 October 2025, 23:45 CET; the day began at 00:00 CEST
        (
            utc(2025, 10, 26, 22, 45),
            [utc(2025, 10, 25, 22, 30), utc(2025, 10, 26, 22, 30)],
            [utc(2025, 10, 25, 21, 30), utc(2025, 10, 19, 22, 30)],
            [utc(2025, 10, 19, 21, 30), utc(2025, 10, 26, 23, 30)],
        ),
    ],
    ids=["spring", "autumn"],
)
def test_counters_today_and_week_across_dst(db, admin, make_user, now, today, week_only, outside):
    agent = make_user("Intern", timezone=MADRID)
    for when in today + week_only + outside:
        with db.write() as s:
            clients.create_client(s, agent, new_contact("C"), created_at=when)
            calls.log_call(s, agent, direction="inbound", their_number="+34612345678", agent_id=agent.id, started_at=when)
            calls.log_call(s, agent, direction="outbound", their_number="+34612345678", agent_id=agent.id, started_at=when)
            tasks.create_task(s, agent, title="T", due_at=when)
        _lead_created(db, agent, when)
    with db.read() as s:
        got = dashboard.counters(s, agent, now)
    n_today, n_week = len(today), len(today) + len(week_only)
    assert (got.clients_new_today, got.clients_new_week, got.clients_total) == (n_today, n_week, 6)
    assert (got.calls_in_today, got.calls_out_today, got.calls_in_week, got.calls_out_week) == (
        n_today,
        n_today,
        n_week,
        n_week,
    )
    assert (got.leads_new_today, got.leads_new_week) == (n_today, n_week)
    assert (got.tasks_week, got.tasks_done_week) == (n_week, 0)
    # every task but the one due after `now` (next Monday 00:30) is overdue
    assert (got.my_overdue_tasks, got.my_open_tasks) == (5, 6)


def test_counters_follow_user_week_start(db, admin, make_user):
    sunday_first = make_user("Intern", timezone=MADRID, week_start=6)
    with db.write() as s:
        # Saturday 29 March, 12:00 local: this week for a Monday-first user, last week here
        clients.create_client(s, sunday_first, new_contact("C"), created_at=utc(2025, 3, 29, 11))
    with db.read() as s:
        assert dashboard.counters(s, sunday_first, utc(2025, 3, 30, 10)).clients_new_week == 0
        assert dashboard.counters(s, sunday_first, utc(2025, 3, 29, 12)).clients_new_week == 1


# --- each counter moves with the right action -------------------------------------------------

NOW = utc(2025, 6, 11, 10)  # Wednesday 12:00 in Madrid


class Watch:
    """Takes the actor's counters before and after an action; returns what changed."""

    def __init__(self, db, actor):
        self.db, self.actor = db, actor
        self.last = self._read()

    def _read(self):
        with self.db.read() as s:
            return asdict(dashboard.counters(s, self.actor, NOW))

    def changed(self):
        now = self._read()
        diff = {k: now[k] - self.last[k] for k in now if now[k] != self.last[k]}
        self.last = now
        return diff


def test_every_counter_changes_after_the_right_action(db, admin, make_user):
    agent = make_user("Intern", timezone=MADRID)
    colleague = make_user("Intern", timezone=MADRID)
    watch = Watch(db, agent)
    assert all(v == 0 for v in watch.last.values())

    with db.write() as s:
        clients.create_client(s, agent, new_contact("Mine"), created_at=NOW - timedelta(hours=1))
    assert watch.changed() == {"clients_total": 1, "clients_new_week": 1, "clients_new_today": 1}
    with db.write() as s:
        clients.create_client(s, agent, new_contact("Monday's"), created_at=NOW - timedelta(days=2))
    assert watch.changed() == {"clients_total": 1, "clients_new_week": 1}
    with db.write() as s:
        clients.create_client(s, colleague, new_contact("Not mine"), created_at=NOW)
    assert watch.changed() == {}  # an intern counts only the clients they can see

    mine = _lead_created(db, agent, NOW - timedelta(hours=1))
    assert watch.changed() == {"my_leads": 1, "leads_new_today": 1, "leads_new_week": 1}
    pool = _lead_created(db, admin, NOW - timedelta(days=1), to_pool=True)
    assert watch.changed() == {"pool_unprocessed": 1, "leads_new_week": 1}
    with db.write() as s:
        leads.claim_lead(s, agent, pool)
    assert watch.changed() == {"pool_unprocessed": -1, "my_leads": 1}
    with db.write() as s:
        leads.close_as_bad(s, agent, mine)
    assert watch.changed() == {"my_leads": -1}  # still a lead created today

    with db.write() as s:
        friday = tasks.create_task(s, agent, title="Friday", due_at=NOW + timedelta(days=2)).id
    assert watch.changed() == {"tasks_week": 1, "my_open_tasks": 1}
    with db.write() as s:
        tasks.complete_task(s, agent, friday)
    assert watch.changed() == {"tasks_done_week": 1, "my_open_tasks": -1}
    with db.write() as s:
        late = tasks.create_task(s, agent, title="Yesterday", due_at=NOW - timedelta(days=1)).id
    assert watch.changed() == {"tasks_week": 1, "my_overdue_tasks": 1, "my_open_tasks": 1}
    with db.write() as s:
        tasks.create_task(s, agent, title="Someday")
        tasks.create_task(s, agent, title="Next month", due_at=NOW + timedelta(days=30))
    assert watch.changed() == {"my_open_tasks": 2}
    with db.write() as s:
        tasks.complete_task(s, agent, late)
    assert watch.changed() == {"tasks_done_week": 1, "my_overdue_tasks": -1, "my_open_tasks": -1}

    def call(direction, when, agent_id=agent.id):
        with db.write() as s:
            calls.log_call(s, None, direction=direction, their_number="+34612345678", agent_id=agent_id, started_at=when)

    call("inbound", NOW - timedelta(minutes=5))
    assert watch.changed() == {"calls_in_today": 1, "calls_in_week": 1}
    call("outbound", NOW - timedelta(minutes=5))
    assert watch.changed() == {"calls_out_today": 1, "calls_out_week": 1}
    call("outbound", NOW - timedelta(days=2))
    assert watch.changed() == {"calls_out_week": 1}
    call("internal", NOW)
    call("inbound", NOW, agent_id=colleague.id)
    call("inbound", NOW - timedelta(days=7))
    assert watch.changed() == {}


def test_manager_counts_every_client(db, admin, make_user):
    manager = make_user("Manager", timezone=MADRID)
    agent = make_user("Intern")
    with db.write() as s:
        clients.create_client(s, agent, new_contact("Agent's"), created_at=NOW)
        clients.create_client(s, admin, new_contact("Admin's"), created_at=NOW)
    with db.read() as s:
        got = dashboard.counters(s, manager, NOW)
        assert (got.clients_total, got.clients_new_today) == (2, 2)
        assert dashboard.counters(s, agent, NOW).clients_total == 1
