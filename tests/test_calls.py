from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tscrm.core.errors import NotFound, PermissionDenied, ValidationError
from tscrm.core.models import Activity, Call, CallDirection, CallOutcome
from tscrm.core.services import activity, calls, clients, leads
from tscrm.core.services.calls import CallFilter, call_duration
from tscrm.core.services.clients import new_contact
from tscrm.core.services.company import get_company

T0 = datetime(2025, 6, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
def spain(db, admin):
    """Numbers typed without a country code are Spanish."""
    with db.write() as s:
        get_company(s).default_region = "ES"
    return admin


def _log(db, actor, **kw):
    kw.setdefault("direction", CallDirection.INBOUND)
    kw.setdefault("agent_id", actor.id if actor else None)
    kw.setdefault("started_at", T0)
    with db.write() as s:
        return calls.log_call(s, actor, **kw).id


@pytest.mark.parametrize("typed", ["612 34 56 78", "+34 612-345-678", "0034612345678", "(612) 345 678"])
def test_call_matched_to_client_by_number_in_any_format(db, spain, typed):
    with db.write() as s:
        cid = clients.create_client(s, spain, new_contact("Lucía", ["+34612345678"])).id
    call_id = _log(
        db,
        None,
        their_number=typed,
        agent_id=spain.id,
        answered_at=T0 + timedelta(seconds=5),
        ended_at=T0 + timedelta(seconds=155),
        recording_ref="rec/1.wav",
    )
    with db.read() as s:
        call = s.get(Call, call_id)
        assert (call.their_number, call.client_id, call.lead_id) == ("+34612345678", cid, None)
        assert call.outcome == CallOutcome.ANSWERED and call_duration(call) == 150
        entries = [a for a in activity.feed(s, client_id=cid) if a.kind == "call"]
        assert len(entries) == 1 and entries[0].created_at == T0
        assert entries[0].text == "Incoming call, 2:30"
        assert {k: v for k, v in entries[0].data.items() if k != "phrase"} == {  # the phrase: test_feed_language
            "call_id": call_id,
            "direction": "inbound",
            "outcome": "answered",
            "duration": 150,
            "recording_ref": "rec/1.wav",
            "number": "+34612345678",
            "agent_id": spain.id,
        }


def test_client_preferred_over_lead_and_lead_used_otherwise(db, spain):
    with db.write() as s:
        lid = leads.create_lead(s, spain, new_contact("Lead", ["+34 699 111 222", "+34 612 345 678"])).id
        cid = clients.create_client(s, spain, new_contact("Client", ["+34 612 345 678"])).id
    both = _log(db, spain, their_number="+34612345678")
    lead_only = _log(db, spain, their_number="699111222", direction="outbound", outcome="no_answer")
    nobody = _log(db, spain, their_number="+34 911 222 333")
    with db.read() as s:
        assert (s.get(Call, both).client_id, s.get(Call, both).lead_id) == (cid, None)
        assert (s.get(Call, lead_only).client_id, s.get(Call, lead_only).lead_id) == (None, lid)
        assert (s.get(Call, nobody).client_id, s.get(Call, nobody).lead_id) == (None, None)
        lead_feed = [a for a in activity.feed(s, lead_id=lid) if a.kind == "call"]
        assert [a.text for a in lead_feed] == ["Outgoing call, no answer"]
        assert len(s.exec(select(Activity).where(Activity.kind == "call")).all()) == 2


def test_external_id_is_idempotent_and_updates_the_feed(db, spain):
    with db.write() as s:
        cid = clients.create_client(s, spain, new_contact("Lucía", ["+34612345678"])).id
    first = _log(db, None, their_number="+34612345678", agent_id=spain.id, external_id="pbx-1")
    again = _log(
        db,
        None,
        their_number="+34612345678",
        agent_id=spain.id,
        external_id="pbx-1",
        answered_at=T0 + timedelta(seconds=3),
        ended_at=T0 + timedelta(seconds=63),
        recording_ref="rec/pbx-1.wav",
    )
    assert again == first
    with db.read() as s:
        assert len(s.exec(select(Call)).all()) == 1
        entries = [a for a in activity.feed(s, client_id=cid) if a.kind == "call"]
        assert len(entries) == 1
        assert entries[0].data["duration"] == 60 and entries[0].data["recording_ref"] == "rec/pbx-1.wav"


def test_withheld_number_is_logged_without_match(db, spain):
    call_id = _log(db, None, their_number="anonymous", agent_id=None)
    with db.read() as s:
        call = s.get(Call, call_id)
        assert (call.their_number, call.client_id, call.agent_id) == ("anonymous", None, None)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"started_at": datetime(2025, 6, 11, 9, 0)}, "started_at"),
        ({"ended_at": T0 - timedelta(seconds=1)}, "ended_at"),
        ({"answered_at": T0 - timedelta(seconds=1)}, "answered_at"),
        ({"their_number": "  "}, "their_number"),
        ({"outcome": "maybe"}, "outcome"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_bad_call_is_refused_naming_the_field(db, spain, kw, field):
    kw.setdefault("their_number", "+34612345678")
    with pytest.raises(ValidationError) as err:
        _log(db, spain, **kw)
    assert err.value.field == field


def test_agent_logs_own_calls_only_and_sees_own_calls_only(db, spain, make_user):
    intern = make_user("Intern")
    manager = make_user("Manager")
    with pytest.raises(PermissionDenied, match="may not log calls for other users"):
        _log(db, intern, their_number="+34612345678", agent_id=manager.id)
    with db.write() as s:
        cid = clients.create_client(s, spain, new_contact("Admin's", ["+34612345678"])).id
    with pytest.raises(NotFound):
        _log(db, intern, their_number="+34612345678", client_id=cid)
    mine = _log(db, intern, their_number="+34612345678")
    theirs = _log(db, manager, their_number="+34 699 111 222", started_at=T0 + timedelta(minutes=1))
    with db.read() as s:
        assert [c.id for c in calls.list_calls(s, intern)] == [mine]
        assert [c.id for c in calls.list_calls(s, manager)] == [theirs, mine]
        with pytest.raises(NotFound):
            calls.get_call(s, intern, theirs)


def test_list_calls_filters(db, spain, make_user):
    with db.write() as s:
        cid = clients.create_client(s, spain, new_contact("Lucía", ["+34612345678"])).id
    agent = make_user("Intern")
    a = _log(db, spain, their_number="+34612345678", outcome="answered", answered_at=T0, ended_at=T0)
    b = _log(db, spain, their_number="+34 699 111 222", direction="outbound", outcome="busy", started_at=T0 + timedelta(hours=1))
    c = _log(db, agent, their_number="+33 6 12 34 56 78", started_at=T0 + timedelta(hours=2))
    with db.read() as s:
        ids = lambda **kw: [x.id for x in calls.list_calls(s, spain, CallFilter(**kw))]  # noqa: E731
        assert ids() == [c, b, a]
        assert ids(direction=CallDirection.OUTBOUND) == [b]
        assert ids(outcome=CallOutcome.ANSWERED) == [a]
        assert ids(agent_id=agent.id) == [c]
        assert ids(started_from=T0 + timedelta(minutes=30), started_to=T0 + timedelta(hours=2)) == [b]
        assert ids(number="612 34 56 78") == [a]  # a full number: exact match, not the French one
        assert ids(number="5678") == [c, a]  # a fragment: its digits anywhere
        assert ids(number="111-222") == [b]
        assert ids(client_id=cid) == [a]
        assert calls.count_calls(s, spain, CallFilter(direction=CallDirection.INBOUND)) == 2
        with pytest.raises(ValidationError, match="number: 'abc' has no digits"):
            calls.list_calls(s, spain, CallFilter(number="abc"))



def test_same_external_id_logged_concurrently_updates_instead_of_failing(db, spain, monkeypatch):
    first = _log(db, None, their_number="+34612345678", agent_id=spain.id, external_id="pbx-9")
    real_existing = calls._existing
    misses = [None]  # the second report's first lookup misses the call, as if both ran at once

    def racing_existing(session, external_id):
        return misses.pop() if misses else real_existing(session, external_id)

    monkeypatch.setattr(calls, "_existing", racing_existing)
    again = _log(db, None, their_number="+34612345678", agent_id=spain.id, external_id="pbx-9", outcome="busy")
    assert again == first and misses == []
    with db.read() as s:
        assert [(c.id, c.outcome) for c in s.exec(select(Call))] == [(first, CallOutcome.BUSY)]
