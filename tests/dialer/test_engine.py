"""The dialer engine in virtual time against a scripted backend, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from tscrm.core.errors import Conflict, ValidationError
from tscrm.core.models import (
    Activity,
    ActivityKind,
    Call,
    CallOutcome,
    Lead,
    Task,
    TaskType,
)
from tscrm.core.models_dialer import CallListEntry, DialOutcome, DoNotCall, EntryState
from tscrm.core.services import clients, dialer
from tscrm.core.services.clients import new_contact
from tscrm.telephony.dialer import DialerEngine, DialerPhase

from .conftest import Peer, ScriptedCallBackend

NUMBERS = [f"+3461234{5600 + i}" for i in range(10)]


def make_list(db, actor, numbers, name="Campaign", **kw):
    with db.write() as s:
        report = dialer.create_list(s, actor, name=name, numbers_text="\n".join(numbers), **kw)
        return report.list.id


def entries_of(db, list_id):
    with db.read() as s:
        return {e.number: e for e in s.exec(select(CallListEntry).where(CallListEntry.list_id == list_id))}


def engine_for(db, actor, list_id, backend, clock):
    return DialerEngine(db, actor, list_id, backend, clock=clock)


def test_no_answer_hangs_up_after_the_ring_timeout_and_the_next_call_follows_after_the_gap(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:3])
    backend = ScriptedCallBackend(clock)  # nobody answers
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    assert engine.state().phase == DialerPhase.RINGING
    clock.run()
    assert backend.dial_times == [(NUMBERS[0], 0.0), (NUMBERS[1], 35.0), (NUMBERS[2], 70.0)]
    assert backend.hung_up == ["call-1", "call-2", "call-3"]
    state = engine.state()
    assert state.phase == DialerPhase.FINISHED
    assert state.counters.dialled == 3 and state.counters.no_answer == 3 and state.counters.answered == 0
    assert [d.outcome for d in state.done] == [DialOutcome.NO_ANSWER] * 3
    rows = entries_of(db, list_id)
    assert all(e.state == EntryState.DONE and e.outcome == DialOutcome.NO_ANSWER and e.attempts == 1 for e in rows.values())
    with db.read() as s:
        logged = s.exec(select(Call).order_by(Call.id)).all()
        assert [c.outcome for c in logged] == [CallOutcome.NO_ANSWER] * 3
        assert [c.external_id for c in logged] == ["call-1", "call-2", "call-3"]


def test_busy_and_rejected_end_the_attempt_at_once_and_the_gap_is_a_setting(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:3], ring_timeout_s=20, gap_s=2)
    backend = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("busy", 4), NUMBERS[1]: Peer("reject", 1)})
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.run()
    assert backend.dial_times == [(NUMBERS[0], 0.0), (NUMBERS[1], 6.0), (NUMBERS[2], 9.0)]
    counters = engine.state().counters
    assert (counters.busy, counters.rejected, counters.no_answer) == (1, 1, 1)
    done = {d.entry.number: d for d in engine.state().done}
    assert done[NUMBERS[0]].reason == "486 Busy Here"


def test_answered_call_waits_for_the_outcome_then_the_gap(db, admin, clock):
    with db.write() as s:
        client = clients.create_client(s, admin, new_contact("José García", phones=[NUMBERS[0]]))
        client_id = client.id
    list_id = make_list(db, admin, NUMBERS[:2])
    backend = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("answer", 3, talk_s=20)})
    engine = engine_for(db, admin, list_id, backend, clock)
    seen = []
    engine.subscribe(lambda st: seen.append(st.phase))
    engine.start()
    clock.advance(3)
    assert engine.state().phase == DialerPhase.TALKING
    assert engine.state().current.entry.client_id == client_id and engine.state().current.entry.name == "José García"
    clock.advance(20)
    assert engine.state().phase == DialerPhase.WRAP_UP
    clock.advance(600)  # the agent takes their time: nothing is dialled meanwhile
    assert backend.dialled == [NUMBERS[0]]
    engine.set_outcome("interested", note="wants the premium plan")
    assert engine.state().phase == DialerPhase.WAITING
    assert engine.state().next_dial_at == clock.now() + timedelta(seconds=5)
    clock.advance(5)
    assert backend.dialled == [NUMBERS[0], NUMBERS[1]]
    state = engine.state()
    assert state.counters.answered == 1 and state.counters.talk_seconds == 20
    assert state.done[0].outcome == DialOutcome.INTERESTED and state.done[0].talk_seconds == 20
    assert DialerPhase.TALKING in seen and DialerPhase.WRAP_UP in seen
    with db.read() as s:
        call = s.exec(select(Call).where(Call.external_id == "call-1")).one()
        assert call.client_id == client_id and call.outcome == CallOutcome.ANSWERED
        assert (call.ended_at - call.answered_at).total_seconds() == 20
        feed = s.exec(select(Activity).where(Activity.client_id == client_id).order_by(Activity.id)).all()
        assert [a.kind for a in feed][-2:] == [ActivityKind.CALL, ActivityKind.NOTE]
        assert "interested" in feed[-1].text and "premium plan" in feed[-1].text


def test_outcome_given_while_talking_applies_at_hang_up(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:2])
    backend = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("answer", 1, talk_s=None)})
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.advance(10)
    engine.set_outcome("not_interested")
    assert engine.state().phase == DialerPhase.TALKING
    engine.hang_up()
    assert engine.state().phase == DialerPhase.WAITING
    assert entries_of(db, list_id)[NUMBERS[0]].outcome == DialOutcome.NOT_INTERESTED
    assert engine.state().counters.talk_seconds == 9


def test_call_back_later_makes_a_call_task_and_do_not_call_is_final(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:2])
    backend = ScriptedCallBackend(clock, default=Peer("answer", 2, talk_s=5))
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.advance(7)
    with pytest.raises(ValidationError, match="callback_at"):
        engine.set_outcome(DialOutcome.CALL_BACK)
    with pytest.raises(ValidationError, match="outcome"):
        engine.set_outcome("maybe")
    when = clock.now() + timedelta(days=1)
    engine.set_outcome(DialOutcome.CALL_BACK, callback_at=when)
    clock.advance(5 + 7)
    engine.set_outcome(DialOutcome.DO_NOT_CALL)
    rows = entries_of(db, list_id)
    with db.read() as s:
        task = s.get(Task, rows[NUMBERS[0]].task_id)
        assert task.type == TaskType.CALL and task.due_at == when and task.assignee_id == admin.id
        assert task.lead_id == rows[NUMBERS[0]].lead_id is not None  # the unknown number became a lead
        lead = s.get(Lead, task.lead_id)
        assert lead.owner_id == admin.id
        assert s.exec(select(DoNotCall.number)).all() == [NUMBERS[1]]
    # a later outcome on the same number cannot clear the flag, and every new list skips it
    with db.write() as s:
        dialer.set_do_not_call(s, admin, NUMBERS[1], "again")
        report = dialer.create_list(s, admin, name="Second", numbers_text=f"{NUMBERS[1]}\n{NUMBERS[2]}")
        assert report.added == 1 and report.skipped == [(NUMBERS[1], dialer.SKIP_DO_NOT_CALL)]
        assert s.exec(select(DoNotCall.reason)).one() == "asked during a dialer call"
    with db.read() as s, pytest.raises(Conflict):
        dialer.record_outcome(s, admin, rows[NUMBERS[1]].id, "interested")


def test_unknown_number_that_answered_becomes_a_lead_with_source_dialer(db, admin, clock):
    list_id = make_list(db, admin, [f"{NUMBERS[0]},Mystery caller"])
    backend = ScriptedCallBackend(clock, default=Peer("answer", 1, talk_s=3))
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.advance(4)
    engine.set_outcome("interested")
    with db.read() as s:
        lead = s.exec(select(Lead)).one()
        from tscrm.core.models import SourceLabel

        assert lead.name == "Mystery caller" and s.get(SourceLabel, lead.source_id).name == "dialer"
        assert s.exec(select(Call)).one().lead_id == lead.id


def test_pause_resume_skip_and_stop(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:5])
    backend = ScriptedCallBackend(clock, default=Peer("busy", 1))
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.advance(1)  # busy → gap before NUMBERS[1]
    assert engine.state().phase == DialerPhase.WAITING and engine.state().next_entry.number == NUMBERS[1]
    engine.pause()
    clock.advance(300)
    assert backend.dialled == [NUMBERS[0]] and engine.state().phase == DialerPhase.PAUSED
    engine.resume()
    clock.advance(4.9)
    assert backend.dialled == [NUMBERS[0]]
    clock.advance(0.1)
    assert backend.dialled == [NUMBERS[0], NUMBERS[1]]
    clock.advance(1)  # busy again, NUMBERS[2] is next
    engine.skip()  # pass over NUMBERS[2]
    assert engine.state().next_entry.number == NUMBERS[3]
    clock.advance(5)
    assert backend.dialled[-1] == NUMBERS[3]
    # skip while ringing: cancelled, hung up
    backend.peers[NUMBERS[4]] = Peer("silent")
    clock.advance(1 + 5)
    assert engine.state().phase == DialerPhase.RINGING and engine.state().current.entry.number == NUMBERS[4]
    engine.skip()
    assert backend.hung_up == ["call-4"]
    assert engine.state().phase == DialerPhase.FINISHED
    rows = entries_of(db, list_id)
    assert rows[NUMBERS[2]].state == EntryState.SKIPPED and rows[NUMBERS[2]].skip_reason == dialer.SKIP_BY_AGENT
    assert rows[NUMBERS[2]].attempts == 0
    assert rows[NUMBERS[4]].outcome == DialOutcome.CANCELLED
    assert engine.state().counters.skipped == 1 and engine.state().counters.cancelled == 1


def test_stop_gives_the_claimed_entry_back(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:3])
    backend = ScriptedCallBackend(clock, default=Peer("busy", 1))
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.advance(2)
    assert engine.state().next_entry.number == NUMBERS[1]
    engine.stop()
    clock.advance(100)
    assert engine.state().phase == DialerPhase.STOPPED and backend.dialled == [NUMBERS[0]]
    assert entries_of(db, list_id)[NUMBERS[1]].state == EntryState.PENDING
    with pytest.raises(Conflict):
        engine.hang_up()


def test_crash_while_dialling_is_reported_and_never_redialled(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:4])
    first = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("busy", 1)})
    engine = engine_for(db, admin, list_id, first, clock)
    engine.start()
    clock.advance(1 + 5)  # NUMBERS[1] is ringing now
    assert engine.state().phase == DialerPhase.RINGING
    # the process dies: nothing more of this engine runs
    engine._cancel_timer()
    engine._unsubscribe()
    clock2 = type(clock)(clock.now() + timedelta(minutes=1))
    second = ScriptedCallBackend(clock2, default=Peer("busy", 1))
    restarted = engine_for(db, admin, list_id, second, clock2)
    restarted.start()
    clock2.run()
    assert first.dialled == NUMBERS[:2]
    assert second.dialled == NUMBERS[2:4]  # resumed where it stopped; NUMBERS[1] not dialled again
    state = restarted.state()
    assert [e.number for e in state.interrupted] == [NUMBERS[1]]
    rows = entries_of(db, list_id)
    assert rows[NUMBERS[1]].state == EntryState.DIALLING
    with db.read() as s:
        assert [e.number for e in dialer.interrupted_entries(s, list_id)] == [NUMBERS[1]]
    # the agent decides: call it again
    restarted.resolve_interrupted(rows[NUMBERS[1]].id, requeue=True)
    assert restarted.state().interrupted == ()
    clock2.run()
    assert second.dialled == [*NUMBERS[2:4], NUMBERS[1]]


def test_crash_between_claim_and_dial_gives_the_entry_back(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:3])
    first = ScriptedCallBackend(clock, {NUMBERS[0]: Peer("busy", 1)})
    engine = engine_for(db, admin, list_id, first, clock)
    engine.start()
    clock.advance(2)  # NUMBERS[1] claimed, waiting for the gap
    engine._cancel_timer()
    engine._unsubscribe()
    assert entries_of(db, list_id)[NUMBERS[1]].state == EntryState.CLAIMED
    second = ScriptedCallBackend(clock, default=Peer("busy", 1))
    restarted = engine_for(db, admin, list_id, second, clock)
    restarted.start()
    clock.run()
    assert second.dialled == NUMBERS[1:3] and restarted.state().interrupted == ()


def test_two_agents_share_a_list_and_never_get_the_same_entry(db, admin, make_user, clock):
    other = make_user("Manager", name="Berta")
    list_id = make_list(db, admin, NUMBERS, shared=True)
    peers = {n: Peer("busy", 1 + i % 3) for i, n in enumerate(NUMBERS)}
    b1 = ScriptedCallBackend(clock, peers)
    b2 = ScriptedCallBackend(clock, peers)
    e1 = engine_for(db, admin, list_id, b1, clock)
    e2 = engine_for(db, other, list_id, b2, clock)
    e1.start()
    e2.start()
    clock.run()
    assert sorted(b1.dialled + b2.dialled) == sorted(NUMBERS)
    assert b1.dialled and b2.dialled and not set(b1.dialled) & set(b2.dialled)
    rows = entries_of(db, list_id)
    assert {n for n, e in rows.items() if e.claimed_by_id == other.id} == set(b2.dialled)
    assert e1.state().phase == e2.state().phase == DialerPhase.FINISHED


def test_flagged_and_out_of_hours_numbers_are_skipped_with_a_reason(db, admin, clock):
    us = "+12025550123"  # Washington: 04:00 when it is 10:00 in Madrid
    list_id = make_list(db, admin, [NUMBERS[0], us, NUMBERS[1]])
    with db.write() as s:
        dialer.set_do_not_call(s, admin, NUMBERS[1], "asked by email")
    backend = ScriptedCallBackend(clock, default=Peer("busy", 1))
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.run()
    assert backend.dialled == [NUMBERS[0]]
    rows = entries_of(db, list_id)
    assert rows[us].state == EntryState.SKIPPED and rows[us].skip_reason.startswith("outside_hours: Mon 04:00 America/New_York")
    assert rows[NUMBERS[1]].skip_reason == dialer.SKIP_DO_NOT_CALL
    assert "outside working hours (Mon 04:00 America/New_York)" in dialer.skip_reason_text(rows[us].skip_reason)
    assert {d.reason.split(":")[0] for d in engine.state().done if d.state == EntryState.SKIPPED} == {"outside_hours", "do_not_call"}
    with db.write() as s:
        assert dialer.requeue(s, admin, list_id, skip_reasons=[dialer.SKIP_OUTSIDE_HOURS, dialer.SKIP_DO_NOT_CALL]) == 1


def test_backend_that_cannot_place_calls_pauses_the_dialer_with_the_error(db, admin, clock):
    list_id = make_list(db, admin, NUMBERS[:5], gap_s=0)
    backend = ScriptedCallBackend(clock, default=Peer("refuse"))
    engine = engine_for(db, admin, list_id, backend, clock)
    engine.start()
    clock.run()
    state = engine.state()
    assert state.phase == DialerPhase.PAUSED and state.error == f"cannot call {NUMBERS[2]}"
    assert state.counters.failed == 3 and len(backend.dialled) == 3


def test_outside_the_agents_own_hours_the_list_waits_instead_of_skipping(db, admin):
    from datetime import UTC, datetime

    from tscrm.telephony.dialer import VirtualClock

    evening = VirtualClock(datetime(2026, 1, 5, 20, 0, tzinfo=UTC))  # 21:00 in Madrid
    list_id = make_list(db, admin, NUMBERS[:2])
    backend = ScriptedCallBackend(evening, default=Peer("busy", 1))
    engine = engine_for(db, admin, list_id, backend, evening)
    engine.start()
    state = engine.state()
    assert state.phase == DialerPhase.PAUSED and state.error == "outside your working hours (Mon 21:00 Europe/Madrid)"
    assert backend.dialled == [] and {e.state for e in entries_of(db, list_id).values()} == {EntryState.PENDING}
    evening.advance(12 * 3600)  # Tuesday 09:00 in Madrid
    engine.resume()
    evening.run()
    assert backend.dialled == NUMBERS[:2] and engine.state().phase == DialerPhase.FINISHED
