"""Analytics summary on a large synthetic database: latency of ``analytics.summary`` against a Python tally.

Usage: python bench/analytics.py [--clients N] [--calls N] [--deals N] [--leads N] [--tasks N]
                                 [--users N] [--runs K] [--backend sqlite|postgresql|both] [--pg-url URL]

Builds the data: clients from bench/_synthetic.py, then calls, deals (EUR and USD), leads and tasks
spread over the year before a fixed "now" (2026-03-18), written with SQLAlchemy core inserts. Then
times ``analytics.summary`` as the app calls it (a read session per run, an admin's view, every agent)
for three periods: this month, the last 30 days, and a whole year (the worst case: one chart bar per
day, every row of the year). The baseline, measured in the same run, is the same figures tallied in
Python from the period's rows (what a report without GROUP BY would do) for the calls report, the
biggest table; it also checks that both give the same figures per agent.
One figure per line on stdout, e.g.

    sqlite summary_30d p99_ms 41.2
    sqlite calls_30d ratio_sql_over_tally 0.31

Target: p99 <= 500 ms for 100k clients, 300k calls, 50k deals (the defaults). SQLite goes to bench/out/.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _synthetic
from sqlalchemy import insert, select

from tscrm.core import analytics
from tscrm.core.db import Database
from tscrm.core.models import Call, Client, Deal, Lead, SourceLabel, Task
from tscrm.core.permissions import Actor

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/tscrm_bench_analytics"
NOW = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
TARGET_P99_MS = 500.0
BATCH = 20_000


def say(backend: str, case: str, figure: str, value: object) -> None:
    print(f"{backend} {case} {figure} {value}", flush=True)


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


# --- data -----------------------------------------------------------------------------------------


def _open(backend: str, url: str) -> Database:
    if backend == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / "analytics.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        db = Database(f"sqlite:///{path}")
    else:
        import psycopg

        base, _slash, name = url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        db = Database(url)
    db.upgrade(backup=False)
    return db


def _when(rng: random.Random) -> datetime:
    return NOW - timedelta(seconds=rng.randrange(365 * 24 * 3600))


def load(backend: str, db: Database, args: argparse.Namespace) -> Actor:
    from tscrm.core.services import company, users

    with db.write() as s:
        _company, admin_user = company.setup(s, company_name="Bench", admin_name="Ana", admin_email="ana@bench.test", timezone="Europe/Madrid")
        admin = users.actor_for(s, admin_user)
        company.set_rate(s, admin, "USD", "0.92")
        agents = [admin.id] + [
            users.create_user(s, admin, name=f"Agent {i:02d}", email=f"agent{i}@bench.test", group="Manager").id for i in range(1, args.users)
        ]
        s.add_all(SourceLabel(name=n) for n in ("Web", "Fair", "Google Ads", "Referral", "Cold call"))
    started = time.perf_counter()
    persons = _synthetic.people(args.clients, users=len(agents))
    maker = _synthetic.RowMaker(agents, first_ids={"search_entry": 1})
    if backend == "sqlite":
        _synthetic.load_sqlite(Path(db.url.removeprefix("sqlite:///")), persons, maker, lambda n: None)
    else:
        _synthetic.load_postgres(args.pg_url, persons, maker, lambda n: None)
    with db.read() as s:
        client_ids = [r[0] for r in s.exec(select(Client.id))]
        source_ids = [r[0] for r in s.exec(select(SourceLabel.id))]
    rng = random.Random(11)
    with db.engine.begin() as conn:
        rows = []
        for _ in range(args.calls):
            start = _when(rng)
            answered = rng.random() < 0.6
            rows.append(dict(
                direction=rng.choice(("inbound", "outbound", "outbound")), their_number="+34600000000",
                agent_id=rng.choice(agents) if rng.random() < 0.97 else None, started_at=start,
                answered_at=start + timedelta(seconds=rng.randrange(3, 20)) if answered else None,
                ended_at=start + timedelta(seconds=rng.randrange(25, 900)),
                outcome="answered" if answered else rng.choice(("no_answer", "busy", "rejected")),
            ))
            if len(rows) == BATCH:
                conn.execute(insert(Call), rows)
                rows = []
        if rows:
            conn.execute(insert(Call), rows)
        stages = ("new", "in_progress", "decision_pending", "payment_expected", "won", "won", "cancelled")
        rows = []
        for _ in range(args.deals):
            created, status = _when(rng), rng.choice(stages)
            closed = min(NOW, created + timedelta(days=rng.randrange(1, 60))) if status in ("won", "cancelled") else None
            rows.append(dict(
                client_id=rng.choice(client_ids), title="Deal", amount=Decimal(rng.randrange(10_000, 5_000_000)) / 100,
                currency="USD" if rng.random() < 0.3 else "EUR", status=status, owner_id=rng.choice(agents),
                created_at=created, updated_at=created, closed_at=closed,
            ))
        conn.execute(insert(Deal), rows)
        rows = []
        for _ in range(args.leads):
            created = _when(rng)
            status = rng.choice(("unprocessed", "in_progress", "finished", "bad_quality"))
            owner = None if status == "unprocessed" else rng.choice(agents)
            claimed = created + timedelta(hours=rng.randrange(1, 72)) if owner else None
            closed = claimed + timedelta(days=rng.randrange(1, 20)) if status in ("finished", "bad_quality") else None
            rows.append(dict(
                name="Lead", status=status, owner_id=owner, source_id=rng.choice(source_ids) if rng.random() < 0.8 else None,
                custom={}, created_at=created, updated_at=created, claimed_at=claimed, closed_at=closed,
            ))
        conn.execute(insert(Lead), rows)
        rows = []
        for _ in range(args.tasks):
            due = _when(rng) + timedelta(days=30)
            done = due + timedelta(hours=rng.randrange(-48, 48)) if rng.random() < 0.7 else None
            rows.append(dict(type="task", title="Task", assignee_id=rng.choice(agents), due_at=due,
                             completed_at=min(done, NOW) if done else None, created_at=due - timedelta(days=3)))
        conn.execute(insert(Task), rows)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    say(backend, "data", "load_s", f"{time.perf_counter() - started:.1f}")
    return admin


# --- the baseline: the calls report tallied in Python from the rows ---------------------------------------


def python_calls(db: Database, period: analytics.Period) -> dict[int | None, tuple[int, ...]]:
    """Per agent: (total, inbound, outbound, answered, missed, no answer, talk seconds), from the period's rows."""
    figures: dict[int | None, list[int]] = {}
    with db.read() as s:
        rows = s.exec(
            select(Call.agent_id, Call.direction, Call.answered_at, Call.ended_at, Call.outcome)
            .where(Call.started_at >= period.start, Call.started_at < period.end)
        )
        for agent_id, direction, answered_at, ended_at, outcome in rows:
            f = figures.setdefault(agent_id, [0] * 7)
            unanswered = answered_at is None and (ended_at is not None or outcome is not None)
            f[0] += 1
            f[1] += direction == "inbound"
            f[2] += direction == "outbound"
            f[3] += answered_at is not None
            f[4] += direction == "inbound" and unanswered
            f[5] += direction == "outbound" and unanswered
            if answered_at is not None and ended_at is not None and ended_at > answered_at:
                f[6] += int((ended_at - answered_at).total_seconds())
    return {a: tuple(f) for a, f in figures.items()}


def _timed(runs: int, fn):  # type: ignore[no-untyped-def]
    timings, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append((time.perf_counter() - started) * 1000)
    return timings, result


def run(backend: str, db: Database, admin: Actor, runs: int) -> bool:
    ok = True
    try:
        say(backend, "machine", "loadavg_before", f"{os.getloadavg()[0]:.2f}/{os.cpu_count()}")
    except OSError:
        pass
    periods = {
        "month": analytics.resolve_period("month", timezone=admin.timezone, now=NOW),
        "30d": analytics.resolve_period("30d", timezone=admin.timezone, now=NOW),
        "year": analytics.resolve_period("custom", timezone=admin.timezone, first=date(2025, 3, 19), last=date(2026, 3, 18)),
    }
    for name, period in periods.items():

        def summary(period: analytics.Period = period) -> analytics.Summary:
            with db.read() as s:
                return analytics.summary(s, admin, period, now=NOW)

        def calls(period: analytics.Period = period) -> analytics.CallReport:
            with db.read() as s:
                return analytics.call_report(s, admin, period)

        timings, report = _timed(runs, summary)
        p50, p99 = _percentile(timings, 50), _percentile(timings, 99)
        say(backend, f"summary_{name}", "calls_in_period", report.calls.total.total)
        say(backend, f"summary_{name}", "p50_ms", f"{p50:.1f}")
        say(backend, f"summary_{name}", "p99_ms", f"{p99:.1f}")
        say(backend, f"summary_{name}", "p99_within_target", p99 <= TARGET_P99_MS)
        sql_times, sql = _timed(runs, calls)
        few = max(3, runs // 10)
        py_times, tally = _timed(few, lambda period=period: python_calls(db, period))
        same = tally == {
            f.agent_id: (f.total, f.inbound, f.outbound, f.answered, f.missed, f.no_answer, f.talk_seconds)
            for f in sql.agents if f.total
        }
        say(backend, f"calls_{name}", "sql_p50_ms", f"{_percentile(sql_times, 50):.1f}")
        say(backend, f"calls_{name}", "baseline_python_tally_p50_ms", f"{_percentile(py_times, 50):.1f}")
        say(backend, f"calls_{name}", "ratio_sql_over_tally", f"{_percentile(sql_times, 50) / _percentile(py_times, 50):.2f}")
        say(backend, f"calls_{name}", "figures_match_tally", same)
        ok &= same and p99 <= TARGET_P99_MS
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300_000)
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--leads", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--runs", type=int, default=50, help="timed summaries per period (default 50)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    args = parser.parse_args(argv)
    ok = True
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        db = _open(backend, args.pg_url)
        admin = load(backend, db, args)
        db.dispose()
        db = Database(db.url)
        ok &= run(backend, db, admin, args.runs)
        db.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
