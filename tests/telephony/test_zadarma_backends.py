"""The backends on the Zadarma client: SMS, desk-phone calls (callback + webhook events), recordings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tscrm.core.errors import NotFound, TelephonyError, TelephonyUnsupported
from tscrm.core.models import CallDirection, CallOutcome
from tscrm.core.recordings import fetch_to_cache
from tscrm.telephony.base import AgentLine, CallBackend, CallEvent, CallEventKind, SmsBackend
from tscrm.telephony.zadarma import (
    ZadarmaCallBackend,
    ZadarmaRecordingSource,
    ZadarmaSmsBackend,
    event_from_webhook,
    outcome_of,
    recording_ref,
)

from .zadarma_fixtures import fake_clock, zadarma_client, zadarma_server  # noqa: F401
from .zadarma_server import RECORDING_BYTES

# --- SMS ----------------------------------------------------------------------------------------------


def test_sms_one_result_per_number_with_cost_and_refusals(zadarma_server, zadarma_client):
    backend = ZadarmaSmsBackend(zadarma_client, sender="Acme")
    assert isinstance(backend, SmsBackend)
    zadarma_server.state.sms_denied = {"34600000002": "Number is in the stop list"}
    text = "x" * 200  # two parts
    results = backend.send(["+34 600 000 001", "+34600000002", "not a number", "+33612345678"], text)
    assert [r.number for r in results] == ["+34 600 000 001", "+34600000002", "not a number", "+33612345678"]
    first, denied, bad, last = results
    assert first.ok and first.parts == 2 and first.cost == Decimal("0.12") and first.currency == "USD"
    assert last.ok and last.parts == 2
    assert not denied.ok and denied.error == "Number is in the stop list" and not denied.transient
    assert not bad.ok and "not a phone number" in bad.error
    sent = zadarma_server.state.sms_sent
    assert len(sent) == 1 and sent[0]["number"] == "34600000001,34600000002,33612345678" and sent[0]["caller_id"] == "Acme"
    # the sender given to send() wins over the backend's default
    backend.send(["+34600000001"], "hi", sender="34911234567")
    assert zadarma_server.state.sms_sent[1]["caller_id"] == "34911234567"


def test_sms_single_number_takes_the_total_cost(zadarma_server, zadarma_client):
    zadarma_server.state.sms_cost = "0.075"
    [result] = ZadarmaSmsBackend(zadarma_client).send(["+34600000001"], "hi")
    assert result.ok and result.cost == Decimal("0.075") and result.parts == 1
    assert "caller_id" not in zadarma_server.state.sms_sent[0]


@pytest.mark.parametrize("status,transient", [(429, True), (500, True), (400, False)])
def test_sms_failures_say_whether_to_retry(zadarma_server, zadarma_client, status, transient):
    zadarma_server.state.fail["/v1/sms/send/"] = [status]
    results = ZadarmaSmsBackend(zadarma_client).send(["+34600000001", "+34600000002"], "hi")
    assert [r.ok for r in results] == [False, False]
    assert all(r.transient is transient for r in results)
    assert all(f"HTTP {status}" in r.error and "/v1/sms/send/" in r.error for r in results)
    assert zadarma_server.state.sms_sent == []


def test_sms_batches_long_lists(zadarma_server, zadarma_client):
    numbers = [f"+3460000{i:04d}" for i in range(5)]
    results = ZadarmaSmsBackend(zadarma_client, batch_size=2).send(numbers, "hi")
    assert [r.ok for r in results] == [True] * 5
    assert [len(s["number"].split(",")) for s in zadarma_server.state.sms_sent] == [2, 2, 1]


def test_sms_to_an_unreachable_pbx_is_transient():
    import socket

    from tscrm.telephony.zadarma import ZadarmaClient

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with ZadarmaClient("k", "s", base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
        [result] = ZadarmaSmsBackend(client).send(["+34600000001"], "hi")
    assert not result.ok and result.transient and f"127.0.0.1:{port}" in result.error


# --- calls: callback and events -------------------------------------------------------------------------


def test_originate_is_a_callback_from_the_agents_extension(zadarma_server, zadarma_client):
    backend = ZadarmaCallBackend(zadarma_client)
    assert isinstance(backend, CallBackend) and backend.capabilities == frozenset()
    call_id = backend.originate(AgentLine("100", user_id=1), "+34 612 345 678")
    assert call_id.startswith("callback:")
    assert zadarma_server.state.callbacks == [{"format": "json", "from": "100", "to": "34612345678", "sip": "100"}]
    with pytest.raises(TelephonyError, match="extension"):
        backend.originate(AgentLine(""), "+34612345678")


def test_events_reach_subscribers_tied_to_the_callback(zadarma_client):
    backend = ZadarmaCallBackend(zadarma_client)
    got: list[CallEvent] = []
    other: list[CallEvent] = []
    stop = backend.subscribe(got.append)
    backend.subscribe(lambda e: (_ for _ in ()).throw(RuntimeError("a broken listener")))
    backend.subscribe(other.append)
    provisional = backend.originate(AgentLine("100"), "+34612345678")
    ringing = event_from_webhook(
        {"event": "NOTIFY_OUT_START", "call_start": "2026-01-01 10:00:00", "pbx_call_id": "out_abc", "internal": "100", "destination": "34612345678"},
        "Europe/Madrid",
    )
    backend.deliver(ringing)
    assert got[0].call_id == "out_abc" and got[0].data["callback_id"] == provisional
    assert other == got  # the broken listener did not stop the next one
    backend.deliver(ringing)  # the tie is made once
    assert "callback_id" not in got[1].data
    stop()
    backend.deliver(ringing)
    assert len(got) == 2 and len(other) == 3


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda b: b.hang_up("out_1"), "Hang up on your phone"),
        (lambda b: b.transfer("out_1", "101"), "transfer key"),
        (lambda b: b.send_dtmf("out_1", "1"), "keypad"),
        (lambda b: b.set_muted("out_1", True), "mute key"),
        (lambda b: b.answer("in_1"), "desk phone"),
    ],
)
def test_desk_phone_mode_says_what_to_do_instead(zadarma_client, call, message):
    with pytest.raises(TelephonyUnsupported, match=message):
        call(ZadarmaCallBackend(zadarma_client))


def test_webhooks_become_call_events():
    madrid = "Europe/Madrid"  # 10:00 in Madrid in January is 09:00 UTC
    start = event_from_webhook(
        {"event": "NOTIFY_START", "call_start": "2026-01-01 10:00:00", "pbx_call_id": "in_1", "caller_id": "34612345678", "called_did": "34911234567"},
        madrid,
    )
    assert (start.kind, start.direction, start.number, start.did, start.call_id) == (
        CallEventKind.INCOMING, CallDirection.INBOUND, "+34612345678", "+34911234567", "in_1",
    )
    assert start.at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    internal = event_from_webhook(
        {"event": "NOTIFY_INTERNAL", "call_start": "2026-01-01 10:00:00", "pbx_call_id": "in_1", "caller_id": "34612345678", "called_did": "34911234567", "internal": "101"},
        madrid,
    )
    assert internal.kind == CallEventKind.INCOMING and internal.extension == "101"
    answer = event_from_webhook(
        {"event": "NOTIFY_ANSWER", "call_start": "2026-01-01 10:00:00", "pbx_call_id": "in_1", "caller_id": "34612345678", "destination": "101", "internal": "101"},
        madrid,
    )
    assert (answer.kind, answer.direction, answer.number, answer.extension) == (CallEventKind.ANSWERED, CallDirection.INBOUND, "+34612345678", "101")
    end = event_from_webhook(
        {
            "event": "NOTIFY_END", "call_start": "2026-01-01 10:00:00", "pbx_call_id": "in_1", "caller_id": "34612345678",
            "called_did": "34911234567", "internal": "101", "duration": "95", "disposition": "answered", "status_code": "16",
            "is_recorded": "1", "call_id_with_rec": "1767258000.123-in_1",
        },
        madrid,
    )
    assert (end.kind, end.outcome, end.status_code, end.reason, end.extension) == (CallEventKind.ENDED, CallOutcome.ANSWERED, 16, "", "101")
    assert end.at == datetime(2026, 1, 1, 9, 1, 35, tzinfo=UTC)
    assert end.data["call_id_with_rec"] == "1767258000.123-in_1" and end.data["recording_ref"] == recording_ref("1767258000.123-in_1")
    assert end.data["call_start"] == "2026-01-01T09:00:00+00:00" and end.data["duration"] == "95"
    out_end = event_from_webhook(
        {
            "event": "NOTIFY_OUT_END", "call_start": "2026-07-01 10:00:00", "pbx_call_id": "out_2", "caller_id": "34911234567",
            "destination": "33612345678", "internal": "100", "duration": "0", "disposition": "no money", "status_code": "34",
            "is_recorded": "0", "call_id_with_rec": "",
        },
        madrid,
    )
    assert (out_end.direction, out_end.number, out_end.outcome, out_end.reason) == (CallDirection.OUTBOUND, "+33612345678", CallOutcome.FAILED, "no money")
    assert out_end.at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # summer time: UTC+2
    assert "recording_ref" not in out_end.data
    internal_call = event_from_webhook(
        {"event": "NOTIFY_OUT_START", "call_start": "2026-01-01 10:00:00", "pbx_call_id": "out_3", "internal": "100", "destination": "101"}, madrid
    )
    assert internal_call.direction == CallDirection.INTERNAL and internal_call.number == "101"
    # not call events, or not ours
    assert event_from_webhook({"event": "NOTIFY_RECORD", "pbx_call_id": "in_1", "call_id_with_rec": "x"}) is None
    assert event_from_webhook({"event": "NOTIFY_START", "caller_id": "1"}) is None
    assert event_from_webhook({"zd_echo": "abc"}) is None


@pytest.mark.parametrize(
    "disposition,outcome",
    [
        ("answered", CallOutcome.ANSWERED), ("busy", CallOutcome.BUSY), ("cancel", CallOutcome.NO_ANSWER),
        ("no answer", CallOutcome.NO_ANSWER), ("call failed", CallOutcome.FAILED), ("unallocated number", CallOutcome.FAILED),
        ("no money, no limit", CallOutcome.FAILED), ("line limit", CallOutcome.FAILED), ("", None),
    ],
)
def test_dispositions(disposition, outcome):
    assert outcome_of(disposition)[0] == outcome


# --- recordings ---------------------------------------------------------------------------------------------


def test_recordings_are_fetched_into_the_cache(zadarma_server, zadarma_client):
    zadarma_server.state.recordings = {"1767258000.123-in_1": RECORDING_BYTES + b"1", "1767258001.5-in_1": RECORDING_BYTES + b"2"}
    zadarma_server.state.call_recordings = {"in_1": ["1767258000.123-in_1", "1767258001.5-in_1"]}
    source = ZadarmaRecordingSource(zadarma_client)
    ref = recording_ref("1767258000.123-in_1")
    path = fetch_to_cache(ref, source)
    assert path.read_bytes() == RECORDING_BYTES + b"1"
    asked = zadarma_server.requests_to("/v1/pbx/record/request/")
    assert asked[0].params["call_id"] == "1767258000.123-in_1" and asked[0].params["lifetime"] == "600"
    assert fetch_to_cache(ref, source) == path and len(zadarma_server.requests_to("/v1/pbx/record/request/")) == 1  # cached
    # by the PBX call id: the call's first recording
    assert source.fetch("zadarma:in_1") == RECORDING_BYTES + b"1"
    assert zadarma_server.requests_to("/v1/pbx/record/request/")[1].params["pbx_call_id"] == "in_1"


def test_missing_recordings_are_not_found(zadarma_server, zadarma_client):
    source = ZadarmaRecordingSource(zadarma_client)
    with pytest.raises(NotFound, match="Record not found"):
        source.fetch(recording_ref("gone"))
    # the link was handed out but the file has gone since
    zadarma_server.state.recordings = {"brief": b"x"}
    link = source.link(recording_ref("brief"))
    zadarma_server.state.recordings = {}
    with pytest.raises(NotFound):
        source.fetch(link)
    # a refused key is not "not found"
    zadarma_server.state.fail["/v1/pbx/record/request/"] = [401]
    with pytest.raises(TelephonyError) as err:
        source.fetch(recording_ref("brief"))
    assert not isinstance(err.value, NotFound)
