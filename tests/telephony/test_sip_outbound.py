"""Outbound calls through the SIP backend against SIPp: one regression test per pyVoIP 1.6.8 bug fixed.

SIPp's scenario fails (exit code 1) on any message it does not expect, so ``run.wait() == 0`` also
says that tscrm sent exactly the expected requests; the trace shows what was on the wire.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import warnings

import pytest

from tests.telephony.conftest import MemoryAudio, collect_rtp, through, tone, voice_frames
from tscrm.core.errors import TelephonyError
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.telephony.base import AgentLine, CallEventKind

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

pytestmark = pytest.mark.services

AGENT = AgentLine(extension="100")


def branch(message) -> str:
    return re.search(r"branch=([^;\s]+)", message.header("Via")).group(1)


def to_tag(message) -> str:
    return re.search(r"tag=([^;\s>]+)", message.header("To")).group(1)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_answered_call_acks_the_contact_with_the_remote_tag_and_hangs_up_with_bye(sipp, make_backend):
    run = sipp("uas-answer.xml")
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "555 12-34")
    assert events.wait_for(CallEventKind.RINGING).call_id == call_id
    answered = events.wait_for(CallEventKind.ANSWERED)
    assert answered.direction == CallDirection.OUTBOUND and answered.number == "5551234"
    backend.hang_up(call_id)
    ended = events.wait_for(CallEventKind.ENDED)
    assert ended.outcome == CallOutcome.ANSWERED and "duration" in ended.data
    backend.close()
    assert run.wait() == 0, run.diagnostics()

    invite = run.received("INVITE")[0]
    assert invite.first_line == "INVITE sip:5551234@127.0.0.1 SIP/2.0"
    assert invite.header("From").startswith("<sip:agent1@127.0.0.1>")  # the server's domain, not ours
    ok = run.sent("SIP/2.0 200 OK", "INVITE")[-1]
    ack = run.received("ACK")[0]
    contact = f"sip:callee-contact@127.0.0.1:{run.port};transport=UDP"
    assert ack.first_line == f"ACK {contact} SIP/2.0"  # pyVoIP: ACK to the To URI
    assert to_tag(ack) == to_tag(ok)  # pyVoIP: a new, invented tag
    assert branch(ack) != branch(invite)  # the ACK of a 2xx is a transaction of its own
    bye = run.received("BYE")[0]
    assert bye.first_line == f"BYE {contact} SIP/2.0" and to_tag(bye) == to_tag(ok)


def test_audio_goes_out_and_comes_back_through_sipp_echo(sipp, make_backend):
    run = sipp("uas-answer.xml", rtp_echo=True)
    sent = tone(25)
    audio = MemoryAudio(list(sent))
    backend, events = make_backend(run, audio=audio)
    call_id = backend.originate(AGENT, "5551234")
    events.wait_for(CallEventKind.ANSWERED)
    expected = through("PCMU", sent)
    for _ in range(300):  # up to 15 s on a loaded machine; usually well under one
        if expected in b"".join(audio.heard):
            break
        audio.stopped.wait(0.05)
    backend.hang_up(call_id)
    events.wait_for(CallEventKind.ENDED)
    assert expected in b"".join(audio.heard)
    assert audio.stopped.wait(2)


def test_cancel_of_a_ringing_call_ends_it_as_no_answer(sipp, make_backend):
    run = sipp("uas-cancel.xml")
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "5551234")
    events.wait_for(CallEventKind.RINGING)
    backend.hang_up(call_id)
    ended = events.wait_for(CallEventKind.ENDED)
    assert (ended.outcome, ended.status_code) == (CallOutcome.NO_ANSWER, 487)
    assert CallEventKind.ANSWERED not in events.kinds()
    backend.close()
    assert run.wait() == 0, run.diagnostics()
    invite, cancel = run.received("INVITE")[0], run.received("CANCEL")[0]
    assert branch(cancel) == branch(invite) and cancel.header("CSeq") == "1 CANCEL"
    assert cancel.first_line.split()[1] == invite.first_line.split()[1]
    assert run.received("ACK")[0].header("CSeq") == "1 ACK"  # the 487 was acknowledged


def test_ring_timeout_cancels_the_call(sipp, make_backend):
    run = sipp("uas-cancel.xml")
    backend, events = make_backend(run, ring_timeout=1.0)
    backend.originate(AGENT, "5551234")
    ended = events.wait_for(CallEventKind.ENDED)
    assert ended.outcome == CallOutcome.NO_ANSWER
    backend.close()
    assert run.wait() == 0, run.diagnostics()
    assert run.received("CANCEL")


@pytest.mark.parametrize(
    ("code", "reason", "outcome"),
    [
        (486, "Busy Here", CallOutcome.BUSY),
        (600, "Busy Everywhere", CallOutcome.BUSY),
        (603, "Decline", CallOutcome.REJECTED),
        (480, "Temporarily Unavailable", CallOutcome.NO_ANSWER),
        (408, "Request Timeout", CallOutcome.NO_ANSWER),
        (404, "Not Found", CallOutcome.FAILED),
        (503, "Service Unavailable", CallOutcome.FAILED),
    ],
)
def test_final_failure_ends_the_call_with_its_outcome_and_is_acked(sipp, make_backend, code, reason, outcome):
    run = sipp("uas-fail.xml", fill={"code": str(code), "reason": reason})
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "5551234")
    ended = events.wait_for(CallEventKind.ENDED)
    assert (ended.call_id, ended.outcome, ended.status_code) == (call_id, outcome, code)
    assert ended.reason == f"{code} {reason}"
    backend.close()
    assert run.wait() == 0, run.diagnostics()
    invite, ack = run.received("INVITE")[0], run.received("ACK")[0]
    failure = run.sent(f"SIP/2.0 {code}")[0]
    assert branch(ack) == branch(invite) and ack.header("CSeq") == "1 ACK"
    assert to_tag(ack) == to_tag(failure)


def test_proxy_and_www_challenges_on_invite_are_answered_on_new_branches(sipp, make_backend):
    run = sipp("uas-auth-invite.xml")
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "5551234")
    events.wait_for(CallEventKind.ANSWERED)
    backend.hang_up(call_id)
    events.wait_for(CallEventKind.ENDED)
    backend.close()
    assert run.wait() == 0, run.diagnostics()  # both verifyauth checks passed
    invites = run.received("INVITE")
    assert len(invites) == 3
    proxy = dict(re.findall(r'(\w+)="?([^",]*)"?', invites[1].header("Proxy-Authorization")))
    # RFC 2617 digest computed here, independently (SIPp's verifyauth ignores Proxy-Authorization)
    ha1 = md5("agent1:proxy.local:secret")
    ha2 = md5(f"INVITE:{proxy['uri']}")
    assert proxy["response"] == md5(f"{ha1}:{proxy['nonce']}:{ha2}")
    assert proxy["uri"] == "sip:5551234@127.0.0.1" and proxy["nonce"].startswith("proxy")
    assert 'realm="test.local"' in invites[2].header("Authorization")
    assert "qop=auth" in invites[2].header("Authorization")
    assert invites[2].header("Proxy-Authorization")  # the proxy still wants its answer
    assert len({branch(m) for m in invites}) == 3
    assert [m.header("CSeq") for m in invites] == ["1 INVITE", "2 INVITE", "3 INVITE"]
    assert len({m.header("Call-ID") for m in invites}) == 1


def test_call_ids_and_branches_are_random(sipp, make_backend):
    run = sipp("uas-answer.xml", calls=3)
    backend, events = make_backend(run)
    for _ in range(2):
        call_id = backend.originate(AGENT, "5551234")
        events.wait_for(CallEventKind.ANSWERED, call_id=call_id)
        backend.hang_up(call_id)
        events.wait_for(CallEventKind.ENDED, call_id=call_id)
    backend.close()
    assert run.wait() == 0, run.diagnostics()
    invites = run.received("INVITE")
    assert len({m.header("Call-ID") for m in invites}) == 2
    assert len({branch(m) for m in invites}) == 2
    # two process starts: pyVoIP's first Call-ID was sha256("1") every time
    script = (
        "import warnings; warnings.simplefilter('ignore');"
        "from tscrm.telephony.sip.phone import SipPhone;"
        "p = SipPhone('127.0.0.1', 5060, 'a', 'b', my_ip='127.0.0.1', sip_port=5060, rtp_low=1, rtp_high=2);"
        "print(p.sip.gen_call_id(), p.sip.gen_branch(), p.sip.register_call_id, p.sip.gen_tag())"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    first, second = (proc.communicate(timeout=30)[0].split() for proc in procs)
    assert len(first) == 4
    assert all(a != b for a, b in zip(first, second, strict=True))


def test_pcma_answer_is_sent_as_pcma(sipp, make_backend, rtp_sink):
    port = rtp_sink.getsockname()[1]
    run = sipp("uas-media-sink.xml", fill={"rtpport": str(port), "pt": "8", "codec": "PCMA", "evpt": "96"})
    sent = tone(10)
    backend, events = make_backend(run, audio=MemoryAudio(list(sent)))
    call_id = backend.originate(AGENT, "5551234")
    assert events.wait_for(CallEventKind.ANSWERED).data["codec"] == "PCMA"

    def heard(packets: list[bytes]) -> list[bytes]:
        return voice_frames(audioop.bias(audioop.alaw2lin(b"".join(p[12:] for p in packets), 1), 1, 128))

    packets = collect_rtp(rtp_sink, until=lambda packets: len(heard(packets)) >= len(sent))
    backend.hang_up(call_id)
    assert {p[1] & 0x7F for p in packets} == {8}
    # pyVoIP 1.6.8 sent mu-law here: garbage once decoded as A-law
    assert b"".join(heard(packets)) == through("PCMA", sent)


def test_dtmf_is_sent_as_rfc2833_events_with_the_answers_payload_type(sipp, make_backend, rtp_sink):
    port = rtp_sink.getsockname()[1]
    run = sipp("uas-media-sink.xml", fill={"rtpport": str(port), "pt": "0", "codec": "PCMU", "evpt": "96"})
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "5551234")
    events.wait_for(CallEventKind.ANSWERED)
    backend.send_dtmf(call_id, "1#")

    def both_digits_ended(packets: list[bytes]) -> bool:  # each digit ends with three end packets
        ends = [p[12] for p in packets if p[1] & 0x7F == 96 and p[13] & 0x80]
        return ends.count(1) == 3 and ends.count(11) == 3

    packets = collect_rtp(rtp_sink, until=both_digits_ended)
    backend.hang_up(call_id)
    dtmf = [p for p in packets if p[1] & 0x7F == 96]
    assert dtmf, {p[1] & 0x7F for p in packets}
    events_seen = []
    for packet in dtmf:
        marker, timestamp = bool(packet[1] & 0x80), int.from_bytes(packet[4:8], "big")
        event, flags, duration = packet[12], packet[13], int.from_bytes(packet[14:16], "big")
        events_seen.append((event, bool(flags & 0x80), duration, marker, timestamp))
    assert [e[0] for e in events_seen if e[3]] == [1, 11]  # the marker starts each digit: 1 then #
    for digit in (1, 11):
        mine = [e for e in events_seen if e[0] == digit]
        assert len({e[4] for e in mine}) == 1  # one timestamp per event
        ends = [e for e in mine if e[1]]
        assert len(ends) == 3 and ends[0][2] == 800  # 100 ms, the end packet sent three times
        assert [e[2] for e in mine if not e[1]] == [160, 320, 480, 640]
    sequences = [int.from_bytes(p[2:4], "big") for p in packets]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))  # one stream, no gaps


def test_blind_transfer_with_refer(sipp, make_backend):
    run = sipp("uas-transfer.xml", fill={"outcome": "200 OK"})
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "5551234")
    events.wait_for(CallEventKind.ANSWERED)
    backend.transfer(call_id, "102")
    ended = events.wait_for(CallEventKind.ENDED)
    assert ended.outcome == CallOutcome.ANSWERED and ended.data["transferred_to"] == "102"
    backend.close()
    assert run.wait() == 0, run.diagnostics()  # its check_it on Refer-To passed
    refer = run.received("REFER")[0]
    assert refer.header("Refer-To") == "<sip:102@127.0.0.1>"
    assert refer.first_line.startswith("REFER sip:callee-contact@")
    assert run.received("SIP/2.0 200 OK", "NOTIFY")  # the NOTIFY was answered
    assert run.received("BYE")  # and our leg hung up after the sipfrag said 200


def test_refused_transfer_keeps_the_agent_on_the_call(sipp, make_backend):
    run = sipp("uas-transfer.xml", fill={"outcome": "486 Busy Here"})
    backend, events = make_backend(run)
    call_id = backend.originate(AGENT, "5551234")
    events.wait_for(CallEventKind.ANSWERED)
    with pytest.raises(TelephonyError, match="Transfer to 102 failed: 486 Busy Here"):
        backend.transfer(call_id, "102")
    assert CallEventKind.ENDED not in events.kinds()
    backend.hang_up(call_id)  # still our call: the agent goes on talking, then hangs up
    ended = events.wait_for(CallEventKind.ENDED)
    assert "transferred_to" not in ended.data
    backend.close()
    assert run.wait() == 0, run.diagnostics()
