"""The demo database: what someone opening `make demo` sees, on SQLite and on PostgreSQL.

Generation runs with a fixed ``now`` (a Wednesday morning in Madrid) so the "today" and "this
week" counters do not depend on when the suite runs, and so that any record the services dated
"now" instead of in the past shows up as dated after it.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import phonenumbers
import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from tscrm.core import search
from tscrm.core.db import Database
from tscrm.core.demo import ADMIN_EMAIL, DEMO_PASSWORD, DemoSummary, generate
from tscrm.core.errors import Conflict
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Call,
    CallDirection,
    CallOutcome,
    Client,
    Company,
    Deal,
    DealStatus,
    Group,
    Lead,
    LeadStatus,
    Phone,
    Task,
    TaskType,
    User,
)
from tscrm.core.services import company, contacts, dashboard, users

SIZE = 200
NOW = datetime(2026, 3, 18, 10, 30, tzinfo=UTC)  # Wednesday 11:30 in Madrid


def _count(s: Session, model: type, *conditions) -> int:
    query = select(func.count()).select_from(model)
    for condition in conditions:
        query = query.where(condition)
    return int(s.exec(query).one())


def _fresh_sqlite(template: Path, path: Path) -> Database:
    shutil.copyfile(template, path)
    return Database(f"sqlite:///{path}")


def test_demo_database_is_a_believable_call_centre(db: Database) -> None:
    steps: dict[str, tuple[int, int]] = {}
    summary = generate(db, size=SIZE, seed=7, now=NOW, progress=lambda step, done, total: steps.update({step: (done, total)}))

    assert summary.admin_email == ADMIN_EMAIL
    assert steps and all(done == total for done, total in steps.values())  # every stage reported finishing
    with db.read() as s:
        _check_company_and_team(s, summary)
        _check_clients(s, summary)
        _check_leads(s, summary)
        _check_deals(s, summary)
        _check_tasks(s, summary)
        _check_calls(s, summary)
        _check_feed_and_search(s, summary)
        _check_admin_dashboard(s)


def _check_company_and_team(s: Session, summary: DemoSummary) -> None:
    row = s.exec(select(Company)).one()
    assert (row.name, row.base_currency, row.default_region, row.timezone) == (
        "Costa Azul Telecom",
        "EUR",
        "ES",
        "Europe/Madrid",
    )
    assert company.rates(s) == {"EUR": Decimal(1), "USD": Decimal("0.92"), "GBP": Decimal("1.17")}

    team = s.exec(select(User, Group.name).join(Group, col(Group.id) == col(User.group_id))).all()
    assert len(team) == summary.users
    groups = [group for _user, group in team]
    assert groups.count("Admin") == 1 and groups.count("Manager") == 2 and groups.count("Intern") >= 6
    assert {u.language for u, _g in team} == {"es", "fr", "en"}
    assert {u.timezone for u, _g in team} == {"Europe/Madrid", "Europe/Paris", "Europe/London"}
    assert sorted(int(u.extension) for u, _g in team) == list(range(100, 100 + len(team)))
    assert any(u.last_seen_at is not None and (NOW - u.last_seen_at).total_seconds() < 600 for u, _g in team)
    # the admin signs in with the documented password (and so does an agent)
    assert users.authenticate(s, ADMIN_EMAIL, DEMO_PASSWORD).group == "Admin"
    agent = next(u for u, g in team if g == "Intern")
    assert users.authenticate(s, agent.email, DEMO_PASSWORD).id == agent.id


def _check_clients(s: Session, summary: DemoSummary) -> None:
    assert summary.clients == _count(s, Client) == SIZE
    numbers = s.exec(select(Phone.e164, Phone.client_id).where(col(Phone.client_id).is_not(None))).all()
    for e164, _client in numbers:
        parsed = phonenumbers.parse(e164, None)
        assert phonenumbers.is_valid_number(parsed), e164
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
    assert {e164[:3] for e164, _c in numbers} == {"+34", "+33", "+44"}
    per_client = [n for (n,) in s.execute(select(func.count()).select_from(Phone).where(col(Phone.client_id).is_not(None)).group_by(Phone.client_id))]
    assert len(per_client) == SIZE and min(per_client) >= 1 and max(per_client) <= 3

    clients = s.exec(select(Client)).all()
    names = " ".join(c.name for c in clients)
    assert any(ch in names for ch in "éíóúñçèëïÁÉ")  # Spanish and French names keep their accents
    assert any(c.company_name and c.company_name.endswith(("S.L.", "SARL", "Ltd")) for c in clients)
    assert any(c.position for c in clients) and all(c.address for c in clients)
    assert len({c.owner_id for c in clients}) >= 8  # spread over the team
    assert min(c.created_at for c in clients) < NOW.replace(year=2025)  # a year and more of history
    assert max(c.created_at for c in clients) <= NOW

    sample = contacts.view(s, "client", clients[0].id)
    assert sample.phones
    tagged = {t for c in clients[:80] for t in contacts.tag_names(s, "client", c.id)}
    assert {"b2b", "newsletter"} <= tagged


def _check_leads(s: Session, summary: DemoSummary) -> None:
    pool = s.exec(select(Lead).where(col(Lead.owner_id).is_(None))).all()
    assert len(pool) == summary.leads_pool == SIZE // 10
    assert all(lead.status == LeadStatus.UNPROCESSED for lead in pool)
    assert any(lead.utm_source and lead.utm_campaign for lead in pool)
    owned = s.exec(select(Lead).where(col(Lead.owner_id).is_not(None))).all()
    assert len(owned) == summary.leads_owned
    statuses = {lead.status for lead in owned}
    assert statuses == {LeadStatus.IN_PROGRESS, LeadStatus.FINISHED, LeadStatus.BAD_QUALITY}
    assert sum(lead.status == LeadStatus.IN_PROGRESS for lead in owned) == SIZE // 10
    for lead in owned:
        assert lead.claimed_at is not None and lead.created_at <= lead.claimed_at <= NOW
        if lead.status == LeadStatus.FINISHED:
            assert lead.client_id is not None and lead.closed_at is not None


def _check_deals(s: Session, summary: DemoSummary) -> None:
    deals = s.exec(select(Deal)).all()
    assert len(deals) == summary.deals == SIZE // 4
    assert {d.status for d in deals} == set(DealStatus)
    assert {"EUR", "GBP", "USD"} <= {d.currency for d in deals}
    assert all(isinstance(d.amount, Decimal) and d.amount > 0 for d in deals)
    for deal in deals:
        closed = deal.status in (DealStatus.WON, DealStatus.CANCELLED)
        assert (deal.closed_at is not None) == closed, deal.title
    titles = " ".join(d.title for d in deals)
    assert "Fibra" in titles or "Centralita" in titles


def _check_tasks(s: Session, summary: DemoSummary) -> None:
    tasks = s.exec(select(Task)).all()
    assert len(tasks) == summary.tasks
    assert {t.type for t in tasks} == set(TaskType)
    open_tasks = [t for t in tasks if t.completed_at is None]
    assert any(t.due_at is not None and t.due_at < NOW for t in open_tasks)  # overdue
    assert any(t.completed_at is not None and t.completed_at <= NOW for t in tasks)
    assert any(t.due_at is not None and t.due_at > NOW for t in open_tasks)
    assert all(t.sms_text for t in tasks if t.type == TaskType.SMS)
    assert all(t.meeting_url for t in tasks if t.type == TaskType.VIDEO)
    assert len({t.assignee_id for t in tasks}) == summary.users  # everyone has work


def _check_calls(s: Session, summary: DemoSummary) -> None:
    calls = s.exec(select(Call)).all()
    assert len(calls) == summary.calls == SIZE
    assert {c.outcome for c in calls} == set(CallOutcome)
    assert {c.direction for c in calls} == {CallDirection.INBOUND, CallDirection.OUTBOUND}
    for call in calls:
        assert call.ended_at is not None and call.started_at <= call.ended_at <= NOW
        assert (call.answered_at is not None) == (call.outcome == CallOutcome.ANSWERED)
        # every call is on the feed of the client or lead whose number was on the line
        owner = Phone.client_id == call.client_id if call.client_id else Phone.lead_id == call.lead_id
        assert s.exec(select(Phone.id).where(owner, Phone.e164 == call.their_number)).first() is not None
    assert any(c.recording_ref and c.transcript for c in calls)
    assert any(c.lead_id is not None for c in calls)


def _check_feed_and_search(s: Session, summary: DemoSummary) -> None:
    assert summary.activities == _count(s, Activity)
    assert _count(s, Activity, col(Activity.created_at) > NOW) == 0  # everything dated in the past
    assert _count(s, Activity, Activity.kind == ActivityKind.NOTE) > 0
    # a client's "created" entry carries the client's own (past) creation time
    client = s.exec(select(Client).order_by(col(Client.id))).first()
    created = s.exec(select(Activity).where(Activity.client_id == client.id, Activity.kind == ActivityKind.CREATED)).one()
    assert created.created_at == client.created_at < NOW
    # the services kept the search index current
    hits = search.search(s, None, client.name, limit=50).hits
    assert ("client", client.id) in {(h.kind, h.id) for h in hits}
    number = s.exec(select(Phone.e164).where(Phone.client_id == client.id)).first()
    assert ("client", client.id) in {(h.kind, h.id) for h in search.search(s, None, number[-7:], limit=50).hits}


def _check_admin_dashboard(s: Session) -> None:
    admin = users.actor_for(s, users.find_user(s, ADMIN_EMAIL))
    counters = dashboard.counters(s, admin, now=NOW)
    assert counters.clients_total == SIZE
    assert counters.clients_new_today > 0 and counters.clients_new_week >= counters.clients_new_today
    assert counters.pool_unprocessed == SIZE // 10
    assert counters.leads_new_today > 0
    assert counters.my_leads > 0
    assert counters.my_overdue_tasks > 0 and counters.my_open_tasks > counters.my_overdue_tasks
    assert counters.tasks_week > 0 and counters.tasks_done_week > 0
    assert counters.calls_in_today + counters.calls_out_today > 0


def test_same_seed_same_data_other_seed_other_data(tmp_path: Path, sqlite_template: Path) -> None:
    def snapshot(seed: int, name: str) -> tuple[list, list, list]:
        database = _fresh_sqlite(sqlite_template, tmp_path / name)
        try:
            generate(database, size=60, seed=seed, now=NOW)
            with database.read() as s:
                return (
                    s.exec(select(Client.name, Client.company_name, Client.created_at).order_by(col(Client.id))).all(),
                    s.exec(select(Deal.title, Deal.amount, Deal.currency, Deal.status).order_by(col(Deal.id))).all(),
                    s.exec(select(Call.their_number, Call.outcome, Call.started_at).order_by(col(Call.id))).all(),
                )
        finally:
            database.dispose()

    first = snapshot(7, "a.db")
    assert snapshot(7, "b.db") == first
    assert snapshot(8, "c.db")[0] != first[0]


def test_refuses_a_database_that_already_has_a_company(db: Database, admin) -> None:
    with pytest.raises(Conflict, match="already has a company"):
        generate(db, size=10, now=NOW)
    with db.read() as s:
        assert [row.name for row in s.exec(select(Company))] == ["Acme Telecom"]
        assert _count(s, Client) == 0 and _count(s, User) == 1


def test_a_tiny_demo_still_has_something_everywhere(tmp_path: Path, sqlite_template: Path) -> None:
    database = _fresh_sqlite(sqlite_template, tmp_path / "tiny.db")
    try:
        summary = generate(database, size=1, seed=1, now=NOW)
    finally:
        database.dispose()
    assert summary.clients == 1 and summary.leads_pool > 0 and summary.deals >= len(DealStatus)
    assert summary.calls >= len(CallOutcome) and summary.tasks >= len(TaskType)
