from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlmodel import select

from tscrm.core.errors import InvalidPhone, NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, Client, CustomFieldType, Phone
from tscrm.core.services import activity, clients, contacts
from tscrm.core.services.clients import ClientFilter, new_contact
from tscrm.core.services.contacts import ContactInput, PhoneInput


def _client(db, actor, name="José García", **kw):
    with db.write() as s:
        return clients.create_client(s, actor, new_contact(name, **kw))


def test_create_stores_e164_emails_tags_and_feed(db, admin):
    with db.write() as s:
        c = clients.create_client(
            s,
            admin,
            ContactInput(
                name="  José García ",
                company_name="Frutas García S.L.",
                phones=[PhoneInput("+34 612 34 56 78"), PhoneInput("0033 6 11 47 10 49", kind="mobile")],
                emails=["Jose@Frutas.ES"],
                tags=["VIP", "vip", "b2b"],
                source="Feria Madrid",
            ),
        )
    with db.read() as s:
        row = s.get(Client, c.id)
        assert row.name == "José García" and row.owner_id == admin.id and row.created_by_id == admin.id
        view = contacts.view(s, "client", c.id)
        assert view.phones == [("work", "+34612345678"), ("mobile", "+33611471049")]
        assert view.emails == ["jose@frutas.es"]
        assert view.tags == ["b2b", "VIP"]
        phone = s.exec(select(Phone).where(Phone.e164 == "+34612345678")).one()
        assert phone.rdigits == "87654321643"
        assert [a.kind for a in activity.feed(s, client_id=c.id)] == ["created"]


def test_invalid_phone_names_number_and_writes_nothing(db, admin):
    with pytest.raises(InvalidPhone, match="12345") as info:
        _client(db, admin, phones=["+34 612 345 678", "12345"])
    assert info.value.field == "phones[1]"
    with db.read() as s:
        assert s.exec(select(Client)).all() == []


def test_default_region_allows_national_numbers(db, admin):
    with db.write() as s:
        from tscrm.core.services.company import get_company

        get_company(s).default_region = "ES"
    c = _client(db, admin, phones=["612 345 678"])
    with db.read() as s:
        assert contacts.view(s, "client", c.id).phones == [("work", "+34612345678")]


def test_bad_email_and_empty_name_are_named(db, admin):
    with pytest.raises(ValidationError, match="emails\\[0\\]"):
        _client(db, admin, emails=["not-an-email"])
    with pytest.raises(ValidationError, match="name"):
        _client(db, admin, name="   ")


def test_custom_fields_are_validated(db, admin):
    with db.write() as s:
        contacts.define_custom_field(s, "client", "vat", "VAT number")
        contacts.define_custom_field(s, "client", "seats", "Seats", CustomFieldType.NUMBER)
        contacts.define_custom_field(s, "client", "renewal", "Renewal", CustomFieldType.DATE)
        contacts.define_custom_field(s, "client", "plan", "Plan", CustomFieldType.CHOICE, ["basic", "pro"])
    with db.write() as s:
        c = clients.create_client(
            s, admin, ContactInput(name="Custom", custom={"vat": "B123", "seats": "12", "renewal": "2027-01-31", "plan": "pro"})
        )
    assert c.custom == {"vat": "B123", "seats": "12", "renewal": "2027-01-31", "plan": "pro"}
    for bad, field in [({"seats": "many"}, "seats"), ({"renewal": "31/01"}, "renewal"), ({"plan": "gold"}, "plan"), ({"nope": 1}, "nope")]:
        with pytest.raises(ValidationError) as info:
            with db.write() as s:
                clients.create_client(s, admin, ContactInput(name="Bad", custom=bad))
        assert info.value.field == field
    with db.read() as s:
        assert len(clients.list_clients(s, admin, ClientFilter(custom={"plan": "pro"}))) == 1


def test_edit_replaces_lists_and_logs(db, admin):
    c = _client(db, admin, phones=["+34612345678"], tags=["old"])
    with db.write() as s:
        clients.update_client(s, admin, c.id, name="José G.", phones=["mobile:+34 699 000 111"], tags=["new"])
    with db.read() as s:
        view = contacts.view(s, "client", c.id)
        assert view.phones == [("mobile", "+34699000111")] and view.tags == ["new"]
        edited = [a for a in activity.feed(s, client_id=c.id) if a.kind == "edited"]
        assert edited[0].data["fields"] == ["name", "phones", "tags"]


def test_intern_sees_only_own_clients(db, admin, make_user):
    intern = make_user("Intern")
    mine = _client(db, intern, name="Intern's client")
    theirs = _client(db, admin, name="Admin's client")
    with db.read() as s:
        assert [c.id for c in clients.list_clients(s, intern)] == [mine.id]
        assert {c.id for c in clients.list_clients(s, admin)} == {mine.id, theirs.id}
        with pytest.raises(NotFound):
            clients.get_client(s, intern, theirs.id)
    with pytest.raises(PermissionDenied):
        with db.write() as s:
            clients.delete_client(s, intern, mine.id)
    with pytest.raises(PermissionDenied):
        with db.write() as s:
            clients.update_client(s, intern, mine.id, owner_id=admin.id)


def test_manager_changes_owner_and_deletes(db, admin, make_user):
    manager = make_user("Manager")
    intern = make_user("Intern")
    c = _client(db, admin)
    with db.write() as s:
        clients.bulk_change_owner(s, manager, [c.id], intern.id)
    with db.read() as s:
        assert s.get(Client, c.id).owner_id == intern.id
    with db.write() as s:
        clients.bulk_delete(s, manager, [c.id])
    with db.read() as s:
        assert s.get(Client, c.id) is None
        assert s.exec(select(Activity).where(Activity.client_id == c.id)).all() == []


def test_filters_and_bulk_tags(db, admin):
    a = _client(db, admin, name="Alpha", tags=["vip"])
    b = _client(db, admin, name="Beta")
    with db.write() as s:
        assert clients.bulk_add_tags(s, admin, [a.id, b.id], ["b2b"]) == 2
        assert clients.bulk_remove_tags(s, admin, [a.id], ["VIP"]) == 1
    with db.read() as s:
        assert [c.name for c in clients.list_clients(s, admin, ClientFilter(tags=["b2b"]))] == ["Alpha", "Beta"]
        assert clients.list_clients(s, admin, ClientFilter(tags=["vip"])) == []
        assert clients.count_clients(s, admin, ClientFilter(created_from=datetime(2000, 1, 1, tzinfo=timezone.utc))) == 2
        assert [c.name for c in clients.list_clients(s, admin, sort="name", descending=True)] == ["Beta", "Alpha"]
        assert sorted(clients.matching_ids(s, admin, ClientFilter(tags=["b2b"]))) == sorted([a.id, b.id])
