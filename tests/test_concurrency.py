"""Fifty agents claim from the same pool of 1,000 leads at once: each lead ends with one owner."""

from __future__ import annotations

import random
import threading
from collections import Counter

from sqlalchemy import func
from sqlmodel import select

from tscrm.core.db import Database
from tscrm.core.errors import LeadAlreadyClaimed
from tscrm.core.models import Activity, ActivityKind, Lead, LeadStatus
from tscrm.core.services import leads
from tscrm.core.services.clients import new_contact

WORKERS = 50
LEADS = 1000
ATTEMPTS_PER_LEAD = 5  # every lead is fought over by five agents


def _fill_pool(db: Database, admin) -> list[int]:
    with db.write() as s:
        return [leads.create_lead(s, admin, new_contact(f"Pool lead {i}"), to_pool=True).id for i in range(LEADS)]


def test_fifty_agents_claim_the_same_pool(db, admin, make_user):
    agents = [make_user("Intern", name=f"Agent {i:02d}") for i in range(WORKERS)]
    lead_ids = _fill_pool(db, admin)
    hot = lead_ids[0]  # all fifty agents go for this one at the same instant
    # A database handle of its own, with a connection for every worker.
    racing = Database(db.url, pool_size=WORKERS + 2)
    barrier = threading.Barrier(WORKERS)
    won: Counter[int] = Counter()
    lost: Counter[int] = Counter()
    loser_messages: list[str] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        agent = agents[index]
        mine = [lid for pos, lid in enumerate(lead_ids[1:]) if pos % (WORKERS // ATTEMPTS_PER_LEAD) == index % (WORKERS // ATTEMPTS_PER_LEAD)]
        random.Random(index).shuffle(mine)
        barrier.wait()
        for lead_id in [hot, *mine]:
            try:
                with racing.write() as s:
                    leads.claim_lead(s, agent, lead_id)
                with lock:
                    won[lead_id] += 1
            except LeadAlreadyClaimed as exc:
                with lock:
                    lost[lead_id] += 1
                    loser_messages.append(str(exc))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                with lock:
                    unexpected.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    racing.dispose()

    assert unexpected == []
    assert won[hot] == 1 and lost[hot] == WORKERS - 1
    assert set(won) == set(lead_ids) and all(n == 1 for n in won.values())
    assert sum(won.values()) + sum(lost.values()) == WORKERS + (LEADS - 1) * ATTEMPTS_PER_LEAD
    assert all("already claimed by Agent" in m for m in loser_messages)
    with db.read() as s:
        assert s.exec(select(func.count()).select_from(Lead).where(Lead.owner_id.is_(None))).one() == 0
        assert s.exec(select(func.count()).select_from(Lead).where(Lead.status == LeadStatus.IN_PROGRESS)).one() == LEADS
        claims = s.exec(
            select(Activity.lead_id, func.count()).where(Activity.kind == ActivityKind.CLAIMED).group_by(Activity.lead_id)
        ).all()
        assert len(claims) == LEADS and all(n == 1 for _, n in claims)


def test_claim_next_under_contention_hands_out_each_lead_once(db, admin, make_user):
    agents = [make_user("Intern", name=f"Next {i}") for i in range(10)]
    with db.write() as s:
        for i in range(100):
            leads.create_lead(s, admin, new_contact(f"Queue {i}"), to_pool=True)
    racing = Database(db.url, pool_size=12)
    got: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(agents))

    def work(agent) -> None:
        barrier.wait()
        while True:
            with racing.write() as s:
                lead = leads.claim_next(s, agent)
            if lead is None:
                return
            with lock:
                got.append(lead.id)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    racing.dispose()
    assert sorted(got) == sorted(set(got)) and len(got) == 100
