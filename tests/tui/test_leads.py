"""The Leads section and the lead card, driven by the pilot on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from tscrm.core.models import Activity, Client, Lead, LeadStatus
from tscrm.core.services import contacts, leads
from tscrm.core.services.clients import new_contact
from tscrm.tui.app import CARD_PATHS, _load

from .conftest import wait_until

SIZE = (140, 40)


# --- helpers: what the user sees ------------------------------------------------------------------


def _rows(app) -> list[tuple[str, ...]]:
    """The visible rows of the leads table, as text cells."""
    table = app.screen.query_one("#leads-table")
    return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]


def _names(app) -> list[str]:
    if app.current_mode != "leads" or type(app.screen).__name__ != "LeadsScreen":
        return []
    return [row[0] for row in _rows(app)]


def _status_of(app, name: str) -> str | None:
    return next((row[4] for row in _rows(app) if row[0] == name), None)


def _notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _lead(db, lead_id: int) -> Lead:
    with db.read() as s:
        return s.get(Lead, lead_id)


async def _open_leads(pilot, app, tab: str = "mine") -> None:
    await pilot.press("7")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "LeadsScreen")
    await pilot.press("u" if tab == "pool" else "m")
    await wait_until(pilot, lambda: app.screen.scope == tab)


def _pool_lead(db, actor, name: str, phone: str = "+34 612 345 678") -> Lead:
    with db.write() as s:
        return leads.create_lead(s, actor, new_contact(name, [phone], company_name="Acme", source="Web"), to_pool=True)


def _my_lead(db, actor, name: str, phone: str = "+34 612 345 678") -> Lead:
    with db.write() as s:
        return leads.create_lead(s, actor, new_contact(name, [phone], ["lead@example.es"]))


# --- claiming -------------------------------------------------------------------------------------


async def test_claim_from_unsorted_moves_the_lead_to_my_leads(db, admin, make_app):
    _pool_lead(db, admin, "Pool Ada", "+34 612 000 011")
    lead = _pool_lead(db, admin, "Pool Paula")
    _pool_lead(db, admin, "Pool Zoe", "+34 612 000 012")
    _pool_lead(db, admin, "Pool Zara", "+34 612 000 013")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: _names(app) == ["Pool Ada", "Pool Paula", "Pool Zoe", "Pool Zara"])
        assert _rows(app)[1][1:5] == ("Acme", "+34 612 34 56 78", "Web", "unprocessed")
        await pilot.press("down", "c")
        await wait_until(pilot, lambda: _lead(db, lead.id).owner_id == admin.id)
        await wait_until(pilot, lambda: _names(app) == ["Pool Ada", "Pool Zoe", "Pool Zara"])
        assert app.screen.query_one("#leads-table").cursor_row == 1  # on the next lead, ready for the next claim
        await wait_until(pilot, lambda: any("is yours" in n for n in _notices(app)))
        await pilot.press("m")
        await wait_until(pilot, lambda: _names(app) == ["Pool Paula"])
        assert _status_of(app, "Pool Paula") == "in progress"
        assert _rows(app)[0][6] == "Ana Admin"
    assert _lead(db, lead.id).status == LeadStatus.IN_PROGRESS


async def test_losing_the_race_says_who_won_and_changes_nothing(db, admin, make_user, make_app):
    bob = make_user("Intern", name="Bob Fast")
    lead = _pool_lead(db, admin, "Hot Hugo")
    app = make_app(admin, watch_changes=False)  # the list stays as shown until we press c
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: _names(app) == ["Hot Hugo"])
        with db.write() as s:  # Bob was faster
            leads.claim_lead(s, bob, lead.id)
        await pilot.press("c")
        await wait_until(pilot, lambda: any("already claimed by Bob Fast" in n for n in _notices(app)))
        await wait_until(pilot, lambda: _names(app) == [])
    row = _lead(db, lead.id)
    assert row.owner_id == bob.id
    with db.read() as s:
        kinds = [a.kind for a in s.exec(select(Activity).where(Activity.lead_id == lead.id))]
    assert kinds == ["created", "claimed"]  # one claim only: Bob's


async def test_claim_next_takes_the_oldest_and_opens_its_card(db, admin, make_app):
    first = _pool_lead(db, admin, "First Fran", "+34 612 000 001")
    _pool_lead(db, admin, "Second Sara", "+34 612 000 002")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: len(_names(app)) == 2)
        await pilot.press("g")
        await wait_until(pilot, lambda: getattr(app.screen, "lead_id", None) == first.id)
        info = app.screen.query_one("#lead-info")
        await wait_until(pilot, lambda: "First Fran" in str(info.render()))
        assert "Ana Admin" in str(info.render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: _names(app) == ["Second Sara"])
    assert _lead(db, first.id).owner_id == admin.id


async def test_live_update_when_another_agent_claims(db, admin, make_user, make_app):
    bob = make_user("Intern", name="Bob")
    lead = _pool_lead(db, admin, "Live Lola")
    _pool_lead(db, admin, "Stays Sam", "+34 612 000 003")
    app = make_app(admin)  # with the app's own change watcher
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: _names(app) == ["Live Lola", "Stays Sam"])
        with db.write() as s:
            leads.claim_lead(s, bob, lead.id)
        await wait_until(pilot, lambda: _names(app) == ["Stays Sam"])  # the 2 s promise is measured in bench/tui.py


# --- adding -----------------------------------------------------------------------------------------


async def _fill_new_lead(pilot, app, key: str, name: str, phone: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ContactForm" and app.screen.ready)
    await pilot.press(*name)
    app.screen.query_one("#phone-0").value = phone
    app.screen.query_one("#f-name").focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "LeadsScreen")


def _lead_named(db, name: str) -> Lead | None:
    with db.read() as s:
        return s.exec(select(Lead).where(Lead.name == name)).first()


async def test_add_a_lead_in_each_tab(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "mine")
        await _fill_new_lead(pilot, app, "n", "Mía Nueva", "+34 612 111 222")
        await wait_until(pilot, lambda: "Mía Nueva" in _names(app))
        await pilot.press("u")
        await _fill_new_lead(pilot, app, "plus", "Pool Nuevo", "+34 612 111 333")
        await wait_until(pilot, lambda: "Pool Nuevo" in _names(app))
        assert _status_of(app, "Pool Nuevo") == "unprocessed"
    mine, pooled = _lead_named(db, "Mía Nueva"), _lead_named(db, "Pool Nuevo")
    assert (mine.owner_id, mine.status) == (admin.id, LeadStatus.IN_PROGRESS)
    assert (pooled.owner_id, pooled.status) == (None, LeadStatus.UNPROCESSED)
    with db.read() as s:
        assert contacts.view(s, "lead", pooled.id).phones == [("work", "+34612111333")]


# --- status, closing --------------------------------------------------------------------------------


async def test_status_toggles_between_in_progress_and_unprocessed(db, admin, make_app):
    lead = _my_lead(db, admin, "Status Sofía")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app)
        await wait_until(pilot, lambda: _status_of(app, "Status Sofía") == "in progress")
        await pilot.press("s")
        await wait_until(pilot, lambda: _status_of(app, "Status Sofía") == "unprocessed")
        assert _lead(db, lead.id).status == LeadStatus.UNPROCESSED
        await pilot.press("s")
        await wait_until(pilot, lambda: _status_of(app, "Status Sofía") == "in progress")
    assert _lead(db, lead.id).status == LeadStatus.IN_PROGRESS


async def test_release_gives_the_lead_back_to_the_pool(db, admin, make_app):
    lead = _my_lead(db, admin, "Back Bea")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app)
        await wait_until(pilot, lambda: _names(app) == ["Back Bea"])
        await pilot.press("r")
        await wait_until(pilot, lambda: _names(app) == [])
        await pilot.press("u")
        await wait_until(pilot, lambda: _names(app) == ["Back Bea"])
    row = _lead(db, lead.id)
    assert row.owner_id is None and row.status == LeadStatus.UNPROCESSED


async def test_close_as_client_creates_the_client_and_opens_its_card(db, admin, make_app):
    lead = _my_lead(db, admin, "Convert Carmen", "+34 612 777 888")
    app = make_app(admin, watch_changes=False)
    opened: list[tuple[str, int]] = []
    real_open = app.open_record

    def spy(kind: str, record_id: int) -> None:
        opened.append((kind, record_id))
        real_open(kind, record_id)

    app.open_record = spy  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app)
        await wait_until(pilot, lambda: _names(app) == ["Convert Carmen"])
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CloseLeadDialog")
        await pilot.press("enter")  # first choice: create client
        await wait_until(pilot, lambda: _lead(db, lead.id).status == LeadStatus.FINISHED)
        client_id = _lead(db, lead.id).client_id
        await wait_until(pilot, lambda: opened == [("client", client_id)])
        card = _load(CARD_PATHS["client"])
        if card is not None:  # the client card screen lives in its own module
            await wait_until(pilot, lambda: isinstance(app.screen, card))
    with db.read() as s:
        client = s.get(Client, client_id)
        assert client.name == "Convert Carmen" and client.owner_id == admin.id
        assert contacts.view(s, "client", client_id).phones == [("work", "+34612777888")]


async def test_close_as_bad_quality_from_the_card(db, admin, make_app):
    lead = _my_lead(db, admin, "Bad Bruno")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app)
        await wait_until(pilot, lambda: _names(app) == ["Bad Bruno"])
        await pilot.press("enter")
        await wait_until(pilot, lambda: getattr(app.screen, "lead_id", None) == lead.id)
        await wait_until(pilot, lambda: app.screen.record is not None)
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "CloseLeadDialog")
        await pilot.press("down", "enter")  # bad quality, then the optional reason
        await pilot.press(*"wrong number", "enter")
        await wait_until(pilot, lambda: _lead(db, lead.id).status == LeadStatus.BAD_QUALITY)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "LeadsScreen")
        await wait_until(pilot, lambda: _names(app) == [])
        await pilot.press("u")
        await wait_until(pilot, lambda: app.screen.scope == "pool")
        await pilot.pause(0.2)
        assert "Bad Bruno" not in _names(app)
    with db.read() as s:
        texts = [a.text for a in s.exec(select(Activity).where(Activity.lead_id == lead.id))]
    assert "Lead closed as bad quality: wrong number" in texts


# --- the card -------------------------------------------------------------------------------------


async def test_card_claims_a_pool_lead_and_shows_the_number_to_call(db, admin, make_app):
    with db.write() as s:
        lead = leads.create_lead(
            s, admin, new_contact("Card Carla", ["+34 612 345 999"]), to_pool=True, utm={"utm_campaign": "spring"}
        )
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("lead", lead.id)
        await wait_until(pilot, lambda: getattr(app.screen, "record", None) is not None)
        info = app.screen.query_one("#lead-info")
        assert "Unsorted (pool)" in str(info.render()) and "spring" in str(info.render())
        await pilot.press("c")
        await wait_until(pilot, lambda: _lead(db, lead.id).owner_id == admin.id)
        await wait_until(pilot, lambda: "Ana Admin" in str(info.render()))
        feed = app.screen.query_one("#lead-feed")
        await wait_until(pilot, lambda: any("Claimed by Ana Admin" in line.text for line in feed.lines))
        await pilot.press("x")
        await wait_until(pilot, lambda: any("+34 612 34 59 99" in n for n in _notices(app)))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not hasattr(app.screen, "lead_id"))


# --- presets, language ------------------------------------------------------------------------------


async def _focus_dashboard_card(pilot, app, widget_id: str) -> None:
    """Focus a dashboard widget once the dashboard has settled (it focuses its first widget itself)."""
    await wait_until(pilot, lambda: app.screen.query(f"#card-{widget_id}") and app.screen.focused is not None)
    await wait_until(pilot, lambda: app.screen.query_one(f"#card-{widget_id}").counters is not None)
    app.screen.query_one(f"#card-{widget_id}").focus()
    await wait_until(pilot, lambda: app.screen.focused.id == f"card-{widget_id}")


async def test_dashboard_widgets_open_the_matching_tab(db, admin, make_app):
    _pool_lead(db, admin, "Preset Pablo")
    _my_lead(db, admin, "Preset Mia", "+34 612 000 009")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _focus_dashboard_card(pilot, app, "new_leads")
        await pilot.press("enter")
        await wait_until(pilot, lambda: _names(app) == ["Preset Pablo"])
        assert app.screen.query_one("#lead-tabs").active == "tab-pool"
        await pilot.press("1")
        await wait_until(pilot, lambda: app.current_mode == "dashboard")
        await _focus_dashboard_card(pilot, app, "my_leads")
        await pilot.press("enter")
        await wait_until(pilot, lambda: _names(app) == ["Preset Mia"])
        assert app.screen.query_one("#lead-tabs").active == "tab-mine"


async def test_switching_language_keeps_tab_and_rows(db, admin, make_app):
    _pool_lead(db, admin, "Idioma Inés")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: _names(app) == ["Idioma Inés"])
        app.switch_language("es")
        await pilot.pause(0.1)
        await wait_until(pilot, lambda: _names(app) == ["Idioma Inés"])
        assert app.screen.query_one("#lead-tabs").active == "tab-pool"
        assert str(app.screen.query_one("#tab-pool").label) == "Sin asignar"


async def test_card_note_task_and_edit(db, admin, make_app):
    lead = _my_lead(db, admin, "Card Nora")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("lead", lead.id)
        await wait_until(pilot, lambda: getattr(app.screen, "record", None) is not None)
        card = app.screen
        feed = card.query_one("#lead-feed")
        await pilot.press("o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "NoteDialog")
        await pilot.press(*"wants a quote", "ctrl+s")
        await wait_until(pilot, lambda: app.screen is card)
        await wait_until(pilot, lambda: any("wants a quote" in line.text for line in feed.lines))
        await pilot.press("t")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        await pilot.press(*"Send the offer", "enter")
        await wait_until(pilot, lambda: app.screen is card)
        await pilot.press("e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ContactForm" and app.screen.ready)
        app.screen.query_one("#f-company_name").value = "Nora SL"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is card)
        info = card.query_one("#lead-info")
        await wait_until(pilot, lambda: "Nora SL" in str(info.render()))
    from tscrm.core.models import Task

    with db.read() as s:
        assert s.exec(select(Task.title).where(Task.lead_id == lead.id)).all() == ["Send the offer"]
        assert s.get(Lead, lead.id).company_name == "Nora SL"


async def test_long_pool_is_paged_and_end_shows_the_last_lead(db, admin, make_app):
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with db.write() as s:  # plain rows: the list needs nothing else, and this stays quick
        s.add_all(Lead(name=f"Bulk {i:03d}", created_at=start + timedelta(minutes=i)) for i in range(120))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: _names(app)[:1] == ["Bulk 000"])
        assert _rows(app)[0][5] == "2026-01-05 10:00"  # 09:00 UTC, shown in the user's zone (Madrid)
        table = app.screen.query_one("#leads-table")
        assert table.row_count < 40  # one screenful, not the whole pool
        await pilot.press("end")
        await wait_until(pilot, lambda: _names(app)[-1:] == ["Bulk 119"])
        await wait_until(pilot, lambda: "120 unsorted" in str(app.screen.query_one("#leads-status").render()))
        await pilot.press("enter")
        await wait_until(pilot, lambda: getattr(app.screen, "record", None) is not None)
        assert app.screen.record["name"] == "Bulk 119"


def test_page_leads_reads_pages_next_to_a_known_row(db, admin):
    """The keyset pages the table asks for: first, last, after, before, and from a row (included)."""
    same = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # equal times: the id breaks the tie
    with db.write() as s:
        s.add_all(Lead(name=f"K{i}", created_at=same if i < 4 else same + timedelta(hours=i)) for i in range(8))
    pool = leads.LeadFilter(scope="pool")

    def names(**kw) -> list[str]:
        with db.read() as s:
            return [lead.name for lead in leads.page_leads(s, admin, pool, limit=3, **kw)]

    def cursor(name: str):
        with db.read() as s:
            return leads.page_cursor(s.exec(select(Lead).where(Lead.name == name)).one())

    assert names() == ["K0", "K1", "K2"]
    assert names(last=True) == ["K5", "K6", "K7"]
    assert names(after=cursor("K2")) == ["K3", "K4", "K5"]
    assert names(before=cursor("K4")) == ["K1", "K2", "K3"]
    assert names(start=cursor("K3")) == ["K3", "K4", "K5"]
    assert names(after=cursor("K7")) == []
