"""An import is one transaction: killed with SIGKILL halfway through 100,000 rows, it leaves nothing.

A real process imports a real file (rows prepared in a second process, as for large files) and is
killed once it reports 40,000 rows done; the database must hold none of the rows, still pass its
integrity check, and take the next import. The reading process must not outlive the killed one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import func, select

from tscrm.core.models import Activity, Client, ImportBatch, Phone, SearchEntry

ROWS = 100_000
RUNNER = """
import sys
from tscrm.core.db import Database
from tscrm.core.imports.mapping import mapping_for
from tscrm.core.imports.pipeline import ImportOptions, run_import
from tscrm.core.imports.reading import TableReader
from tscrm.core.services.users import resolve_actor

if __name__ == "__main__":
    db = Database(sys.argv[1])
    with db.read() as s:
        actor = resolve_actor(s)
    with TableReader(sys.argv[2]) as reader:
        mapping = mapping_for(reader.headers, "client")
        def progress(p):
            print(p.rows, flush=True)
        report = run_import(db, actor, reader, mapping, ImportOptions(parallel=True, chunk_size=2000), progress)
    print("done", report.created, flush=True)
"""


def _count(db, model) -> int:
    with db.read() as s:
        return int(s.exec(select(func.count()).select_from(model)).one())


def _processes_running(script: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(script).encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and SIGKILL")
def test_kill_9_midway_leaves_no_rows(sqlite_db, tmp_path):
    from tscrm.core.services import company

    with sqlite_db.write() as s:
        company.setup(s, company_name="Acme", admin_name="Ana", admin_email="ana@acme.test")
    data = tmp_path / "big.csv"
    with open(data, "w", encoding="utf-8") as handle:
        handle.write("Nombre;Teléfono;Correo electrónico;Etiquetas\n")
        handle.writelines(f"Cliente {i};+34 6{i:08d};c{i}@example.es;lote\n" for i in range(ROWS))
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    process = subprocess.Popen(
        [sys.executable, str(script), sqlite_db.url, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert process.stdout is not None
    reached = 0
    deadline = time.monotonic() + 120
    for line in process.stdout:
        if line.startswith("done"):
            pytest.fail("the import finished before it could be killed")
        reached = int(line)
        if reached >= 40_000 or time.monotonic() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert reached >= 40_000, process.stderr.read() if process.stderr else ""

    sqlite_db.dispose()
    for model in (Client, Phone, SearchEntry, Activity, ImportBatch):
        assert _count(sqlite_db, model) == 0, model.__name__
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").scalar() >= 3

    for _ in range(50):  # the reading process notices its reader is gone and stops
        if not _processes_running(script):
            break
        time.sleep(0.1)
    assert _processes_running(script) == []

    small = tmp_path / "small.csv"
    small.write_text("Name;Phone\nAfter;+34 600 000 001\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script), sqlite_db.url, str(small)], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.stdout.strip().endswith("done 1"), done.stderr
    assert _count(sqlite_db, Client) == 1
