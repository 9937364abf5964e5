"""``tscrm import`` and ``tscrm export`` on the command line: reports, options, exit codes, history, undo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from tscrm.cli.main import app
from tscrm.core.db import Database
from tscrm.core.models import Client, ImportBatch, SavedMapping

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "imports"
runner = CliRunner(env={"COLUMNS": "200"})


def run_cli(url: str, *args: Any, ok: bool = True):
    result = runner.invoke(app, ["--db", url, *map(str, args)])
    if ok:
        assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


@pytest.fixture
def crm(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "cli.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    run_cli(url, "init", "--company", "Acme", "--admin-name", "Ana", "--admin-email", "ana@acme.test", "--extension", "100", "--region", "ES")
    return url


def clients_in(url: str) -> list[Client]:
    db = Database(url)
    with db.read() as s:
        found = list(s.exec(select(Client)))
    db.dispose()
    return found


def test_import_prints_counts_mapping_and_bad_rows(crm):
    out = run_cli(crm, "import", "clients", SAMPLES / "hubspot_contacts_with_errors.csv").stdout
    assert "Imported hubspot_contacts_with_errors.csv (batch 1)" in out
    assert "│ 120  │ 96      │" in out
    assert "Mobile Phone Number → Mobile phone" in out
    assert "│ 5   │ Phone Number │ 12345       │" in out
    assert "… and 4 more rows with errors" in out and "tscrm import undo 1" in out


def test_json_report_lists_every_error(crm):
    report = json.loads(run_cli(crm, "import", "clients", SAMPLES / "hubspot_contacts_with_errors.csv", "--json").stdout)
    assert (report["created"], report["errors"], len(report["error_list"]), report["batch_id"]) == (96, 24, 24, 1)
    assert report["error_list"][1] == {"row": 9, "column": "Phone Number", "value": "+34 abc 123", "reason": report["error_list"][1]["reason"]}


def test_dry_run_and_strict(crm):
    dry = json.loads(run_cli(crm, "import", "clients", SAMPLES / "clientes.xlsx", "--dry-run", "--json").stdout)
    assert dry["created"] == 150 and dry["dry_run"] and dry["batch_id"] is None
    assert clients_in(crm) == []
    strict = run_cli(crm, "import", "clients", SAMPLES / "hubspot_contacts_with_errors.csv", "--strict", ok=False)
    assert strict.exit_code == 2 and "nothing was written" in strict.stdout
    assert clients_in(crm) == []


def test_map_save_mapping_and_reuse(crm, tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Persona;Numero;Notas\nAna;600 000 001;hola\n", encoding="utf-8")
    bad = run_cli(crm, "import", "clients", path, ok=False)
    assert bad.exit_code == 2 and "No column gives the name" in bad.stderr
    report = json.loads(run_cli(crm, "import", "clients", path, "--map", "Persona=name", "--map", "Numero=mobile", "--save-mapping", "odd", "--json").stdout)
    assert report["created"] == 1 and report["mapping"] == {"Persona": "name", "Numero": "mobile", "Notas": "note"}
    assert report["unmapped_columns"] == []
    path2 = tmp_path / "odd2.csv"
    path2.write_text("Persona;Numero\nBea;600 000 002\n", encoding="utf-8")
    assert json.loads(run_cli(crm, "import", "clients", path2, "--mapping", "odd", "--json").stdout)["created"] == 1
    assert "odd" in run_cli(crm, "import", "mappings").stdout
    missing = run_cli(crm, "import", "clients", path2, "--mapping", "nope", ok=False)
    assert missing.exit_code == 3
    unknown = run_cli(crm, "import", "clients", path2, "--map", "Persona=telepathy", ok=False)
    assert unknown.exit_code == 2 and "unknown field" in unknown.stderr


def test_duplicates_options(crm, tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("Name,Phone,Email\nAna,+34600000001,a@x.es\n", encoding="utf-8")
    run_cli(crm, "import", "clients", path)
    again = json.loads(run_cli(crm, "import", "clients", path, "--json").stdout)
    assert (again["created"], again["duplicates"], again["skipped"]) == (0, 1, 1)
    update = tmp_path / "u.csv"
    update.write_text("Name,Phone,Email\nAna Ruiz,+34600000001,\n", encoding="utf-8")
    assert json.loads(run_cli(crm, "import", "clients", update, "--on-duplicate", "update", "--json").stdout)["updated"] == 1
    assert json.loads(run_cli(crm, "import", "clients", path, "--match", "email", "--on-duplicate", "create", "--json").stdout)["created"] == 1
    bad = run_cli(crm, "import", "clients", path, "--match", "fax", ok=False)
    assert bad.exit_code == 2 and "--match" in bad.stderr


def test_history_and_undo(crm):
    run_cli(crm, "import", "clients", SAMPLES / "clientes.xlsx", "--tag", "feria")
    history = run_cli(crm, "import", "history").stdout
    assert "clientes.xlsx" in history and "Ana" in history and "150" in history
    out = run_cli(crm, "import", "undo", "1").stdout
    assert "150 records deleted" in out
    assert clients_in(crm) == []
    again = run_cli(crm, "import", "undo", "1", ok=False)
    assert again.exit_code == 5 and "already undone" in again.stderr
    shown = json.loads(run_cli(crm, "import", "show", "1", "--json").stdout)
    assert shown["status"] == "undone" and shown["undo_report"]["deleted"] == {"client": 150}


def test_leads_into_the_pool(crm):
    report = json.loads(run_cli(crm, "import", "leads", SAMPLES / "zcrm_es_semicolon_bom.csv", "--pool", "--json").stdout)
    assert report["created"] == 300
    from tscrm.core.models import Lead

    with Database(crm).read() as s:
        owners = {lead.owner_id for lead in s.exec(select(Lead))}
    assert owners == {None}


def test_file_problems_are_clean_errors(crm, tmp_path):
    missing = run_cli(crm, "import", "clients", tmp_path / "nope.csv", ok=False)
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    broken = tmp_path / "x.xlsx"
    broken.write_bytes(b"PK\x03\x04nonsense")
    result = run_cli(crm, "import", "clients", broken, ok=False)
    assert result.exit_code == 2 and "not a readable Excel workbook" in result.stderr
    with_sheet = run_cli(crm, "import", "clients", SAMPLES / "clientes.xlsx", "--sheet", "Hoja2", ok=False)
    assert with_sheet.exit_code == 2 and "Clientes" in with_sheet.stderr


def test_an_intern_may_not_import(crm):
    from tscrm.core.services import users

    db = Database(crm)
    with db.write() as s:
        admin = users.resolve_actor(s)
        users.create_user(s, admin, name="Ivan", email="ivan@acme.test", group="Intern", extension="300")
    db.dispose()
    result = runner.invoke(app, ["--db", crm, "--user", "ivan@acme.test", "import", "clients", str(SAMPLES / "clientes.xlsx")])
    assert result.exit_code == 4 and "Import data" in result.stderr
    with Database(crm).read() as s:
        assert s.exec(select(ImportBatch)).all() == [] and s.exec(select(SavedMapping)).all() == []
