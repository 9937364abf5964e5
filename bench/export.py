"""Export of a million clients: ``tscrm export clients`` to CSV, vCard and Excel, rows per second.

Usage: python bench/export.py [--rows N] [--formats csv,vcf,xlsx] [--reuse]

The database is the one ``bench/import.py --keep`` leaves in bench/out/ when it exists (clients as
the importer writes them), else one loaded directly with the synthetic contacts of
bench/_synthetic.py (as the services would write them). Each export runs as a user runs it, in a new
process (``tscrm export clients -o FILE --quiet --json``). One figure per line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _synthetic

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"


def build(path: Path, rows: int) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    from tscrm.core.db import Database
    from tscrm.core.services import company

    url = f"sqlite:///{path}"
    db = Database(url)
    db.upgrade(backup=False)
    with db.write() as session:
        _company, admin = company.setup(session, company_name="Bench", admin_name="Ana", admin_email="ana@bench.test", timezone="Europe/Madrid")
        admin_id = admin.id
    db.dispose()
    _synthetic.load_sqlite(path, _synthetic.people(rows, users=1), _synthetic.RowMaker([admin_id]), lambda n: None)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,vcf,xlsx")
    parser.add_argument("--reuse", action="store_true", help="reuse bench/out/export-N.db from a previous run")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    imported = OUT / f"import-tscrm-{args.rows}.db"
    own = OUT / f"export-{args.rows}.db"
    if imported.exists():
        url, source = f"sqlite:///{imported}", "bench/import.py"
    elif args.reuse and own.exists():
        url, source = f"sqlite:///{own}", "bench/_synthetic.py (reused)"
    else:
        started = time.perf_counter()
        url, source = build(own, args.rows), "bench/_synthetic.py"
        print(f"load_s {time.perf_counter() - started:.2f}")
    print(f"database {source}")
    print(f"load_average_before {os.getloadavg()[0]:.2f}")
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        target = OUT / f"export-{args.rows}.{fmt}"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tscrm", "--db", url, "export", "clients", "-o", str(target), "--quiet", "--json"],
            capture_output=True, text=True, cwd=ROOT, check=False,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"export {fmt} failed: {done.stderr[-2000:]}")
        report = json.loads(done.stdout)
        print(f"{fmt}_rows {report['rows']}")
        print(f"{fmt}_s {seconds:.2f}")
        print(f"{fmt}_rows_per_s {report['rows'] / seconds:.0f}")
        print(f"{fmt}_file_mb {target.stat().st_size / 1e6:.1f}")
        target.unlink(missing_ok=True)
    print(f"load_average_after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
