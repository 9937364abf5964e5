"""Incoming calls: a SIPp client calls tscrm (registered at a SIPp registrar) and the agent answers,
declines, is outside working hours, or the caller gives up."""

from __future__ import annotations

import pytest

from tests.telephony.conftest import MemoryAudio, through, tone
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.telephony.base import CallEventKind

pytestmark = pytest.mark.services


def test_incoming_call_is_answered_talks_and_ends_with_the_callers_bye(sipp, make_backend):
    registrar = sipp("registrar.xml", calls=1)
    sent = tone(20)
    audio = MemoryAudio(list(sent))
    backend, events = make_backend(registrar, audio=audio)
    caller = sipp("uac-call.xml", calls=1, remote=("127.0.0.1", backend.sip_port), rtp_echo=True)
    incoming = events.wait_for(CallEventKind.INCOMING)
    assert (incoming.direction, incoming.number, incoming.did) == (CallDirection.INBOUND, "5550100", "912345678")
    backend.answer(incoming.call_id)
    assert events.wait_for(CallEventKind.ANSWERED).call_id == incoming.call_id
    ended = events.wait_for(CallEventKind.ENDED)
    assert (ended.outcome, ended.reason) == (CallOutcome.ANSWERED, "remote hung up")
    assert int(ended.data["duration"]) >= 1
    assert caller.wait() == 0, caller.diagnostics()
    assert through("PCMU", sent) in b"".join(audio.heard)  # what we said came back through SIPp's echo
    ringing, ok = caller.received("SIP/2.0 180")[0], caller.received("SIP/2.0 200", "INVITE")[0]
    assert ringing.header("To") == ok.header("To") and ";tag=" in ok.header("To")
    assert "m=audio" in ok.text and ok.header("Contact") == f"<sip:agent1@127.0.0.1:{backend.sip_port}>"
    assert caller.received("SIP/2.0 200", "BYE")
    backend.close()
    assert registrar.wait() == 0, registrar.diagnostics()


def test_declined_call_gets_603(sipp, make_backend):
    registrar = sipp("registrar.xml", calls=1)
    backend, events = make_backend(registrar)
    caller = sipp("uac-refused.xml", calls=1, remote=("127.0.0.1", backend.sip_port))
    incoming = events.wait_for(CallEventKind.INCOMING)
    backend.hang_up(incoming.call_id)
    ended = events.wait_for(CallEventKind.ENDED)
    assert (ended.outcome, ended.status_code) == (CallOutcome.REJECTED, 603)
    assert caller.wait() == 0, caller.diagnostics()
    assert caller.received("SIP/2.0 603 Decline")


def test_outside_working_hours_nothing_rings_and_the_caller_gets_480(sipp, make_backend):
    registrar = sipp("registrar.xml", calls=1)
    backend, events = make_backend(registrar, ring_only_when=lambda: False)
    caller = sipp("uac-refused.xml", calls=1, remote=("127.0.0.1", backend.sip_port))
    ended = events.wait_for(CallEventKind.ENDED)
    assert (ended.direction, ended.outcome, ended.status_code) == (CallDirection.INBOUND, CallOutcome.NO_ANSWER, 480)
    assert ended.data["refused"] == "outside_hours" and ended.number == "5550100"
    assert CallEventKind.INCOMING not in events.kinds()
    assert caller.wait() == 0, caller.diagnostics()
    assert caller.received("SIP/2.0 480") and not caller.received("SIP/2.0 180")


def test_caller_giving_up_while_it_rings_is_a_missed_call(sipp, make_backend):
    registrar = sipp("registrar.xml", calls=1)
    backend, events = make_backend(registrar, ring_only_when=lambda: True)
    caller = sipp("uac-cancel.xml", calls=1, remote=("127.0.0.1", backend.sip_port))
    incoming = events.wait_for(CallEventKind.INCOMING)
    ended = events.wait_for(CallEventKind.ENDED)
    assert (ended.call_id, ended.outcome, ended.status_code) == (incoming.call_id, CallOutcome.NO_ANSWER, 487)
    assert caller.wait() == 0, caller.diagnostics()  # it got 200 for the CANCEL and 487 for the INVITE


def test_agent_hangs_up_an_incoming_call_with_a_bye_in_the_callers_dialog(sipp, make_backend):
    registrar = sipp("registrar.xml", calls=1)
    backend, events = make_backend(registrar)
    caller = sipp("uac-agent-hangs-up.xml", calls=1, remote=("127.0.0.1", backend.sip_port))
    incoming = events.wait_for(CallEventKind.INCOMING)
    backend.answer(incoming.call_id)
    events.wait_for(CallEventKind.ANSWERED)
    backend.hang_up(incoming.call_id)
    ended = events.wait_for(CallEventKind.ENDED)
    assert ended.outcome == CallOutcome.ANSWERED and "duration" in ended.data
    assert caller.wait() == 0, caller.diagnostics()
    invite, ok, bye = caller.sent("INVITE")[0], caller.received("SIP/2.0 200", "INVITE")[0], caller.received("BYE")[0]
    assert bye.first_line == f"BYE sip:5550100@127.0.0.1:{caller.port} SIP/2.0"  # the caller's Contact
    assert bye.header("From") == ok.header("To")  # our side, with our tag
    assert bye.header("To") == invite.header("From")  # the caller, with its tag
    assert bye.header("Call-ID") == invite.header("Call-ID")
