"""Settings → Calendar, driven by the pilot against a real Radicale: add, test, sync now, remove."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlmodel import select

from calendar_sync.conftest import USERS, radicale  # noqa: F401  (the session's Radicale fixture)
from tscrm.core.models_calendar import CalendarAccount
from tscrm.core.services import tasks

from .conftest import wait_until

SIZE = (150, 40)


async def test_settings_calendar_tab_adds_tests_syncs_and_removes(db, admin, make_app, radicale):  # noqa: F811
    name = f"Sales {uuid.uuid4().hex[:6]}"
    cal = radicale.new_calendar("alice", name)
    with db.write() as s:
        tasks.create_task(s, admin, title="Call Jose", type="call", due_at=datetime(2026, 12, 1, 9, tzinfo=UTC))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("0")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SettingsScreen")
        screen = app.screen
        screen.query_one("#settings-tabs").active = "settings-calendar"
        table = screen.query_one("#calendar-accounts")
        result = screen.query_one("#calendar-result")
        await wait_until(pilot, lambda: "No calendar yet" in str(result.render()))
        table.focus()
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CalendarAccountDialog")
        dialog = app.screen
        for widget_id, value in {
            "#cal-name": "Sales calendar", "#cal-url": radicale.url, "#cal-username": "alice",
            "#cal-password": USERS["alice"], "#cal-calendar": name,
        }.items():
            dialog.query_one(widget_id).value = value
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is screen and table.row_count == 1)
        table.focus()
        await pilot.press("t")
        await wait_until(pilot, lambda: "calendar:" in str(result.render()))
        text = str(result.render())
        assert "✓ login:" in text and "logged in as alice" in text
        assert f"✓ calendar: {name} ({cal}): 0 events" in text
        await pilot.press("s")
        await wait_until(pilot, lambda: "Synced:" in str(result.render()))
        assert "1 new events" in str(result.render())
        assert len(radicale.events(cal)) == 1
        await wait_until(pilot, lambda: "synced" in str(table.get_row_at(0)[-1]))
        await pilot.press("delete")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen and table.row_count == 0)
    with db.read() as s:
        assert s.exec(select(CalendarAccount)).all() == []
