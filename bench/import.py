"""Import of a million clients: ``tscrm import clients`` against a minimal pipeline, in the same run.

Usage: python bench/import.py [--rows N] [--keep]

1. Writes a CSV of N synthetic contacts (bench/_synthetic.py: Spanish, French and English names,
   companies, emails, tags) with Spanish headers and phone numbers in mixed formats: "+34 612 345
   678", "0034612345678", "+34-612-345-678", "+33.6.12.34.56.78", national Spanish numbers
   ("612 34 56 78", the company's region is ES), a few too short, several numbers in one cell.
2. The minimal pipeline: csv module -> phonenumbers (parse, is_valid, E.164) -> sqlite3 executemany
   of the clients, phones and emails into a freshly migrated tscrm database, one transaction, one
   process. No mapping, no validation of emails, no duplicates, no tags, feed, search index or undo.
3. ``tscrm import clients FILE --quiet --json`` as a user runs it (a new process, on another fresh
   database of the same schema): mapping, validation, duplicates, the records exactly as the
   services write them, the search index, the undo log, one transaction.

Prints one figure per line (seconds, rows/s, the ratio tscrm / minimal; the goal is <= 1.0) and
whether the machine was busy (load average). Files go to bench/out/ (git ignores it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _synthetic

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
HEADERS = ["Nombre", "Empresa", "Teléfono", "Móvil", "Correo electrónico", "Ciudad", "Etiquetas"]
CITIES = ["Madrid", "Sevilla", "Valencia", "Bilbao", "Paris", "Lyon", "Leeds", "London", ""]


def mixed_format(rng: random.Random, e164: str) -> str:
    """The same number as people type it."""
    digits = e164[1:]
    code = next(c for c in ("34", "33", "44") if digits.startswith(c))
    national = digits[len(code):]
    shape = rng.random()
    if code == "34" and shape < 0.12:
        return f"{national[:3]} {national[3:5]} {national[5:7]} {national[7:]}"  # national, region ES
    if shape < 0.35:
        return e164
    if shape < 0.55:
        return "00" + digits
    if shape < 0.75:
        return f"+{code} {national[:3]} {national[3:6]} {national[6:]}"
    if shape < 0.9:
        return f"+{code}-{national[:3]}-{national[3:6]}-{national[6:]}"
    return f"+{code}." + ".".join(national[i : i + 2] for i in range(0, len(national), 2))


def write_file(path: Path, rows: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for person in _synthetic.people(rows, seed):
            work = [mixed_format(rng, e) for k, e in person.phones if k == "work"]
            mobile = [mixed_format(rng, e) for k, e in person.phones if k == "mobile"]
            if rng.random() < 0.005:
                work.append("12345")  # too short: rejected
            writer.writerow([
                person.name, person.company or "", ", ".join(work), "; ".join(mobile), ", ".join(person.emails),
                rng.choice(CITIES), ",".join(person.tags),
            ])


def fresh_database(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    from tscrm.core.db import Database
    from tscrm.core.services import company

    db = Database(url)
    db.upgrade(backup=False)
    with db.write() as session:
        company.setup(session, company_name="Bench", admin_name="Ana", admin_email="ana@bench.test", region="ES", timezone="Europe/Madrid")
    db.dispose()
    return url


def minimal_pipeline(path: Path, db_path: Path) -> tuple[float, int, int]:
    """csv -> phonenumbers -> sqlite3 executemany; returns (seconds, clients, phones)."""
    import phonenumbers

    started = time.perf_counter()
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("BEGIN IMMEDIATE")
    now = "2026-11-24 10:00:00.000000"
    clients: list[tuple] = []
    phones: list[tuple] = []
    emails: list[tuple] = []
    total_clients = total_phones = 0

    def flush() -> None:
        connection.executemany(
            "INSERT INTO client (id, name, company_name, address, owner_id, created_by_id, custom, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 1, 1, '{}', ?, ?)",
            clients,
        )
        connection.executemany("INSERT INTO phone (client_id, kind, e164, rdigits, position) VALUES (?, ?, ?, ?, ?)", phones)
        connection.executemany("INSERT INTO email (client_id, address, position) VALUES (?, ?, ?)", emails)
        clients.clear()
        phones.clear()
        emails.clear()

    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=";")
        next(reader)
        for client_id, row in enumerate(reader, start=1):
            numbers: list[tuple[str, str]] = []
            for kind, cell in (("work", row[2]), ("mobile", row[3])):
                for raw in cell.replace(";", ",").split(","):
                    raw = raw.strip()
                    if not raw:
                        continue
                    try:
                        number = phonenumbers.parse(raw, "ES")
                    except phonenumbers.NumberParseException:
                        continue
                    if phonenumbers.is_valid_number(number):
                        numbers.append((kind, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)))
            clients.append((client_id, row[0], row[1] or None, row[5] or None, now, now))
            for position, (kind, e164) in enumerate(numbers):
                phones.append((client_id, kind, e164, e164[1:][::-1], position))
            for position, address in enumerate(a.strip().lower() for a in row[4].split(",") if a.strip()):
                emails.append((client_id, address, position))
            total_clients += 1
            total_phones += len(numbers)
            if len(clients) >= 5000:
                flush()
    flush()
    connection.execute("COMMIT")
    connection.close()
    return time.perf_counter() - started, total_clients, total_phones


def tscrm_import(path: Path, url: str) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tscrm", "--db", url, "import", "clients", str(path), "--quiet", "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"tscrm import failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the CSV and the databases in bench/out/")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / f"import-{args.rows}.csv"
    if not data.exists():
        write_file(data, args.rows)
    print(f"rows {args.rows}")
    print(f"file_mb {data.stat().st_size / 1e6:.1f}")
    print(f"load_average_before {os.getloadavg()[0]:.2f}")

    minimal_db = OUT / f"import-minimal-{args.rows}.db"
    fresh_database(minimal_db)
    minimal_s, _clients, minimal_phones = minimal_pipeline(data, minimal_db)
    print(f"minimal_pipeline_s {minimal_s:.2f}")
    print(f"minimal_pipeline_rows_per_s {args.rows / minimal_s:.0f}")
    print(f"minimal_pipeline_phones {minimal_phones}")

    tscrm_db = OUT / f"import-tscrm-{args.rows}.db"
    url = fresh_database(tscrm_db)
    tscrm_s, report = tscrm_import(data, url)
    print(f"tscrm_import_s {tscrm_s:.2f}")
    print(f"tscrm_import_rows_per_s {args.rows / tscrm_s:.0f}")
    print(f"tscrm_created {report['created']}")
    print(f"tscrm_duplicates {report['duplicates']}")
    print(f"tscrm_rejected {report['errors']}")
    print(f"tscrm_phones {report['phones']}")
    print(f"ratio_tscrm_over_minimal {tscrm_s / minimal_s:.2f}")
    print(f"load_average_after {os.getloadavg()[0]:.2f}")
    if not args.keep:
        for path in (minimal_db, tscrm_db):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
