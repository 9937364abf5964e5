"""The agent desk on big databases: time to the first interactive dashboard, and End in the Clients table.

Usage: python bench/tui.py [--rows 100000 1000000] [--backend sqlite|postgresql|both] [--runs 5] [--rebuild]

For each database size it spawns a fresh ``python -c`` that does what ``tscrm`` does to open the app
(open the database, check the schema, find the user, load the company, build ``TscrmApp``) and runs
it headless until the dashboard's seven counters are on screen: "ready" is the time from spawning the
process to that moment, as an agent waits for it. The same process then opens Clients ("All
clients", sorted by name) and presses End several times (Home in between): "end" is the time from
the key to the last page's rows being in the table. A baseline is measured in the same run:
spawning ``python -c "import textual"``. One figure per line, e.g.

    sqlite 1000000 ready_ms p50 612.3

Targets: ready <= 800 ms, end <= 50 ms. The data (bench/_synthetic.py: realistic contacts, 50 users)
is loaded once into bench/out/tui-ROWS.db (PostgreSQL: database tscrm_tui_bench_ROWS) and reused
while its client count matches; --rebuild loads it again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _synthetic

OUT = Path(__file__).resolve().parent / "out"
PG_URL = "postgresql://postgres@127.0.0.1:5432/tscrm_tui_bench_{rows}"
USERS = 50
ADMIN_EMAIL = "admin@bench.test"
TARGET_READY_MS = 800.0
TARGET_END_MS = 50.0

# What runs in the spawned process. It prints "ready" as soon as the counters are shown, then one
# JSON line with the in-process figures.
CHILD = r"""
import sys, time
started = time.perf_counter()
url, email, end_runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
from tscrm.core.db import Database
from tscrm.i18n import set_language
from tscrm.tui.app import TscrmApp
from tscrm.tui.context import AppContext
imported = time.perf_counter()
db = Database(url)
db.check_schema()
from tscrm.core.services.users import resolve_actor
with db.read() as session:
    actor = resolve_actor(session, email)
set_language(actor.language)
app = TscrmApp(AppContext.load(db, actor))
built = time.perf_counter()

async def drive():
    import asyncio, json
    async with app.run_test(headless=True, size=(160, 48)) as pilot:
        from tscrm.tui.screens.dashboard import DashboardCard
        while True:
            cards = list(app.screen.query(DashboardCard))
            if len(cards) == 7 and all(c.counters is not None for c in cards):
                break
            await asyncio.sleep(0.001)
        await pilot.pause()  # the frame with the figures
        ready = time.perf_counter()
        print("ready", flush=True)
        await pilot.press("2")
        table = None
        while table is None or not table.page_rows:
            await asyncio.sleep(0.001)
            table = app.screen.query_one("#clients-table") if app.current_mode == "clients" else None
        await pilot.press("a")  # All clients
        while app.screen.query_state.mine or not table.page_rows or table.total is None:
            await asyncio.sleep(0.001)
        shown = []
        original = table._show
        def timed_show(rows, cursor_row):
            original(rows, cursor_row)
            shown.append(time.perf_counter())
        table._show = timed_show
        ends = []
        for _ in range(end_runs):
            await pilot.press("home")
            while table.first_index != 0:
                await asyncio.sleep(0.001)
            shown.clear()
            pressed = time.perf_counter()
            await pilot.press("end")
            while not (shown and table.at_end):
                await asyncio.sleep(0.0005)
            ends.append((shown[-1] - pressed) * 1000)
        print(json.dumps({
            "imports_ms": (imported - started) * 1000,
            "app_built_ms": (built - started) * 1000,
            "ready_in_process_ms": (ready - started) * 1000,
            "end_ms": ends,
            "last_row": table.page_rows[-1].data["name"],
            "total": table.total,
        }), flush=True)

import asyncio
asyncio.run(drive())
"""


def say(what: str, figure: str, value: object) -> None:
    print(f"{what} {figure} {value}", flush=True)


# --- the data ---------------------------------------------------------------------------------------


def _count_clients(url: str) -> int:
    from sqlalchemy import text

    from tscrm.core.db import Database

    db = Database(url)
    try:
        with db.read() as session:
            return int(session.execute(text("SELECT count(*) FROM client")).scalar() or 0)
    except Exception:  # noqa: BLE001 - no schema (or no database) yet
        return -1
    finally:
        db.dispose()


def _setup_company(url: str) -> list[int]:
    """The company, its admin and 49 agents; returns every user id (owners of the synthetic clients)."""
    from tscrm.core.db import Database
    from tscrm.core.services import company, users

    db = Database(url)
    db.upgrade(backup=False)
    with db.write() as s:
        _, user = company.setup(
            s, company_name="Bench Telecom", admin_name="Ana Admin", admin_email=ADMIN_EMAIL, timezone="Europe/Madrid", region="ES"
        )
        admin = users.actor_for(s, user)
        ids = [user.id]
        for i in range(1, USERS):
            group = "Manager" if i < 5 else "Intern"
            ids.append(users.create_user(s, admin, name=f"Agent {i}", email=f"agent{i}@bench.test", group=group).id)
    db.dispose()
    return ids  # type: ignore[return-value]


def prepare(backend: str, rows: int, rebuild: bool) -> str:
    """The database URL, loaded with ``rows`` synthetic clients (reused when already there)."""
    if backend == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"tui-{rows}.db"
        url = f"sqlite:///{path}"
        if not rebuild and path.exists() and _count_clients(url) == rows:
            return url
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        url = PG_URL.format(rows=rows)
        if not rebuild and _count_clients(url) == rows:
            return url
        _fresh_pg_database(url)
    started = time.perf_counter()
    user_ids = _setup_company(url)
    persons = _synthetic.people(rows, users=USERS, pool_leads=max(1, rows // 100))
    maker = _synthetic.RowMaker(user_ids)
    progress = lambda _n: None
    if backend == "sqlite":
        _synthetic.load_sqlite(path, persons, maker, progress)
    else:
        _synthetic.load_postgres(url, persons, maker, progress)
    say(f"{backend} {rows}", "load_s", f"{time.perf_counter() - started:.1f}")
    return url


def _fresh_pg_database(url: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin_url = target.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target.database}"')


# --- the measurements -------------------------------------------------------------------------------


def spawn_ms(args: list[str], wait_for: str | None = None) -> tuple[float, str]:
    """Milliseconds from spawning the process to ``wait_for`` on its stdout (or to its exit); and the rest of its output."""
    env = {**os.environ, "TERM": "xterm-256color"}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    elapsed = None
    if wait_for is not None:
        for line in proc.stdout:
            if line.strip() == wait_for:
                elapsed = (time.perf_counter() - started) * 1000
                break
    out, err = proc.communicate(timeout=600)
    if elapsed is None:
        elapsed = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:2]} failed:\n{err[-3000:]}")
    return elapsed, out


def measure(label: str, url: str, runs: int, end_runs: int) -> float:
    spawn_ms(["-c", CHILD, url, ADMIN_EMAIL, "1"], "ready")  # warm the page cache and the bytecode
    ready: list[float] = []
    inside: list[dict] = []
    for _ in range(runs):
        elapsed, rest = spawn_ms(["-c", CHILD, url, ADMIN_EMAIL, str(end_runs)], "ready")
        ready.append(elapsed)
        inside.append(json.loads(rest.strip().splitlines()[-1]))
    ends = [ms for figures in inside for ms in figures["end_ms"]]
    say(label, "ready_ms p50", f"{statistics.median(ready):.1f}")
    say(label, "ready_ms max", f"{max(ready):.1f}")
    say(label, "imports_ms p50 (in process: tscrm.tui.app, sqlalchemy, textual)", f"{statistics.median(f['imports_ms'] for f in inside):.1f}")
    say(label, "app_built_ms p50 (+ schema check, user, company)", f"{statistics.median(f['app_built_ms'] for f in inside):.1f}")
    say(label, "ready_in_process_ms p50 (+ first frame, dashboard counters)", f"{statistics.median(f['ready_in_process_ms'] for f in inside):.1f}")
    say(label, "end_ms p50", f"{statistics.median(ends):.1f}")
    say(label, "end_ms max", f"{max(ends):.1f}")
    say(label, "clients_total", inside[-1]["total"])
    say(label, "last_row", json.dumps(inside[-1]["last_row"], ensure_ascii=False))
    say(label, "ready_target_met", statistics.median(ready) <= TARGET_READY_MS)
    say(label, "end_target_met", max(ends) <= TARGET_END_MS)
    return statistics.median(ready)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=5, help="processes started per database (default 5)")
    parser.add_argument("--ends", type=int, default=5, help="End presses per process (default 5)")
    parser.add_argument("--rebuild", action="store_true", help="load the data again even when it is there")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)

    baseline = [spawn_ms(["-c", "import textual"])[0] for _ in range(max(args.runs, 5))]
    base = statistics.median(baseline)
    say("baseline", "python -c 'import textual' ms p50", f"{base:.1f}")
    full = [spawn_ms(["-c", "import textual.app, sqlalchemy, sqlmodel"])[0] for _ in range(max(args.runs, 5))]
    say("baseline", "python -c 'import textual.app, sqlalchemy, sqlmodel' ms p50", f"{statistics.median(full):.1f}")
    for backend in backends:
        for rows in args.rows:
            url = prepare(backend, rows, args.rebuild)
            label = f"{backend} {rows}"
            ready = measure(label, url, args.runs, args.ends)
            say(label, "ratio ready/import textual", f"{ready / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
