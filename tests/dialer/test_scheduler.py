"""The scheduler: delayed SMS sent exactly once, with concurrent runs and with a run killed midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from tscrm.core.db import Database
from tscrm.core.models import Task
from tscrm.core.models_dialer import SchedulerRun, SmsMessage, SmsStatus
from tscrm.core.services import clients, scheduler, tasks
from tscrm.core.services.clients import new_contact
from tscrm.core.types import utcnow

from .conftest import ScriptedSmsBackend


def _due_sms(db, admin, count, *, due_in=timedelta(minutes=-1)):
    numbers = []
    with db.write() as s:
        for i in range(count):
            number = f"+3461234{6000 + i}"
            client = clients.create_client(s, admin, new_contact(f"Client {i}", phones=[number]))
            tasks.create_task(s, admin, title=f"SMS {i}", type="sms", sms_text=f"Hello {{you}} {i}", due_at=utcnow() + due_in, client_id=client.id)
            numbers.append(number)
    return numbers


def test_due_sms_is_sent_once_and_its_task_done(db, admin):
    numbers = _due_sms(db, admin, 3)
    _due_sms_later = _due_sms
    with db.write() as s:
        later = clients.create_client(s, admin, new_contact("Later", phones=["+34612349999"]))
        tasks.create_task(s, admin, title="later", type="sms", sms_text="not yet", due_at=utcnow() + timedelta(hours=1), client_id=later.id)
    backend = ScriptedSmsBackend(fail={numbers[2]: "blocked"})
    jobs_seen = []
    report = scheduler.run_due(
        db, sms_backend=lambda: backend, sleep=lambda s: None, jobs=[("reminders", lambda d, now: jobs_seen.append(now) or 2), ("sync", _boom)]
    )
    assert report.ran and [i.number for i in report.sent] == numbers[:2] and [i.number for i in report.failed] == [numbers[2]]
    assert backend.sent == [(numbers[0], "Hello {you} 0"), (numbers[1], "Hello {you} 1")]
    assert report.jobs == {"reminders": "ok: 2", "sync": "error: mail server down"} and len(jobs_seen) == 1
    again = scheduler.run_due(db, sms_backend=lambda: backend, sleep=lambda s: None)
    assert again.ran and again.sent == [] and again.failed == []
    assert len(backend.sent) == 2
    with db.read() as s:
        done = s.exec(select(Task.title).where(Task.completed_at.is_not(None)).order_by(Task.title)).all()
        assert done == ["SMS 0", "SMS 1"]  # the failed one stays open, the later one is not due
        runs = s.exec(select(SchedulerRun).order_by(SchedulerRun.id)).all()
        assert [r.status for r in runs] == ["finished", "finished"] and runs[0].summary["sms_sent"] == 2


def _boom(db, now):
    raise RuntimeError("mail server down")


def test_missing_sms_service_is_reported_and_the_sms_stay_due(db, admin):
    _due_sms(db, admin, 1)
    from tscrm.core.errors import ConfigError

    def not_configured():
        raise ConfigError("SMS: no Zadarma key configured")

    report = scheduler.run_due(db, sms_backend=not_configured)
    assert report.errors == ["SMS: no Zadarma key configured"]
    backend = ScriptedSmsBackend()
    assert len(scheduler.run_due(db, sms_backend=lambda: backend, sleep=lambda s: None).sent) == 1


def test_two_concurrent_runs_send_each_due_sms_exactly_once(db, admin):
    numbers = _due_sms(db, admin, 20)
    backend = ScriptedSmsBackend()
    lock = threading.Lock()
    sent: list[str] = []

    class SlowBackend:
        name = "slow"

        def send(self, nums, text, sender=None):
            time.sleep(0.01)
            with lock:
                sent.extend(nums)
            return backend.send(nums, text, sender)

    racing = [Database(db.url) for _ in range(2)]
    barrier = threading.Barrier(2)
    reports = []

    def work(database):
        barrier.wait()
        reports.append(scheduler.run_due(database, sms_backend=SlowBackend, sleep=lambda s: None))

    threads = [threading.Thread(target=work, args=(d,)) for d in racing]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in racing:
        d.dispose()
    assert sorted(sent) == sorted(numbers)  # each exactly once
    assert sorted(r.ran for r in reports) in ([False, True], [True, True])
    assert sum(len(r.sent) for r in reports) == 20
    # even without the lock, the unique task id on the message stops a second send
    with db.write() as s:
        assert s.exec(select(SmsMessage).where(SmsMessage.status == SmsStatus.SENT)).all().__len__() == 20


KILLED_RUN = """
import sys, time
from pathlib import Path
from tscrm.core.db import Database
from tscrm.core.services import scheduler
from tscrm.telephony.base import SmsResult

log = Path(sys.argv[2])
class HangingBackend:
    name = "hanging"
    count = 0
    def send(self, numbers, text, sender=None):
        HangingBackend.count += 1
        with log.open("a") as f:
            f.write(numbers[0] + "\\n")
        if HangingBackend.count == 3:
            time.sleep(3600)  # killed here: handed to the service, result not recorded
        return [SmsResult(numbers[0], True, parts=1)]

scheduler.run_due(Database(sys.argv[1]), sms_backend=HangingBackend, sleep=lambda s: None)
"""


def test_a_run_killed_midway_then_rerun_sends_the_rest_and_nothing_twice(db, admin, tmp_path: Path):
    numbers = _due_sms(db, admin, 6)
    log = tmp_path / "sent.log"
    script = tmp_path / "killed_run.py"
    script.write_text(textwrap.dedent(KILLED_RUN))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, str(script), db.url, str(log)], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not log.exists() or len(log.read_text().split()) < 3):
            assert proc.poll() is None, "the run ended before it was killed"
            time.sleep(0.05)
        time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    first = log.read_text().split()
    assert first == numbers[:3]
    _wait_for_the_lock(db)  # PostgreSQL ends the dead client's session (and its lock) a moment later
    backend = ScriptedSmsBackend()
    report = scheduler.run_due(db, sms_backend=lambda: backend, sleep=lambda s: None)
    assert report.ran  # the dead run's lock went with it
    assert [i.number for i in report.uncertain] == [numbers[2]]
    assert [n for n, _t in backend.sent] == numbers[3:]
    assert sorted(first + [n for n, _t in backend.sent]) == sorted(numbers)  # nothing twice
    with db.read() as s:
        statuses = dict(s.exec(select(SmsMessage.number, SmsMessage.status)).all())
        assert [statuses[n] for n in numbers] == [SmsStatus.SENT] * 2 + [SmsStatus.UNCERTAIN] + [SmsStatus.SENT] * 3
        runs = s.exec(select(SchedulerRun.status).order_by(SchedulerRun.id)).all()
        assert runs == ["running", "finished"]  # the killed run is visible as never finished
    third = scheduler.run_due(db, sms_backend=lambda: backend, sleep=lambda s: None)
    assert third.uncertain == [] and third.sent == []


def _wait_for_the_lock(db, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        with scheduler.scheduler_lock(db) as got:
            if got:
                return
        assert time.monotonic() < deadline, "the killed run's lock was never released"
        time.sleep(0.05)
