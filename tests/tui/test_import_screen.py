"""The import screen driven by the pilot on SQLite and PostgreSQL: sample files with their suggested
mappings, mapping changed from the keyboard, preview, options, dry run, run with progress, cancel,
report of rejected rows, saved mappings, history and undo."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import select

from tscrm.core.imports.mapping import mapping_for
from tscrm.core.imports.pipeline import ImportOptions, run_import
from tscrm.core.imports.reading import TableReader
from tscrm.core.models import (
    Client,
    ClientTag,
    ImportBatch,
    Lead,
    Phone,
    SavedMapping,
    Tag,
)
from tscrm.core.services import clients
from tscrm.i18n import current_language, set_language

from .conftest import wait_until

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "imports"
SIZE = (120, 40)


def _count(db, model, *where) -> int:
    with db.read() as s:
        return len(list(s.exec(select(model).where(*where))))


def _text(widget) -> str:
    return str(widget.render())


def _cells(table, row: int) -> list[str]:
    return [str(c) for c in table.get_row_at(row)]


def _status(screen) -> str:
    return _text(screen.query_one("#import-status"))


async def _open_import(app, pilot, path: Path | None = None, *, section: str = "2"):
    """From Clients (2) or Leads (7), `i`; then the path typed in and Enter."""
    await pilot.press(section)
    await wait_until(pilot, lambda: app.current_mode == ("clients" if section == "2" else "leads"))
    await pilot.pause(0.1)
    await pilot.press("i")
    await wait_until(pilot, lambda: type(app.screen).__name__ == "ImportScreen")
    screen = app.screen
    if path is not None:
        screen.query_one("#import-file").value = str(path)
        screen.query_one("#import-file").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.loaded is not None and bool(screen.preview_rows))
    return screen


async def _run(pilot, screen, key: str = "f5"):
    await pilot.press(key)
    await wait_until(pilot, lambda: not screen.running and screen.report is not None, timeout=30)
    return screen.report


async def test_xlsx_from_the_clients_screen_with_suggested_mapping_preview_and_report(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_import(app, pilot, SAMPLES / "clientes.xlsx")
        assert screen.settings.entity == "client"
        info = _text(screen.query_one("#import-info"))
        assert "clientes.xlsx" in info and "XLSX" in info
        table = screen.query_one("#import-mapping")
        rows = {(_cells(table, i)[0]): _cells(table, i)[2] for i in range(table.row_count)}
        assert rows == {
            "Nombre": "→ First name", "Apellidos": "→ Last name", "Teléfono": "→ Work phone", "Email": "→ Email",
            "Empresa": "→ Company", "Etiquetas": "→ Tags",
        }
        assert "@" in _cells(table, 3)[1]  # sample values beside the column
        # the preview: the first rows exactly as they will be stored
        preview = screen.query_one("#import-preview")
        first = screen.preview_rows[0].record
        assert preview.row_count == 10
        cells = _cells(preview, 0)
        numbers = [e for _k, e in first.phones]
        assert cells[2] == first.name and " " in first.name and cells[1] == "new"
        assert cells[4] == numbers[0] + (f" +{len(numbers) - 1}" if len(numbers) > 1 else "") and numbers[0].startswith("+")
        assert cells[5] == ", ".join(first.emails) == cells[5].lower()
        detail = _text(screen.query_one("#import-preview-detail"))
        assert detail.startswith(f"Row {screen.preview_rows[0].row}: ") and all(f"{n} (work)" in detail for n in numbers)
        report = await _run(pilot, screen)
        assert (report.created, report.error_rows, report.phones) == (150, 0, 234)
        summary = _text(screen.query_one("#import-summary"))
        assert "Imported clientes.xlsx (batch" in summary and "Created: 150" in summary and "Errors: 0" in summary
        assert not screen.query_one("#import-errors").display
        await pilot.press("escape")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ClientsScreen")
    assert _count(db, Client) == 150 and _count(db, Phone) == 234


async def test_odd_encoding_csv_mapping_changed_by_keyboard(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_import(app, pilot, SAMPLES / "export_fr_cp1252.csv")
        assert "encoding cp1252" in _text(screen.query_one("#import-info"))
        assert screen.mapping["Ville"] == "city" and screen.mapping["Société"] == "company_name"
        table = screen.query_one("#import-mapping")
        table.focus()
        # Société: delete leaves it out; the preview follows
        table.move_cursor(row=screen.loaded.headers.index("Société"))
        await pilot.press("delete")
        await wait_until(pilot, lambda: screen.mapping["Société"] == "" and all(r.record.company_name is None for r in screen.preview_rows))
        assert _cells(table, table.cursor_row)[2] == "(not imported)"
        assert "Not imported: Société" in _text(screen.query_one("#import-unmapped"))
        # space takes the next field, ← goes back
        await pilot.press("space")
        await wait_until(pilot, lambda: screen.mapping["Société"] == "name")
        await pilot.press("left")
        await wait_until(pilot, lambda: screen.mapping["Société"] == "")
        # Ville: enter opens the list of fields; pick "Tags"
        table.move_cursor(row=screen.loaded.headers.index("Ville"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ChoiceDialog")
        for _ in range(screen.loaded.choices.index("tags") + 1):  # the first line is "(not imported)"
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen and screen.mapping["Ville"] == "tags")
        await wait_until(pilot, lambda: screen.preview_rows and screen.preview_rows[0].record.tags != [])
        city = screen.loaded.rows[0].cells[screen.loaded.headers.index("Ville")]
        assert _cells(screen.query_one("#import-preview"), 0)[6] == city
        report = await _run(pilot, screen)
        assert (report.created, report.error_rows, report.phones) == (200, 0, 281)
        try:  # a language switch rebuilds the screen with what it holds
            await pilot.press("ctrl+l")
            await wait_until(pilot, lambda: current_language() == "es" and screen.query_one("#import-mapping").row_count == 7)
            assert "200" in _text(screen.query_one("#import-summary")) and screen.mapping["Ville"] == "tags"
        finally:
            set_language("en")
    assert _count(db, Client) == 200 and _count(db, Client, Client.company_name.is_not(None)) == 0  # type: ignore[union-attr]
    with db.read() as s:
        assert s.exec(select(Tag).where(Tag.name == city)).one()
        assert _count(db, ClientTag) == 200


async def test_rejected_rows_dry_run_strict_and_duplicates(db, admin, make_app):
    with db.write() as s:
        clients.create_client(s, admin, clients.new_contact("Known", ["+34 600 000 001"]))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_import(app, pilot, SAMPLES / "hubspot_contacts_with_errors.csv")
        rejected = [r for r in screen.preview_rows if r.record is None]
        assert rejected and "✗ Phone Number" in _cells(screen.query_one("#import-preview"), screen.preview_rows.index(rejected[0]))[1]
        # dry run: the same report, nothing written
        report = await _run(pilot, screen, "f6")
        assert report.dry_run and (report.created, report.error_rows) == (96, 24)
        assert "Dry run of hubspot_contacts_with_errors.csv: nothing was written" in _text(screen.query_one("#import-summary"))
        assert _count(db, Client) == 1
        errors = screen.query_one("#import-errors")
        assert errors.display and errors.row_count == 24
        row, column, value, reason = _cells(errors, 0)
        assert (row, column, value) == ("5", "Phone Number", "12345") and "international format" in reason
        # strict: all or nothing
        options = screen.query_one("#import-options")
        options.focus()
        options.highlighted = 3
        await pilot.press("enter")
        assert screen.settings.strict == "yes" and "all or nothing" in str(options.get_option_at_index(3).prompt)
        report = await _run(pilot, screen)
        assert report.status == "rejected" and "nothing was written" in _status(screen)
        assert _count(db, Client) == 1
        # back to skipping bad rows, duplicates updated
        await pilot.press("right")
        options.highlighted = 2
        await pilot.press("right")
        assert (screen.settings.strict, screen.settings.on_duplicate) == ("no", "update")
        report = await _run(pilot, screen)
        assert (report.created, report.error_rows) == (96, 24) and report.written
    assert _count(db, Client) == 97
    with db.read() as s:
        assert s.exec(select(ImportBatch.status).order_by(ImportBatch.id)).all() == ["rejected", "done"]


async def test_leads_into_the_pool_and_a_saved_mapping(db, admin, make_app):
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_import(app, pilot, SAMPLES / "zcrm_es_semicolon_bom.csv", section="7")
        assert screen.settings.entity == "lead"
        assert "encoding utf-8-sig" in _text(screen.query_one("#import-info"))
        table = screen.query_one("#import-mapping")
        table.focus()
        table.move_cursor(row=screen.loaded.headers.index("Ciudad"))
        await pilot.press("delete")
        await wait_until(pilot, lambda: screen.mapping["Ciudad"] == "")
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "TextDialog")
        await pilot.press(*"zcrm")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen and screen.settings.saved == "zcrm")
        with db.read() as s:
            saved = s.exec(select(SavedMapping)).one()
            assert (saved.entity, saved.columns["Ciudad"], saved.columns["Número de teléfono"]) == ("lead", "", "phone")
        # into the pool; under Mapping: back to the suggestions, then the saved mapping again
        options = screen.query_one("#import-options")
        options.focus()
        options.highlighted = 0
        await pilot.press("space")
        await wait_until(pilot, lambda: screen.settings.entity == "pool")
        options.highlighted = 6
        await pilot.press("left")
        await wait_until(pilot, lambda: screen.settings.saved == "" and screen.mapping.get("Ciudad") == "city")
        assert "suggested" in str(options.get_option_at_index(6).prompt)
        await pilot.press("right")
        await wait_until(pilot, lambda: screen.settings.saved == "zcrm" and screen.mapping.get("Ciudad") == "")
        assert "Mapping: zcrm" in str(options.get_option_at_index(6).prompt)
        report = await _run(pilot, screen)
        assert (report.created, report.error_rows) == (300, 0)
    assert _count(db, Lead, Lead.owner_id.is_(None)) == 300  # type: ignore[union-attr]
    assert _count(db, Lead, Lead.address.is_not(None)) == 0  # type: ignore[union-attr]


async def test_cancel_while_importing_keeps_nothing(db, admin, make_app, tmp_path):
    path = tmp_path / "big.csv"
    lines = ["Name,Phone"] + [f"Person {i},+34 6{i:08d}" for i in range(40_000)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_import(app, pilot, path)
        gate = asyncio.Event()  # the import waits at its first progress report until ctrl+x is pressed
        shown = screen._progress

        async def held(*args) -> None:
            shown(*args)
            await gate.wait()

        screen._progress = held
        await pilot.press("f5")
        await wait_until(pilot, lambda: screen.running and "rows/s" in _text(screen.query_one("#import-progress-label")))
        assert not screen.query_one("#import-run").has_class("hidden")
        await pilot.press("ctrl+x")
        assert screen.cancel_event.is_set()
        gate.set()
        await wait_until(pilot, lambda: not screen.running, timeout=60)
        assert screen.report is None and "Import cancelled: nothing was written." in _status(screen)
        assert screen.query_one("#import-run").has_class("hidden")
    assert _count(db, Client) == 0
    with db.read() as s:
        assert s.exec(select(ImportBatch.status)).all() == ["cancelled"]


def _import(db, actor, path: Path):
    with TableReader(path) as reader:
        return run_import(db, actor, reader, mapping_for(reader.headers, "client"), ImportOptions())


async def test_history_and_undo_with_records_edited_since(db, admin, make_app):
    report = _import(db, admin, SAMPLES / "zcrm_es_semicolon_bom.csv")
    with db.write() as s:
        edited = s.exec(select(Client).order_by(Client.id)).first()
        clients.update_client(s, admin, edited.id, position="Boss")
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        app.action_import_history()
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ImportHistoryScreen" and bool(app.screen.rows))
        screen = app.screen
        table = screen.query_one("#history-table")
        cells = _cells(table, 0)
        assert cells[0] == str(report.batch_id) and cells[2] == "Ana Admin" and cells[4] == "zcrm_es_semicolon_bom.csv"
        assert (cells[5], cells[7]) == ("done", "300")
        await pilot.press("u")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog")
        assert "Cancel import" in _text(app.screen.query_one(".dialog-title"))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen and "undone" in _text(screen.query_one("#history-status")))
        assert "299 records deleted" in _text(screen.query_one("#history-status"))
        await wait_until(pilot, lambda: screen.rows and screen.rows[0]["status"] == "undone")
        detail = _text(screen.query_one("#history-detail"))
        assert "Edited since the import, left as they are (1)" in detail and edited.name in detail
        assert _cells(table, 0)[5] == "undone"
        await pilot.press("u")  # an undone import cannot be undone again: the key does nothing
        await pilot.pause(0.1)
        assert app.screen is screen
    assert _count(db, Client) == 1


async def test_file_picker_and_the_command_palette(db, admin, make_app, monkeypatch):
    monkeypatch.chdir(SAMPLES)
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Import clients or leads" in titles and "Import history" in titles
        app.action_open_import()
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ImportScreen")
        screen = app.screen
        assert "F3 to browse" in _status(screen)
        await pilot.press("f3")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "FilePicker")
        tree = app.screen.query_one("#import-tree")
        await wait_until(pilot, lambda: len(tree.root.children) > 0)
        names = [node.data.path.name for node in tree.root.children]
        assert "clientes.xlsx" in names and "espocrm_contacts.csv" in names
        assert "expected.json" not in names and "README.md" not in names  # only what an import reads
        tree.move_cursor(next(n for n in tree.root.children if n.data.path.name == "clientes.xlsx"))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen and screen.loaded is not None and bool(screen.preview_rows))
        assert screen.loaded.info.sheet and screen.query_one("#import-file").value == str(SAMPLES / "clientes.xlsx")
        # a file that cannot be read says why, and nothing runs
        screen.query_one("#import-file").value = "missing.csv"
        screen.query_one("#import-file").focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: "no such file" in _status(screen))
        assert screen.loaded is None
        await pilot.press("f5")
        await pilot.pause(0.1)
        assert not screen.running and screen.report is None


async def test_sheet_and_encoding_options_read_the_file_again(db, admin, make_app, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    first.title = "Notas"
    first.append(["Comentario"])
    first.append(["nada"])
    second = book.create_sheet("Clientes")
    second.append(["Nombre", "Móvil"])
    second.append(["Ana Ruiz", "+34 612 345 678"])
    book.save(tmp_path / "two.xlsx")
    (tmp_path / "latin.csv").write_bytes("Nom;Ville\nZoé Dupont;Évry\n".encode("cp1252"))
    app = make_app(admin, watch_changes=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_import(app, pilot)
        screen.open_path(str(tmp_path / "two.xlsx"))
        await wait_until(pilot, lambda: screen.loaded is not None and screen.loaded.headers == ["Comentario"])
        await wait_until(pilot, lambda: "No column gives the name" in _status(screen))  # the first sheet has none
        await pilot.press("f5")
        await pilot.pause(0.1)
        assert not screen.running and screen.report is None
        options = screen.query_one("#import-options")
        options.focus()
        options.highlighted = 5  # Sheet
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.loaded.info.sheet == "Clientes" and bool(screen.preview_rows))
        assert screen.mapping == {"Nombre": "name", "Móvil": "mobile"}
        assert screen.preview_rows[0].record.phones == [("mobile", "+34612345678")]
        assert "Sheet: Clientes" in str(options.get_option_at_index(5).prompt)
        # a CSV read with another encoding than the one detected
        screen.open_path(str(tmp_path / "latin.csv"))
        await wait_until(pilot, lambda: screen.loaded is not None and screen.loaded.info.kind == "csv" and bool(screen.preview_rows))
        assert screen.preview_rows[0].record.name == "Zoé Dupont"
        assert "Encoding: detected (cp1252)" in str(options.get_option_at_index(4).prompt)
        options.focus()  # opening a file put the focus on the mapping
        options.highlighted = 4
        await pilot.press("enter")  # utf-8: the bytes are not UTF-8, the row says so
        await wait_until(pilot, lambda: screen.settings.encoding == "utf-8" and screen.loaded.info.encoding == "utf-8")
        await wait_until(pilot, lambda: screen.preview_rows and screen.preview_rows[0].record is None)
        assert "not valid utf-8" in screen.preview_rows[0].errors[0].reason
