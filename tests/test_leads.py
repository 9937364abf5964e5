from __future__ import annotations

import pytest

from tscrm.core.errors import LeadAlreadyClaimed, NotFound
from tscrm.core.models import Activity, Client, Lead, LeadStatus
from tscrm.core.services import activity, contacts, leads
from tscrm.core.services.clients import new_contact
from sqlmodel import select


def test_pool_lead_is_ownerless_and_unprocessed(db, admin):
    with db.write() as s:
        lead = leads.create_lead(s, admin, new_contact("Pool Person", ["+34 612 345 678"]), to_pool=True)
    with db.read() as s:
        row = s.get(Lead, lead.id)
        assert row.owner_id is None and row.status == LeadStatus.UNPROCESSED


def test_my_lead_is_owned_by_creator(db, admin):
    with db.write() as s:
        lead = leads.create_lead(s, admin, new_contact("Mine"))
    assert lead.owner_id == admin.id and lead.status == LeadStatus.IN_PROGRESS


def test_claim_then_second_agent_gets_clear_error(db, admin, make_user):
    bob = make_user("Intern", name="Bob")
    carla = make_user("Intern", name="Carla")
    with db.write() as s:
        lead = leads.create_lead(s, admin, new_contact("Hot lead"), to_pool=True)
    with db.write() as s:
        leads.claim_lead(s, bob, lead.id)
    with pytest.raises(LeadAlreadyClaimed, match="already claimed by Bob"):
        with db.write() as s:
            leads.claim_lead(s, carla, lead.id)
    with db.read() as s:
        assert s.get(Lead, lead.id).owner_id == bob.id
        kinds = [a.kind for a in activity.feed(s, lead_id=lead.id)]
        assert kinds == ["created", "claimed"]


def test_intern_cannot_see_others_lead(db, admin, make_user):
    bob = make_user("Intern")
    with db.write() as s:
        lead = leads.create_lead(s, admin, new_contact("Admin's"))
    with pytest.raises(NotFound):
        with db.read() as s:
            leads.get_lead(s, bob, lead.id)


def test_claim_next_takes_oldest(db, admin, make_user):
    bob = make_user()
    with db.write() as s:
        first = leads.create_lead(s, admin, new_contact("First"), to_pool=True)
        leads.create_lead(s, admin, new_contact("Second"), to_pool=True)
    with db.write() as s:
        got = leads.claim_next(s, bob)
    assert got.id == first.id and got.owner_id == bob.id


def test_close_as_client_carries_everything(db, admin):
    with db.write() as s:
        lead = leads.create_lead(
            s,
            admin,
            contacts.ContactInput(
                name="Lucía Gómez",
                phones=[contacts.PhoneInput("+34 612 345 678")],
                emails=["Lucia@Example.es"],
                tags=["VIP", "web"],
                source="Google Ads",
            ),
        )
    with db.write() as s:
        client = leads.close_as_client(s, admin, lead.id)
    with db.read() as s:
        view = contacts.view(s, "client", client.id)
        assert view.phones == [("work", "+34612345678")]
        assert view.emails == ["lucia@example.es"]
        assert view.tags == ["VIP", "web"]
        assert contacts.source_name(s, s.get(Client, client.id).source_id) == "Google Ads"
        feed = activity.feed(s, client_id=client.id)
        assert [a.kind for a in feed][:1] == ["created"]
        assert feed[-1].kind == "converted"
        assert s.get(Lead, lead.id).status == LeadStatus.FINISHED
