"""The Clients section driven by the pilot on SQLite and PostgreSQL: paging, sort, filters, search,
selection and bulk actions, adding a client."""

from __future__ import annotations

from sqlmodel import select

from tscrm.core.models import Client, Phone
from tscrm.core.services import clients, contacts
from tscrm.core.services.clients import new_contact

from .conftest import wait_until

SIZE = (150, 36)


def _add(db, actor, names, **kw):
    with db.write() as s:
        return [clients.create_client(s, actor, new_contact(name, **kw)).id for name in names]


def _names(app) -> list[str]:
    return [row.data["name"] for row in app.screen.query_one("#clients-table").page_rows]


def _status(app) -> str:
    return str(app.screen.query_one("#clients-status").render())


async def _open_clients(app, pilot) -> None:
    await pilot.press("2")
    await wait_until(pilot, lambda: app.current_mode == "clients" and bool(_names(app)))


async def test_pages_sort_and_end_on_a_long_list(db, admin, make_app):
    _add(db, admin, [f"Client {i:03d}" for i in range(70)])
    _add(db, admin, ["Zoe Last"], company_name="Aardvark SL")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        table = app.screen.query_one("#clients-table")
        shown = len(table.page_rows)
        assert _names(app)[:2] == ["Client 000", "Client 001"] and 10 < shown < 71  # one screenful, not all
        await wait_until(pilot, lambda: f"1–{shown} of 71" in _status(app))
        await pilot.press("end")
        await wait_until(pilot, lambda: _names(app)[-1] == "Zoe Last")
        assert table.cursor_row == shown - 1 and f"{72 - shown}–71 of 71" in _status(app)
        await pilot.press("pageup")
        await wait_until(pilot, lambda: _names(app)[-1] == f"Client {70 - shown:03d}")
        await pilot.press("home", "up")
        await wait_until(pilot, lambda: _names(app)[0] == "Client 000")
        await pilot.press("down", "down")
        assert table.current.data["name"] == "Client 002"
        table.move_cursor(row=shown - 1)
        await pilot.press("down")  # past the bottom: the rows scroll by one
        await wait_until(pilot, lambda: _names(app)[0] == "Client 001" and table.current.data["name"] == f"Client {shown:03d}")
        assert f"2–{shown + 1} of 71" in _status(app)
        await pilot.press("s")  # by company (where empty companies go is the database's choice, as in list_clients)
        await wait_until(pilot, lambda: "sorted by company" in _status(app))
        with db.read() as s:
            expected = [c.name for c in clients.list_clients(s, admin, sort="company", limit=3)]
        await wait_until(pilot, lambda: _names(app)[:3] == expected)
        await pilot.press("s", "S")  # created, newest first
        await wait_until(pilot, lambda: _names(app)[0] == "Zoe Last" and "sorted by created ↓" in _status(app))


async def test_filter_by_tag_and_search(db, admin, make_app):
    _add(db, admin, ["Alba Vip", "Bruno Vip"], tags=["VIP"])
    _add(db, admin, ["Carla Plain", "Dario Plain"], phones=["+34 612 345 678"])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("f")  # the filters panel, the first filter focused
        assert app.screen.query_one("#clients-filters").display and app.focused.id == "flt-tags"
        await pilot.press(*"vip", "enter")
        await wait_until(pilot, lambda: _names(app) == ["Alba Vip", "Bruno Vip"])
        await wait_until(pilot, lambda: "2 client(s)" in _status(app) or "1–2 of 2" in _status(app))
        await pilot.press("escape", "c")  # back to the list, clear the filters
        await wait_until(pilot, lambda: len(_names(app)) == 4)
        await pilot.press("f")
        assert not app.screen.query_one("#clients-filters").display
        await pilot.press("slash", *"dario")
        await wait_until(pilot, lambda: _names(app) == ["Dario Plain"])
        await pilot.press("escape")  # clears the search
        await wait_until(pilot, lambda: len(_names(app)) == 4)
        await pilot.press(*"612 345")  # still in the field: a phone fragment
        await wait_until(pilot, lambda: _names(app) == ["Carla Plain", "Dario Plain"])
        await pilot.press("enter")  # to the list, Enter there opens the card
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen")


async def test_select_rows_and_add_a_tag_in_bulk(db, admin, make_app):
    ids = _add(db, admin, ["Ana", "Bea", "Ciro", "Dora"])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        table = app.screen.query_one("#clients-table")
        await pilot.press("space", "shift+down")  # Ana, then Bea and Ciro
        assert table.selected == set(ids[:3])
        await pilot.press("space")  # Ciro again: off
        await wait_until(pilot, lambda: "2 selected" in _status(app))
        await pilot.press("b")
        await wait_until(pilot, lambda: app.screen.id == "bulk-menu")
        await pilot.press("enter")  # Add tag
        await wait_until(pilot, lambda: app.screen.id == "text-dialog")
        await pilot.press(*"Renewal", "enter")
        await wait_until(pilot, lambda: not table.selected and app.screen.id == "screen-clients")
        await wait_until(pilot, lambda: [r.cells[4] for r in table.page_rows][:3] == ["Renewal", "Renewal", ""])
    with db.read() as s:
        tagged = [cid for cid in ids if contacts.view(s, "client", cid).tags == ["Renewal"]]
    assert tagged == ids[:2]


async def test_select_all_matching_and_delete_after_confirming(db, admin, make_app):
    keep = _add(db, admin, ["Keep Me"])
    _add(db, admin, [f"Spam {i}" for i in range(5)], tags=["spam"])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("f", *"spam", "enter", "escape")
        await wait_until(pilot, lambda: len(_names(app)) == 5)
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: "all 5 matching selected" in _status(app))
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.id == "confirm-dialog")
        assert "5 client(s)" in str(app.screen.query_one(".dialog-title").render())
        await pilot.press("n")  # no: nothing happens
        with db.read() as s:
            assert clients.count_clients(s, admin) == 6
        await pilot.press("delete")
        await wait_until(pilot, lambda: app.screen.id == "confirm-dialog")
        await pilot.press("y")
        await wait_until(pilot, lambda: _names(app) == [] and "5 client(s) deleted." in _notices(app))
    with db.read() as s:
        assert [c.id for c in s.exec(select(Client))] == keep


def _notices(app) -> str:
    return " ".join(str(n.message) for n in app._notifications)


async def test_the_bulk_sms_entry_opens_the_bulk_sms_dialog(db, admin, make_app):
    _add(db, admin, ["Ana"])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: app.screen.id == "bulk-menu")
        menu = app.screen.query_one("#choice-list")
        ids = [menu.get_option_at_index(i).id for i in range(menu.option_count)]
        menu.highlighted = ids.index("sms")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.id == "bulk-sms")  # tests/tui/test_bulk_sms.py goes on from there


async def test_add_client_checks_the_phone_as_you_type(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await wait_until(pilot, lambda: app.current_mode == "clients")
        await pilot.press("n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ContactForm" and app.screen.ready)
        form = app.screen
        await pilot.press(*"Nuria")
        form.query_one("#f-name").value = "Nuria Nueva"
        phone = form.query_one("#phone-0")
        phone.value = "12345"  # what typing does: Input.Changed, checked at once
        note = form.query_one("#err-phone-0")
        await wait_until(pilot, lambda: "12345" in str(note.render()) and note.has_class("bad"))
        await pilot.press("enter")  # refused: nothing written
        await wait_until(pilot, lambda: "Nothing was saved" in str(form.query_one("#form-error").render()))
        assert app.focused is phone
        with db.read() as s:
            assert s.exec(select(Client)).all() == []
        phone.value = "+34 612 345 678"
        await wait_until(pilot, lambda: note.has_class("ok") and "612 34 56 78" in str(note.render()))
        assert len(form.query("Input.phone")) == 2  # room for another number
        email = form.query_one("Input.email")
        email.value = "nuria@"
        await wait_until(pilot, lambda: "not an email address" in str(form.query_one(f"#err-{email.id}").render()))
        email.value = "nuria@nueva.es"
        form.query_one("#f-tags").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientCardScreen")  # the new client's card
    with db.read() as s:
        client = s.exec(select(Client)).one()
        assert client.name == "Nuria Nueva" and client.owner_id == admin.id
        assert [p.e164 for p in s.exec(select(Phone).where(Phone.client_id == client.id))] == ["+34612345678"]
        assert contacts.view(s, "client", client.id).emails == ["nuria@nueva.es"]


async def test_all_clients_tab_only_with_the_right_to_see_all(db, admin, make_user, make_app):
    intern = make_user("Intern", name="Iris Intern")
    _add(db, intern, ["Iris's client"])
    _add(db, admin, ["Admin's client"])
    app = make_app(intern, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        assert not app.screen.query("#tab-all") and app.screen.query("#tab-mine")
        await pilot.press("a")  # no such tab: nothing changes
        await pilot.pause(0.1)
        assert _names(app) == ["Iris's client"]
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        assert _names(app) == ["Admin's client"]
        await pilot.press("a")
        await wait_until(pilot, lambda: _names(app) == ["Admin's client", "Iris's client"])


async def test_a_resize_keeps_the_cursor_on_its_row(db, admin, make_app):
    _add(db, admin, [f"Client {i:03d}" for i in range(70)])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        table = app.screen.query_one("#clients-table")
        await pilot.press("end")
        await wait_until(pilot, lambda: table.at_end and _names(app)[-1] == "Client 069")
        await pilot.press("up", "up")
        assert table.current.data["name"] == "Client 067"
        await pilot.resize_terminal(150, 46)  # taller: more rows above, the cursor stays on Client 067
        await wait_until(pilot, lambda: len(table.page_rows) == table.page_size)
        await pilot.pause(0.2)
        assert table.current.data["name"] == "Client 067" and _names(app)[-1] == "Client 069"


async def test_a_resize_of_a_short_list_leaves_the_cursor_alone(db, admin, make_app):
    _add(db, admin, ["Ana", "Bea", "Ciro", "Dora"])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        table = app.screen.query_one("#clients-table")
        await pilot.press("down")
        assert table.current.data["name"] == "Bea"
        for size in ((150, 30), (150, 44), (120, 36)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            assert table.current.data["name"] == "Bea" and _names(app) == ["Ana", "Bea", "Ciro", "Dora"]
