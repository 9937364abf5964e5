"""The webhook server: Zadarma's URL check, signed events → stored events and calls, refusals.

Most tests use FastAPI's TestClient (both databases); one runs ``tscrm serve`` for real (uvicorn on a
free loopback port) and talks to it with httpx.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from tests.server.conftest import CALLER, DID, NOW, SECRET, ZD_CALLER, call_fields, pbx_time, signed
from tscrm.core.models import Activity, ActivityKind, Call, CallOutcome, Client, Lead, User
from tscrm.core.models_telephony import PbxEvent
from tscrm.core.services import calls, clients, telephony
from tscrm.core.services.clients import new_contact
from tscrm.server.app import create_app

URL = "/zadarma/webhook"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def web(db, company, clock):
    return TestClient(create_app(db, clock=clock))


def _post(web, event, *, secret=SECRET, headers=None, **fields):
    body, signature = signed(event, secret, **fields)
    return web.post(URL, data=body, headers=signature if headers is None else headers)


def _events(db):
    with db.read() as s:
        return [(e.event, e.pbx_call_id) for e in s.exec(select(PbxEvent).order_by(PbxEvent.id))]


def test_url_check_echoes_the_token(web):
    answer = web.get(URL, params={"zd_echo": "d41d8cd98f00b204"})
    assert answer.status_code == 200 and answer.text == "d41d8cd98f00b204"
    assert answer.headers["content-type"].startswith("text/plain")
    assert web.get(URL).status_code == 400


def test_a_whole_incoming_call(db, web, company, clock, make_user):
    make_user("Intern", name="Bea", extension="201")
    agent = make_user("Intern", name="Carl", extension="202")
    with db.write() as s:
        client_id = clients.create_client(s, company, new_contact("Lucía", [CALLER])).id
    start = call_fields()
    steps = [
        ("NOTIFY_START", start),
        ("NOTIFY_INTERNAL", {**start, "internal": "201"}),  # two extensions ring, 202 answers
        ("NOTIFY_INTERNAL", {**start, "internal": "202"}),
        ("NOTIFY_ANSWER", {"pbx_call_id": start["pbx_call_id"], "call_start": start["call_start"], "caller_id": ZD_CALLER,
                           "destination": "202"}),
        ("NOTIFY_END", {**start, "internal": "202", "duration": "95", "disposition": "answered", "status_code": "16",
                        "is_recorded": "1", "call_id_with_rec": "1750000000.1234"}),
        ("NOTIFY_RECORD", {"pbx_call_id": start["pbx_call_id"], "call_id_with_rec": "1750000000.1234"}),
    ]
    received = [0, 1, 1, 6, 101, 130]  # seconds after NOW each webhook arrives
    for (event, fields), seconds in zip(steps, received, strict=True):
        clock.now = NOW + timedelta(seconds=seconds)
        answer = _post(web, event, **fields)
        assert answer.status_code == 200, (event, answer.text)
        assert answer.content == b""
    assert [e for e, _ in _events(db)] == [e for e, _ in steps]
    with db.read() as s:
        rows = list(s.exec(select(Call)))
        assert len(rows) == 1
        call = rows[0]
        assert (call.external_id, call.client_id, call.agent_id, call.their_number, call.source_did) == (
            "in_abc123", client_id, agent.id, CALLER, DID
        )
        assert call.outcome == CallOutcome.ANSWERED and call.recording_ref == "zadarma:1750000000.1234"
        assert call.started_at == NOW - timedelta(seconds=5)  # call_start, 10:59:55 in Madrid
        assert call.ended_at == NOW + timedelta(seconds=101) and calls.call_duration(call) == 95  # the PBX's duration
        feed = [a for a in s.exec(select(Activity).where(Activity.client_id == client_id)) if a.kind == ActivityKind.CALL]
        assert len(feed) == 1 and feed[0].data["recording_ref"] == "zadarma:1750000000.1234"


def test_outgoing_call_missed(db, web):
    fields = {"pbx_call_id": "out_77", "call_start": pbx_time(NOW), "internal": "100", "destination": ZD_CALLER}
    assert _post(web, "NOTIFY_OUT_START", **fields).status_code == 200
    end = {**fields, "caller_id": "100", "duration": "0", "disposition": "no answer", "status_code": "19", "is_recorded": "0"}
    assert _post(web, "NOTIFY_OUT_END", **end).status_code == 200
    with db.read() as s:
        call = s.exec(select(Call)).one()
        assert (call.direction, call.their_number, call.agent_id, call.outcome) == ("outbound", CALLER, 1, CallOutcome.NO_ANSWER)
        assert call.recording_ref is None


def test_forged_and_unsigned_webhooks_are_refused_and_logged(db, web, caplog):
    caplog.set_level(logging.WARNING, logger="tscrm.server")
    forged = _post(web, "NOTIFY_START", secret="guessed", **call_fields())
    assert forged.status_code == 401
    body, _sig = signed("NOTIFY_START", **call_fields())
    assert web.post(URL, data=body).status_code == 401
    # a genuine signature over other fields: the caller id was changed on the way
    body, signature = signed("NOTIFY_START", **call_fields())
    assert web.post(URL, data={**body, "caller_id": "34699999999"}, headers=signature).status_code == 401
    assert _events(db) == []
    with db.read() as s:
        assert list(s.exec(select(Call))) == []
    lines = [r.getMessage() for r in caplog.records if r.name == "tscrm.server"]
    assert len(lines) == 3
    assert all("NOTIFY_START" in line and "testclient" in line for line in lines)
    assert not any(SECRET in line for line in lines)


@pytest.mark.parametrize(
    "fields",
    [
        {},  # no event
        {"event": "NOTIFY_LUNCH", "pbx_call_id": "in_1"},
        {"event": "NOTIFY_START", "pbx_call_id": "in_1", "call_start": "2025-06-11 11:00:00", "called_did": DID},  # no caller_id
        {"event": "NOTIFY_START", "pbx_call_id": "in_1", "call_start": "yesterday", "caller_id": CALLER, "called_did": DID},
        {"event": "NOTIFY_RECORD", "pbx_call_id": "in_1"},
    ],
)
def test_malformed_webhooks_are_bad_requests(db, web, fields):
    from tscrm.integrations.zadarma_signing import WEBHOOK_SIGNED_FIELDS, webhook_event_signature

    event = fields.get("event", "")
    headers = {"Signature": webhook_event_signature(event, fields, SECRET)} if event in WEBHOOK_SIGNED_FIELDS else {}
    assert web.post(URL, data=fields, headers=headers).status_code == 400
    assert _events(db) == []


def test_oversized_body_is_refused(db, web):
    fields = {**call_fields(), "padding": "x" * 70_000}
    assert _post(web, "NOTIFY_START", **fields).status_code == 413
    assert _events(db) == []


def test_broken_json_is_a_bad_request(web):
    answer = web.post(URL, content=b"{not json", headers={"content-type": "application/json", "Signature": "x"})
    assert answer.status_code == 400


def test_stale_and_replayed_webhooks_are_refused(db, web, caplog):
    caplog.set_level(logging.WARNING, logger="tscrm.server")
    old = call_fields("in_old", start=NOW - timedelta(minutes=11))
    assert _post(web, "NOTIFY_START", **old).status_code == 409
    future = call_fields("in_future", start=NOW + timedelta(minutes=11))
    assert _post(web, "NOTIFY_START", **future).status_code == 409
    # the end of a long call: started 40 minutes ago, talked 39
    long_end = call_fields("in_long", start=NOW - timedelta(minutes=40), duration=str(39 * 60), disposition="answered")
    assert _post(web, "NOTIFY_END", **long_end).status_code == 200
    fresh = call_fields("in_fresh")
    assert _post(web, "NOTIFY_START", **fresh).status_code == 200
    assert _post(web, "NOTIFY_START", **fresh).status_code == 409  # replayed
    assert _events(db) == [("NOTIFY_END", "in_long"), ("NOTIFY_START", "in_fresh")]
    lines = [r.getMessage() for r in caplog.records if r.name == "tscrm.server"]
    assert any("stale" in line for line in lines) and any("replayed" in line for line in lines)
    with db.read() as s:
        assert sorted(c.external_id for c in s.exec(select(Call))) == ["in_fresh", "in_long"]


def test_start_of_a_known_client_is_routed_to_the_online_owner(db, web, company, make_user):
    owner = make_user("Intern", name="Olga", extension="201", timezone="Europe/Madrid")
    with db.write() as s:
        clients.create_client(s, company, new_contact("Lucía", [CALLER]), owner_id=owner.id)
        telephony.save_company_settings(s, company, route_to_owner=True)
        s.get(User, owner.id).last_seen_at = NOW - timedelta(seconds=10)
    answer = _post(web, "NOTIFY_START", **call_fields("in_routed"))
    assert answer.status_code == 200
    assert answer.json() == {"redirect": "201", "return_timeout": 20}
    # an unknown caller takes the normal scenario
    stranger = {**call_fields("in_other"), "caller_id": "34699999999"}
    answer = _post(web, "NOTIFY_START", **stranger)
    assert answer.status_code == 200 and answer.content == b""
    # the owner's app stopped beating: normal scenario too
    with db.write() as s:
        s.get(User, owner.id).last_seen_at = NOW - timedelta(minutes=5)
    answer = _post(web, "NOTIFY_START", **call_fields("in_later"))
    assert answer.status_code == 200 and answer.content == b""


def test_auto_lead_from_a_webhook_gets_the_did_label_and_utm(db, web, company):
    with db.write() as s:
        telephony.save_company_settings(s, company, auto_lead_incoming=True)
    fields = {**call_fields("in_new"), "caller_id": "34699000111", "utm_source": "google", "utm_campaign": "summer"}
    assert _post(web, "NOTIFY_START", **fields).status_code == 200
    with db.read() as s:
        lead = s.exec(select(Lead)).one()
        assert lead.owner_id is None and (lead.utm_source, lead.utm_campaign) == ("google", "summer")
        from tscrm.core.services.contacts import source_name

        assert source_name(s, lead.source_id) == "Billboard"
        assert s.exec(select(Call)).one().lead_id == lead.id
        assert list(s.exec(select(Client))) == []


def test_secret_from_the_environment_and_none_at_all(db, admin, monkeypatch):
    web = TestClient(create_app(db, clock=lambda: NOW))
    assert _post(web, "NOTIFY_START", **call_fields()).status_code == 503  # nothing configured
    monkeypatch.setenv("TSCRM_ZADARMA_SECRET", "ENVSECRET")
    assert _post(web, "NOTIFY_START", **call_fields()).status_code == 401
    assert _post(web, "NOTIFY_START", secret="ENVSECRET", **call_fields()).status_code == 200


def test_sms_event_as_json(db, web):
    body = {"event": "SMS", "caller_id": CALLER, "caller_did": DID, "text": "Call me back", "result": "ok-123"}
    from tscrm.integrations.zadarma_signing import webhook_event_signature

    answer = web.post(URL, json=body, headers={"Signature": webhook_event_signature("SMS", body, SECRET)})
    assert answer.status_code == 200
    with db.read() as s:
        event = s.exec(select(PbxEvent)).one()
        assert (event.event, event.payload["text"]) == ("SMS", "Call me back")
    assert web.post(URL, json=body, headers={"Signature": webhook_event_signature("SMS", body, SECRET)}).status_code == 409


def test_blank_call_id_is_a_bad_request(db, web):
    assert _post(web, "NOTIFY_START", **call_fields(" ")).status_code == 400
    assert _events(db) == []


# --- the real server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tscrm_serve_over_loopback(tmp_path: Path, sqlite_template: Path):
    import shutil

    from tscrm.core.db import Database
    from tscrm.core.services import company as company_service

    path = tmp_path / "served.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    with database.write() as s:
        company_service.setup(s, company_name="Acme", admin_name="Ana", admin_email="ana@acme.test", extension="100",
                              timezone="Europe/Madrid", region="ES")
    port = _free_port()
    env = {**os.environ, "TSCRM_ZADARMA_SECRET": SECRET}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tscrm", "--db", f"sqlite:///{path}", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "tscrm serve did not start"
            time.sleep(0.1)
        assert httpx.get(base + URL, params={"zd_echo": "tok"}).text == "tok"
        from tscrm.core.types import utcnow

        body, headers = signed("NOTIFY_START", **call_fields("in_live", start=utcnow()))
        answer = httpx.post(base + URL, data=body, headers=headers, timeout=10)
        assert answer.status_code == 200
        forged = httpx.post(base + URL, data=body, headers={"Signature": "Zm9yZ2Vk"}, timeout=10)
        assert forged.status_code == 401
    finally:
        proc.terminate()
        try:
            output = proc.communicate(timeout=10)[0].decode()
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0].decode()
    with database.read() as s:
        call = s.exec(select(Call)).one()
        assert (call.external_id, call.their_number) == ("in_live", CALLER)
    database.dispose()
    assert "refused (401)" in output and "NOTIFY_START" in output and SECRET not in output


def test_serve_help():
    from tscrm.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output


def test_running_apps_are_told_about_a_stored_event(db, web):
    """The commit of a webhook notifies the change watcher every open app listens to."""
    from tscrm.core.changes import ChangeWatcher

    watcher = ChangeWatcher(db, poll_interval=0.05)
    try:
        assert watcher.wait(0.1) is False
        assert _post(web, "NOTIFY_START", **call_fields()).status_code == 200
        assert watcher.wait(5) is True
        assert _post(web, "NOTIFY_START", **call_fields()).status_code == 409  # a refusal commits nothing
        assert watcher.wait(0.3) is False
    finally:
        watcher.close()
