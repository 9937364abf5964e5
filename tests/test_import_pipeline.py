"""Imports of clients and leads, on SQLite and PostgreSQL: the sample files, duplicates, dry run,
strict mode, records indistinguishable from the services' own, history and undo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from tscrm.core import search
from tscrm.core.errors import Conflict, PermissionDenied, ValidationError
from tscrm.core.imports.mapping import mapping_for
from tscrm.core.imports.pipeline import (
    ImportOptions,
    list_batches,
    run_import,
    undo_batch,
)
from tscrm.core.imports.reading import TableReader
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Client,
    ClientTag,
    Email,
    ImportBatch,
    ImportRecord,
    Lead,
    LeadStatus,
    Phone,
    SearchEntry,
    SourceLabel,
    Tag,
)
from tscrm.core.services import clients, contacts
from tscrm.core.services.clients import new_contact

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "imports"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding, newline="")
    return path


def do_import(db, actor, path: Path, entity: str = "client", *, overrides: dict | None = None, **options):
    with TableReader(path) as reader:
        with db.read() as s:
            custom = contacts.custom_fields(s, entity)
        mapping = mapping_for(reader.headers, entity, custom, overrides=overrides)
        return run_import(db, actor, reader, mapping, ImportOptions(entity=entity, **options))


def fail_on_flush(monkeypatch, on_call: int) -> None:
    """The importer's ``on_call``-th write of created records fails, as a full disk would make it."""
    from tscrm.core.imports import store

    calls = {"n": 0}
    original = store.ContactStore.flush

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == on_call:
            raise RuntimeError("disk full")
        original(self)

    monkeypatch.setattr(store.ContactStore, "flush", flaky)


def count(db, model, *where) -> int:
    with db.read() as s:
        return len(list(s.exec(select(model).where(*where))))


# --- the sample files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_file_imports_with_the_expected_counts(db, admin, name):
    report = do_import(db, admin, SAMPLES / name)
    expected = EXPECTED[name]
    assert (report.created, report.error_rows) == (expected["imported"], expected["rejected"])
    assert report.unmapped == [] or report.unmapped == ["Description"] or "Description" not in report.mapping
    assert count(db, Client) == expected["imported"]
    if expected["phones"] is not None:
        assert count(db, Phone) == expected["phones"] == report.phones
    with db.read() as s:
        batch = s.get(ImportBatch, report.batch_id)
        assert (batch.status, batch.created, batch.errors, batch.file_name) == ("done", expected["imported"], expected["rejected"], name)


def test_rejected_rows_name_row_column_value_and_reason(db, admin):
    report = do_import(db, admin, SAMPLES / "hubspot_contacts_with_errors.csv")
    first = report.errors[0]
    assert (first.row, first.column, first.value) == (5, "Phone Number", "12345")
    assert "international format" in first.reason
    assert {e.value for e in report.errors} == {"12345", "+34 abc 123"}
    # the formula-looking company name is imported as text
    with db.read() as s:
        assert s.exec(select(Client.company_name).where(col(Client.company_name).startswith("=HYPERLINK"))).one()


def test_names_tags_cities_and_multi_value_cells(db, admin):
    do_import(db, admin, SAMPLES / "clientes.xlsx")
    with db.read() as s:
        client = s.exec(select(Client).where(Client.name == "Javier Sánchez")).one()
        view = contacts.view(s, "client", client.id)
        assert view.phones == [("work", "+34675793834"), ("work", "+34601746814"), ("work", "+34638401916")]
        assert view.emails == ["javier.snchez1@example.es"]
        assert view.tags == ["prospect"]
        assert client.company_name == "Boulangerie Moreau"
    do_import(db, admin, SAMPLES / "export_fr_cp1252.csv")
    with db.read() as s:
        client_id = s.exec(select(Email.client_id).where(Email.address == "igo.ruiz1@example.es")).one()
        client = s.get(Client, client_id)
        assert client.name == "Íñigo Ruiz"  # Prénom + Nom
        view = contacts.view(s, "client", client.id)
        assert view.phones == [("work", "+34623012891"), ("mobile", "+34614336143")]
        assert client.address == "Lyon"


def test_imported_client_is_indistinguishable_from_a_service_created_one(db, admin, tmp_path):
    with db.write() as s:
        made = clients.create_client(
            s, admin,
            contacts.ContactInput(name="Lucía Gómez", company_name="Frutas S.L.", phones=[contacts.PhoneInput("+34 612 345 678")],
                                  emails=["Lucia@Frutas.ES"], tags=["VIP", "b2b"], source="Feria"),
        )
    path = write_csv(tmp_path / "one.csv", "Nombre;Empresa;Teléfono;Email;Etiquetas;Origen\nLucía Gómez;Frutas S.L.;+34 612 345 679;Lucia2@Frutas.ES;VIP, b2b;Feria\n")
    report = do_import(db, admin, path)
    assert report.created == 1
    with db.read() as s:
        imported = s.exec(select(Client).where(Client.id != made.id)).one()
        a, b = contacts.view(s, "client", made.id), contacts.view(s, "client", imported.id)
        assert (b.tags, b.emails) == (a.tags, ["lucia2@frutas.es"])
        assert s.exec(select(Phone.rdigits).where(Phone.client_id == imported.id)).one() == "97654321643"
        for field in ("name", "company_name", "owner_id", "created_by_id", "source_id", "custom"):
            assert getattr(imported, field) == getattr(made, field), field
        assert imported.created_at == imported.updated_at
        [created] = s.exec(select(Activity).where(Activity.client_id == imported.id)).all()
        assert (created.kind, created.text, created.author_id) == (ActivityKind.CREATED, "Client created", admin.id)
        entry = s.exec(select(SearchEntry).where(SearchEntry.kind == "client", SearchEntry.ref_id == imported.id)).one()
        mine = s.exec(select(SearchEntry).where(SearchEntry.kind == "client", SearchEntry.ref_id == made.id)).one()
        assert (entry.owner_id, entry.name, entry.name_key) == (mine.owner_id, mine.name, mine.name_key)
        assert entry.digits == "34612345679" and "lucia2" in entry.text and "b2b" in entry.text
        # what the service would index for it is what the import stored
        search.index_client(s, imported)
        s.flush()
        again = s.exec(select(SearchEntry).where(SearchEntry.kind == "client", SearchEntry.ref_id == imported.id)).one()
        assert (again.text, again.digits) == (entry.text, entry.digits)
        imported_id = imported.id
        s.rollback()
    with db.read() as s:
        hits = search.search(s, admin, "34612345679").hits
        assert [h.id for h in hits] == [imported_id]
        assert {h.id for h in search.search(s, admin, "lucía gómez").hits} == {made.id, imported_id}


# --- duplicates -------------------------------------------------------------------------------


def test_duplicates_against_existing_and_within_the_file(db, admin, tmp_path):
    with db.write() as s:
        clients.create_client(s, admin, new_contact("Existing", ["+34 600 000 001"], ["old@x.es"]))
    path = write_csv(
        tmp_path / "dups.csv",
        "Name,Phone,Email\n"
        "A,+34600000001,a@x.es\n"  # phone of the existing client
        "B,+34600000002,old@x.es\n"  # email of the existing client
        "C,+34600000003,c@x.es\n"
        "C again,0034 600 000 003,\n"  # phone of row 4, written differently
        "D,,C@X.ES\n",  # email of row 4, other case
    )
    report = do_import(db, admin, path)
    assert (report.created, report.duplicates, report.skipped, report.updated) == (1, 4, 4, 0)
    assert count(db, Client) == 2

    path2 = write_csv(tmp_path / "dups2.csv", "Name,Phone,Email\nX,+34600000009,old@x.es\n")
    report = do_import(db, admin, path2, match=("phone",))
    assert (report.created, report.duplicates) == (1, 0)  # the email no longer counts


def test_on_duplicate_create_and_update(db, admin, tmp_path):
    with db.write() as s:
        existing = clients.create_client(
            s, admin, new_contact("Old Name", ["+34 600 000 001"], ["old@x.es"], company_name="Old Co", tags=["keep"])
        )
    path = write_csv(tmp_path / "u.csv", "Name,Company,Phone,Email,Tags\nNew Name,,+34600000001,new@x.es,fresh\n")
    report = do_import(db, admin, path, on_duplicate="create")
    assert (report.created, report.duplicates) == (1, 1)
    # matched by email to the copy just created, which already holds all of it: nothing to update
    report = do_import(db, admin, path, on_duplicate="update", match=("email",))
    assert (report.duplicates, report.updated, report.skipped, report.created) == (1, 0, 1, 0)
    with db.write() as s:
        for c in s.exec(select(Client).where(Client.id != existing.id)):
            clients.delete_client(s, admin, c.id)
    report = do_import(db, admin, path, on_duplicate="update")
    assert (report.updated, report.created, report.duplicates) == (1, 0, 1)
    with db.read() as s:
        row = s.get(Client, existing.id)
        view = contacts.view(s, "client", existing.id)
        assert (row.name, row.company_name) == ("New Name", "Old Co")  # empty cells change nothing
        assert view.emails == ["old@x.es", "new@x.es"]
        assert view.tags == ["fresh", "keep"]
        kinds = [a.kind for a in s.exec(select(Activity).where(Activity.client_id == existing.id).order_by(col(Activity.id)))]
        assert kinds == [ActivityKind.CREATED, ActivityKind.EDITED]
        entry = s.exec(select(SearchEntry).where(SearchEntry.ref_id == existing.id, SearchEntry.kind == "client")).one()
        assert entry.name_key == "new name" and "fresh" in entry.text


# --- dry run, strict, one transaction ----------------------------------------------------------


def test_dry_run_reports_the_same_and_writes_nothing(db, admin):
    dry = do_import(db, admin, SAMPLES / "hubspot_contacts_with_errors.csv", dry_run=True)
    assert count(db, Client) == 0 and count(db, ImportBatch) == 0 and count(db, Tag) == 0
    real = do_import(db, admin, SAMPLES / "hubspot_contacts_with_errors.csv")
    assert (dry.created, dry.error_rows, dry.phones, dry.duplicates) == (real.created, real.error_rows, real.phones, real.duplicates)
    assert [e.as_dict() for e in dry.errors] == [e.as_dict() for e in real.errors]
    assert dry.batch_id is None and not dry.written and real.written


def test_strict_writes_nothing_when_a_row_is_bad(db, admin):
    report = do_import(db, admin, SAMPLES / "hubspot_contacts_with_errors.csv", strict=True)
    assert report.status == "rejected" and not report.written and report.error_rows == 24
    assert count(db, Client) == 0 and count(db, Phone) == 0 and count(db, SearchEntry) == 0
    [batch] = list_batches_of(db, admin)
    assert (batch.status, batch.errors) == ("rejected", 24)
    ok = do_import(db, admin, SAMPLES / "zcrm_es_semicolon_bom.csv", strict=True)
    assert ok.written and ok.created == 300


def list_batches_of(db, actor):
    with db.read() as s:
        return list_batches(s, actor)


def test_a_failure_midway_leaves_nothing(db, admin, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "many.csv", "Name,Phone\n" + "".join(f"P{i},+346{i:08d}\n" for i in range(1200)))
    fail_on_flush(monkeypatch, 2)
    with pytest.raises(RuntimeError):
        do_import(db, admin, path, chunk_size=500)
    assert count(db, Client) == 0 and count(db, SearchEntry) == 0 and count(db, Activity) == 0
    [batch] = list_batches_of(db, admin)
    assert batch.status == "failed" and "disk full" in batch.message


def test_only_users_with_the_import_right_import(db, admin, make_user, tmp_path):
    intern = make_user("Intern")
    with pytest.raises(PermissionDenied):
        do_import(db, intern, SAMPLES / "clientes.xlsx")


# --- owners, leads, options -------------------------------------------------------------------


def test_owner_column_region_column_source_and_extra_tags(db, admin, make_user, tmp_path):
    bob = make_user("Manager", name="Bob", email="bob@acme.test")
    path = write_csv(
        tmp_path / "o.csv",
        "Name,Phone,Country,Owner\nA,0612345678,France,bob@acme.test\nB,612345678,ES,200\nC,0612345678,,\nD,+34600000001,,nobody@x.y\n",
    )
    with db.write() as s:
        from tscrm.core.services.company import get_company

        get_company(s).default_region = "ES"
    report = do_import(db, admin, path, source="Feria 2026", tags=("imported",))
    assert report.created == 2
    reasons = {e.row: e for e in report.errors}
    assert "0612345678" in reasons[4].value and reasons[4].column == "Phone"  # French local read as Spanish: refused
    assert reasons[5].column == "Owner" and "no active user" in reasons[5].reason
    with db.read() as s:
        a = s.exec(select(Client).where(Client.name == "A")).one()
        b = s.exec(select(Client).where(Client.name == "B")).one()
        assert contacts.view(s, "client", a.id).phones == [("work", "+33612345678")]
        assert contacts.view(s, "client", b.id).phones == [("work", "+34612345678")]
        assert (a.owner_id, b.owner_id) == (bob.id, bob.id)
        assert contacts.view(s, "client", a.id).tags == ["imported"]
        assert s.get(SourceLabel, a.source_id).name == "Feria 2026"


def test_leads_into_the_pool_or_mine(db, admin, tmp_path):
    path = write_csv(tmp_path / "l.csv", "Name,Mobile,UTM Source\nPool One,+34600000001,google\n")
    report = do_import(db, admin, path, entity="lead", to_pool=True)
    assert report.created == 1
    path2 = write_csv(tmp_path / "l2.csv", "Name,Mobile\nMine,+34600000002\n")
    do_import(db, admin, path2, entity="lead")
    with db.read() as s:
        pool = s.exec(select(Lead).where(Lead.name == "Pool One")).one()
        mine = s.exec(select(Lead).where(Lead.name == "Mine")).one()
        assert (pool.owner_id, pool.status, pool.utm_source, pool.claimed_at) == (None, LeadStatus.UNPROCESSED, "google", None)
        assert (mine.owner_id, mine.status) == (admin.id, LeadStatus.IN_PROGRESS) and mine.claimed_at is not None
        assert contacts.view(s, "lead", pool.id).phones == [("mobile", "+34600000001")]
        texts = [a.text for a in s.exec(select(Activity).where(col(Activity.lead_id).in_([pool.id, mine.id])).order_by(col(Activity.id)))]
        assert texts == ["Lead added to the pool", "Lead created"]
        assert len(search.search(s, admin, "pool one").hits) == 1


def test_custom_fields_by_name_and_their_errors(db, admin, tmp_path):
    with db.write() as s:
        contacts.define_custom_field(s, "client", "vat_number", "VAT number")
        from tscrm.core.models import CustomFieldType

        contacts.define_custom_field(s, "client", "employees", "Employees", CustomFieldType.NUMBER)
    path = write_csv(tmp_path / "c.csv", "Name,VAT number,Employees,Fax\nA,ESB123,12\nB,ESB456,many\n")
    report = do_import(db, admin, path)
    assert report.created == 1 and report.unmapped == ["Fax"]
    assert report.errors[0].column == "Employees" and "not a number" in report.errors[0].reason
    with db.read() as s:
        assert s.exec(select(Client.custom)).one() == {"vat_number": "ESB123", "employees": "12"}


def test_a_mapping_without_a_name_is_refused(db, admin, tmp_path):
    path = write_csv(tmp_path / "n.csv", "Phone,Email\n+34600000001,a@b.es\n")
    with pytest.raises(ValidationError, match="name"):
        do_import(db, admin, path)


# --- undo -------------------------------------------------------------------------------------


def test_undo_deletes_what_the_batch_created_and_nothing_else(db, admin):
    with db.write() as s:
        before = clients.create_client(s, admin, new_contact("Before", ["+44 7911 123456"]))
    report = do_import(db, admin, SAMPLES / "zcrm_es_semicolon_bom.csv")
    with db.read() as s:
        assert s.exec(select(ImportRecord)).all()[0].action == "created"
    result = undo_batch(db, admin, report.batch_id)
    assert result.deleted == {"client": 300} and result.kept == []
    assert count(db, Client) == 1 and count(db, Phone) == 1 and count(db, SearchEntry) == 1
    assert count(db, Email) == 0 and count(db, ClientTag) == 0
    with db.read() as s:
        assert s.get(Client, before.id) is not None
        assert [h.id for h in search.search(s, admin, "rousseau").hits] == []
        assert s.get(ImportBatch, report.batch_id).status == "undone"
    with pytest.raises(Conflict, match="already undone"):
        undo_batch(db, admin, report.batch_id)


def test_undo_restores_updated_values_and_keeps_records_edited_since(db, admin, tmp_path):
    with db.write() as s:
        first = clients.create_client(s, admin, new_contact("First", ["+34 600 000 001"], company_name="One", tags=["a"]))
        second = clients.create_client(s, admin, new_contact("Second", ["+34 600 000 002"]))
    path = write_csv(tmp_path / "u.csv", "Name,Company,Phone,Email,Tags\nFirst New,Uno,+34600000001,f@x.es,b\nSecond New,,+34600000002,,\nThird,,+34600000003,,\n")
    report = do_import(db, admin, path, on_duplicate="update")
    assert (report.updated, report.created) == (2, 1)
    with db.write() as s:  # someone works on two of them after the import
        clients.update_client(s, admin, second.id, position="Boss")
        third = s.exec(select(Client).where(Client.name == "Third")).one()
        from tscrm.core.services import notes

        notes.add_note(s, admin, "Called, interested", client_id=third.id)
    result = undo_batch(db, admin, report.batch_id)
    assert result.restored == 1 and result.deleted == {"client": 0}
    assert {(k["id"], k["reason"]) for k in result.kept} == {(second.id, "edited since the import"), (third.id, "edited since the import")}
    with db.read() as s:
        row = s.get(Client, first.id)
        view = contacts.view(s, "client", first.id)
        assert (row.name, row.company_name) == ("First", "One")
        assert (view.phones, view.emails, view.tags) == ([("work", "+34600000001")], [], ["a"])
        assert s.get(Client, second.id).name == "Second New"  # edited since: left as it is
        assert s.exec(select(Client).where(Client.name == "Third")).one()
        entry = s.exec(select(SearchEntry).where(SearchEntry.kind == "client", SearchEntry.ref_id == first.id)).one()
        assert entry.name_key == "first"


def test_undo_with_force_undoes_edited_records_too(db, admin, tmp_path):
    path = write_csv(tmp_path / "f.csv", "Name,Phone\nOnly,+34600000001\n")
    report = do_import(db, admin, path)
    with db.write() as s:
        clients.update_client(s, admin, s.exec(select(Client.id)).one(), position="Boss")
    assert undo_batch(db, admin, report.batch_id).kept
    report = do_import(db, admin, write_csv(tmp_path / "g.csv", "Name,Phone\nOther,+34600000002\n"))
    with db.write() as s:
        other = s.exec(select(Client).where(Client.name == "Other")).one()
        clients.update_client(s, admin, other.id, position="Boss")
    result = undo_batch(db, admin, report.batch_id, force=True)
    assert result.deleted == {"client": 1} and result.kept == []


def test_undo_removes_the_tags_and_sources_the_batch_created_when_nothing_uses_them(db, admin, tmp_path):
    with db.write() as s:
        clients.create_client(s, admin, new_contact("Old", ["+34 600 000 009"], tags=["vip"], source="Web"))
    path = write_csv(
        tmp_path / "t.csv",
        "Name,Phone,Tags,Source\nAna,+34600000001,\"VIP, Feria\",Web\nBea,+34600000002,Nuevo,Fair 2026\nCris,+34600000003,Feria,Radio\n",
    )
    report = do_import(db, admin, path, tags=("import-march",))
    with db.read() as s:
        assert set(s.exec(select(Tag.name)).all()) == {"vip", "Feria", "Nuevo", "import-march"}
        assert set(s.exec(select(SourceLabel.name)).all()) == {"Web", "Fair 2026", "Radio"}
        cris = s.exec(select(Client).where(Client.name == "Cris")).one()
    with db.write() as s:  # Cris is worked on since: kept, and so are its tags and source
        clients.update_client(s, admin, cris.id, position="Boss")
    result = undo_batch(db, admin, report.batch_id)
    assert result.deleted == {"client": 2} and [k["name"] for k in result.kept] == ["Cris"]
    assert result.removed_tags == ["Nuevo"] and result.removed_sources == ["Fair 2026"]
    assert result.as_dict()["removed_tags"] == ["Nuevo"]
    with db.read() as s:
        assert set(s.exec(select(Tag.name)).all()) == {"vip", "Feria", "import-march"}  # vip was there before
        assert set(s.exec(select(SourceLabel.name)).all()) == {"Web", "Radio"}
        batch = s.get(ImportBatch, report.batch_id)
        assert batch.undo_report["removed_sources"] == ["Fair 2026"]
    # a batch that only used labels that were there before removes none of them
    report2 = do_import(db, admin, write_csv(tmp_path / "u.csv", "Name,Phone,Tags\nDan,+34600000004,vip\n"))
    assert undo_batch(db, admin, report2.batch_id).removed_tags == []
    with db.read() as s:
        assert "vip" in set(s.exec(select(Tag.name)).all())


def test_rows_prepared_in_a_second_process_give_the_same_result(db, admin):
    inline = do_import(db, admin, SAMPLES / "espocrm_contacts.csv", dry_run=True, parallel=False)
    forked = do_import(db, admin, SAMPLES / "espocrm_contacts.csv", parallel=True)
    assert (forked.created, forked.phones, forked.error_rows) == (inline.created, inline.phones, inline.error_rows) == (250, 382, 0)
    with db.read() as s:
        notes = s.exec(select(Activity.text).where(Activity.kind == ActivityKind.NOTE)).all()
        assert len(notes) == 250 and notes[0] == "Línea 1\nLínea 2"


def test_preview_shows_the_first_rows_as_they_will_be_stored(db, admin, tmp_path):
    from tscrm.core.imports.pipeline import preview
    from tscrm.core.imports.reading import peek

    with db.write() as s:
        existing = clients.create_client(s, admin, new_contact("Known", ["+34 600 000 001"]))
    path = write_csv(tmp_path / "p.csv", "Nombre,Apellidos,Móvil,Correo\nAna,Ruiz,0034 600 000 001,ANA@X.ES\nBea,,12,\n")
    headers, rows, _info = peek(path, limit=10)
    mapping = mapping_for(headers, "client")
    with db.read() as s:
        shown = preview(s, admin, headers, rows, mapping)
    assert shown[0].record.name == "Ana Ruiz" and shown[0].record.phones == [("mobile", "+34600000001")]
    assert shown[0].record.emails == ["ana@x.es"] and shown[0].duplicate_of == existing.id
    assert shown[1].record is None and shown[1].errors[0].column == "Móvil"
    assert count(db, Client) == 1


def _index_sql(db) -> list[str]:
    with db.read() as s:
        if db.is_sqlite:
            rows = s.connection().exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        else:
            rows = s.connection().exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()")
        return sorted(r[0] for r in rows)


def test_a_large_import_builds_the_lookup_indexes_after_the_rows(db, admin, tmp_path, monkeypatch):
    """Large against the table (threshold lowered here), the import drops the name, number and
    address indexes and builds them again before the commit: the same indexes afterwards, and the
    searches and duplicate checks that use them find the new rows; a failure leaves them in place."""
    from tscrm.core.imports import pipeline

    monkeypatch.setattr(pipeline, "_DEFER_INDEXES_FROM_ROWS", 1)
    before = _index_sql(db)
    path = write_csv(
        tmp_path / "large.csv",
        "Name,Company,Phone,Email\n" + "".join(f"Zoe{i} Quintana,Acme {i},+3461{i:07d},zoe{i}@acme.test\n" for i in range(3000)),
    )
    deferred: list[str] = []
    original_defer = pipeline.BulkWriter.defer_indexes

    def spy(self, table, keep_leading=()):
        original_defer(self, table, keep_leading)
        deferred.extend(self._deferred_indexes)

    monkeypatch.setattr(pipeline.BulkWriter, "defer_indexes", spy)
    report = do_import(db, admin, path, chunk_size=500)
    assert report.created == 3000
    assert _index_sql(db) == before
    if db.is_sqlite:  # PostgreSQL keeps its indexes: dropping one would lock the table for the whole import
        assert any("ix_client_name" in sql for sql in deferred) and any("ix_phone_e164" in sql for sql in deferred)
        assert not any("client_id" in sql.split("(", 1)[1] for sql in deferred if "phone" in sql)
    else:
        assert deferred == []
    with db.read() as s:
        found = search.search(s, admin, "zoe2999", limit=5)
        assert [hit.name for hit in found.hits][:1] == ["Zoe2999 Quintana"]
        assert clients.list_clients(s, admin, limit=1)[0].name == "Zoe0 Quintana"
    again = do_import(db, admin, path)
    assert (again.created, again.duplicates) == (0, 3000)

    fail_on_flush(monkeypatch, 3)
    other = write_csv(tmp_path / "other.csv", "Name,Phone\n" + "".join(f"Other{i},+3462{i:07d}\n" for i in range(3000)))
    with pytest.raises(RuntimeError):
        do_import(db, admin, other, chunk_size=500)
    assert _index_sql(db) == before and count(db, Client) == 3000
