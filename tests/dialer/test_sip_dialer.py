"""End to end: the dialer engine with the SIP backend against SIPp on loopback (real time).

One SIPp plays three far ends, chosen by the dialled number: one answers, one is busy, one rings
until the ring timeout makes tscrm CANCEL it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlmodel import select

from tests.telephony.conftest import make_backend, sipp  # noqa: F401 - fixtures
from tscrm.core.models import Call, CallOutcome
from tscrm.core.models_dialer import CallListEntry, DialOutcome
from tscrm.core.services import dialer
from tscrm.telephony.base import AgentLine
from tscrm.telephony.dialer import DialerEngine, DialerPhase, RealClock

pytestmark = [pytest.mark.services, pytest.mark.slow]

ANSWERS, BUSY, SILENT = "+34612345001", "+34612345002", "+34612345003"


def wait_for(engine, predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not predicate(engine.state()):
        assert time.monotonic() < deadline, engine.state()
        time.sleep(0.02)
    return engine.state()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_list_with_an_answering_a_busy_and_a_silent_number(db, admin, sipp, make_backend):  # noqa: F811
    scenario = Path(__file__).parent / "sipp" / "uas-dialer.xml"
    run = sipp(str(scenario), calls=4)
    backend, _events = make_backend(run, ring_timeout=30.0)
    with db.write() as s:
        list_id = dialer.create_list(
            s, admin, name="SIP", numbers_text=f"{ANSWERS}\n{BUSY}\n{SILENT}", gap_s=0, ring_timeout_s=5, check_hours=False
        ).list.id
    engine = DialerEngine(db, admin, list_id, backend, agent=AgentLine("100"), clock=RealClock())
    engine.start()
    talking = wait_for(engine, lambda st: st.phase == DialerPhase.TALKING)
    assert talking.current.entry.number == ANSWERS
    engine.hang_up()  # BYE from tscrm
    wait_for(engine, lambda st: st.phase == DialerPhase.WRAP_UP)
    engine.set_outcome("interested")
    final = wait_for(engine, lambda st: st.phase == DialerPhase.FINISHED)
    engine.close()
    backend.close()
    assert run.wait() == 0, run.diagnostics()
    c = final.counters
    assert (c.dialled, c.answered, c.busy, c.no_answer) == (3, 1, 1, 1)
    assert len(run.received("CANCEL")) == 1 and len(run.received("BYE")) == 1
    assert run.sent("SIP/2.0 486 Busy Here")
    with db.read() as s:
        outcomes = dict(s.exec(select(CallListEntry.number, CallListEntry.outcome)).all())
        logged = dict(s.exec(select(Call.their_number, Call.outcome)).all())
    assert outcomes == {ANSWERS: DialOutcome.INTERESTED, BUSY: DialOutcome.BUSY, SILENT: DialOutcome.NO_ANSWER}
    assert logged == {ANSWERS: CallOutcome.ANSWERED, BUSY: CallOutcome.BUSY, SILENT: CallOutcome.NO_ANSWER}
