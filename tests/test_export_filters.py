"""Exports filtered with the services' own filters (what the Clients, Leads, Deals and Calls screens list):
the file holds exactly the rows the list selects, the rights still apply."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tscrm.core.errors import PermissionDenied
from tscrm.core.exports import ExportFilter, export, selected_ids
from tscrm.core.models import LeadStatus
from tscrm.core.permissions import Right
from tscrm.core.services import calls, clients, company, contacts, deals, leads
from tscrm.core.services.contacts import ContactInput, PhoneInput

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def read(path, column: str = "tscrm ID") -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return sorted(row[column] for row in csv.DictReader(handle))


def ids_of(values) -> list[str]:
    return sorted(str(v) for v in values)


def test_clients_with_custom_fields_search_ids_and_mine(db, admin, make_user, tmp_path):
    bob = make_user("Manager", name="Bob")
    with db.write() as s:
        contacts.define_custom_field(s, "client", "size", "Size")
        big = clients.create_client(s, admin, ContactInput(name="Big Co", custom={"size": "L"}, tags=["vip"]))
        small = clients.create_client(s, admin, ContactInput(name="Small Co", custom={"size": "S"}, tags=["vip"]))
        other = clients.create_client(s, admin, ContactInput(name="Bob's L", custom={"size": "L"}), owner_id=bob.id)
        ids = (big.id, small.id, other.id)
    path = tmp_path / "c.csv"
    with db.read() as s:
        export(s, admin, "clients", "csv", path, clients.ClientFilter(custom={"size": "L"}))
        assert read(path) == ids_of([ids[0], ids[2]])
        export(s, admin, "clients", "csv", path, clients.ClientFilter(mine=True, custom={"size": "L"}))
        assert read(path) == ids_of([ids[0]])
        export(s, admin, "clients", "csv", path, clients.ClientFilter(ids=[ids[1], ids[2]]))  # the search's matches
        assert read(path, "Name") == ["Bob's L", "Small Co"]
        export(s, admin, "clients", "csv", path, clients.ClientFilter(ids=[ids[1], ids[2]], tags=["VIP"]))
        assert read(path, "Name") == ["Small Co"]
        export(s, admin, "clients", "csv", path, clients.ClientFilter(ids=[]))  # a search that found nothing
        assert read(path) == []
        # the list and the export agree
        filt = clients.ClientFilter(custom={"size": "L"}, tags=["vip"])
        assert ids_of(c.id for c in clients.list_clients(s, admin, filt)) == ids_of(selected_ids(s, admin, "clients", filt))
    # without the right to see all, only one's own: whatever the filter asks
    own = replace(bob, rights=bob.rights - {Right.SEE_ALL})
    with db.read() as s:
        export(s, own, "clients", "csv", path, clients.ClientFilter(custom={"size": "L"}))
        assert read(path, "Name") == ["Bob's L"]


def test_deals_by_client_currency_amount_and_closed_days(db, admin, make_user, tmp_path):
    bob = make_user("Manager", name="Bob")
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
        ana = clients.create_client(s, admin, ContactInput(name="Ana"))
        eva = clients.create_client(s, admin, ContactInput(name="Eva"))
        d = {
            "small": deals.create_deal(s, admin, client_id=ana.id, title="Small", amount="50"),
            "mid": deals.create_deal(s, admin, client_id=ana.id, title="Mid", amount="500"),
            "big": deals.create_deal(s, admin, client_id=ana.id, title="Big", amount="5000"),
            "usd": deals.create_deal(s, admin, client_id=ana.id, title="Dollars", amount="500", currency="USD"),
            "eva": deals.create_deal(s, admin, client_id=eva.id, title="Eva's", amount="500"),
            "bob": deals.create_deal(s, admin, client_id=eva.id, title="Bob's", amount="700", owner_id=bob.id),
        }
        deals.move_deal(s, admin, d["mid"].id, "won", at=T0)
        deals.move_deal(s, admin, d["big"].id, "won", at=T0 + timedelta(days=10))
        deals.move_deal(s, admin, d["usd"].id, "cancelled", at=T0)
    path = tmp_path / "d.csv"

    def titles(filt) -> list[str]:
        with db.read() as s:
            report = export(s, admin, "deals", "csv", path, filt)
        found = read(path, "Title")
        assert report.rows == len(found)
        return found

    assert titles(deals.DealFilter(amount_min=Decimal("100"), amount_max=Decimal("1000"))) == ["Bob's", "Dollars", "Eva's", "Mid"]
    assert titles(deals.DealFilter(currency="usd")) == ["Dollars"]
    assert titles(deals.DealFilter(currency="EUR", amount_min=Decimal("100"), amount_max=Decimal("1000"))) == ["Bob's", "Eva's", "Mid"]
    assert titles(deals.DealFilter(client_id=eva.id)) == ["Bob's", "Eva's"]
    assert titles(deals.DealFilter(closed_from=T0 - timedelta(hours=1), closed_to=T0 + timedelta(days=1))) == ["Dollars", "Mid"]
    assert titles(deals.DealFilter(statuses=("won",), closed_from=T0 + timedelta(days=1))) == ["Big"]
    assert titles(deals.DealFilter(mine=True, client_id=eva.id)) == ["Eva's"]
    assert titles(deals.DealFilter(amount_min=Decimal("1000"))) == ["Big"]  # numbers, not text, on SQLite too


def test_leads_by_scope_status_source_and_tag(db, admin, make_user, tmp_path):
    bob = make_user("Manager", name="Bob")
    with db.write() as s:
        mine_new = leads.create_lead(s, admin, ContactInput(name="Mine new", source="Fair", tags=["hot"]))
        leads.set_status(s, admin, mine_new.id, LeadStatus.UNPROCESSED)
        leads.create_lead(s, admin, ContactInput(name="Mine busy", source="Web"))  # in progress
        mine_bad = leads.create_lead(s, admin, ContactInput(name="Mine bad"))
        leads.close_as_bad(s, admin, mine_bad.id, "spam")
        leads.create_lead(s, admin, ContactInput(name="Pool one", source="Fair", tags=["hot"]), to_pool=True)
        leads.create_lead(s, admin, ContactInput(name="Pool two"), to_pool=True)
        leads.create_lead(s, bob, ContactInput(name="Bob's lead", source="Fair"))
    path = tmp_path / "l.csv"

    def names(filt, actor=admin) -> list[str]:
        with db.read() as s:
            export(s, actor, "leads", "csv", path, filt)
            if isinstance(filt, leads.LeadFilter):  # what the Leads screen lists is what the file holds
                listed = [lead.name for lead in leads.list_leads(s, actor, filt, limit=100)]
                assert sorted(listed) == read(path, "Name")
        return read(path, "Name")

    # the Leads screen's tabs: the open leads of mine / of the pool
    assert names(leads.LeadFilter(scope="mine")) == ["Mine busy", "Mine new"]
    assert names(leads.LeadFilter(scope="pool")) == ["Pool one", "Pool two"]
    assert names(leads.LeadFilter(scope="mine", statuses=())) == ["Mine bad", "Mine busy", "Mine new"]
    assert names(leads.LeadFilter(scope="all", statuses=(LeadStatus.IN_PROGRESS,))) == ["Bob's lead", "Mine busy"]
    assert names(leads.LeadFilter(scope="all", statuses=(LeadStatus.UNPROCESSED,), owner_id=admin.id)) == ["Mine new"]
    assert names(leads.LeadFilter(scope="all", source="Fair")) == ["Bob's lead", "Mine new", "Pool one"]
    assert names(leads.LeadFilter(scope="all", tags=("HOT",))) == ["Mine new", "Pool one"]
    assert names(leads.LeadFilter(scope="all", owner_id=bob.id)) == ["Bob's lead"]
    # the command line's filter builds the same LeadFilter: --source is applied (it was not before)
    assert names(ExportFilter(source="Fair")) == ["Bob's lead", "Mine new", "Pool one"]
    assert names(ExportFilter(statuses=("bad_quality",))) == ["Mine bad"]
    assert names(ExportFilter(lead_scope="pool", tags=["hot"])) == ["Pool one"]
    # without the right to see all: one's own and the pool, never a colleague's
    own = replace(bob, rights=bob.rights - {Right.SEE_ALL})
    assert names(leads.LeadFilter(scope="all", source="Fair"), own) == ["Bob's lead", "Pool one"]


def test_calls_by_direction_outcome_number_name_and_contact(db, admin, make_user, tmp_path):
    bob = make_user("Manager", name="Bob")
    with db.write() as s:
        ana = clients.create_client(s, admin, ContactInput(name="Ana Ruiz", phones=[PhoneInput("+34 612 345 678")]))
        lead = leads.create_lead(s, admin, ContactInput(name="Luis Lead", phones=[PhoneInput("+34 699 111 222")]))

        def log(ext: str, direction: str, number: str, outcome=None, agent=admin, **kw):
            return calls.log_call(
                s, None, direction=direction, their_number=number, agent_id=agent.id, started_at=T0,
                ended_at=T0 + timedelta(minutes=1), outcome=outcome, external_id=ext, **kw,
            ).id

        c = {
            "in_ana": log("1", "inbound", "+34612345678", "answered", client_id=ana.id),
            "out_ana": log("2", "outbound", "+34612345678", "no_answer", client_id=ana.id),
            "out_lead": log("3", "outbound", "+34699111222", "answered", lead_id=lead.id),
            "in_other": log("4", "inbound", "+33612000000", "busy"),
            "bob": log("5", "outbound", "+34612345678", "answered", agent=bob, client_id=ana.id),
        }
    path = tmp_path / "calls.csv"

    def exported(filt, actor=admin) -> list[str]:
        with db.read() as s:
            export(s, actor, "calls", "csv", path, filt)
            listed = calls.list_calls(s, actor, filt, limit=100)
        assert ids_of(r.id for r in listed) == read(path)
        return read(path)

    assert exported(calls.CallFilter(direction="inbound")) == ids_of([c["in_ana"], c["in_other"]])
    assert exported(calls.CallFilter(outcome="answered")) == ids_of([c["in_ana"], c["out_lead"], c["bob"]])
    assert exported(calls.CallFilter(direction="outbound", outcome="answered")) == ids_of([c["out_lead"], c["bob"]])
    assert exported(calls.CallFilter(number="+34 612 345 678")) == ids_of([c["in_ana"], c["out_ana"], c["bob"]])
    assert exported(calls.CallFilter(number="1112")) == ids_of([c["out_lead"]])  # a fragment of digits
    assert exported(calls.CallFilter(name="Luis")) == ids_of([c["out_lead"]])
    assert exported(calls.CallFilter(client_id=ana.id, agent_id=admin.id)) == ids_of([c["in_ana"], c["out_ana"]])
    assert exported(calls.CallFilter(lead_id=lead.id)) == ids_of([c["out_lead"]])
    assert exported(calls.CallFilter(started_from=T0 + timedelta(days=1))) == []
    own = replace(bob, rights=bob.rights - {Right.SEE_ALL})
    assert exported(calls.CallFilter(client_id=ana.id), own) == ids_of([c["bob"]])


def test_a_filter_of_another_kind_and_the_export_right(db, admin, make_user, tmp_path):
    with db.read() as s, pytest.raises(TypeError, match="DealFilter"):
        export(s, admin, "deals", "csv", tmp_path / "x.csv", clients.ClientFilter())
    intern = make_user("Intern")
    with db.read() as s, pytest.raises(PermissionDenied):
        export(s, intern, "calls", "csv", tmp_path / "y.csv", calls.CallFilter())
    assert not (tmp_path / "y.csv").exists()
