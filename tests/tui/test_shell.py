"""The app shell and the dashboard, driven by the pilot on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tscrm.core.services import leads, users
from tscrm.core.services.clients import create_client, new_contact
from tscrm.i18n import set_language

from .conftest import wait_until


def _figure(app, widget_id: str) -> str:
    """The big number a dashboard widget shows ("" while it is still loading)."""
    cards = app.screen.query(f"#card-{widget_id}")
    if not cards or cards.first().counters is None:
        return ""
    return str(cards.first().render()).splitlines()[1]


async def test_dashboard_counters_follow_actions_of_others(db, admin, make_user, make_app):
    bob = make_user("Intern", name="Bob")
    app = make_app(admin)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: _figure(app, "clients") == "0")
        with db.write() as s:  # another agent (or process) adds a client and a pool lead
            create_client(s, admin, new_contact("Fresh client"))
            leads.create_lead(s, bob, new_contact("Fresh lead"), to_pool=True)
        await wait_until(pilot, lambda: _figure(app, "clients") == "1")
        await wait_until(pilot, lambda: "Unprocessed in the pool: 1" in str(app.screen.query_one("#card-my_leads").render()))
        await pilot.press("ctrl+n")  # claim next: the pool lead becomes mine
        await wait_until(pilot, lambda: _claimed(db, admin))
    with db.read() as s:
        assert leads.count_leads(s, admin, leads.LeadFilter(scope="mine")) == 1


def _results(app) -> int:
    found = app.screen.query("#search-results")
    return found.first().option_count if found else -1


def _claimed(db, admin) -> bool:
    with db.read() as s:
        return leads.count_leads(s, admin, leads.LeadFilter(scope="mine")) == 1


async def test_hide_and_move_widgets_are_saved_per_user(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: _figure(app, "clients") != "")
        assert app.screen.focused.id == "card-clients"
        await pilot.press("h")  # hide "Clients"
        await pilot.press("right_square_bracket")  # move "My leads" one place right
        visible = [c.id for c in app.screen.query_one("#cards").children if c.display]
        assert visible[:2] == ["card-tasks_done", "card-my_leads"]
        await pilot.pause(0.3)
    with db.read() as s:
        layout = users.ui_setting(s, admin.id, "dashboard")
    assert layout["hidden"] == ["clients"] and layout["order"][:3] == ["clients", "tasks_done", "my_leads"]
    # a new session of the app restores it
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: _figure(app, "my_leads") != "" and not app.screen.query_one("#card-clients").display)
        await pilot.press("a")
        assert app.screen.query_one("#card-clients").display


async def test_number_keys_switch_sections_and_search_opens_records(db, admin, make_app):
    with db.write() as s:
        create_client(s, admin, new_contact("Zacarías Search", ["+34 612 345 678"]))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("7")
        assert app.current_mode == "leads"
        await pilot.press("f1")
        assert app.current_mode == "help"
        await pilot.press("1")
        await pilot.press("slash")
        await pilot.press(*"612 34")
        await wait_until(pilot, lambda: _results(app) == 1)
        assert "Zacarías Search" in str(app.screen.query_one("#search-results").get_option_at_index(0).prompt)


async def test_switching_language_rerenders_without_restart(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: _figure(app, "clients") != "")
            app.switch_language("es")
            await wait_until(pilot, lambda: "Panel" in str(app.screen.query_one("StatusHeader").render()))
            await pilot.pause(0.2)
        with db.read() as s:
            assert users.get_user(s, admin.id).language == "es"
    finally:
        set_language("en")


async def test_a_change_noticed_while_the_app_closes_is_ignored(db, admin, make_app):
    """The change watcher may deliver a DataChanged after the screens are gone: no crash on exit."""
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.screen.focused is not None)
        stack = app._screen_stack
        saved = list(stack)
        stack.clear()  # as during shutdown, before the message loop stops
        app.refresh_screens()
        stack.extend(saved)
