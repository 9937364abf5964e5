"""The auto-dialer in desk-phone mode: Zadarma callbacks, events from the stored PBX webhooks.

The test plays the PBX: when a callback request reaches the local Zadarma server, it stores the
webhooks the PBX would send (as ``tscrm serve`` does) and ``PbxEventFeed`` delivers them to the backend.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlmodel import select

from tscrm.core.models import Call, CallOutcome
from tscrm.core.models_dialer import CallListEntry, DialOutcome
from tscrm.core.phones import digits_of
from tscrm.core.services import dialer, telephony
from tscrm.core.types import utcnow
from tscrm.telephony.dialer import DialerEngine, DialerPhase
from tscrm.telephony.pbx_feed import PbxEventFeed
from tscrm.telephony.zadarma import ZadarmaCallBackend, ZadarmaClient

FIRST, SECOND = "+34612345001", "+34612345002"


@pytest.fixture
def zadarma():
    from telephony.zadarma_server import KEY, SECRET, ZadarmaServer

    with ZadarmaServer() as server:
        yield server, ZadarmaClient(KEY, SECRET, base_url=server.url)


def wait_for(check: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_desk_phone_dialer_hears_the_pbx_webhooks(db, admin, zadarma):
    from tscrm.server.zadarma_webhook import call_report

    server, client = zadarma

    def webhook(event: str, **fields: str) -> None:
        """What the webhook server does with a verified event: store it, apply it to its call."""
        payload = {"event": event, **fields}
        with db.write() as s:
            telephony.store_pbx_event(s, event, payload)
            report = call_report(payload, telephony.pbx_timezone(s), utcnow())
            if report is not None:
                telephony.apply_call_event(s, **report.as_kwargs())

    with db.write() as s:
        telephony.store_pbx_event(s, "NOTIFY_OUT_START", {"event": "NOTIFY_OUT_START", "pbx_call_id": "out_old", "internal": "100", "destination": FIRST})
        list_id = dialer.create_list(s, admin, name="Desk", numbers_text=f"{FIRST}\n{SECOND}\n", gap_s=0, ring_timeout_s=30, check_hours=False).list.id
    backend = ZadarmaCallBackend(client)
    feed = PbxEventFeed(db, backend, "100", interval=0.05)
    engine = DialerEngine(db, admin, list_id, backend)
    phases: list[DialerPhase] = []
    engine.subscribe(lambda state: phases.append(state.phase))
    feed.start()  # events stored before the start (out_old) are not delivered
    try:
        engine.start()
        wait_for(lambda: len(server.state.callbacks) == 1, "the first callback request")
        assert engine.state().phase == DialerPhase.RINGING
        start = {"internal": "100", "caller_id": "100", "call_start": "2026-03-18 10:00:00"}
        webhook("NOTIFY_OUT_START", pbx_call_id="out_1", destination=FIRST, **start)
        webhook("NOTIFY_ANSWER", pbx_call_id="out_1", destination=FIRST, **start)
        wait_for(lambda: engine.state().phase == DialerPhase.TALKING, "the answer")
        webhook("NOTIFY_OUT_END", pbx_call_id="out_1", destination=FIRST, duration="42", disposition="answered", **start)
        wait_for(lambda: engine.state().phase == DialerPhase.WRAP_UP, "the hang-up")
        engine.set_outcome("interested")
        wait_for(lambda: len(server.state.callbacks) == 2, "the second callback request")
        start = {**start, "call_start": "2026-03-18 10:01:00"}
        webhook("NOTIFY_OUT_START", pbx_call_id="out_2", destination=SECOND, **start)
        webhook("NOTIFY_OUT_END", pbx_call_id="out_2", destination=SECOND, duration="0", disposition="busy", **start)
        wait_for(lambda: engine.state().phase == DialerPhase.FINISHED, "the end of the list")
    finally:
        feed.stop()
        engine.close()
        backend.close()
    assert [digits_of(c["to"])[-9:] for c in server.state.callbacks] == ["612345001", "612345002"]
    assert all(c["from"] == "100" for c in server.state.callbacks)
    counters = engine.state().counters
    assert (counters.dialled, counters.answered, counters.busy, counters.no_answer) == (2, 1, 1, 0)
    with db.read() as s:
        outcomes = dict(s.exec(select(CallListEntry.number, CallListEntry.outcome)).all())
        logged = {c.external_id: c.outcome for c in s.exec(select(Call))}
    assert outcomes == {FIRST: DialOutcome.INTERESTED, SECOND: DialOutcome.BUSY}
    assert logged["out_1"] == CallOutcome.ANSWERED and logged["out_2"] == CallOutcome.BUSY
    assert DialerPhase.TALKING in phases


def test_feed_delivers_only_the_calls_of_its_extension(db, admin, zadarma):
    _server, client = zadarma
    backend = ZadarmaCallBackend(client)
    seen: list[tuple[str, str]] = []
    backend.subscribe(lambda event: seen.append((event.call_id, event.kind.value)))
    feed = PbxEventFeed(db, backend, "100")
    feed.start()
    feed.stop()  # polled by hand below
    with db.write() as s:
        for event, call_id, extension in [("NOTIFY_OUT_START", "out_9", "201"), ("NOTIFY_START", "in_5", ""), ("NOTIFY_INTERNAL", "in_5", "100"), ("NOTIFY_END", "in_5", "")]:
            fields = {"event": event, "pbx_call_id": call_id, "caller_id": "+34600000009", "destination": "+34611111111", "internal": extension}
            telephony.store_pbx_event(s, event, fields)
    assert feed.poll() == 3
    assert [c for c, _k in seen] == ["in_5", "in_5", "in_5"]
    assert feed.poll() == 0
    backend.close()


def test_dial_run_in_desk_phone_mode_follows_the_stored_webhooks(db, admin, zadarma, monkeypatch):
    import threading

    from typer.testing import CliRunner

    from telephony.zadarma_server import KEY, SECRET
    from tscrm.cli.main import app

    server, client = zadarma
    client.close()
    monkeypatch.setenv("TSCRM_ZADARMA_URL", server.url)
    monkeypatch.setenv("TSCRM_ZADARMA_KEY", KEY)
    monkeypatch.setenv("TSCRM_ZADARMA_SECRET", SECRET)
    with db.write() as s:
        dialer.create_list(s, admin, name="Desk", numbers_text=f"{FIRST}\n{SECOND}\n", gap_s=0, ring_timeout_s=30, check_hours=False)
    result: list = []
    runner = CliRunner(env={"COLUMNS": "200"})
    worker = threading.Thread(target=lambda: result.append(runner.invoke(app, ["--db", db.url, "dial", "run", "Desk"], input="i\n")), daemon=True)
    worker.start()
    try:
        wait_for(lambda: len(server.state.callbacks) == 1, "the first callback request")
        fields = {"event": "NOTIFY_OUT_START", "pbx_call_id": "out_1", "internal": "100", "destination": FIRST, "call_start": "2026-03-18 10:00:00"}
        for event, extra in [("NOTIFY_OUT_START", {}), ("NOTIFY_ANSWER", {}), ("NOTIFY_OUT_END", {"duration": "5", "disposition": "answered"})]:
            with db.write() as s:
                telephony.store_pbx_event(s, event, {**fields, "event": event, **extra})
        wait_for(lambda: len(server.state.callbacks) == 2, "the second callback request")
        fields = {**fields, "pbx_call_id": "out_2", "destination": SECOND}
        for event, extra in [("NOTIFY_OUT_START", {}), ("NOTIFY_OUT_END", {"duration": "0", "disposition": "busy"})]:
            with db.write() as s:
                telephony.store_pbx_event(s, event, {**fields, "event": event, **extra})
    finally:
        worker.join(timeout=20)
    assert not worker.is_alive() and result, "dial run did not finish"
    out = result[0]
    assert out.exit_code == 0, f"{out.stdout}\n{out.stderr}"
    assert "Dialled 2, answered 1, no answer 0, busy 1" in out.stdout
    with db.read() as s:
        outcomes = dict(s.exec(select(CallListEntry.number, CallListEntry.outcome)).all())
    assert outcomes == {FIRST: DialOutcome.INTERESTED, SECOND: DialOutcome.BUSY}
