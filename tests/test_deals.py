from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from tscrm.core import search
from tscrm.core.errors import NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, Deal, DealStatus, SearchEntry, Task
from tscrm.core.services import activity, clients, company, deals, tasks
from tscrm.core.services.clients import new_contact
from tscrm.core.services.deals import DealFilter


def _client(db, actor, name="Lucía Gómez"):
    with db.write() as s:
        return clients.create_client(s, actor, new_contact(name)).id


def _deal(db, actor, client_id, **kw):
    kw.setdefault("title", "Fibre 1 Gb")
    with db.write() as s:
        return deals.create_deal(s, actor, client_id=client_id, **kw).id


def test_create_deal_defaults_feeds_and_search(db, admin):
    cid = _client(db, admin)
    did = _deal(db, admin, cid, title="  Fibre   1 Gb ", amount="1234,50")
    with db.read() as s:
        deal = s.get(Deal, did)
        assert (deal.title, deal.amount, deal.currency, deal.status) == ("Fibre 1 Gb", Decimal("1234.50"), "EUR", "new")
        assert deal.owner_id == admin.id and deal.closed_at is None
        entries = activity.feed(s, deal_id=did)
        assert [(a.kind, a.client_id, a.deal_id) for a in entries] == [("deal", cid, did)]
        assert entries[0] in activity.feed(s, client_id=cid)
        hits = search.search(s, admin, "fibre").hits
        assert [(h.kind, h.id) for h in hits] == [("deal", did)]


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-1", "amount: must not be negative"), ("1.005", "amount: at most 2 decimals"), ("ten", "amount: 'ten' is not")],
)
def test_bad_amount_is_refused_naming_the_field(db, admin, amount, message):
    cid = _client(db, admin)
    with pytest.raises(ValidationError, match=message) as err:
        with db.write() as s:
            deals.create_deal(s, admin, client_id=cid, title="X", amount=amount)
    assert err.value.field == "amount"


def test_currency_must_have_a_rate(db, admin):
    cid = _client(db, admin)
    with pytest.raises(ValidationError, match="USD has no exchange rate") as err:
        _deal(db, admin, cid, currency="usd")
    assert err.value.field == "currency"
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    did = _deal(db, admin, cid, currency="usd", amount=100)
    with db.read() as s:
        assert s.get(Deal, did).currency == "USD"


def test_deal_needs_a_client_the_actor_can_see(db, admin, make_user):
    intern = make_user("Intern")
    cid = _client(db, admin)
    with pytest.raises(NotFound, match=f"No client with id {cid}"):
        _deal(db, intern, cid)


def test_created_in_final_status_is_closed(db, admin):
    cid = _client(db, admin)
    when = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
    did = _deal(db, admin, cid, status="won", created_at=when)
    with db.read() as s:
        deal = s.get(Deal, did)
        assert deal.closed_at == when and deal.created_at == when


def test_move_stamps_and_clears_closed_at_and_records_status(db, admin):
    cid = _client(db, admin)
    did = _deal(db, admin, cid)
    with db.write() as s:
        deals.move_deal(s, admin, did, "in_progress")
    with db.read() as s:
        assert s.get(Deal, did).closed_at is None
    with db.write() as s:
        deals.move_deal(s, admin, did, DealStatus.WON)
    with db.read() as s:
        won = s.get(Deal, did)
        assert won.status == "won" and won.closed_at is not None
    with db.write() as s:
        deals.move_deal(s, admin, did, "won")  # same status: nothing happens
        deals.move_deal(s, admin, did, "payment_expected")
    with db.read() as s:
        reopened = s.get(Deal, did)
        assert reopened.status == "payment_expected" and reopened.closed_at is None
        changes = [a for a in activity.feed(s, client_id=cid) if a.kind == "status_changed"]
        assert [{k: v for k, v in a.data.items() if k != "phrase"} for a in changes] == [  # the phrase: test_feed_language
            {"from": "new", "to": "in_progress"},
            {"from": "in_progress", "to": "won"},
            {"from": "won", "to": "payment_expected"},
        ]
        assert all(a.deal_id == did for a in changes)


def test_move_to_unknown_status_names_choices(db, admin):
    did = _deal(db, admin, _client(db, admin))
    with pytest.raises(ValidationError, match="'lost' is not one of new, in_progress"):
        with db.write() as s:
            deals.move_deal(s, admin, did, "lost")


def test_intern_cannot_see_or_move_admin_deal_but_manager_can(db, admin, make_user):
    intern = make_user("Intern")
    manager = make_user("Manager")
    did = _deal(db, admin, _client(db, admin))
    with pytest.raises(NotFound):
        with db.read() as s:
            deals.get_deal(s, intern, did)
    with pytest.raises(NotFound):
        with db.write() as s:
            deals.move_deal(s, intern, did, "won")
    with db.write() as s:
        deals.move_deal(s, manager, did, "won")
    with db.read() as s:
        assert s.get(Deal, did).status == "won"
        assert deals.list_deals(s, intern) == []
        assert [d.id for d in deals.list_deals(s, manager)] == [did]


def test_giving_a_deal_to_another_user_needs_rights(db, admin, make_user):
    intern = make_user("Intern")
    other = make_user("Intern")
    cid = _client(db, intern)
    with pytest.raises(PermissionDenied, match="may not give records to other users"):
        _deal(db, intern, cid, owner_id=other.id)
    did = _deal(db, admin, cid, owner_id=intern.id)
    with db.read() as s:
        assert deals.get_deal(s, intern, did).owner_id == intern.id


def test_update_deal_records_changes_and_reindexes(db, admin, make_user):
    manager = make_user("Manager")
    cid = _client(db, admin)
    did = _deal(db, admin, cid, title="Old title", amount=10)
    with db.write() as s:
        deals.update_deal(s, admin, did, title="Mobile plan", amount="99.90", owner_id=manager.id)
    with db.read() as s:
        deal = s.get(Deal, did)
        assert (deal.title, deal.amount, deal.owner_id) == ("Mobile plan", Decimal("99.90"), manager.id)
        kinds = [a.kind for a in activity.feed(s, deal_id=did)]
        assert kinds == ["deal", "owner_changed", "edited"]
        entry = s.exec(select(SearchEntry).where(SearchEntry.kind == "deal", SearchEntry.ref_id == did)).one()
        assert (entry.name, entry.owner_id) == ("Mobile plan", manager.id)
    with pytest.raises(ValidationError, match="Unknown deal field: colour"):
        with db.write() as s:
            deals.update_deal(s, admin, did, colour="red")


def test_delete_deal_needs_right_and_leaves_trace_on_client(db, admin, make_user):
    intern = make_user("Intern")
    cid = _client(db, intern)
    did = _deal(db, intern, cid)
    with db.write() as s:
        tasks.create_task(s, intern, title="Call back", deal_id=did)
    with pytest.raises(PermissionDenied):
        with db.write() as s:
            deals.delete_deal(s, intern, did)
    with db.write() as s:
        deals.delete_deal(s, admin, did)
    with db.read() as s:
        assert s.get(Deal, did) is None
        assert s.exec(select(Task).where(Task.deal_id == did)).all() == []
        assert s.exec(select(SearchEntry).where(SearchEntry.kind == "deal")).all() == []
        feed = activity.feed(s, client_id=cid)
        assert feed[-1].kind == "deal" and feed[-1].data["deleted"] is True


def test_list_filters_and_sorts(db, admin, make_user):
    manager = make_user("Manager")
    cid = _client(db, admin)
    other_cid = _client(db, admin, "Other client")
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    base = datetime(2025, 2, 1, tzinfo=UTC)
    a = _deal(db, admin, cid, title="beta", amount="9.50", created_at=base)
    b = _deal(db, admin, cid, title="Alpha", amount="100", currency="USD", created_at=base + timedelta(days=1))
    c = _deal(db, admin, other_cid, title="gamma", amount="20", status="won", created_at=base + timedelta(days=2))
    d = _deal(db, admin, cid, title="delta", amount="0", owner_id=manager.id, created_at=base + timedelta(days=3))
    with db.read() as s:
        ids = lambda *args, **kw: [x.id for x in deals.list_deals(s, admin, *args, **kw)]  # noqa: E731
        assert ids() == [a, b, c, d]
        assert ids(sort="created", descending=True) == [d, c, b, a]
        # numeric order, also on SQLite where the column is text ("100" < "20" < "9.5" as text)
        assert ids(sort="amount") == [d, a, c, b]
        assert ids(sort="title") == [b, a, d, c]
        assert ids(sort="status") == [a, b, d, c]
        assert ids(sort="closed") == [c, a, b, d]
        assert ids(DealFilter(mine=True)) == [a, b, c]
        assert ids(DealFilter(owner_id=manager.id)) == [d]
        assert ids(DealFilter(client_id=other_cid)) == [c]
        assert ids(DealFilter(statuses=(DealStatus.WON,))) == [c]
        assert ids(DealFilter(currency="usd")) == [b]
        assert ids(DealFilter(amount_min=Decimal("9.5"), amount_max=Decimal("20"))) == [a, c]
        assert ids(DealFilter(amount_min=Decimal("10"))) == [b, c]
        assert ids(DealFilter(created_from=base + timedelta(days=1), created_to=base + timedelta(days=3))) == [b, c]
        assert ids(DealFilter(closed_from=base)) == [c]
        assert ids(limit=2, offset=1) == [b, c]
        assert deals.count_deals(s, admin, DealFilter(statuses=(DealStatus.NEW,))) == 3
        with pytest.raises(ValidationError, match="sort: one of"):
            deals.list_deals(s, admin, sort="colour")
    with db.write() as s:
        deals.move_deal(s, admin, b, "cancelled", at=base + timedelta(days=5))
    with db.read() as s:
        closed = lambda **kw: [x.id for x in deals.list_deals(s, admin, sort="closed", **kw)]  # noqa: E731
        assert closed() == [c, b, a, d]
        assert closed(descending=True) == [b, c, d, a]  # latest closing first, open deals still last


def test_board_totals_in_base_currency_across_currencies(db, admin, make_user):
    intern = make_user("Intern")
    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    cid = _client(db, admin)
    _deal(db, admin, cid, amount="100", currency="EUR")
    _deal(db, admin, cid, amount="100", currency="USD")
    _deal(db, admin, cid, amount="0.05", currency="USD", status="won")
    _deal(db, admin, cid, amount="0.05", currency="USD", status="won")
    _deal(db, intern, _client(db, intern, "Intern's"), amount="7")
    with db.read() as s:
        columns = deals.board(s, admin, per_column=1)
        assert [c.status for c in columns] == list(DealStatus)
        by_status = {c.status: c for c in columns}
        assert (by_status["new"].count, by_status["new"].total_base) == (3, Decimal("197.00"))
        assert len(by_status["new"].deals) == 1  # per_column caps the cards, not the count
        # summed per currency first (0.10 USD -> 0.09), not rounded per deal (2 x 0.045 -> 0.08)
        assert by_status["won"].total_base == Decimal("0.09")
        assert by_status["cancelled"].count == 0 and by_status["cancelled"].total_base == 0
        mine = {c.status: c for c in deals.board(s, intern)}
        assert (mine["new"].count, mine["new"].total_base) == (1, Decimal("7.00"))
        assert sum(c.count for c in mine.values()) == 1
        assert str(deals.board(s, admin, DealFilter(mine=True))[0].total_base) == "190.00"


def test_sums_are_exact_decimals_on_both_databases(db, admin):
    """0.02 + 20.83 + 3.90 USD is 24.75, 22.275 EUR at 0.9, which rounds (half to even) to 22.28; added up
    as floats it is 24.749999…, 22.27 EUR. The kanban and the analytics funnel must both say 22.28."""
    from tscrm.core import analytics

    with db.write() as s:
        company.set_rate(s, admin, "USD", "0.9")
    cid = _client(db, admin)
    for amount in ("0.02", "20.83", "3.90"):
        _deal(db, admin, cid, amount=amount, currency="USD")
    with db.read() as s:
        assert deals.board(s, admin)[0].total_base == Decimal("22.28")
        period = analytics.resolve_period("30d", timezone=admin.timezone)
        assert analytics.deal_report(s, admin, period).funnel[0].amount == Decimal("22.28")


def test_note_on_deal_goes_to_client_feed(db, admin):
    from tscrm.core.services import notes

    cid = _client(db, admin)
    did = _deal(db, admin, cid)
    with db.write() as s:
        notes.add_note(s, admin, "Wants a discount", deal_id=did)
    with db.read() as s:
        note = s.exec(select(Activity).where(Activity.kind == "note")).one()
        assert (note.client_id, note.deal_id) == (cid, did)
