"""Exports: CSV, Excel and vCard files of clients, leads, deals and calls; formulas neutralised; and an
export imported again gives the same records back."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tscrm.core.errors import PermissionDenied, ValidationError
from tscrm.core.exports import ExportFilter, export
from tscrm.core.imports.mapping import mapping_for
from tscrm.core.imports.pipeline import ImportOptions, run_import
from tscrm.core.imports.reading import TableReader
from tscrm.core.models import Client, CustomFieldType, Lead, PhoneKind
from tscrm.core.services import calls, clients, contacts, deals, leads
from tscrm.core.services.contacts import ContactInput, PhoneInput

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "imports"


def seed(db, admin, bob=None):
    with db.write() as s:
        contacts.define_custom_field(s, "client", "vat_number", "VAT number")
        contacts.define_custom_field(s, "client", "size", "Size", CustomFieldType.CHOICE, ["S", "L"])
        ana = clients.create_client(
            s, admin,
            ContactInput(
                name="Ana Ruiz", company_name="=HYPERLINK(\"http://evil\",\"x\")", position="CEO", address="Calle Mayor 1, Madrid",
                phones=[PhoneInput("+34 612 345 678"), PhoneInput("+34 699 000 111", PhoneKind.MOBILE), PhoneInput("+34 612 000 222")],
                emails=["ana@ruiz.es", "ana2@ruiz.es"], tags=["VIP", "b2b"], source="Feria",
                custom={"vat_number": "ESB123", "size": "L"},
            ),
            external_ref="crm-1",
        )
        other = clients.create_client(s, admin, ContactInput(name="-Minus; Sign", phones=[PhoneInput("+33 6 12 34 56 78", PhoneKind.HOME)]))
        if bob is not None:
            clients.create_client(s, admin, ContactInput(name="Bob's client", emails=["b@x.es"]), owner_id=bob.id)
        deals.create_deal(s, admin, client_id=ana.id, title="Big one", amount="1200.50")
        leads.create_lead(s, admin, ContactInput(name="Pool lead", phones=[PhoneInput("+34 600 000 009")]), to_pool=True, utm={"utm_source": "google"})
        calls.log_call(
            s, admin, direction="outbound", their_number="+34 612 345 678", agent_id=admin.id,
            started_at=datetime(2026, 3, 1, 10, 0, tzinfo=UTC), answered_at=datetime(2026, 3, 1, 10, 0, 5, tzinfo=UTC),
            ended_at=datetime(2026, 3, 1, 10, 2, 5, tzinfo=UTC), external_id="out_1",
        )
    return ana.id, other.id


def snapshot(db, entity="client"):
    """Every record's data, as comparable values (ids and times aside)."""
    model = Client if entity == "client" else Lead
    out = {}
    with db.read() as s:
        for row in s.exec(select(model)):
            view = contacts.view(s, entity, row.id)
            out[row.name] = (
                row.company_name, row.position, row.address, sorted(view.phones), sorted(view.emails), sorted(view.tags),
                contacts.source_name(s, row.source_id), row.owner_id, row.custom, row.external_ref,
            )
    return out


def reimport(db, actor, path: Path, entity="client", **options):
    with TableReader(path) as reader:
        with db.read() as s:
            custom = contacts.custom_fields(s, entity)
        mapping = mapping_for(reader.headers, entity, custom)
        return run_import(db, actor, reader, mapping, ImportOptions(entity=entity, **options)), mapping


def test_csv_export_neutralises_formulas_and_keeps_every_value(db, admin, tmp_path):
    seed(db, admin)
    path = tmp_path / "clients.csv"
    with db.read() as s:
        report = export(s, admin, "clients", "csv", path)
    assert report.rows == 2
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    ana = next(r for r in rows if r["Name"] == "Ana Ruiz")
    assert ana["Company"] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert ana["Work phone"] == "'+34612345678, +34612000222" and ana["Mobile phone"] == "'+34699000111"
    assert ana["Email"] == "ana@ruiz.es, ana2@ruiz.es" and ana["Tags"] == "b2b, VIP"
    assert (ana["VAT number"], ana["Size"], ana["Responsible"], ana["Source"], ana["External id"]) == ("ESB123", "L", "ana@acme.test", "Feria", "crm-1")
    minus = next(r for r in rows if r["Home phone"])
    assert minus["Name"] == "'-Minus; Sign"
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_gives_the_same_clients(db, admin, tmp_path, fmt):
    seed(db, admin)
    before = snapshot(db)
    path = tmp_path / f"clients.{fmt}"
    with db.read() as s:
        export(s, admin, "clients", fmt, path)
    with db.write() as s:
        for client_id in s.exec(select(Client.id)).all():
            clients.delete_client(s, admin, client_id)
    report, _mapping = reimport(db, admin, path)
    assert report.created == 2 and report.error_rows == 0
    assert set(report.unmapped) == {"tscrm ID", "Created"}
    assert snapshot(db) == before


def test_leads_round_trip_and_pool_filter(db, admin, tmp_path):
    seed(db, admin)
    path = tmp_path / "leads.csv"
    with db.read() as s:
        assert export(s, admin, "leads", "csv", path, ExportFilter(lead_scope="pool")).rows == 1
    with open(path, encoding="utf-8-sig", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert (row["Name"], row["Status"], row["UTM source"], row["Responsible"]) == ("Pool lead", "unprocessed", "google", "")
    with db.write() as s:
        from tscrm.core import search

        lead = s.exec(select(Lead)).one()
        search.remove(s, "lead", lead.id)
        s.delete(lead)
    report, _mapping = reimport(db, admin, path, entity="lead", to_pool=True)
    assert report.created == 1
    with db.read() as s:
        lead = s.exec(select(Lead)).one()
        assert (lead.name, lead.utm_source, lead.owner_id) == ("Pool lead", "google", None)


def test_xlsx_cells_are_text_not_formulas(db, admin, tmp_path):
    from openpyxl import load_workbook

    seed(db, admin)
    path = tmp_path / "clients.xlsx"
    with db.read() as s:
        export(s, admin, "clients", "xlsx", path)
    sheet = load_workbook(path).active
    values = {cell.value: cell.data_type for row in sheet.iter_rows() for cell in row if cell.value}
    assert values["=HYPERLINK(\"http://evil\",\"x\")"] == "s"
    assert values["+34699000111"] == "s"


def test_vcards(db, admin, tmp_path):
    ana_id, _other = seed(db, admin)
    path = tmp_path / "clients.vcf"
    with db.read() as s:
        assert export(s, admin, "clients", "vcf", path).rows == 2
    text = path.read_bytes().decode("utf-8")
    assert text.count("BEGIN:VCARD") == 2 and text.count("\r\n") == text.count("\n")
    assert f"UID:tscrm-client-{ana_id}" in text
    assert "TEL;TYPE=WORK,VOICE:+34612345678" in text and "TEL;TYPE=CELL:+34699000111" in text
    assert "EMAIL;TYPE=INTERNET:ana2@ruiz.es" in text and "CATEGORIES:b2b,VIP" in text
    assert "FN:-Minus\\; Sign" in text
    with db.read() as s, pytest.raises(ValidationError, match="vcf"):
        export(s, admin, "deals", "vcf", tmp_path / "d.vcf")


def test_deals_and_calls(db, admin, tmp_path):
    seed(db, admin)
    with db.read() as s:
        export(s, admin, "deals", "csv", tmp_path / "deals.csv")
        export(s, admin, "calls", "csv", tmp_path / "calls.csv")
    with open(tmp_path / "deals.csv", encoding="utf-8-sig", newline="") as handle:
        [deal] = list(csv.DictReader(handle))
    assert (deal["Title"], deal["Client"], deal["Amount"], deal["Currency"], deal["Status"]) == ("Big one", "Ana Ruiz", "1200.50", "EUR", "new")
    with open(tmp_path / "calls.csv", encoding="utf-8-sig", newline="") as handle:
        [call] = list(csv.DictReader(handle))
    assert (call["Direction"], call["Their number"], call["Duration (s)"], call["External id"]) == ("outbound", "'+34612345678", "120", "out_1")
    assert call["Started"] == "2026-03-01T11:00:00+01:00"  # in the user's time zone


def test_filters_and_rights(db, admin, make_user, tmp_path):
    bob = make_user("Manager", name="Bob", email="bob@acme.test")
    seed(db, admin, bob)
    with db.read() as s:
        assert export(s, admin, "clients", "csv", tmp_path / "a.csv", ExportFilter(tags=["vip"])).rows == 1
        assert export(s, admin, "clients", "csv", tmp_path / "b.csv", ExportFilter(owner_id=bob.id)).rows == 1
        since = datetime.now(UTC) + timedelta(days=1)
        assert export(s, admin, "clients", "csv", tmp_path / "c.csv", ExportFilter(created_from=since)).rows == 0
    intern = make_user("Intern")
    with db.read() as s, pytest.raises(PermissionDenied):
        export(s, intern, "clients", "csv", tmp_path / "d.csv")


def test_the_command_line_export(tmp_path, sqlite_template):
    import json
    import shutil

    from test_import_cli import run_cli

    path = tmp_path / "e.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    run_cli(url, "init", "--company", "Acme", "--admin-name", "Ana", "--admin-email", "ana@acme.test", "--extension", "100")
    run_cli(url, "import", "clients", SAMPLES / "zcrm_es_semicolon_bom.csv")
    out = json.loads(run_cli(url, "export", "clients", "-o", tmp_path / "vip.xlsx", "--tag", "vip", "--json").stdout)
    assert out["format"] == "xlsx" and 0 < out["rows"] < 300
    assert "written to" in run_cli(url, "export", "clients", "-o", tmp_path / "all.vcf").stdout
    bad = run_cli(url, "export", "leads", "-o", tmp_path / "l.csv", "--status", "sleeping", ok=False)
    assert bad.exit_code == 2 and "--status" in bad.stderr
    again = json.loads(run_cli(url, "import", "clients", tmp_path / "vip.xlsx", "--dry-run", "--json").stdout)
    assert again["duplicates"] == out["rows"] and again["created"] == 0
