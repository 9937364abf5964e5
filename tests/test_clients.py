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


@pytest.mark.parametrize("sort", ["name", "company", "created", "id"])
def test_pages_walk_the_whole_list_both_ways_in_list_order(db, admin, make_user, sort):
    """Keyset pages (first, after, before, last, start) give exactly the order of list_clients."""
    intern = make_user("Intern")
    companies = [None, "Beta SL", None, "alpha", "Beta SL", None, "Zeta", "beta sl"]
    names = ["Marta", "ana", "Ángel", "Marta", "Bob", "zoe", "Luis", "Eva", "Marta", "Óscar", "ana"]
    with db.write() as s:
        for i, name in enumerate(names):
            owner = intern if i % 3 == 0 else admin
            clients.create_client(
                s, owner, new_contact(name, company_name=companies[i % len(companies)]),
                created_at=datetime(2024, 1, 1 + i % 4, tzinfo=timezone.utc),  # ties on created_at too
            )
    for actor in (admin, intern):
        for descending in (False, True):
            with db.read() as s:
                expected = [c.id for c in clients.list_clients(s, actor, sort=sort, descending=descending, limit=100)]
                kw = {"sort": sort, "descending": descending, "limit": 3}
                forward = clients.page_clients(s, actor, **kw)
                walked = [c.id for c in forward]
                while forward:
                    forward = clients.page_clients(s, actor, after=clients.page_cursor(forward[-1], sort), **kw)
                    walked += [c.id for c in forward]
                backward = clients.page_clients(s, actor, last=True, **kw)
                walked_back = [c.id for c in backward]
                while backward:
                    backward = clients.page_clients(s, actor, before=clients.page_cursor(backward[0], sort), **kw)
                    walked_back = [c.id for c in backward] + walked_back
                middle = s.get(Client, expected[len(expected) // 2])
                from_middle = clients.page_clients(s, actor, start=clients.page_cursor(middle, sort), **kw)
            assert walked == expected and walked_back == expected, (actor.name, descending)
            assert [c.id for c in from_middle] == expected[len(expected) // 2 :][:3]
    assert len(expected) == len([i for i in range(len(names)) if i % 3 == 0])  # the intern's own only


def test_page_filters_like_the_list(db, admin):
    a = _client(db, admin, name="Alpha", tags=["vip"])
    _client(db, admin, name="Beta")
    c = _client(db, admin, name="Gamma", tags=["VIP"])
    with db.read() as s:
        assert [x.id for x in clients.page_clients(s, admin, ClientFilter(tags=["vip"]), last=True, limit=5)] == [a.id, c.id]
        with pytest.raises(ValidationError, match="sort"):
            clients.page_clients(s, admin, sort="phone")


def test_bulk_actions_in_chunks_keep_search_feed_and_rights(db, admin, make_user, monkeypatch):
    """Set-based bulk actions (chunks of 2 here) do what the one-client functions do."""
    from tscrm.core import search
    from tscrm.core.models import Deal, SearchEntry
    from tscrm.core.services import deals

    monkeypatch.setattr(clients, "BULK_CHUNK", 2)
    intern = make_user("Intern")
    ids = [_client(db, admin, name=f"Bulk {i}", phones=[f"+34 612 345 67{i}"], tags=["old"] if i == 0 else []).id for i in range(5)]
    theirs = _client(db, intern, name="Intern's own").id
    with db.write() as s:
        deal_id = deals.create_deal(s, admin, client_id=ids[4], title="Big deal").id
    with db.write() as s:
        assert clients.bulk_add_tags(s, admin, ids + ids[:1], ["Renewal", "old"]) == 5  # duplicates count once
    with db.read() as s:
        assert {h.id for h in search.search(s, admin, "renewal", kinds=("client",)).hits} == set(ids)
        assert contacts.view(s, "client", ids[0]).tags == ["old", "Renewal"]
        tagged = s.exec(select(Activity).where(Activity.kind == "tagged", Activity.client_id == ids[0])).one()
        assert tagged.data == {"added": ["Renewal"]} and tagged.author_id == admin.id
    with pytest.raises(NotFound):  # an intern acts on own clients only, and nothing is half done
        with db.write() as s:
            clients.bulk_add_tags(s, intern, [theirs, ids[0]], ["x"])
    with db.read() as s:
        assert contacts.view(s, "client", theirs).tags == []
    with db.write() as s:
        assert clients.bulk_remove_tags(s, admin, ids, ["OLD", "renewal"]) == 5
        clients.bulk_change_owner(s, admin, ids[:3], intern.id)
    with db.read() as s:
        assert search.search(s, admin, "renewal", kinds=("client",)).hits == []
        assert contacts.view(s, "client", ids[0]).tags == []
        assert {h.id for h in search.search(s, intern, "bulk", kinds=("client",)).hits} == set(ids[:3])
        assert [c.owner_id for c in clients.list_clients(s, admin, ClientFilter(ids=ids), sort="id")] == [intern.id] * 3 + [admin.id] * 2
        moved = s.exec(select(Activity).where(Activity.kind == "owner_changed", Activity.client_id == ids[0])).one()
        assert moved.data == {"from": admin.id, "to": intern.id, "phrase": {"msgid": "Responsible changed"}}
        assert moved.text == "Responsible changed"
    with db.write() as s:
        assert clients.bulk_delete(s, admin, ids[3:]) == 2
    with db.read() as s:
        assert s.get(Deal, deal_id) is None
        assert s.exec(select(SearchEntry).where(SearchEntry.ref_id == deal_id, SearchEntry.kind == "deal")).all() == []
        assert sorted(c.id for c in clients.list_clients(s, admin, limit=100)) == sorted(ids[:3] + [theirs])
