"""Analytics: exact figures on known data, on SQLite and PostgreSQL; periods in the viewer's zone; rights."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tscrm.core import analytics
from tscrm.core.analytics import Scope
from tscrm.core.errors import PermissionDenied, ValidationError
from tscrm.core.models import (
    Call,
    CallDirection,
    CallOutcome,
    Client,
    Deal,
    DealStatus,
    Group,
    Lead,
    LeadStatus,
    SourceLabel,
    Task,
)
from tscrm.core.permissions import Right
from tscrm.core.services import company

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)  # Wednesday; Madrid is UTC+1 until 29 March


def t(month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, micro, tzinfo=UTC)


def _call(agent, direction, start, *, answer=None, end=None, outcome=None) -> Call:
    return Call(
        direction=direction, their_number="+34600000000", agent_id=agent, started_at=start,
        answered_at=start + timedelta(seconds=answer) if answer is not None else None,
        ended_at=start + timedelta(seconds=end) if end is not None else None, outcome=outcome,
    )


@pytest.fixture
def team(db, admin, make_user):
    """Ana (admin), Bob (manager), Carl (may see analytics, not all records), Ivan (intern), and March data."""
    with db.write() as s:
        s.add(Group(name="Analyst", rights=[Right.SEE_ANALYTICS.value]))
    bob = make_user("Manager", name="Bob Boss")
    carl = make_user("Analyst", name="Carl Caller")
    ivan = make_user("Intern", name="Ivan Intern")
    IN, OUT, INT = CallDirection.INBOUND, CallDirection.OUTBOUND, CallDirection.INTERNAL
    NA = CallOutcome.NO_ANSWER
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.92")
        b, c = bob.id, carl.id
        s.add_all([
            _call(b, OUT, t(3, 2), answer=5, end=125, outcome=CallOutcome.ANSWERED),  # 120 s
            Call(direction=OUT, their_number="+34600000001", agent_id=b, started_at=t(3, 3),  # 61.5 s -> 61
                 answered_at=t(3, 3, 10, 0, 5), ended_at=t(3, 3, 10, 1, 6, 500_000), outcome=CallOutcome.ANSWERED),
            _call(b, OUT, t(3, 4), end=30, outcome=NA),
            _call(b, IN, t(2, 28, 23, 30), answer=2, end=32, outcome=CallOutcome.ANSWERED),  # 1 March in Madrid, 30 s
            _call(b, IN, t(3, 5), end=20, outcome=NA),
            _call(c, IN, t(3, 5, 11), end=20, outcome=NA),
            _call(c, OUT, t(3, 6), end=3, outcome=CallOutcome.BUSY),
            _call(c, IN, t(3, 10)),  # still ringing: neither answered nor missed
            _call(None, IN, t(3, 10, 12), end=15, outcome=NA),
            _call(c, INT, t(3, 31, 21, 59), answer=0, end=10, outcome=CallOutcome.ANSWERED),  # 31 March 23:59 CEST
            _call(b, OUT, t(2, 28, 22, 59), answer=1, end=100, outcome=CallOutcome.ANSWERED),  # 28 Feb 23:59 in Madrid
            _call(b, OUT, t(3, 31, 22, 0), answer=1, end=100, outcome=CallOutcome.ANSWERED),  # 1 April 00:00 CEST
        ])
        client = Client(name="Frutas García", owner_id=admin.id)
        web, fair = SourceLabel(name="Web"), SourceLabel(name="Fair")
        s.add_all([client, web, fair])
        s.flush()

        def deal(owner, amount, currency, status, created, closed=None) -> Deal:
            return Deal(client_id=client.id, title="d", amount=Decimal(amount), currency=currency, status=status,
                        owner_id=owner, created_at=created, closed_at=closed)

        s.add_all([
            deal(b, "1000", "EUR", DealStatus.NEW, t(3, 2)),
            deal(b, "2000", "USD", DealStatus.IN_PROGRESS, t(3, 3)),  # 1840.00 EUR
            deal(b, "500", "EUR", DealStatus.WON, t(3, 4), t(3, 10)),
            deal(b, "1000", "USD", DealStatus.WON, t(2, 10), t(3, 11)),  # created before, won in March: 920.00 EUR
            deal(c, "300", "EUR", DealStatus.CANCELLED, t(3, 5), t(3, 6)),
            deal(c, "250.50", "USD", DealStatus.DECISION_PENDING, t(3, 7)),  # 230.46 EUR
            deal(admin.id, "800", "EUR", DealStatus.WON, t(2, 1), t(2, 20)),  # all in February
        ])

        def lead(owner, source, status, created, claimed=None, closed=None) -> Lead:
            return Lead(name="l", owner_id=owner, source_id=source.id if source else None, status=status,
                        created_at=created, claimed_at=claimed, closed_at=closed)

        s.add_all([
            lead(b, web, LeadStatus.FINISHED, t(3, 2), t(3, 2), t(3, 5)),
            lead(b, web, LeadStatus.BAD_QUALITY, t(3, 3), t(3, 4), t(3, 6)),
            lead(c, fair, LeadStatus.IN_PROGRESS, t(3, 4), t(3, 8)),
            lead(None, None, LeadStatus.UNPROCESSED, t(3, 5)),
            lead(c, web, LeadStatus.FINISHED, t(2, 10), t(2, 11), t(3, 9)),
            lead(b, web, LeadStatus.FINISHED, t(2, 1), t(2, 1), t(2, 2)),
        ])

        def task(assignee, due, done=None) -> Task:
            return Task(title="t", assignee_id=assignee, due_at=due, completed_at=done)

        s.add_all([
            task(b, t(3, 10), t(3, 9)),
            task(b, t(3, 12)),  # overdue
            task(b, t(3, 25)),  # due later this month
            task(c, t(2, 25), t(3, 2)),  # done in March, due in February
            task(c, t(3, 17), t(3, 18, 8)),  # done late, but done
            task(c, t(4, 2)),
        ])
    return admin, bob, carl, ivan


def _month(actor):
    return analytics.resolve_period("month", timezone=actor.timezone, week_start=actor.week_start, now=NOW)


def _row(figures, agent_id):
    return next(f for f in figures if f.agent_id == agent_id)


# --- periods ----------------------------------------------------------------------------------


def test_periods_are_local_days_in_the_viewers_zone():
    madrid = "Europe/Madrid"
    month = analytics.resolve_period("month", timezone=madrid, now=NOW)
    assert (month.first, month.last) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (month.start, month.end) == (t(2, 28, 23), t(3, 31, 22))  # CET at the start, CEST at the end
    week = analytics.resolve_period("week", timezone=madrid, week_start=6, now=NOW)  # weeks start on Sunday
    assert (week.first, week.last) == (date(2026, 3, 15), date(2026, 3, 21))
    last30 = analytics.resolve_period("30d", timezone=madrid, now=NOW)
    assert (last30.first, last30.last, len(last30.days())) == (date(2026, 2, 17), date(2026, 3, 18), 30)
    late = analytics.resolve_period("today", timezone=madrid, now=t(3, 18, 23, 30))  # already the 19th in Madrid
    assert late.first == date(2026, 3, 19)


def test_custom_period_is_checked():
    with pytest.raises(ValidationError) as err:
        analytics.resolve_period("custom", timezone="UTC", first=date(2026, 3, 5), last=date(2026, 3, 1))
    assert err.value.field == "to"
    with pytest.raises(ValidationError):
        analytics.resolve_period("custom", timezone="UTC", first=date(2025, 1, 1), last=date(2026, 3, 1))
    with pytest.raises(ValidationError) as err:
        analytics.resolve_period("quarter", timezone="UTC")
    assert err.value.field == "period" and "quarter" in str(err.value)


def test_today_across_the_dst_change_is_23_hours(db, admin, make_user):
    bob = make_user("Manager", name="Bob Boss")
    with db.write() as s:
        for start in (t(3, 28, 22, 59), t(3, 28, 23, 0), t(3, 29, 21, 59), t(3, 29, 22, 0)):
            s.add(_call(bob.id, CallDirection.OUTBOUND, start, end=5, outcome=CallOutcome.NO_ANSWER))
    today = analytics.resolve_period("today", timezone="Europe/Madrid", now=t(3, 29, 12))
    assert today.end - today.start == timedelta(hours=23)
    with db.read() as s:
        report = analytics.call_report(s, admin, today)
    assert (report.total.total, report.total.outbound, report.total.no_answer) == (2, 2, 2)
    assert [(d.day, d.outbound) for d in report.days] == [(date(2026, 3, 29), 2)]

    around = analytics.resolve_period("custom", timezone="Europe/Madrid", first=date(2026, 3, 28), last=date(2026, 3, 30))
    with db.read() as s:
        report = analytics.call_report(s, admin, around)
    assert [(d.day.day, d.outbound) for d in report.days] == [(28, 1), (29, 2), (30, 1)]


@pytest.mark.parametrize(
    ("tz", "first"),
    [
        ("Europe/Madrid", date(2026, 3, 27)),  # spring forward at 02:00
        ("Europe/Madrid", date(2026, 10, 23)),  # fall back at 03:00: a 25-hour day
        ("America/Santiago", date(2026, 9, 4)),  # the jump skips midnight itself
        ("Australia/Lord_Howe", date(2026, 10, 2)),  # a 30-minute change
    ],
)
def test_calls_per_day_follow_local_midnights(db, admin, tz, first):
    from tscrm.core.timeutil import local_midnight

    period = analytics.resolve_period("custom", timezone=tz, first=first, last=first + timedelta(days=4))
    with db.write() as s:
        for day in period.days():  # the first and the last second of each local day
            for at in (local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz) - timedelta(seconds=1)):
                s.add(_call(admin.id, CallDirection.INBOUND, at, end=5, outcome=CallOutcome.NO_ANSWER))
    with db.read() as s:
        report = analytics.call_report(s, admin, period)
    assert [(d.day, d.inbound) for d in report.days] == [(day, 2) for day in period.days()]


# --- figures ----------------------------------------------------------------------------------


def test_calls_per_agent_and_per_day(db, team):
    admin, bob, carl, ivan = team
    with db.read() as s:
        report = analytics.call_report(s, admin, _month(admin))
    assert [f.agent for f in report.agents] == ["Ana Admin", "Bob Boss", "Carl Caller", "Ivan Intern", "(nobody)"]
    b = _row(report.agents, bob.id)
    assert (b.total, b.inbound, b.outbound, b.answered, b.missed, b.no_answer) == (5, 2, 3, 3, 1, 1)
    assert (b.talk_seconds, b.average_talk_seconds) == (211, 70)  # 120 + 61 + 30
    c = _row(report.agents, carl.id)
    assert (c.total, c.inbound, c.outbound, c.answered, c.missed, c.no_answer, c.talk_seconds) == (4, 2, 1, 1, 1, 1, 10)
    assert _row(report.agents, ivan.id).total == 0
    assert (_row(report.agents, None).total, _row(report.agents, None).missed) == (1, 1)
    total = report.total
    assert (total.total, total.inbound, total.outbound, total.answered, total.missed, total.no_answer) == (10, 5, 4, 4, 3, 2)
    assert (total.talk_seconds, total.average_talk_seconds) == (221, 55)
    assert len(report.days) == 31
    by_day = {d.day.day: (d.inbound, d.outbound, d.answered, d.missed) for d in report.days}
    assert by_day[1] == (1, 0, 1, 0)  # 23:30 UTC on 28 February
    assert by_day[5] == (2, 0, 0, 2)
    assert by_day[10] == (2, 0, 0, 1)
    assert by_day[31] == (0, 0, 1, 0)  # the internal call
    assert sum(d.inbound + d.outbound for d in report.days) == 9


def test_deals_funnel_in_the_base_currency(db, team):
    admin, bob, carl, _ivan = team
    with db.read() as s:
        report = analytics.deal_report(s, admin, _month(admin))
    assert report.currency == "EUR"
    assert [(f.status, f.count, f.amount) for f in report.funnel] == [
        (DealStatus.NEW, 1, Decimal("1000.00")),
        (DealStatus.IN_PROGRESS, 1, Decimal("1840.00")),
        (DealStatus.DECISION_PENDING, 1, Decimal("230.46")),
        (DealStatus.PAYMENT_EXPECTED, 0, Decimal("0")),
        (DealStatus.WON, 1, Decimal("500.00")),
        (DealStatus.CANCELLED, 1, Decimal("300.00")),
    ]
    b = _row(report.agents, bob.id)
    assert (b.created, b.won, b.won_amount, b.cancelled, b.win_rate, b.average_won) == (
        3, 2, Decimal("1420.00"), 0, Decimal("100.0"), Decimal("710.00"))
    c = _row(report.agents, carl.id)
    assert (c.created, c.won, c.cancelled, c.win_rate, c.average_won) == (2, 0, 1, Decimal("0.0"), None)
    a = _row(report.agents, admin.id)
    assert (a.created, a.won, a.win_rate) == (0, 0, None)  # her deal is all in February
    total = report.total
    assert (total.created, total.won, total.won_amount, total.cancelled, total.win_rate, total.average_won) == (
        5, 2, Decimal("1420.00"), 1, Decimal("66.7"), Decimal("710.00"))


def test_leads_by_source_and_agent(db, team):
    admin, bob, carl, _ivan = team
    with db.read() as s:
        report = analytics.lead_report(s, admin, _month(admin))
    assert report.created == 4
    assert [(x.source, x.created) for x in report.sources] == [("Web", 2), ("Fair", 1), (None, 1)]
    b, c = _row(report.agents, bob.id), _row(report.agents, carl.id)
    assert (b.claimed, b.converted, b.bad_quality, b.conversion_rate) == (2, 1, 1, Decimal("50.0"))
    assert (c.claimed, c.converted, c.bad_quality, c.conversion_rate) == (1, 1, 0, Decimal("100.0"))
    assert (report.total.claimed, report.total.converted, report.total.bad_quality, report.total.conversion_rate) == (
        3, 2, 1, Decimal("66.7"))


def test_tasks_done_and_overdue(db, team):
    admin, bob, carl, _ivan = team
    with db.read() as s:
        report = analytics.task_report(s, admin, _month(admin), now=NOW)
    b, c = _row(report.agents, bob.id), _row(report.agents, carl.id)
    assert (b.due, b.done, b.overdue) == (3, 1, 1)
    assert (c.due, c.done, c.overdue) == (1, 2, 0)
    assert (report.total.due, report.total.done, report.total.overdue) == (4, 3, 1)


def test_filter_by_agent_and_by_group(db, team):
    admin, bob, _carl, _ivan = team
    with db.read() as s:
        scope = analytics.resolve_scope(s, agent=bob.email)
        one = analytics.summary(s, admin, _month(admin), scope, now=NOW)
        managers = analytics.summary(s, admin, _month(admin), analytics.resolve_scope(s, group="manager"), now=NOW)
    for report in (one, managers):
        assert [f.agent for f in report.calls.agents] == ["Bob Boss"]  # no row for calls nobody took
        assert report.calls.total.total == 5
        assert (report.deals.total.created, report.deals.total.won_amount) == (3, Decimal("1420.00"))
        assert [(x.source, x.created) for x in report.leads.sources] == [("Web", 2)]
        assert (report.tasks.total.due, report.tasks.total.overdue) == (3, 1)


# --- rights -----------------------------------------------------------------------------------


def test_analytics_needs_the_right(db, team):
    _admin, _bob, _carl, ivan = team
    with db.read() as s, pytest.raises(PermissionDenied):
        analytics.summary(s, ivan, _month(ivan), now=NOW)


def test_without_see_all_only_ones_own_figures(db, team):
    _admin, bob, carl, _ivan = team
    with db.read() as s:
        report = analytics.summary(s, carl, _month(carl), now=NOW)
        for scope in (Scope(agent_id=bob.id), analytics.resolve_scope(s, group="Manager")):
            with pytest.raises(PermissionDenied):
                analytics.call_report(s, carl, _month(carl), scope)
    assert [f.agent for f in report.calls.agents] == ["Carl Caller"]
    assert report.calls.total.total == 4
    assert (report.deals.total.created, report.deals.total.cancelled) == (2, 1)
    assert [(f.status, f.count) for f in report.deals.funnel if f.count] == [
        (DealStatus.DECISION_PENDING, 1), (DealStatus.CANCELLED, 1)]
    assert [(x.source, x.created) for x in report.leads.sources] == [("Fair", 1)]
    assert (report.tasks.total.done, report.tasks.total.due) == (2, 1)


def test_unknown_agent_or_group_is_not_found(db, team):
    from tscrm.core.errors import NotFound

    with db.read() as s:
        with pytest.raises(NotFound):
            analytics.resolve_scope(s, agent="nobody@acme.test")
        with pytest.raises(NotFound):
            analytics.resolve_scope(s, group="Pirates")
        with pytest.raises(ValidationError):
            analytics.resolve_scope(s, agent="100", group="Admin")
