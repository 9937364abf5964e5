"""The client card driven by the pilot on SQLite and PostgreSQL: open it from the list, note, task,
deal, edit, call notice, feed filter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import select

from tscrm.core.models import Activity, Client, Deal, Task
from tscrm.core.services import clients
from tscrm.core.services.clients import new_contact

from .conftest import wait_until

SIZE = (150, 36)


def _feed_text(card) -> str:
    return "\n".join(line.text for line in card.query_one("#client-feed").lines)


def _notices(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


async def _open_card_from_list(app, pilot, name: str):
    await pilot.press("2")
    await wait_until(pilot, lambda: app.current_mode == "clients" and bool(app.screen.query_one("#clients-table").page_rows))
    assert app.screen.query_one("#clients-table").current.data["name"] == name
    await pilot.press("enter")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen" and app.screen.record is not None)
    return app.screen


async def test_note_from_the_card_lands_in_the_feed_and_the_database(db, admin, make_app):
    with db.write() as s:
        client_id = clients.create_client(
            s, admin, new_contact("Olga Ortiz", ["+34 612 345 678"], ["olga@ortiz.es"], company_name="Ortiz SL", tags=["VIP"])
        ).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        card = await _open_card_from_list(app, pilot, "Olga Ortiz")
        info = str(card.query_one("#client-info").render())
        assert "Ortiz SL" in info and "+34 612 34 56 78" in info and "olga@ortiz.es" in info and "VIP" in info
        await pilot.press("o")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "NoteDialog")
        await pilot.press("ctrl+s")  # empty: refused, says why
        assert "must not be empty" in str(app.screen.query_one("#note-error").render())
        app.screen.query_one("#note-text").text = "Wants fibre\nCall back Monday"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is card and "Call back Monday" in _feed_text(card))
        await pilot.press("f")  # feed filter: notes only
        await wait_until(pilot, lambda: "Client created" not in _feed_text(card) and "Wants fibre" in _feed_text(card))
        await pilot.press("escape")  # back to the list
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientsScreen")
    with db.read() as s:
        note = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == "note")).one()
    assert note.text == "Wants fibre\nCall back Monday" and note.author_id == admin.id


async def test_task_and_deal_from_the_card(db, admin, make_app):
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Pablo Pérez")).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        card = await _open_card_from_list(app, pilot, "Pablo Pérez")
        await pilot.press("t")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TaskDialog")
        dialog = app.screen
        dialog.query_one("#task-type").value = "call"
        dialog.query_one("#task-due").value = "2026-03-02 9:30"  # not ISO: refused, naming the field
        dialog.query_one("#task-title").value = "Call about the offer"
        dialog.query_one("#task-title").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "due_at" in str(dialog.query_one("#task-error").render()))
        dialog.query_one("#task-due").value = "2026-03-02 09:30"  # Madrid, winter: UTC+1
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is card and "Call about the offer" in _feed_text(card))
        await pilot.press("d")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DealDialog")
        app.screen.query_one("#deal-title").value = "Fibre 600"
        app.screen.query_one("#deal-amount").value = "1234,50"
        app.screen.query_one("#deal-title").focus()
        await pilot.press("enter")

        def deals_shown() -> str:  # "No deals yet" is an option too: wait for the deal itself
            options = card.query_one("#client-deals")
            return str(options.get_option_at_index(0).prompt) if options.option_count == 1 else ""

        await wait_until(pilot, lambda: app.screen is card and "Fibre 600" in deals_shown())
        assert "1,234.50" in deals_shown()
    with db.read() as s:
        task = s.exec(select(Task)).one()
        deal = s.exec(select(Deal)).one()
    assert (task.client_id, task.type, task.title) == (client_id, "call", "Call about the offer")
    assert task.due_at == datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    assert (deal.client_id, deal.title, deal.amount, deal.currency) == (client_id, "Fibre 600", Decimal("1234.50"), "EUR")


async def test_call_sms_email_say_plainly_what_to_do_and_edit_saves(db, admin, make_app):
    with db.write() as s:
        from tscrm.core.services.company import get_company

        company = get_company(s)
        company.default_region, company.dial_without_country_code = "ES", True
        client_id = clients.create_client(s, admin, new_contact("Rosa Ruiz", ["+34 612 345 678"])).id
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.open_record("client", client_id)
        await wait_until(pilot, lambda: getattr(app.screen, "record", None) is not None)
        card = app.screen
        await pilot.press("x")  # until telephony: the number to dial, as the PBX would dial it
        await wait_until(pilot, lambda: "not connected yet" in _notices(app) and "612345678" in _notices(app))
        await pilot.press("m")  # no address yet: the compose dialog opens with an empty To
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ComposeDialog")
        assert app.screen.query_one("#compose-to").value == ""
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is card)
        await pilot.press("e")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ContactForm" and app.screen.ready)
        form = app.screen
        assert form.query_one("#phone-0").value == "+34 612 34 56 78"
        form.query_one("#f-company_name").value = "Ruiz e Hijos"
        form.query_one("Input.email").value = "rosa@ruiz.es"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: app.screen is card and "Ruiz e Hijos" in str(card.query_one("#client-info").render()))
        await pilot.press("m")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ComposeDialog")
        assert app.screen.query_one("#compose-to").value == "rosa@ruiz.es"
    with db.read() as s:
        client = s.get(Client, client_id)
        edited = s.exec(select(Activity).where(Activity.client_id == client_id, Activity.kind == "edited")).one()
    assert client.company_name == "Ruiz e Hijos" and edited.data["fields"] == ["company_name", "emails"]
