"""Export from the Clients screen (key e) with its current tab and filters, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from dataclasses import replace

from tscrm.tui.screens.export_dialog import ExportDialog, default_path, with_format

from .conftest import wait_until
from .test_clients import SIZE, _add, _names, _open_clients


def _dialog(app) -> ExportDialog:
    assert isinstance(app.screen, ExportDialog)
    return app.screen


def _text(app, selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def _export_to(app, pilot, path, fmt: str = "csv") -> None:
    """In the open dialog: choose the format, type the file and press Enter."""
    dialog = _dialog(app)
    if fmt != "csv":
        dialog.query_one("#export-format").value = fmt
        await wait_until(pilot, lambda: dialog.query_one("#export-path").value.endswith("." + fmt))
    dialog.query_one("#export-path").value = str(path)
    dialog.query_one("#export-path").focus()
    await pilot.press("enter")
    await wait_until(pilot, lambda: "written to" in _text(app, "#export-result") or _text(app, "#export-error").strip())


def test_default_path_follows_the_format(tmp_path):
    from datetime import date
    from pathlib import Path

    assert default_path("clients", "csv", date(2026, 11, 24)) == str(Path.home() / "tscrm-clients-20261124.csv")
    assert with_format("/x/tscrm-clients-20261124.csv", "xlsx") == "/x/tscrm-clients-20261124.xlsx"
    assert with_format("/x/my-file", "vcf") == "/x/my-file"  # no known extension: left as typed


async def test_export_the_filtered_clients_to_csv(db, admin, make_user, make_app, tmp_path):
    colleague = make_user("Manager", name="Marta Manager")
    _add(db, admin, ["Alba Vip", "Bruno Vip"], tags=["VIP"])
    _add(db, admin, ["Carla Plain"])
    _add(db, colleague, ["Marta's Vip"], tags=["VIP"])  # not on the "My clients" tab
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("f", *"vip", "enter")
        await wait_until(pilot, lambda: _names(app) == ["Alba Vip", "Bruno Vip"])
        await pilot.press("escape", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        what = _text(app, "#export-what")
        assert "My clients" in what and "tag vip" in what
        assert _dialog(app).query_one("#export-path").value.endswith(".csv")
        target = tmp_path / "vip.csv"
        await _export_to(app, pilot, target)
        assert _text(app, "#export-error").strip() == ""
        assert "2 clients written to" in _text(app, "#export-result")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog))
    rows = list(csv.DictReader(target.read_text(encoding="utf-8-sig").splitlines()))
    assert sorted(r["Name"] for r in rows) == ["Alba Vip", "Bruno Vip"]
    assert {r["Tags"] for r in rows} == {"VIP"}


async def test_export_all_clients_to_xlsx(db, admin, make_user, make_app, tmp_path):
    from openpyxl import load_workbook

    colleague = make_user("Manager", name="Marta Manager")
    _add(db, admin, ["Alba One", "Bruno Two"])
    _add(db, colleague, ["Marta's client"])
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("a")
        await wait_until(pilot, lambda: len(_names(app)) == 3)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        assert _text(app, "#export-what").strip() == "All clients"
        assert not app.screen.query_one("#export-progress").display  # no bar before anything runs
        target = tmp_path / "all.xlsx"
        await _export_to(app, pilot, target, "xlsx")
        assert "3 clients written to" in _text(app, "#export-result")
        assert app.screen.query_one("#export-progress").display
        # a folder that does not exist: the error is shown, the dialog stays
        await _export_to(app, pilot, tmp_path / "nowhere" / "x.xlsx", "xlsx")
        assert "does not exist" in _text(app, "#export-error")
        assert isinstance(app.screen, ExportDialog)
    sheet = load_workbook(target).active
    values = list(sheet.iter_rows(values_only=True))
    name = values[0].index("Name")
    assert sorted(row[name] for row in values[1:]) == ["Alba One", "Bruno Two", "Marta's client"]


async def test_an_intern_without_the_export_right_sees_the_error(db, admin, make_user, make_app, tmp_path):
    intern = make_user("Intern", name="Iris Intern")
    _add(db, intern, ["Iris's client"])
    app = make_app(intern, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        target = tmp_path / "iris.csv"
        await _export_to(app, pilot, target)
        error = _text(app, "#export-error")
        assert "Iris Intern lacks the right: Export data" in error and "written to" not in _text(app, "#export-result")
        assert isinstance(app.screen, ExportDialog)  # no crash: the dialog shows it
    assert not target.exists()


async def test_export_only_my_deals_from_the_deals_screen(db, admin, make_user, make_app, tmp_path):
    from .test_deals import SIZE as DEALS_SIZE
    from .test_deals import _client, _deal, _open_deals

    bob = make_user("Manager", name="Bob")
    cid = _client(db, admin)
    _deal(db, admin, cid, title="Alpha", amount="300")
    _deal(db, admin, cid, title="Delta", amount="20")
    _deal(db, bob, cid, title="Bob's deal", amount="1000")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=DEALS_SIZE) as pilot:
        await _open_deals(app, pilot)
        await pilot.press("m")
        await wait_until(pilot, lambda: app.screen.view.query.mine)
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
        assert "only mine" in _text(app, "#export-what")
        target = tmp_path / "deals.csv"
        await _export_to(app, pilot, target)
        assert "2 deals written to" in _text(app, "#export-result")
    rows = list(csv.DictReader(target.read_text(encoding="utf-8-sig").splitlines()))
    assert sorted(r["Title"] for r in rows) == ["Alpha", "Delta"]


def _csv(path, column: str) -> list[str]:
    return sorted(r[column] for r in csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


async def _press_export(app, pilot) -> None:
    await pilot.press("e")
    await wait_until(pilot, lambda: isinstance(app.screen, ExportDialog))
    assert not app.screen.query("#export-warning")  # the whole filter applies: nothing to warn about


async def test_clients_export_applies_custom_fields_and_the_search(db, admin, make_app, tmp_path):
    from tscrm.core.services import contacts

    with db.write() as s:
        contacts.define_custom_field(s, "client", "size", "Size")
    _add(db, admin, ["Alba Large", "Bruno Large"], custom={"size": "L"})
    _add(db, admin, ["Alba Small"], custom={"size": "S"})
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_clients(app, pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: bool(app.screen.query("#flt-custom-size")))
        editor = app.screen.query_one("#flt-custom-size")
        editor.value = "L"
        editor.focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: _names(app) == ["Alba Large", "Bruno Large"])
        await pilot.press("escape", "slash", *"alba", "enter")  # the search, then back to the list
        await wait_until(pilot, lambda: _names(app) == ["Alba Large"])
        await _press_export(app, pilot)
        what = _text(app, "#export-what")
        assert "Size = L" in what and "search: alba" in what
        target = tmp_path / "clients.csv"
        await _export_to(app, pilot, target)
        assert "1 clients written to" in _text(app, "#export-result")
    assert _csv(target, "Name") == ["Alba Large"]


async def test_deals_export_applies_currency_amount_and_client(db, admin, make_app, tmp_path):
    from .test_deals import SIZE as DEALS_SIZE
    from .test_deals import _client, _deal, _open_deals

    from tscrm.core.services import company

    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    cid = _client(db, admin)
    other = _client(db, admin, "Pierre Martin")
    _deal(db, admin, cid, title="Alpha", amount="300")
    _deal(db, admin, cid, title="Small", amount="5")
    _deal(db, admin, cid, title="Dollars", amount="300", currency="USD")
    _deal(db, admin, other, title="Pierre's", amount="300")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=DEALS_SIZE) as pilot:
        await _open_deals(app, pilot)
        await pilot.press("f")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DealFilterDialog")
        dialog = app.screen
        await wait_until(pilot, lambda: len(dialog.users) >= 1)
        for widget_id, value in {"currency": "eur", "amount-min": "100", "amount-max": "1000"}.items():
            dialog.query_one(f"#filter-{widget_id}").value = value
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "DealsScreen")
        app.screen._change(query=replace(app.screen.view.query, client_id=cid, client_name="Lucía Gómez"), offset=0)
        await _press_export(app, pilot)
        what = _text(app, "#export-what")
        assert "currency: EUR" in what and "amount:" in what and "client: Lucía Gómez" in what
        target = tmp_path / "deals.csv"
        await _export_to(app, pilot, target)
        assert "1 deals written to" in _text(app, "#export-result")
    assert _csv(target, "Title") == ["Alpha"]


async def test_leads_export_holds_the_open_leads_of_the_tab(db, admin, make_user, make_app, tmp_path):
    from .test_leads import SIZE as LEADS_SIZE
    from .test_leads import _my_lead, _names as _lead_names, _open_leads, _pool_lead
    from tscrm.core.services import leads

    bob = make_user("Manager", name="Bob")
    _my_lead(db, admin, "Mine One")
    closed = _my_lead(db, admin, "Mine Closed", "+34 612 000 013")
    with db.write() as s:
        leads.close_as_bad(s, admin, closed.id, "spam")
    _my_lead(db, bob, "Bob's lead", "+34 612 000 014")
    _pool_lead(db, admin, "Pool Ada", "+34 612 000 011")
    _pool_lead(db, admin, "Pool Zoe", "+34 612 000 012")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=LEADS_SIZE) as pilot:
        await _open_leads(pilot, app, "pool")
        await wait_until(pilot, lambda: sorted(_lead_names(app)) == ["Pool Ada", "Pool Zoe"])
        await _press_export(app, pilot)
        assert "pool" in _text(app, "#export-what")
        assert "vcf" in [value for _label, value in app.screen.query_one("#export-format")._options]
        pool_file = tmp_path / "pool.csv"
        await _export_to(app, pilot, pool_file)
        assert "2 leads written to" in _text(app, "#export-result")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog))
        await pilot.press("m")
        await wait_until(pilot, lambda: _lead_names(app) == ["Mine One"])
        await _press_export(app, pilot)
        assert _text(app, "#export-what").strip() == "My open leads"
        mine_file = tmp_path / "mine.vcf"
        await _export_to(app, pilot, mine_file, "vcf")
        assert "1 leads written to" in _text(app, "#export-result")
    assert _csv(pool_file, "Name") == ["Pool Ada", "Pool Zoe"]
    text = mine_file.read_text(encoding="utf-8")
    assert text.count("BEGIN:VCARD") == 1 and "FN:Mine One" in text


async def test_calls_export_holds_the_filtered_and_searched_log(db, admin, make_user, make_app, tmp_path):
    from .test_calls import SIZE as CALLS_SIZE
    from .test_calls import _make_log, _open_calls, _shown_ids

    bob = make_user("Manager", name="Bob Agent")
    ids = _make_log(db, admin, bob)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=CALLS_SIZE) as pilot:
        await _open_calls(pilot, app)
        await pilot.press("o")  # outcome: answered
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["bob_lead"], ids["ana_answered"]])
        app.screen.query_one("#calls-search").value = "699 111"  # a number fragment
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["bob_lead"]])
        app.screen.query_one("#calls-table").focus()
        await _press_export(app, pilot)
        what = _text(app, "#export-what")
        assert "outcome: answered" in what and "number: 699 111" in what
        assert "vcf" not in [value for _label, value in app.screen.query_one("#export-format")._options]
        target = tmp_path / "calls.csv"
        await _export_to(app, pilot, target)
        assert "1 calls written to" in _text(app, "#export-result")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ExportDialog))
        app.screen.query_one("#calls-search").value = ""
        await pilot.press("d")  # and inbound: the direction
        await wait_until(pilot, lambda: _shown_ids(app) == [ids["ana_answered"]])
        await _press_export(app, pilot)
        inbound = tmp_path / "inbound.xlsx"
        await _export_to(app, pilot, inbound, "xlsx")
        assert "1 calls written to" in _text(app, "#export-result")
    assert _csv(target, "tscrm ID") == [str(ids["bob_lead"])]
    from openpyxl import load_workbook

    values = list(load_workbook(inbound).active.iter_rows(values_only=True))
    column = values[0].index("tscrm ID")
    assert [row[column] for row in values[1:]] == [ids["ana_answered"]]
