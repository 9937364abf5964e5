"""SVG snapshots of the import screen (mapping with preview, and the report of an import with rejected
rows), in English and Spanish, on the fixed database and clock of test_snapshots.

Update after an intended change of look:
``.venv/bin/python -m pytest tests/tui/test_import_snapshots.py --snapshot-update`` and look at the SVGs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import wait_until
from .test_snapshots import SIZE, _app, _loaded, snapshot_db  # noqa: F401  (snapshot_db is a fixture)

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "imports"
CASES = {
    # (file, keys pressed once the file is read)
    "mapping": ("export_fr_cp1252.csv", []),
    "report": ("hubspot_contacts_with_errors.csv", ["f5"]),
}


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("case", list(CASES))
def test_import_snapshot(snap_compare, snapshot_db, monkeypatch, case, lang):  # noqa: F811
    db, admin = snapshot_db
    name, keys = CASES[case]
    monkeypatch.chdir(SAMPLES)  # the path typed is the bare file name, the same on every machine

    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: _loaded(pilot), timeout=15)
        await pilot.press("2")
        await wait_until(pilot, lambda: _loaded(pilot), timeout=15)
        await pilot.press("i")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ImportScreen")
        screen = app.screen
        await pilot.press(*name, "enter")
        await wait_until(pilot, lambda: screen.loaded is not None and bool(screen.preview_rows), timeout=15)
        for key in keys:
            await pilot.press(key)
        await wait_until(pilot, lambda: not screen.running and _loaded(pilot), timeout=30)
        if case == "report":
            await wait_until(pilot, lambda: screen.report is not None, timeout=30)
        await pilot.pause(0.3)

    assert snap_compare(_app(db, admin, lang), terminal_size=SIZE, run_before=run_before)
