"""SVG snapshots of every screen, in English and in Spanish, on a fixed database and a fixed clock.

Update after an intended change of look: ``.venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update``
and look at the new SVGs before committing them.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from tscrm.core.db import Database
from tscrm.core.models import CallDirection, CallOutcome, DealStatus, TaskType
from tscrm.core.services import calls, company, deals, leads, notes, tasks, users
from tscrm.core.services.clients import create_client, new_contact
from tscrm.i18n import set_language
from tscrm.tui.app import TscrmApp
from tscrm.tui.context import AppContext

from .conftest import wait_until

NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Madrid
PAST = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
SIZE = (120, 36)


def _seed(db: Database):
    with db.write() as s:
        _, user = company.setup(
            s, company_name="Costa Azul Telecom", admin_name="Marta Vidal", admin_email="marta@costa.test",
            extension="100", timezone="Europe/Madrid",
        )
        admin = users.actor_for(s, user)
        company.set_rate(s, admin, "USD", "0.92")
        bob = users.actor_for(s, users.create_user(s, admin, name="Bob Evans", email="bob@costa.test", extension="101", group="Intern"))
        people = [
            ("José García", "Frutas García S.L.", "+34 612 345 678", "vip"),
            ("Anaïs Girard", "Boulangerie Girard SARL", "+33 6 11 47 10 49", "b2b"),
            ("Oliver Jones", "Northwind Ltd", "+44 7911 123456", "prospect"),
            ("Begoña Ruiz", "Clínica Sonrisa", "+34 699 000 111", "vip"),
        ]
        clients = []
        for i, (name, firm, phone, tag) in enumerate(people):
            clients.append(
                create_client(
                    s, admin, new_contact(name, [phone], [f"c{i}@example.test"], company_name=firm, tags=[tag], source="Web"),
                    created_at=PAST + timedelta(days=i),
                )
            )
        for i, status in enumerate(DealStatus):
            deals.create_deal(
                s, admin, client_id=clients[i % 4].id, title=f"Fibra 600Mb #{i + 1}", amount=Decimal(1000 + 250 * i),
                currency="USD" if i % 2 else "EUR", status=status, created_at=PAST + timedelta(days=i),
            )
        notes.add_note(s, admin, "Quiere la oferta por escrito.", client_id=clients[0].id)
        leads.create_lead(s, admin, new_contact("Lucía Gómez", ["+34 622 111 222"], source="Google Ads"), to_pool=True)
        leads.create_lead(s, admin, new_contact("Hélène Dubois", ["+33 6 22 33 44 55"]), to_pool=False)
        for i, kind in enumerate(TaskType):
            tasks.create_task(
                s, admin, title=f"Seguimiento {kind.value}", type=kind, client_id=clients[i].id,
                due_at=NOW + timedelta(days=i - 1, hours=2), sms_text="Hola" if kind == TaskType.SMS else None,
                created_at=PAST,
            )
        for i, outcome in enumerate(CallOutcome):
            start = PAST + timedelta(days=i, hours=1)
            calls.log_call(
                s, admin, direction=CallDirection.OUTBOUND if i % 2 else CallDirection.INBOUND,
                their_number=people[i % 4][2], agent_id=admin.id, started_at=start,
                answered_at=start + timedelta(seconds=5) if outcome == CallOutcome.ANSWERED else None,
                ended_at=start + timedelta(seconds=95), outcome=outcome,
            )
    # Every remaining "now" stamp becomes a fixed time, so the pictures never change by themselves.
    with db.engine.begin() as conn:
        stamp = PAST.replace(tzinfo=None) if db.is_sqlite else PAST
        conn.execute(text("UPDATE task SET meeting_url = :u WHERE meeting_url IS NOT NULL"), {"u": "https://meet.jit.si/tscrm-snapshot"})
        for table, column in (("activity", "created_at"), ("lead", "created_at"), ("lead", "updated_at"), ("lead", "claimed_at")):
            conn.execute(text(f"UPDATE {table} SET {column} = :t WHERE {column} IS NOT NULL"), {"t": stamp})
    return admin, bob


@pytest.fixture
def snapshot_db(tmp_path, sqlite_template):
    path = tmp_path / "snap.db"
    shutil.copyfile(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    admin, _bob = _seed(db)
    yield db, admin
    db.dispose()
    set_language("en")


def _app(db, admin, lang: str) -> TscrmApp:
    set_language(lang)
    app = TscrmApp(AppContext.load(db, admin), watch_changes=False, heartbeat=False)
    app.clock = lambda: NOW  # type: ignore[attr-defined]
    return app


def _loaded(pilot) -> bool:
    """No worker of the current screen is still loading, and the key bar shows the keys as they are now."""
    from tscrm.tui.widgets.key_bar import KeyBar

    if any(w.is_running and w.group not in ("watch", "heartbeat") for w in pilot.app.workers):
        return False
    return all(bar.current for bar in pilot.app.screen.query(KeyBar))


SCREENS = {
    "dashboard": [],
    "clients": ["2"],
    "client_card": ["2", "enter"],
    "deals_kanban": ["3"],
    "deals_list": ["3", "v"],
    "calendar_month": ["4", "m"],
    "calendar_week": ["4", "w"],
    "calendar_day": ["4", "d"],
    "tasks": ["5"],
    "calls": ["6"],
    "leads_mine": ["7"],
    "team": ["8"],
    "help": ["f1"],
}


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare, snapshot_db, screen, lang):
    db, admin = snapshot_db
    keys = SCREENS[screen]

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: _loaded(pilot) and pilot.app.phone.status != "off", timeout=15)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.2)
            await wait_until(pilot, lambda: _loaded(pilot), timeout=15)
        await pilot.pause(0.3)

    assert snap_compare(_app(db, admin, lang), terminal_size=SIZE, run_before=run_before)


def test_analytics_snapshot(snap_compare, snapshot_db):
    """Analytics for a custom period around the seeded February (English only until its words are translated)."""
    db, admin = snapshot_db

    async def run_before(pilot) -> None:
        await wait_until(pilot, lambda: _loaded(pilot) and pilot.app.phone.status != "off", timeout=15)
        await pilot.press("9")
        await wait_until(pilot, lambda: _loaded(pilot) and bool(pilot.app.screen.query("#calls-table")), timeout=15)
        await pilot.press("c")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "PeriodDialog", timeout=15)
        pilot.app.screen.query_one("#period-from").value = "2026-02-01"
        pilot.app.screen.query_one("#period-to").value = "2026-02-28"
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(pilot.app.screen).__name__ == "AnalyticsScreen" and _loaded(pilot), timeout=15)
        await wait_until(pilot, lambda: "Custom (" in str(pilot.app.screen.query_one("#analytics-bar").render()), timeout=15)
        await pilot.pause(0.3)

    assert snap_compare(_app(db, admin, "en"), terminal_size=SIZE, run_before=run_before)
