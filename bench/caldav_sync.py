"""Calendar sync speed against a real Radicale on loopback: initial sync of N events each way, then
a sync with nothing new. Baselines from the same run: a bare caldav ``calendar.events()`` listing
of the calendar (one REPORT that downloads and parses every event, no database), one PROPFIND of the
ETags, and the N plain-HTTP PUTs that fill the calendar (what writing N events costs the server).

Usage: python bench/caldav_sync.py [N] [--db URL]   (default 1000 events, a temporary SQLite file)

Prints one figure per line. Target: the sync with nothing new well under the baseline (it asks the
server only for ETags and reads nothing else).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TSCRM_SECRET_BACKEND", "encrypted")
os.environ.setdefault("TSCRM_SECRET_KEY", "bench-key")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=1000, help="events each way")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    url, count = args.db, args.count

    import caldav
    from calendar_sync.conftest import USERS, Radicale, vevent  # tests/calendar_sync/conftest.py

    from tscrm.calendar.dav import CalendarSession
    from tscrm.calendar.sync import sync_account
    from tscrm.core.db import Database
    from sqlalchemy import delete

    from tscrm.core.models import Task
    from tscrm.core.services import calendar_accounts, company, tasks
    from tscrm.core.services.users import actor_for

    work = Path(tempfile.mkdtemp(prefix="tscrm-bench-calendar-"))
    server = Radicale(work)
    server.start()
    try:
        pull_cal = server.new_calendar("alice", "Pull")
        push_cal = server.new_calendar("alice", "Push")
        t0 = datetime(2027, 1, 4, 8, tzinfo=UTC)
        started = time.perf_counter()
        for i in range(count):
            start = t0 + timedelta(hours=i)
            server.put(pull_cal, f"ev-{i}", vevent(f"ev-{i}", f"Event {i}", f":{start:%Y%m%dT%H%M%SZ}", f":{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}"))
        print(f"setup (baseline of the tasks -> events sync): {count} events PUT one by one over plain HTTP: {time.perf_counter() - started:.2f} s")

        db = Database(url or f"sqlite:///{work / 'bench.db'}")
        db.upgrade(backup=False)
        with db.write() as s:
            _, user = company.setup(s, company_name="Bench", admin_name="Ana", admin_email="ana@bench.test", timezone="Europe/Madrid")
            admin = actor_for(s, user)
            pull = calendar_accounts.add_account(s, admin, name="Pull", url=server.url, username="alice", password=USERS["alice"], calendar=pull_cal).id

        client = caldav.DAVClient(url=server.url, username="alice", password=USERS["alice"])
        started = time.perf_counter()
        listed = caldav.Calendar(client=client, url=pull_cal).events()
        baseline = time.perf_counter() - started
        print(f"baseline: caldav calendar.events() of {len(listed)} events: {baseline:.2f} s")
        with CalendarSession(server.url, "alice", USERS["alice"]) as dav:
            started = time.perf_counter()
            etags = dav.etags(pull_cal)
            print(f"baseline: one PROPFIND of the {len(etags)} ETags (what a sync with nothing new must ask): {time.perf_counter() - started:.3f} s")

        started = time.perf_counter()
        report = sync_account(db, pull)
        assert report.ok, report.error
        print(f"initial sync, {report.counts.created_local} events -> tasks: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        report = sync_account(db, pull)
        assert report.ok and report.counts.unchanged == count, report.record()
        print(f"incremental sync, nothing new ({report.counts.unchanged} unchanged): {time.perf_counter() - started:.3f} s")

        with db.write() as s:  # the other way: the owner's tasks into an empty calendar
            s.execute(delete(Task))
            for i in range(count):
                tasks.create_task(s, admin, title=f"Task {i}", due_at=t0 + timedelta(hours=i))
            calendar_accounts.remove_account(s, admin, pull)
            push = calendar_accounts.add_account(s, admin, name="Push", url=server.url, username="alice", password=USERS["alice"], calendar=push_cal).id
        started = time.perf_counter()
        report = sync_account(db, push)
        assert report.ok, report.error
        print(f"initial sync, {report.counts.created_remote} tasks -> events: {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        report = sync_account(db, push)
        assert report.ok and report.counts.unchanged == count, report.record()
        print(f"incremental sync, nothing new ({report.counts.unchanged} unchanged): {time.perf_counter() - started:.3f} s")
        db.dispose()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
