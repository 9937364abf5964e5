"""Hostile files: whatever the bytes, an import ends with a report or a clear error, never a traceback.

Property-based (hypothesis, a bounded number of examples): random bytes, broken quotes, huge fields,
mixed encodings, formulas, control characters, in CSV and in Excel files.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tscrm.core.errors import TscrmError
from tscrm.core.imports.mapping import mapping_for
from tscrm.core.imports.pipeline import ImportOptions, ImportReport, run_import
from tscrm.core.imports.reading import TableReader

HOSTILE_BITS = [
    '"', '""', '"unterminated', ",", ";", "\t", "\n", "\r\n", "\r", "\x00", "=1+1", "+34 612 345 678", "@SUM(A1)",
    "-2+3", "=HYPERLINK(\"http://x\",\"y\")", "0034612345678", "12345", "a@b.es", "not@", "Ünïcödé", "😀", "\ufeff",
    "x" * 5000, "\u202e", "vip, b2b", ";;;", "'=cmd", "",
]
cells = st.one_of(st.sampled_from(HOSTILE_BITS), st.text(max_size=30))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def attempt(db, actor, path: Path, **options) -> ImportReport | TscrmError:
    """Read, map (the first column is the name) and import; a TscrmError is a clean, reported refusal."""
    try:
        with TableReader(path) as reader:
            overrides = {reader.headers[0]: "name"}
            mapping = mapping_for(reader.headers, "client", overrides=overrides)
            return run_import(db, actor, reader, mapping, ImportOptions(**options))
    except TscrmError as exc:
        assert str(exc)  # a message a person can read
        return exc


def check(result: ImportReport | TscrmError) -> None:
    if isinstance(result, ImportReport):
        assert result.rows == result.created + result.skipped + result.error_rows + result.updated
        for error in result.errors:
            assert error.reason and error.row >= 1


@pytest.fixture
def place(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_random_bytes(sqlite_db, place, data):
    actor = _admin(sqlite_db)
    path = place / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(data)
    check(attempt(sqlite_db, actor, path))


@SETTINGS
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=6), min_size=1, max_size=12),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]),
    glue=st.sampled_from(["\n", "\r\n", "\r"]),
    mixed=st.booleans(),
)
def test_broken_csv_in_any_encoding(sqlite_db, place, rows, delimiter, encoding, glue, mixed):
    actor = _admin(sqlite_db)
    text = glue.join(delimiter.join(row) for row in [["Name", "Phone", "Email", "Tags"], *rows])
    data = text.encode(encoding, errors="replace")
    if mixed:  # part of the file in another encoding
        data += "\nZoé;Évry;+33 6 12 34 56 78\n".encode("cp1252" if encoding.startswith("utf") else "utf-8")
    path = place / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(data)
    check(attempt(sqlite_db, actor, path, on_duplicate="update"))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(st.one_of(cells, st.integers(), st.floats(allow_nan=False), st.none()), min_size=1, max_size=5), min_size=0, max_size=8))
def test_hostile_excel_files(sqlite_db, place, rows):
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    actor = _admin(sqlite_db)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Nombre", "Teléfono", "Correo"])
    for row in rows:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", v)[:32000] if isinstance(v, str) else v for v in row])
    path = place / f"{uuid.uuid4().hex}.xlsx"
    workbook.save(path)
    check(attempt(sqlite_db, actor, path, strict=bool(len(rows) % 2)))


def test_a_truncated_workbook_is_refused_cleanly(sqlite_db, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["Name"])
    path = tmp_path / "cut.xlsx"
    workbook.save(path)
    path.write_bytes(path.read_bytes()[:200])
    result = attempt(sqlite_db, _admin(sqlite_db), path)
    assert isinstance(result, TscrmError) and "not a readable Excel workbook" in str(result)


def test_a_huge_field_and_an_unterminated_quote(sqlite_db, tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text('Name,Notes\nAna,"' + "x" * 300_000 + '"\nBea,"never closed\nCarla,ok\n', encoding="utf-8")
    result = attempt(sqlite_db, _admin(sqlite_db), path)
    assert isinstance(result, ImportReport) and result.created == 2  # Bea's note swallowed the rest of the file
    assert result.errors == [] or all(e.reason for e in result.errors)


_ADMINS: dict[str, object] = {}


def _admin(db):
    """The database's admin, set up on first use (hypothesis reuses the function's database)."""
    key = db.url
    if key not in _ADMINS:
        from tscrm.core.services import company, users

        with db.write() as s:
            _company, user = company.setup(s, company_name="Acme", admin_name="Ana", admin_email="ana@acme.test")
            _ADMINS[key] = users.actor_for(s, user)
    return _ADMINS[key]
