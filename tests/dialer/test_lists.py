"""Call lists in core: building them from every source, claiming under contention, do-not-call."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from tscrm.core.db import Database
from tscrm.core.errors import Conflict, NotFound, ValidationError
from tscrm.core.models_dialer import CallListEntry, EntryState
from tscrm.core.models_telephony import CompanyTelephony
from tscrm.core.services import clients, dialer, leads
from tscrm.core.services.clients import new_contact

MONDAY_10_MADRID = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _entries(db, list_id):
    with db.read() as s:
        return list(s.exec(select(CallListEntry).where(CallListEntry.list_id == list_id).order_by(CallListEntry.position)))


def test_list_from_a_tag_takes_clients_and_open_leads_first_phone_or_all(db, admin):
    with db.write() as s:
        two = clients.create_client(s, admin, new_contact("Ana Two", phones=["+34612340001", "+34612340002"], tags=["VIP"]))
        clients.create_client(s, admin, new_contact("No Phone", tags=["vip"]))
        clients.create_client(s, admin, new_contact("Other", phones=["+34612340003"], tags=["cold"]))
        lead = leads.create_lead(s, admin, new_contact("Lead Vip", phones=["+34612340004"], tags=["vip"]))
        closed = leads.create_lead(s, admin, new_contact("Closed Vip", phones=["+34612340005"], tags=["vip"]))
        leads.close_as_bad(s, admin, closed.id)
        first = dialer.create_list(s, admin, name="VIP first", tag="vip")
        assert first.added == 2 and first.no_phone == ["No Phone"]
        s.add(CompanyTelephony(id=1, dial_all_phones=True))
        s.flush()
        every = dialer.create_list(s, admin, name="VIP all", tag="vip")  # the telephony setting decides
        assert every.list.all_phones and every.added == 3
        ids = (first.list.id, every.list.id, two.id, lead.id)
    rows = _entries(db, ids[0])
    assert [(e.number, e.name, e.client_id, e.lead_id) for e in rows] == [
        ("+34612340001", "Ana Two", ids[2], None),
        ("+34612340004", "Lead Vip", None, ids[3]),
    ]
    assert [e.number for e in _entries(db, ids[1])] == ["+34612340001", "+34612340002", "+34612340004"]


def test_list_from_pasted_numbers_reports_each_bad_line(db, admin):
    with db.write() as s:
        known = clients.create_client(s, admin, new_contact("Known Client", phones=["+34612340010"])).id
        report = dialer.create_list(
            s,
            admin,
            name="Pasted",
            numbers_text="number;name\n+34 612 34 00 10;\n0034612340011;Nuevo\n12345\n\n+34612340010\nhello;x\n",
        )
    assert report.added == 2
    assert [(b.line, b.text) for b in report.bad_lines] == [(4, "12345"), (7, "hello;x")]
    assert "12345" in report.bad_lines[0].reason
    assert report.skipped == [("+34612340010", dialer.SKIP_DUPLICATE)]
    rows = _entries(db, report.list.id)
    assert [(e.number, e.name, e.client_id) for e in rows] == [("+34612340010", "Known Client", known), ("+34612340011", "Nuevo", None)]


def test_list_from_a_client_filter_and_ids_respects_visibility(db, admin, make_user):
    intern = make_user("Intern")
    with db.write() as s:
        mine = clients.create_client(s, intern, new_contact("Mine", phones=["+34612340020"], source="web"))
        theirs = clients.create_client(s, admin, new_contact("Theirs", phones=["+34612340021"], source="web"))
        filt = dialer.parse_filter_spec(s, intern, "source=web")
        report = dialer.create_list(s, intern, name="Web", client_filter=filt)
        assert report.added == 1
        with pytest.raises(NotFound):
            dialer.create_list(s, intern, name="Sneaky", client_ids=[theirs.id])
        with pytest.raises(ValidationError, match="filter"):
            dialer.parse_filter_spec(s, intern, "colour=red")
        with pytest.raises(Conflict):
            dialer.create_list(s, intern, name="Web", client_ids=[mine.id])
        with pytest.raises(ValidationError, match="empty"):
            dialer.create_list(s, intern, name="Empty", tag="nothing")
        private = dialer.create_list(s, admin, name="Admin only", client_ids=[theirs.id]).list.id
    with db.read() as s:
        assert [l.name for l in dialer.list_lists(s, intern)] == ["Web"]
        with pytest.raises(NotFound):
            dialer.get_list(s, intern, private)


def test_stale_claims_are_reoffered_but_a_lost_claim_is_never_dialled(db, admin, make_user):
    other = make_user("Manager")
    with db.write() as s:
        list_id = dialer.create_list(s, admin, name="Shared", numbers_text="+34612340030\n+34612340031", shared=True).list.id
        first = dialer.claim_next(s, admin, list_id, "run-a", now=MONDAY_10_MADRID).entry
    later = MONDAY_10_MADRID + dialer.STALE_CLAIM * 2
    with db.write() as s:
        assert dialer.claim_next(s, other, list_id, "run-b", now=later).entry.number == "+34612340031"
        taken = dialer.claim_next(s, other, list_id, "run-b", now=later).entry  # the stale one comes back
        assert taken.id == first.id
        assert dialer.mark_dialling(s, first.id, "run-a") is False  # run-a lost it: it must not dial
        assert dialer.mark_dialling(s, first.id, "run-b") is True


WORKERS = 20
ENTRIES = 300


def test_agents_sharing_a_list_never_get_the_same_entry(db, admin, make_user):
    agents = [make_user("Intern", name=f"Dialer {i:02d}") for i in range(WORKERS)]
    numbers = "\n".join(f"+346123{50000 + i}" for i in range(ENTRIES))
    with db.write() as s:
        list_id = dialer.create_list(s, admin, name="Race", numbers_text=numbers, shared=True, check_hours=False).list.id
    racing = Database(db.url, pool_size=WORKERS + 2)
    barrier = threading.Barrier(WORKERS)
    got: Counter[int] = Counter()
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        agent = agents[index]
        rnd = random.Random(index)
        barrier.wait()
        try:
            while True:
                with racing.write() as s:
                    entry = dialer.claim_next(s, agent, list_id, f"run-{index}").entry
                    if entry is not None and rnd.random() < 0.5:
                        assert dialer.mark_dialling(s, entry.id, f"run-{index}")
                if entry is None:
                    return
                with lock:
                    got[entry.id] += 1
        except BaseException as exc:  # noqa: BLE001 - asserted below
            with lock:
                unexpected.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    racing.dispose()
    assert unexpected == []
    assert len(got) == ENTRIES and all(n == 1 for n in got.values())
    rows = _entries(db, list_id)
    assert {e.state for e in rows} == {EntryState.CLAIMED, EntryState.DIALLING}
    assert len({e.claimed_by_id for e in rows}) > 1
