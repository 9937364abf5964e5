"""``tscrm dial``, ``tscrm sms`` and ``tscrm schedule`` through the CLI (SMS against the local Zadarma server)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from tscrm.core.models import Activity, ActivityKind, CallDirection, CallOutcome, Task
from tscrm.core.models_dialer import CallListEntry, DialOutcome, SmsMessage
from tscrm.core.services import clients, tasks
from tscrm.core.services.clients import new_contact
from tscrm.core.types import utcnow
from tscrm.telephony.base import CallEvent, CallEventKind


@pytest.fixture
def run(cli):
    return cli


@pytest.fixture
def vip(db, admin):
    with db.write() as s:
        ids = [
            clients.create_client(s, admin, new_contact("José García", phones=["+34612345001"], company_name="Costa Azul", tags=["vip"])).id,
            clients.create_client(s, admin, new_contact("Lucía Gómez", phones=["+34612345002"], tags=["vip"])).id,
            clients.create_client(s, admin, new_contact("Marta Ruiz", phones=["+34612345003"], tags=["vip"])).id,
        ]
    return ids


@pytest.fixture
def zadarma(monkeypatch):
    from telephony.zadarma_server import KEY, SECRET, ZadarmaServer

    with ZadarmaServer() as server:
        monkeypatch.setenv("TSCRM_ZADARMA_URL", server.url)
        monkeypatch.setenv("TSCRM_ZADARMA_KEY", KEY)
        monkeypatch.setenv("TSCRM_ZADARMA_SECRET", SECRET)
        yield server


def test_dial_creates_lists_from_a_tag_and_a_file_and_shows_them(run, vip, tmp_path):
    made = json.loads(run("dial", "--tag", "vip", "--name", "VIP", "--json").stdout)
    assert made["to_call"] == 3 and made["name"] == "VIP"
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("phone,name\n+34 612 34 50 01,José\n555-nope,Bad\n0034612345009,Nuevo\n", encoding="utf-8")
    out = run("dial", "--file", str(numbers), "--name", "Pasted", "--gap", "2").stdout
    assert "2 numbers to call" in out and "line 3:" in out and "555-nope" in out
    listing = json.loads(run("dial", "lists", "--json").stdout)
    assert [(l["name"], l["pending"]) for l in listing] == [("Pasted", 2), ("VIP", 3)]
    shown = json.loads(run("dial", "show", "Pasted", "--json").stdout)
    assert shown["gap_s"] == 2 and [e["number"] for e in shown["entries"]] == ["+34612345001", "+34612345009"]
    assert shown["entries"][0]["name"] == "José"
    table = run("dial", "show", str(made["id"])).stdout
    assert "Lucía Gómez" in table and "to call" in table
    assert "already exists" in run("dial", "--tag", "vip", "--name", "VIP", code=5).stderr
    assert "Usage" in run("dial").stdout


def test_sms_templates_and_dry_run(run, vip):
    assert "unknown field {nombre}" in run("sms", "templates", "add", "bad", "Hola {nombre}", code=2).stderr
    run("sms", "templates", "add", "promo", "Hola {first_name} de {company}: oferta para ti, {agent}.")
    assert json.loads(run("sms", "templates", "list", "--json").stdout)[0]["name"] == "promo"
    dry = json.loads(run("sms", "send", "--tag", "vip", "--template", "promo", "--dry-run", "--json").stdout)
    assert dry["recipients"] == 3 and dry["parts"] == 3
    assert dry["preview"][0] == {
        "number": "+34612345001",
        "name": "José García",
        "text": "Hola José de Costa Azul: oferta para ti, Ana Admin.",
        "encoding": "GSM-7",
        "parts": 1,
    }
    run("sms", "templates", "remove", "promo")
    assert run("sms", "send", "--tag", "vip", "--template", "promo", code=3)


def test_bulk_sms_against_the_zadarma_server_reports_each_recipient(run, db, vip, zadarma):
    zadarma.state.sms_denied["34612345002"] = "Number in stop list"
    zadarma.state.fail["/v1/sms/send/"] = [503]  # the first request fails once, transiently
    result = run("sms", "send", "--tag", "vip", "--text", "Hola {first_name}", "--rate", "100", "--json", code=1)
    report = json.loads(result.stdout)
    rows = {r["number"]: r for r in report["recipients"]}
    assert rows["+34612345001"]["status"] == "sent" and Decimal(rows["+34612345001"]["cost"]) == Decimal("0.06")
    assert rows["+34612345002"] == {**rows["+34612345002"], "status": "failed", "error": "Number in stop list"}
    assert rows["+34612345003"]["status"] == "sent"
    assert (report["sent"], report["failed"]) == (2, 1)
    assert [p["message"] for p in zadarma.state.sms_sent] == ["Hola José", "Hola Lucía", "Hola Marta"]
    with db.read() as s:
        feed = s.exec(select(Activity).where(Activity.kind == ActivityKind.SMS).order_by(Activity.client_id)).all()
        assert [(a.client_id, a.data["status"]) for a in feed] == [(vip[0], "sent"), (vip[1], "failed"), (vip[2], "sent")]
        assert s.exec(select(SmsMessage).where(SmsMessage.number == "+34612345001")).one().attempts == 2


def test_sms_without_a_configured_service_says_so(run, vip, monkeypatch):
    monkeypatch.delenv("TSCRM_ZADARMA_KEY", raising=False)
    monkeypatch.delenv("TSCRM_ZADARMA_SECRET", raising=False)
    result = run("sms", "send", "--number", "+34612345001", "--text", "hi", code=7)
    assert "Zadarma" in result.stderr


def test_schedule_run_sends_due_sms_once(run, db, admin, vip, zadarma):
    with db.write() as s:
        tasks.create_task(s, admin, title="Remind", type="sms", sms_text="Su cita es mañana", due_at=utcnow() - timedelta(minutes=1), client_id=vip[0])
    first = json.loads(run("schedule", "run", "--only-sms", "--json").stdout)
    assert first["ran"] and [i["number"] for i in first["sms_sent"]] == ["+34612345001"]
    second = json.loads(run("schedule", "run", "--only-sms", "--json").stdout)
    assert second["sms_sent"] == [] and len(zadarma.state.sms_sent) == 1
    with db.read() as s:
        assert s.exec(select(Task)).one().completed_at is not None
    status = json.loads(run("schedule", "status", "--json").stdout)
    assert [r["status"] for r in status["runs"]] == ["finished", "finished"]


def test_schedule_install_prints_cron_and_systemd(run, db, tmp_path, monkeypatch):
    line = run("schedule", "install", "--every", "5").stdout.strip()
    assert line.startswith("*/5 * * * * ") and f"--db {db.url}" in line and line.endswith("schedule run >/dev/null 2>&1  # tscrm-schedule")
    units = run("schedule", "install", "--systemd").stdout
    assert "OnCalendar=*:0/1" in units and "ExecStart=" in units and "schedule run" in units
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no systemctl here: only the files are written
    run("schedule", "install", "--systemd", "--write")
    timer = tmp_path / "cfg" / "systemd" / "user" / "tscrm-schedule.timer"
    assert "Persistent=true" in timer.read_text()


class InstantBackend:
    """Real time, but quick: every number rings 50 ms; the ones in ``answer`` pick up and hang up 100 ms later."""

    name = "instant"
    capabilities = frozenset()

    def __init__(self, answer: set[str]) -> None:
        self.answer = answer
        self.listeners = []
        self.dialled = []
        self.n = 0

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: None

    def _emit(self, call_id, number, kind, outcome=None):
        event = CallEvent(call_id, kind, CallDirection.OUTBOUND, number, utcnow(), outcome=outcome)
        for listener in list(self.listeners):
            listener(event)

    def originate(self, agent, number):
        self.n += 1
        call_id = f"c{self.n}"
        self.dialled.append(number)
        if number in self.answer:
            threading.Timer(0.05, self._emit, (call_id, number, CallEventKind.ANSWERED)).start()
            threading.Timer(0.15, self._emit, (call_id, number, CallEventKind.ENDED, CallOutcome.ANSWERED)).start()
        else:
            threading.Timer(0.05, self._emit, (call_id, number, CallEventKind.ENDED, CallOutcome.BUSY)).start()
        return call_id

    def hang_up(self, call_id):
        pass

    def close(self):
        pass


def test_dial_run_drives_the_engine_and_asks_the_outcome(run, db, vip, monkeypatch):
    import tscrm.cli.dial as dial_cli

    backend = InstantBackend({"+34612345002"})
    monkeypatch.setattr(dial_cli, "call_backend", lambda session, user: backend)
    run("dial", "--tag", "vip", "--name", "Run me", "--gap", "0", "--any-hour")
    out = run("dial", "run", "Run me", input="x\nn\n").stdout
    assert backend.dialled == ["+34612345001", "+34612345002", "+34612345003"]
    assert "Calling +34612345002 Lucía Gómez" in out and "Answered: +34612345002" in out
    assert "not interested" in out and "Dialled 3, answered 1, no answer 0, busy 2" in out
    with db.read() as s:
        outcomes = dict(s.exec(select(CallListEntry.number, CallListEntry.outcome)).all())
    assert outcomes == {"+34612345001": DialOutcome.BUSY, "+34612345002": DialOutcome.NOT_INTERESTED, "+34612345003": DialOutcome.BUSY}
