"""Universal search on a million synthetic clients: latency per kind of query, against a plain scan.

Usage: python bench/search.py [--rows N] [--backend sqlite|postgresql|both] [--pg-url URL]
                              [--queries K] [--baseline-queries B] [--reuse]

Builds the data (bench/_synthetic.py: realistic Spanish/French/English contacts, ES/FR/UK phones,
tags, 1% pool leads, 50 users) with the raw DB-API connection, then times ``search.search`` as the
app calls it (a read session per query) for each kind of query, and the same queries answered by a
plain full scan that ranks every row in SQL (the baseline, measured in the same run). The baseline
also checks the results: the same records in the same order. One figure per line on stdout, e.g.

    sqlite name_prefix p50_ms 0.41

Targets: p99 <= 30 ms on SQLite, <= 50 ms on PostgreSQL. The SQLite file goes to bench/out/ (git
ignores it); PostgreSQL uses the database named in --pg-url (created, and emptied, as needed).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _synthetic

from tscrm.core import search
from tscrm.core.db import Database
from tscrm.core.permissions import Actor

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/tscrm_bench_{rows}"
TARGET_P99_MS = {"sqlite": 30.0, "postgresql": 50.0}
USERS = 50
PAGE = 20
HOSTILE = ['"', "%", "_", "*", "OR", "a OR b", "NEAR(a b)", '"ma', "ma*", "^ga", "\\", "'; DROP TABLE client; --", "日本", "😀", "-", "  ", "ÉLO", "çé", "%mar%", "_a_"]
COMMON = ["mar", "ez", "ana", "gar", "son", "ier", "jo", "ma", "de", "lo", "ar", "gmail", "es", "ine", "ia"]

err = Console(stderr=True)


def say(backend: str, what: str, figure: str, value: object) -> None:
    print(f"{backend} {what} {figure} {value}", flush=True)


# --- preparing the data ---------------------------------------------------------------------------


def _setup_company(db: Database) -> tuple[Actor, Actor, list[int]]:
    """The admin, an intern, and every user id (owners of the synthetic records)."""
    from tscrm.core.services import company, users

    with db.write() as s:
        _, user = company.setup(s, company_name="Bench Telecom", admin_name="Ana Admin", admin_email="admin@bench.test", timezone="Europe/Madrid")
        admin = users.actor_for(s, user)
        ids = [user.id]
        for i in range(1, USERS):
            group = "Manager" if i < 5 else "Intern"
            ids.append(users.create_user(s, admin, name=f"Agent {i}", email=f"agent{i}@bench.test", group=group).id)
    with db.read() as s:
        intern = users.actor_for(s, users.get_user(s, ids[-1]))
    return admin, intern, ids  # type: ignore[return-value]


def _actors(db: Database) -> tuple[Actor, Actor]:
    from tscrm.core.services import users

    with db.read() as s:
        return users.resolve_actor(s, "admin@bench.test"), users.resolve_actor(s, f"agent{USERS - 1}@bench.test")


def _loaded_rows(db: Database) -> int:
    try:
        with db.read() as s:
            return int(s.execute(text("SELECT count(*) FROM client")).scalar() or 0)
    except Exception:  # noqa: BLE001 - no schema yet
        return -1


def _load(backend: str, db: Database, rows: int) -> tuple[Actor, Actor]:
    db.upgrade(backup=False)
    admin, intern, user_ids = _setup_company(db)
    pool_leads = max(1, rows // 100)
    persons = _synthetic.people(rows, users=USERS, pool_leads=pool_leads)
    maker = _synthetic.RowMaker(user_ids)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    started = time.perf_counter()
    with Progress(*columns, console=err) as progress:
        task = progress.add_task(f"{backend}: loading", total=rows + pool_leads)
        advance: Callable[[int], None] = lambda n: progress.advance(task, n)
        if backend == "sqlite":
            db.dispose()
            _synthetic.load_sqlite(db.sqlite_path, persons, maker, advance)  # type: ignore[arg-type]
        else:
            db.dispose()
            _synthetic.load_postgres(db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False), persons, maker, advance)
    say(backend, "load", "rows", rows + pool_leads)
    say(backend, "load", "seconds", f"{time.perf_counter() - started:.1f}")
    return admin, intern


def _sqlite_db(rows: int, wipe: bool) -> Database:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"search-{rows}.db"
    if wipe:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    return Database(f"sqlite:///{path}")


def _pg_db(url: str, wipe: bool) -> Database:
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin_url = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{target.database}"')
    if wipe:
        with psycopg.connect(target.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    return Database(url)


# --- the queries ------------------------------------------------------------------------------------


@dataclass
class Case:
    query: str
    actor: str = "admin"  # or "intern"
    offset: int = 0


def _sample_entries(db: Database, count: int, seed: int) -> list[tuple[str, str, str]]:
    """(name_key, text, digits) of random entries."""
    rng = random.Random(seed)
    with db.read() as s:
        top = int(s.execute(text("SELECT max(id) FROM search_entry")).scalar() or 0)
        ids = [rng.randint(1, top) for _ in range(count)]
        rows = s.execute(text("SELECT name_key, text, digits FROM search_entry WHERE id IN (" + ",".join(map(str, ids)) + ")")).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _phone_query(rng: random.Random, digits: str) -> str:
    number = rng.choice(digits.split())
    national = number[2:]
    style = rng.randrange(6)
    if style == 0:  # a suffix, as read out on the phone
        return number[-rng.randint(4, 6):]
    if style == 1:  # "612 34": the start of the national number with a space
        return f"{national[:3]} {national[3:5]}"
    if style == 2:  # "+34 612"
        return f"+{number[:2]} {national[:3]}"
    if style == 3:  # "0034612345"
        return "00" + number[: rng.randint(5, 10)]
    if style == 4:  # "34-612-345"
        return f"{number[:2]}-{national[:3]}-{national[3:6]}"
    start = rng.randint(2, len(number) - 5)  # any run of 5 digits
    return number[start : start + 5]


def build_cases(db: Database, per_kind: int, seed: int = 11) -> dict[str, list[Case]]:
    rng = random.Random(seed)
    entries = _sample_entries(db, per_kind * 6, seed)
    rng.shuffle(entries)

    def pick() -> tuple[str, str, str]:
        return rng.choice(entries)

    cases: dict[str, list[Case]] = {k: [] for k in ("name_prefix", "short_1_2", "common_term", "substring", "email", "phone", "multi_word", "non_admin", "deep_page", "hostile")}
    while len(cases["name_prefix"]) < per_kind:
        name = pick()[0]
        cases["name_prefix"].append(Case(name[: rng.randint(3, min(10, len(name)))]))
    while len(cases["short_1_2"]) < per_kind:
        name = pick()[0]
        cases["short_1_2"].append(Case(name[: rng.randint(1, 2)]))
    for i in range(per_kind):
        cases["common_term"].append(Case(COMMON[i % len(COMMON)]))
    while len(cases["substring"]) < per_kind:
        source = rng.choice(pick()[1].split())
        if len(source) >= 6:
            start = rng.randint(1, len(source) - 4)
            cases["substring"].append(Case(source[start : start + rng.randint(3, min(6, len(source) - start))]))
    while len(cases["email"]) < per_kind:
        cases["email"].append(Case(_email_query(rng, db)))
    while len(cases["phone"]) < per_kind:
        digits = pick()[2]
        if digits:
            cases["phone"].append(Case(_phone_query(rng, digits)))
    while len(cases["multi_word"]) < per_kind:
        name_words = pick()[0].split()
        if len(name_words) >= 2:
            cases["multi_word"].append(Case(f"{name_words[-1]} {name_words[0]}"))  # surname first
    for i in range(per_kind):
        source = [cases["name_prefix"], cases["common_term"], cases["substring"], cases["phone"], cases["email"]][i % 5]
        cases["non_admin"].append(Case(source[i // 5 % len(source)].query, actor="intern"))
        cases["deep_page"].append(Case(COMMON[i % len(COMMON)], offset=rng.choice((100, 200, 500, 1000, 2000))))
        cases["hostile"].append(Case(HOSTILE[i % len(HOSTILE)], actor=("admin", "intern")[i % 2]))
    return cases


_EMAILS: list[str] = []


def _email_query(rng: random.Random, db: Database) -> str:
    """A real address, its local part, half of it, or "local@dom" (emails are words in the stored text)."""
    if not _EMAILS:
        with db.read() as s:
            top = int(s.execute(text("SELECT max(id) FROM email")).scalar() or 1)
            ids = ",".join(str(rng.randint(1, top)) for _ in range(2000))
            _EMAILS.extend(r[0] for r in s.execute(text(f"SELECT address FROM email WHERE id IN ({ids})")))
    address = rng.choice(_EMAILS)
    local, _, domain = address.partition("@")
    style = rng.randrange(4)
    if style == 0:
        return address
    if style == 1:
        return local
    if style == 2:
        return f"{local[: max(3, len(local) // 2)]}"
    return f"{local}@{domain[:3]}"


# --- the baseline: rank every row in SQL ----------------------------------------------------------


def baseline_sql(dialect: str, query: search.Query, actor: Actor | None, limit: int, offset: int) -> tuple[str, dict]:
    """A full scan computing every row's tier in SQL, then sorting: correct, and as slow as scans are."""
    find = "instr({hay}, {needle}) > 0" if dialect == "sqlite" else "strpos({hay}, {needle}) > 0"
    order_key = "name_key" if dialect == "sqlite" else 'name_key COLLATE "C"'
    q = query.key
    cases = ["WHEN name_key = :q THEN 100", "WHEN substr(name_key, 1, :qlen) = :q THEN 80"]
    if len(q) >= 2:
        cases.append(f"WHEN {find.format(hay=chr(39) + ' ' + chr(39) + ' || name_key', needle=':wq')} THEN 60")
    if query.phone:
        cases.append(f"WHEN {find.format(hay='digits', needle=':ph')} THEN 50")
    if len(q) >= 2:
        cases.append(f"WHEN {find.format(hay='text', needle=':wq')} THEN 40")
    if len(q) >= 3:
        cases.append(f"WHEN {find.format(hay='text', needle=':q')} THEN 20")
    params: dict = {"q": q, "qlen": len(q), "wq": " " + q, "ph": query.phone, "n": limit, "o": offset}
    if len(query.words) > 1 and any(len(w) >= 2 for w in query.words):
        conds = []
        for i, w in enumerate(query.words):
            params[f"w{i}"] = " " + w
            conds.append(find.format(hay="text", needle=f":w{i}"))
        cases.append(f"WHEN {' AND '.join(conds)} THEN 10")
    where = ""
    if actor is not None and not actor.can(search.Right.SEE_ALL):
        where = " WHERE (owner_id = :me OR (owner_id IS NULL AND kind = 'lead'))"
        params["me"] = actor.id
    sql = (
        f"SELECT kind, ref_id, tier FROM (SELECT kind, ref_id, name_key, id, CASE {' '.join(cases)} ELSE 0 END AS tier "
        f"FROM search_entry{where}) ranked WHERE tier > 0 ORDER BY tier DESC, length(name_key), {order_key}, id LIMIT :n OFFSET :o"
    )
    return sql, params


# --- timing ---------------------------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    """Nearest rank: the smallest value with at least pct % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _load_average() -> str:
    """Other work on the machine shows in every figure: the 1-minute load average, and the cores."""
    try:
        return f"{os.getloadavg()[0]:.2f}/{os.cpu_count()}"
    except OSError:
        return "unknown"


def run(backend: str, db: Database, admin: Actor, intern: Actor, per_kind: int, baseline_per_kind: int) -> bool:
    say(backend, "machine", "loadavg_before", _load_average())
    cases = build_cases(db, per_kind)
    actors = {"admin": admin, "intern": intern}
    dialect = "sqlite" if db.is_sqlite else "postgresql"
    within = True
    with db.read() as s:  # warm the caches as a running app would have them
        for kind_cases in cases.values():
            for case in kind_cases[:20]:
                search.search(s, actors[case.actor], case.query, limit=PAGE, offset=case.offset)
    for kind, kind_cases in cases.items():
        timings = []
        for case in kind_cases:
            started = time.perf_counter()
            with db.read() as s:
                search.search(s, actors[case.actor], case.query, limit=PAGE, offset=case.offset)
            timings.append((time.perf_counter() - started) * 1000)
        p50, p99 = statistics.median(timings), _percentile(timings, 99)
        say(backend, kind, "p50_ms", f"{p50:.2f}")
        say(backend, kind, "p99_ms", f"{p99:.2f}")
        within &= p99 <= TARGET_P99_MS[dialect]
        base_timings, same = [], 0
        checked = [c for c in kind_cases if search.parse_query(c.query)][:baseline_per_kind]
        for case in checked:
            actor = actors[case.actor]
            parsed = search.parse_query(case.query)
            sql, params = baseline_sql(dialect, parsed, actor, PAGE, case.offset)  # type: ignore[arg-type]
            started = time.perf_counter()
            with db.read() as s:
                expected = [tuple(r) for r in s.execute(text(sql), params)]
            base_timings.append((time.perf_counter() - started) * 1000)
            with db.read() as s:
                got = [(h.kind, h.id, h.score) for h in search.search(s, actor, case.query, limit=PAGE, offset=case.offset).hits]
            if got == expected:
                same += 1
            else:
                err.print(f"[red]{backend} {kind}: {case.query!r} differs from the baseline[/red]\n  got      {got[:5]}\n  expected {expected[:5]}")
        if base_timings:
            base_p50, base_p99 = statistics.median(base_timings), _percentile(base_timings, 99)
            say(backend, kind, "baseline_p50_ms", f"{base_p50:.1f}")
            say(backend, kind, "baseline_p99_ms", f"{base_p99:.1f}")
            say(backend, kind, "ratio_vs_baseline", f"{base_p50 / p50:.0f}")
            say(backend, kind, "same_results_as_baseline", f"{same}/{len(checked)}")
    say(backend, "machine", "loadavg_after", _load_average())
    say(backend, "all", "p99_within_target", "yes" if within else "no")
    return within


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic clients (default 1000000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help=f"PostgreSQL database to fill (default {DEFAULT_PG_URL}; created if missing)")
    parser.add_argument("--queries", type=int, default=200, help="timed queries per kind (default 200)")
    parser.add_argument("--baseline-queries", type=int, default=15, help="queries per kind also run as a full scan (default 15)")
    parser.add_argument("--reuse", action="store_true", help="keep data already loaded with the same --rows")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    ok = True
    for backend in backends:
        url = args.pg_url.format(rows=args.rows)

        def open_db(wipe: bool, backend: str = backend, url: str = url) -> Database:
            return _sqlite_db(args.rows, wipe) if backend == "sqlite" else _pg_db(url, wipe)

        db = open_db(wipe=False)
        if args.reuse and _loaded_rows(db) == args.rows:
            err.print(f"[dim]{backend}: reusing the {args.rows:,} rows already loaded[/dim]")
            admin, intern = _actors(db)
        else:
            db.dispose()
            db = open_db(wipe=True)
            admin, intern = _load(backend, db, args.rows)
        db.dispose()
        db = Database(db.url)
        ok &= run(backend, db, admin, intern, args.queries, args.baseline_queries)
        db.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
