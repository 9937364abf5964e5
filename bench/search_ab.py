"""Universal search, two versions of ``tscrm.core.search`` timed in the same run, query by query.

Usage: python bench/search_ab.py [--against REV] [--rows N] [--backend postgresql|sqlite]
                                 [--queries K] [--kinds a,b]

Times the working tree's ``tscrm/core/search.py`` (B) against the one of git revision REV (A,
default HEAD) on the data bench/search.py loaded (``--reuse``: run that first). The two run
interleaved (A B, then B A for the next query), so that other work on the machine weighs on both
alike; every query must give the same page in both. One figure per line, e.g.

    postgresql substring A_p99_ms 66.0
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search as bench  # bench/search.py

from tscrm.core import search as current
from tscrm.core.db import Database

ROOT = Path(__file__).resolve().parent.parent


def _load_revision(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:tscrm/core/search.py"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "search_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("search_at_rev", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--pg-url", default=bench.DEFAULT_PG_URL)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--kinds", default="")
    args = parser.parse_args(argv)
    url = f"sqlite:///{bench.OUT / f'search-{args.rows}.db'}" if args.backend == "sqlite" else args.pg_url.format(rows=args.rows)
    db = Database(url)
    admin, intern = bench._actors(db)
    actors = {"admin": admin, "intern": intern}
    versions = {"A": _load_revision(args.against), "B": current}
    cases = bench.build_cases(db, args.queries)
    wanted = [k for k in args.kinds.split(",") if k] or list(cases)
    bench.say(args.backend, "machine", "loadavg_before", bench._load_average())

    def page(version, case):
        with db.read() as s:
            hits = version.search(s, actors[case.actor], case.query, limit=bench.PAGE, offset=case.offset).hits
        return [(h.kind, h.id, h.score) for h in hits]

    for kind_cases in cases.values():  # warm the caches
        for case in kind_cases[:20]:
            for version in versions.values():
                page(version, case)
    differ = 0
    for kind in wanted:
        timings: dict[str, list[float]] = {"A": [], "B": []}
        for i, case in enumerate(cases[kind]):
            results = {}
            for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
                started = time.perf_counter()
                results[name] = page(versions[name], case)
                timings[name].append((time.perf_counter() - started) * 1000)
            if results["A"] != results["B"]:
                differ += 1
                bench.err.print(f"[red]{kind}: {case.query!r} ({case.actor}, offset {case.offset}) differs[/red]")
        for name in ("A", "B"):
            bench.say(args.backend, kind, f"{name}_p50_ms", f"{statistics.median(timings[name]):.2f}")
            bench.say(args.backend, kind, f"{name}_p99_ms", f"{bench._percentile(timings[name], 99):.2f}")
    bench.say(args.backend, "machine", "loadavg_after", bench._load_average())
    bench.say(args.backend, "all", "queries_that_differ", differ)
    db.dispose()
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
