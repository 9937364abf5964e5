"""Deals: the kanban, the list and the deal card, driven by the pilot on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo
from decimal import Decimal

import pytest
from sqlmodel import col, select

from tscrm.core.models import Activity, ActivityKind, Deal, Task
from tscrm.core.services import company, deals, notes, tasks
from tscrm.core.services.clients import create_client, new_contact
from tscrm.core.types import utcnow
from tscrm.tui.screens import deals as deals_screen
from tscrm.tui.screens.deal_card import DealCardScreen
from tscrm.tui.widgets.feed import ActivityFeed
from tscrm.tui.widgets.kanban import Kanban

from .conftest import wait_until

SIZE = (150, 42)


def _client(db, actor, name="Lucía Gómez") -> int:
    with db.write() as s:
        return create_client(s, actor, new_contact(name)).id


def _deal(db, actor, client_id, title="Fibre 1 Gb", **kw) -> int:
    with db.write() as s:
        return deals.create_deal(s, actor, client_id=client_id, title=title, **kw).id


def _kanban(app) -> Kanban:
    return app.screen.query_one("#deals-kanban", Kanban)


def _headers(app) -> dict[str, str]:
    return {view.column.key: view.column.subtitle for view in _kanban(app).columns}


def _card_texts(app) -> dict[str, list[str]]:
    return {view.column.key: [str(c.render()) for c in view.cards] for view in _kanban(app).columns}


def _rows(app) -> list[str]:
    table = app.screen.query_one("#deals-table")
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def _status_text(app) -> str:
    return str(app.screen.query_one("#deals-status").render())


def _feed_text(screen) -> str:
    feed = screen.query_one(ActivityFeed)
    return "\n".join("".join(segment.text for segment in line) for line in feed.lines)


def _stage(db, deal_id):
    with db.read() as s:
        deal = s.get(Deal, deal_id)
        return deal.status.value, deal.closed_at


async def _open_deals(app, pilot) -> None:
    await pilot.press("3")
    ready = lambda: app.current_mode == "deals" and _kanban(app).columns and "…" not in str(_headers(app))  # noqa: E731
    await wait_until(pilot, ready, timeout=10)


async def test_move_a_deal_across_every_column_saves_and_stamps_the_feed(db, admin, make_app):
    did = _deal(db, admin, _client(db, admin), amount="100")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_deals(app, pilot)
        await wait_until(pilot, lambda: _kanban(app).focused_key == did)
        path = ["in_progress", "decision_pending", "payment_expected", "won", "cancelled"]
        for i, stage in enumerate(path):
            await pilot.press("right_square_bracket" if i % 2 else "shift+right")
            await wait_until(pilot, lambda stage=stage: _kanban(app).card_keys()[stage] == [did])
            assert _kanban(app).focused_key == did  # the focus follows the card
            status, closed_at = _stage(db, did)
            assert status == stage
            assert (closed_at is not None) == (stage in ("won", "cancelled"))
        won_closed = None
        await pilot.press("right_square_bracket")  # past the last column: nothing happens
        await pilot.pause(0.2)
        assert _stage(db, did)[0] == "cancelled"
        await pilot.press("left_square_bracket")
        await wait_until(pilot, lambda: _stage(db, did)[0] == "won")
        won_closed = _stage(db, did)[1]
        await pilot.press("shift+left")
        await wait_until(pilot, lambda: _kanban(app).card_keys()["payment_expected"] == [did])
        assert _stage(db, did) == ("payment_expected", None)  # reopened: no closing date
        assert "1 · €100.00" in _headers(app)["payment_expected"] and _headers(app)["won"].startswith("0 ·")
    assert won_closed is not None
    with db.read() as s:
        moves = s.exec(
            select(Activity).where(Activity.deal_id == did, Activity.kind == ActivityKind.STATUS_CHANGED).order_by(col(Activity.id))
        ).all()
    assert [(m.data["from"], m.data["to"]) for m in moves] == [
        ("new", "in_progress"),
        ("in_progress", "decision_pending"),
        ("decision_pending", "payment_expected"),
        ("payment_expected", "won"),
        ("won", "cancelled"),
        ("cancelled", "won"),
        ("won", "payment_expected"),
    ]
    assert all(m.author_id == admin.id for m in moves)


async def test_column_totals_in_base_currency_and_live_updates(db, admin, make_user, make_app, monkeypatch):
    monkeypatch.setattr(deals_screen, "PER_COLUMN", 2)
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    cid = _client(db, admin)
    _deal(db, admin, cid, title="Router", amount="100")
    _deal(db, admin, cid, title="Fibre US", amount="200", currency="USD")
    _deal(db, admin, cid, title="Closed one", amount="50", status="won")
    app = make_app(admin)
    async with app.run_test(size=SIZE) as pilot:
        await _open_deals(app, pilot)
        assert _headers(app)["new"] == "2 · €280.00"  # 100 € + 200 $ × 0.9
        assert _headers(app)["won"] == "1 · €50.00"
        cards = _card_texts(app)["new"]
        assert "Fibre US" in cards[0] and "$200.00" in cards[0] and "Lucía Gómez" in cards[0]
        assert "€100.00" in cards[1]
        # another agent adds a deal: the board follows, with "+1 more" beyond the two cards shown
        bob = make_user("Manager", name="Bob")
        _deal(db, bob, cid, title="Bob's deal", amount="10.50")
        await wait_until(pilot, lambda: _headers(app)["new"] == "3 · €290.50" and len(_card_texts(app)["new"]) == 2, timeout=10)
        new_column = _kanban(app).columns[0]
        assert len(new_column.cards) == 2 and new_column.column.more == 1
        assert "+1 more" in str(new_column.query_one(".kanban-more").render())
        assert "Bob" in _card_texts(app)["new"][0]  # someone else's deal names its owner
        # in Spanish, amounts are written the Spanish way
        app.switch_language("es")
        await wait_until(pilot, lambda: _kanban(app).columns and _headers(app).get("new") == "3 · 290,50\u00a0€", timeout=10)
        assert "200,00\u00a0US$" in _card_texts(app)["new"][1]


async def test_list_view_sorts_filters_and_pages(db, admin, make_user, make_app, monkeypatch):
    monkeypatch.setattr(deals_screen, "PAGE_SIZE", 3)
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    bob = make_user("Manager", name="Bob")
    cid = _client(db, admin)
    other = _client(db, admin, "Pierre Martin")
    now = utcnow()
    _deal(db, admin, cid, title="Alpha", amount="300", created_at=now - timedelta(days=3))
    _deal(db, admin, other, title="Bravo", amount="50", currency="USD", created_at=now - timedelta(days=2))
    _deal(db, bob, cid, title="Charlie", amount="1000", status="won", created_at=now - timedelta(days=1))
    _deal(db, admin, cid, title="Delta", amount="20", created_at=now)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_deals(app, pilot)
        await pilot.press("v")
        await wait_until(pilot, lambda: _rows(app) == ["Delta", "Charlie", "Bravo"])  # newest first, page of 3
        assert app.screen.focused is app.screen.query_one("#deals-table")
        assert _status_text(app).startswith("1–3 of 4")
        await pilot.press("pagedown", "pagedown", "pagedown")  # to the last row, then the next page
        await wait_until(pilot, lambda: _rows(app) == ["Alpha"])
        assert _status_text(app).startswith("4–4 of 4")
        await pilot.press("pageup")
        await wait_until(pilot, lambda: _rows(app) == ["Delta", "Charlie", "Bravo"])
        await pilot.press("s")  # by amount, biggest first (in each deal's own currency)
        await wait_until(pilot, lambda: _rows(app) == ["Charlie", "Alpha", "Bravo"])
        await pilot.press("S")  # reversed
        await wait_until(pilot, lambda: _rows(app) == ["Delta", "Bravo", "Alpha"])
        assert "amount ↑" in _status_text(app)

        async def filter_with(**values) -> None:
            await pilot.press("f")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "DealFilterDialog")
            dialog = app.screen
            await wait_until(pilot, lambda: len(dialog.users) >= 2)
            for widget_id, value in values.items():
                dialog.query_one(f"#filter-{widget_id}").value = value
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "DealsScreen")

        await filter_with(currency="usd")
        await wait_until(pilot, lambda: _rows(app) == ["Bravo"])
        assert "currency: USD" in str(app.screen.query_one("#deals-bar").render())
        await filter_with(currency="", status="won")
        await wait_until(pilot, lambda: _rows(app) == ["Charlie"])
        await filter_with(status=deals_screen.Select.NULL, owner=bob.id)
        await wait_until(pilot, lambda: _rows(app) == ["Charlie"])
        assert "responsible: Bob" in str(app.screen.query_one("#deals-bar").render())
        await filter_with(owner=deals_screen.Select.NULL, **{"amount-min": "25", "amount-max": "300"})
        await wait_until(pilot, lambda: _rows(app) == ["Bravo", "Alpha"])
        tomorrow = (now.astimezone(ZoneInfo(admin.timezone)) + timedelta(days=1)).date().isoformat()  # the user's day
        await filter_with(**{"amount-min": "", "amount-max": "", "created-from": tomorrow})
        await wait_until(pilot, lambda: _status_text(app) == "No deals match.")
        # a wrong date is refused in the dialog, naming the field
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DealFilterDialog")
        app.screen.query_one("#filter-closed-to").value = "31/12/2026"
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert "Closed to: '31/12/2026' is not a date" in str(app.screen.query_one("#filter-error").render())
        await pilot.click("#filter-reset")
        await wait_until(pilot, lambda: len(_rows(app)) == 3)
        # in the list, the keys move the selected deal too
        await pilot.press("m")  # only mine: Bob's deal goes
        await wait_until(pilot, lambda: "Charlie" not in _rows(app) and len(_rows(app)) == 3)
        first = _rows(app)[0]
        await pilot.press("shift+right")
        await wait_until(pilot, lambda: _list_status(db, first) == "in_progress")


def _list_status(db, title: str) -> str:
    with db.read() as s:
        return s.exec(select(Deal.status).where(Deal.title == title)).one().value


async def test_deal_card_shows_the_deal_and_its_own_feed(db, admin, make_app):
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    cid = _client(db, admin)
    did = _deal(db, admin, cid, title="Fibre US", amount="200", currency="USD")
    _deal(db, admin, cid, title="Another deal")  # in the client's feed, not in this deal's
    with db.write() as s:
        notes.add_note(s, admin, "Wants a discount", deal_id=did)
        tasks.create_task(s, admin, title="Send the offer", deal_id=did, due_at=utcnow() + timedelta(days=1))
        deals.move_deal(s, admin, did, "in_progress")
    app = make_app(admin, watch_changes=False)
    opened: list[tuple[str, int]] = []
    async with app.run_test(size=SIZE) as pilot:
        await _open_deals(app, pilot)
        await wait_until(pilot, lambda: _kanban(app).focused_key is not None)
        _kanban(app).focus_card(did)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DealCardScreen) and app.screen.data is not None)
        card = app.screen
        info = str(card.query_one("#deal-info").render())
        assert "Fibre US" in info and "Lucía Gómez" in info and "$200.00" in info and "€180.00" in info
        feed = _feed_text(card)
        assert "Deal created: Fibre US" in feed and "Wants a discount" in feed and "Send the offer" in feed
        assert "new → in progress" in feed and "Another deal" not in feed
        # edit: amount and title, stamped in the feed
        await pilot.press("e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DealEditDialog")
        app.screen.query_one("#edit-amount").value = "250,50"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: card.data is not None and card.data.record["amount"] == Decimal("250.50"))
        assert "Deal edited" in _feed_text(card)
        await pilot.press("right_square_bracket")
        await wait_until(pilot, lambda: card.data.record["status"] == "decision_pending")
        assert "in progress → decision pending" in _feed_text(card)
        await pilot.press("o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "NoteDialog")
        app.screen.query_one("#note-text").text = "Call on Monday"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is card and "Call on Monday" in _feed_text(card))
        await pilot.press("t")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        app.screen.query_one("#task-title").value = "Prepare contract"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is card and "Prepare contract" in _feed_text(card))
        with db.read() as s:
            assert s.exec(select(Task.deal_id).where(Task.title == "Prepare contract")).one() == did
        app.open_record = lambda kind, record_id: opened.append((kind, record_id))  # type: ignore[method-assign]
        await pilot.press("c")
        await pilot.pause(0.1)
        assert opened == [("client", cid)]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.current_mode == "deals" and not isinstance(app.screen, DealCardScreen))
        await wait_until(pilot, lambda: _kanban(app).card_keys()["decision_pending"] == [did])
    assert _stage(db, did) == ("decision_pending", None)


async def test_an_intern_does_not_see_an_admins_deal(db, admin, make_user, make_app):
    intern = make_user("Intern", name="Ivan")
    secret = _deal(db, admin, _client(db, admin, "Admin's client"), title="Secret deal", amount="999")
    _deal(db, intern, _client(db, intern, "Ivan's client"), title="Small deal", amount="5")
    app = make_app(intern, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_deals(app, pilot)
        assert _headers(app)["new"] == "1 · €5.00"
        cards = [text for texts in _card_texts(app).values() for text in texts]
        assert len(cards) == 1 and "Small deal" in cards[0] and "Ivan's client" in cards[0]
        await pilot.press("v")
        await wait_until(pilot, lambda: _rows(app) == ["Small deal"])
        app.open_record("deal", secret)
        await wait_until(pilot, lambda: isinstance(app.screen, DealCardScreen) and app.screen.error is not None)
        assert f"No deal with id {secret}" in str(app.screen.query_one("#deal-info").render())
        await pilot.press("right_square_bracket")  # nothing to move: the key is disabled
        await pilot.pause(0.1)
    assert _stage(db, secret) == ("new", None)


@pytest.mark.parametrize("status", ["new", "won"])
def test_step_status_stays_inside_the_pipeline(status):
    assert deals_screen.STAGES == tuple(s.value for s in deals.DEAL_PIPELINE)
    assert deals_screen.step_status(status, -1) == (None if status == "new" else "payment_expected")
    assert deals_screen.step_status(status, 1) == ("in_progress" if status == "new" else "cancelled")


def test_cli_board_prints_the_kanban_with_cards_and_totals(db, admin):
    """The CLI twin: `tscrm deals board` shows each stage's count, base-currency total and newest cards."""
    import json

    from typer.testing import CliRunner

    from tscrm.cli.main import app as cli

    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    cid = _client(db, admin)
    _deal(db, admin, cid, title="Router", amount="100")
    _deal(db, admin, cid, title="Fibre US", amount="200", currency="USD")
    _deal(db, admin, cid, title="Old one", amount="1", status="won")
    runner = CliRunner(env={"COLUMNS": "160"})
    shown = runner.invoke(cli, ["--db", db.url, "--user", admin.email, "deals", "board", "--cards", "1"])
    assert shown.exit_code == 0, shown.output
    assert "2 · €280.00" in shown.stdout and "1 · €1.00" in shown.stdout
    assert "Fibre US" in shown.stdout and "$200.00" in shown.stdout and "+1 more" in shown.stdout
    assert "Router" not in shown.stdout  # only the newest card of each stage
    data = json.loads(runner.invoke(cli, ["--db", db.url, "--user", admin.email, "deals", "board", "--json"]).stdout)
    new = data["stages"][0]
    assert (new["status"], new["count"], new["total"]) == ("new", 2, "280.00")
    assert [d["title"] for d in new["deals"]] == ["Fibre US", "Router"]


async def test_new_deal_picks_a_client_among_clients_then_opens_the_deal_dialog(db, admin, make_app):
    from tscrm.core.services import leads

    cid = _client(db, admin, "Zacarías Pérez")
    _deal(db, admin, cid, title="Zacarías upgrade")
    with db.write() as s:
        leads.create_lead(s, admin, new_contact("Zacarías Lead"))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_deals(app, pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientPicker")
        await pilot.press(*"zacar")
        results = app.screen.query_one("#search-results")
        # each letter searches again: wait for the answer to the whole word
        await wait_until(pilot, lambda: [results.get_option_at_index(i).id for i in range(results.option_count)] == [f"client:{cid}"])
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DealDialog")
        assert "Zacarías Pérez" in str(app.screen.query_one(".dialog-title").render())
        app.screen.query_one("#deal-amount").value = "75,25"
        app.screen.query_one("#deal-title").value = "SIP trunk"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "SIP trunk" in str(_card_texts(app)["new"]))
        with db.read() as s:
            deal = s.exec(select(Deal).where(Deal.title == "SIP trunk")).one()
        assert (deal.client_id, deal.amount, deal.owner_id) == (cid, Decimal("75.25"), admin.id)
        await wait_until(pilot, lambda: _kanban(app).focused_key == deal.id)  # the new card has the focus
