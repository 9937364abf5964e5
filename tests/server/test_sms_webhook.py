"""Zadarma's incoming SMS webhook: the message lands in the sender's feed (client, lead, or a new lead)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from tests.server.conftest import DID, NOW, SECRET, ZD_DID
from tscrm.core.models import Activity, ActivityKind, Lead
from tscrm.core.models_dialer import SmsMessage
from tscrm.core.models_telephony import PbxEvent
from tscrm.core.services import clients, leads, sms, telephony
from tscrm.core.services.clients import new_contact
from tscrm.integrations.zadarma_signing import webhook_event_signature
from tscrm.server.app import create_app

URL = "/zadarma/webhook"


@pytest.fixture
def web(db, company):
    return TestClient(create_app(db, clock=lambda: NOW))


def _sms(web, caller: str, text: str, result: str, *, as_json: bool = False, secret: str = SECRET):
    body = {"event": "SMS", "caller_id": caller, "caller_did": ZD_DID, "text": text, "result": result}
    headers = {"Signature": webhook_event_signature("SMS", body, secret)}
    return web.post(URL, json=body, headers=headers) if as_json else web.post(URL, data=body, headers=headers)


def _sms_feed(db):
    with db.read() as s:
        rows = s.exec(select(Activity).where(Activity.kind == ActivityKind.SMS).order_by(Activity.id))
        return [(a.client_id, a.lead_id, a.text, a.data.get("number"), a.data.get("did"), a.created_at) for a in rows]


def test_sms_from_a_client_lands_in_the_client_feed(db, web, company):
    with db.write() as s:
        client_id = clients.create_client(s, company, new_contact("Rosa Rey", phones=["+34612345001"])).id
    assert _sms(web, "34612345001", "¿Me llamáis mañana?", "r-1").status_code == 200
    assert _sms(web, "34612345001", "Gracias", "r-2", as_json=True).status_code == 200
    assert _sms(web, "34612345001", "Gracias", "r-2", as_json=True).status_code == 409  # a replay: once
    feed = _sms_feed(db)
    assert [(c, l, t) for c, l, t, *_ in feed] == [
        (client_id, None, "SMS received\n¿Me llamáis mañana?"),
        (client_id, None, "SMS received\nGracias"),
    ]
    assert {(n, d) for *_, n, d, _at in feed} == {("+34612345001", DID)}
    assert all(at == NOW for *_, at in feed)
    with db.read() as s:
        assert list(s.exec(select(SmsMessage))) == []  # that table holds what we send
        assert [e.event for e in s.exec(select(PbxEvent))] == ["SMS", "SMS"]


def test_unknown_sender_becomes_a_lead_when_the_company_wants_leads_from_calls(db, web, company):
    from tscrm.core.services.contacts import source_name

    assert _sms(web, "34699000111", "Info, please", "r-1").status_code == 200
    assert _sms_feed(db) == [] and _lead_count(db) == 0  # setting off: stored, nothing else
    with db.write() as s:
        telephony.save_company_settings(s, company, auto_lead_incoming=True)
    assert _sms(web, "34699000111", "Info, please!", "r-2").status_code == 200
    assert _sms(web, "34699000111", "Still there?", "r-3").status_code == 200
    with db.read() as s:
        lead = s.exec(select(Lead)).one()  # the second SMS finds the lead the first one made
        assert lead.owner_id is None and source_name(s, lead.source_id) == "Billboard"
    assert [(c, l, t) for c, l, t, *_ in _sms_feed(db)] == [
        (None, lead.id, "SMS received\nInfo, please!"),
        (None, lead.id, "SMS received\nStill there?"),
    ]


def _lead_count(db) -> int:
    with db.read() as s:
        return len(list(s.exec(select(Lead))))


def test_record_incoming_matches_an_open_lead_and_ignores_odd_senders(db, company):
    with db.write() as s:
        telephony.save_company_settings(s, company, auto_lead_incoming=True)
        lead_id = leads.create_lead(s, company, new_contact("Luis Sanz", phones=["+34612000222"])).id
        landed = sms.record_incoming(s, "0034612000222", "Hola", DID, NOW)
        odd = sms.record_incoming(s, "Vodafone", "Your bill", DID, NOW)  # an alphanumeric sender: no lead
    assert (landed.client_id, landed.lead_id, landed.lead_created) == (None, lead_id, False)
    assert odd.activity_id is None and odd.lead_id is None
    assert [(c, l, t) for c, l, t, *_ in _sms_feed(db)] == [(None, lead_id, "SMS received\nHola")]
    assert _lead_count(db) == 1
