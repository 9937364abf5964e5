"""Feed texts the program writes are shown in the reader's language, not in their author's.

An agent working in French records the entries; a colleague reading in Spanish (or English) sees
them in Spanish (or English). ``Activity.text`` keeps the author's rendering for search and exports.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from tscrm.core.imports.mapping import mapping_for
from tscrm.core.imports.pipeline import ImportOptions, run_import
from tscrm.core.imports.reading import TableReader
from tscrm.core.models import Activity, ActivityKind, CallDirection, LeadStatus
from tscrm.core.services import activity, calls, clients, contacts, deals, leads, sms, tasks, telephony
from tscrm.core.services.clients import new_contact
from tscrm.i18n import set_language
from tscrm.present.records import feed_records

T0 = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _back_to_english() -> Iterator[None]:
    yield
    set_language("en")


def _texts(db, **owner) -> list[str]:
    with db.read() as s:
        return [activity.display_text(e) for e in activity.feed(s, **owner)]


def test_lead_feed_written_in_french_reads_in_spanish_and_english(db, admin, make_user):
    bob = make_user("Manager", name="Bob")
    set_language("fr")
    with db.write() as s:
        lead_id = leads.create_lead(s, admin, new_contact("Hot lead"), to_pool=True).id
    with db.write() as s:
        leads.claim_lead(s, bob, lead_id)
    with db.write() as s:
        leads.set_status(s, bob, lead_id, LeadStatus.UNPROCESSED)
        leads.close_as_bad(s, bob, lead_id, "wrong company")
    with db.read() as s:
        stored = [e.text for e in activity.feed(s, lead_id=lead_id)]
    assert stored == [
        "Prospect ajouté au vivier commun",
        "Attribué à Bob",
        "Statut\u00a0: en cours → non traité",
        "Prospect clôturé pour mauvaise qualité: wrong company",
    ]
    set_language("es")
    assert _texts(db, lead_id=lead_id) == [
        "Lead añadido a la bolsa común",
        "Asignado a Bob",
        "Estado: en curso → sin procesar",
        "Lead cerrado por mala calidad: wrong company",
    ]
    set_language("en")
    assert _texts(db, lead_id=lead_id) == [
        "Lead added to the pool",
        "Claimed by Bob",
        "Status: in progress → unprocessed",
        "Lead closed as bad quality: wrong company",
    ]


def test_deal_status_task_call_and_sms_follow_the_reader(db, admin):
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Lucía", ["+34 612 345 678"])).id
    set_language("fr")
    with db.write() as s:
        deal_id = deals.create_deal(s, admin, client_id=client_id, title="Fibre", created_at=T0).id
    with db.write() as s:
        deals.move_deal(s, admin, deal_id, "won", at=T0 + timedelta(minutes=1))
        tasks.create_task(s, admin, title="Rappeler", client_id=client_id)
        calls.log_call(
            s, admin, direction=CallDirection.INBOUND, their_number="+34612345678", agent_id=admin.id,
            started_at=T0 + timedelta(minutes=3), outcome="no_answer",
        )
        calls.log_call(
            s, admin, direction=CallDirection.OUTBOUND, their_number="+34612345678", agent_id=admin.id,
            started_at=T0 + timedelta(minutes=4), answered_at=T0 + timedelta(minutes=4, seconds=5),
            ended_at=T0 + timedelta(minutes=5, seconds=35),
        )
        sms.record_incoming(s, "+34612345678", "¿Me llamáis mañana?", at=T0 + timedelta(minutes=6))
    with db.read() as s:
        entries = [e for e in activity.feed(s, client_id=client_id) if e.kind != ActivityKind.CREATED]
        assert [e.text for e in entries] == [
            "Affaire créée\u00a0: Fibre",
            "Affaire Fibre\u00a0: nouvelle → gagnée",
            "Appel entrant, sans réponse",
            "Appel sortant, 1:30",
            "SMS reçu\n¿Me llamáis mañana?",
            "Tâche\u00a0: Rappeler",  # dated now, after the rest
        ]
        set_language("es")
        assert [activity.display_text(e) for e in entries] == [
            "Trato creado: Fibre",
            "Trato Fibre: nuevo → ganado",
            "Llamada entrante, sin respuesta",
            "Llamada saliente, 1:30",
            "SMS recibido\n¿Me llamáis mañana?",
            "Tarea: Rappeler",
        ]
        # what the CLI prints (and --json) is the reader's language too
        assert feed_records(s, entries)[1]["text"] == "Trato Fibre: nuevo → ganado"


def test_screen_pop_shows_the_last_entry_in_the_readers_language(db, admin):
    set_language("fr")
    with db.write() as s:
        lead_id = leads.create_lead(s, admin, new_contact("Caller", ["+34 612 345 678"])).id
    set_language("es")
    with db.read() as s:
        match = telephony.identify_number(s, admin, "+34612345678")
    assert match is not None and match.id == lead_id
    assert match.last_activity_text == "Lead creado"


def test_entries_without_a_phrase_show_their_text_as_stored(db, admin):
    with db.write() as s:
        client_id = clients.create_client(s, admin, new_contact("Old")).id
        # an entry written before phrases existed, and a note a user wrote
        activity.record(s, ActivityKind.EDITED, author_id=admin.id, client_id=client_id, text="Client modifié")
        activity.record(s, ActivityKind.NOTE, author_id=admin.id, client_id=client_id, text="Llamar el lunes")
    set_language("es")
    assert _texts(db, client_id=client_id) == ["Cliente creado", "Client modifié", "Llamar el lunes"]


def test_imported_records_feed_reads_in_the_readers_language(db, admin, tmp_path: Path):
    path = tmp_path / "people.csv"
    path.write_text("Name;Phone;Note\nAna Pérez;+34 612 345 678;Prefers mornings\nLuis Gil;+34 612 345 679;\n", encoding="utf-8")
    set_language("fr")
    with TableReader(path) as reader:
        with db.read() as s:
            custom = contacts.custom_fields(s, "client")
        mapping = mapping_for(reader.headers, "client", custom, overrides={"Note": "note"})
        report = run_import(db, admin, reader, mapping, ImportOptions(entity="client"))
    assert report.created == 2
    with db.read() as s:
        rows = s.exec(select(Activity).order_by(Activity.client_id, Activity.id)).all()
        assert [(r.kind, r.text) for r in rows] == [
            (ActivityKind.CREATED, "Client créé"),
            (ActivityKind.NOTE, "Prefers mornings"),
            (ActivityKind.CREATED, "Client créé"),
        ]
        set_language("es")
        assert [activity.display_text(r) for r in rows] == ["Cliente creado", "Prefers mornings", "Cliente creado"]
        set_language("en")
        assert [activity.display_text(r) for r in rows] == ["Client created", "Prefers mornings", "Client created"]
