"""How fast an agent's open Leads pool shows a claim made by another agent (another process or app).

Usage: python bench/live.py [--backend sqlite|postgresql|both] [--claims 20]

The app runs headless with its own change watcher on the "Unsorted" pool; a second database
connection claims one pool lead at a time as another agent, and the figure is the time from that
commit to the lead being gone from the agent's table. Baseline, measured in the same run: the bare
change watcher (``tscrm.core.changes.ChangeWatcher``) noticing the same kind of commit, which is what
the app cannot go below. One figure per line, e.g.

    sqlite claim_seen_ms p50 310.2

Target (the agent desk's promise): p99 <= 2000 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PG_URL = "postgresql://postgres@127.0.0.1:5432/tscrm_live_bench"
TARGET_MS = 2000.0


def say(what: str, figure: str, value: object) -> None:
    print(f"{what} {figure} {value}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fresh_database(backend: str, workdir: Path):
    from tscrm.core.db import Database

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'live.db'}"
    else:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS tscrm_live_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE tscrm_live_bench")
        url = PG_URL
    db = Database(url)
    db.upgrade(backup=False)
    return db


def setup(db, claims: int):
    """The company, an agent at the desk, a colleague who claims, and the pool leads."""
    from tscrm.core.services import company, leads, users
    from tscrm.core.services.clients import new_contact

    with db.write() as s:
        _, user = company.setup(s, company_name="Live Bench", admin_name="Ana Admin", admin_email="ana@live.test",
                                timezone="Europe/Madrid", region="ES")
        admin = users.actor_for(s, user)
        bob = users.actor_for(s, users.create_user(s, admin, name="Bob", email="bob@live.test", group="Intern"))
        ids = [
            leads.create_lead(s, admin, new_contact(f"Pool lead {i:03d}", [f"+3461200{i:04d}"]), to_pool=True).id
            for i in range(claims * 2)
        ]
    return admin, bob, ids


def watcher_baseline(db, bob, lead_ids: list[int]) -> list[float]:
    """Commit-to-notice times of the bare change watcher, waiting in a thread of its own as the app's does."""
    from tscrm.core.changes import ChangeWatcher
    from tscrm.core.services import leads

    watcher = ChangeWatcher(db)
    noticed: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if watcher.wait(0.25):
                noticed.append(time.perf_counter())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    times = []
    try:
        for lead_id in lead_ids:
            time.sleep(random.uniform(0.0, 0.5))  # commits at any moment, not in step with the polling
            with db.write() as s:
                leads.claim_lead(s, bob, lead_id)
            committed = time.perf_counter()
            while not any(t >= committed for t in noticed):
                time.sleep(0.001)
            times.append((min(t for t in noticed if t >= committed) - committed) * 1000)
    finally:
        stop.set()
        thread.join()
        watcher.close()
    return times


def app_claims_seen(db, admin, bob, lead_ids: list[int]) -> list[float]:
    """Commit-to-screen times in the running app."""
    from tscrm.core.services import leads
    from tscrm.tui.app import TscrmApp
    from tscrm.tui.context import AppContext

    app = TscrmApp(AppContext.load(db, admin), heartbeat=False, telephony=False)

    def names() -> set[str]:
        if app.current_mode != "leads" or type(app.screen).__name__ != "LeadsScreen":
            return set()
        table = app.screen.query_one("#leads-table")
        return {str(table.get_row_at(i)[0]) for i in range(table.row_count)}

    async def drive() -> list[float]:
        async with app.run_test(headless=True, size=(160, 48)) as pilot:
            await pilot.press("7")
            while type(app.screen).__name__ != "LeadsScreen":
                await asyncio.sleep(0.005)
            await pilot.press("u")
            while len(names()) < len(lead_ids):
                await asyncio.sleep(0.005)
            times = []
            for lead_id in lead_ids:
                with db.read() as s:
                    name = leads.get_lead(s, admin, lead_id).name
                committed: list[float] = []

                def claim(lead_id: int = lead_id) -> None:
                    with db.write() as s:
                        leads.claim_lead(s, bob, lead_id)
                    committed.append(time.perf_counter())

                await asyncio.sleep(random.uniform(0.0, 0.5))  # as in the baseline: any moment
                thread = threading.Thread(target=claim)
                thread.start()
                while not committed or name in names():
                    await asyncio.sleep(0.002)
                times.append((time.perf_counter() - committed[0]) * 1000)
                thread.join()
            return times

    return asyncio.run(drive())


def measure(backend: str, claims: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = fresh_database(backend, Path(tmp))
        try:
            admin, bob, ids = setup(db, claims)
            base = watcher_baseline(db, bob, ids[:claims])
            seen = app_claims_seen(db, admin, bob, ids[claims:])
        finally:
            db.dispose()
    for label, values in (("watcher_ms", base), ("claim_seen_ms", seen)):
        say(backend, f"{label} p50", f"{statistics.median(values):.1f}")
        say(backend, f"{label} p99", f"{percentile(values, 99):.1f}")
    say(backend, "claim_seen_vs_watcher p50", f"{statistics.median(seen) / max(statistics.median(base), 0.001):.2f}")
    say(backend, "target_ms", f"{TARGET_MS:.0f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--claims", type=int, default=20)
    args = parser.parse_args(argv)
    for backend in (["sqlite", "postgresql"] if args.backend == "both" else [args.backend]):
        measure(backend, args.claims)
    return 0


if __name__ == "__main__":
    sys.exit(main())
