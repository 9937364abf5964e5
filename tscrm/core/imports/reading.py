"""Reading the rows of a CSV or Excel file, whatever its encoding, delimiter or quirks.

CSV: the encoding is found from a byte-order mark, else UTF-16 without a mark (NUL bytes every other
byte), else UTF-8 if the bytes are valid UTF-8, else the text is single-byte (or a legacy multi-byte
code page): charset-normalizer names it when the letters it then reads are of another script
(Cyrillic, Greek, CJK... -- cp1251, cp932), otherwise it is Windows-1252 (Latin-1 when a byte is not
Windows-1252). Western European text stays Windows-1252 on purpose: on short samples or rare names
charset-normalizer hesitates between a dozen Latin code pages (cp1250, cp775, mac_iceland...),
while Windows-1252 is what Excel and the CRMs of this part of the world write. The delimiter is the one of ``, ; TAB |`` that splits the header into the most
columns while splitting the following rows consistently. ``--encoding`` / ``--delimiter`` override.

Excel ``.xlsx``: read in streaming mode (openpyxl read-only), the first sheet unless one is named.

Rows come out as :class:`RawRow`: the spreadsheet row number (the header is row 1 when it is the
first line), the cells as text, padded to the header's width, and a ``problem`` when the row could
not be read cleanly (a CSV syntax error, more cells than columns, undecodable bytes). Blank rows are
skipped. A file that cannot be read at all raises :class:`ReadError` naming the file and the reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO, Self

from tscrm.core.errors import ValidationError
from tscrm.i18n import _

DELIMITERS = (",", ";", "\t", "|")
_SAMPLE_BYTES = 256 * 1024
_GUESS_BYTES = 64 * 1024  # what charset-normalizer looks at (it takes ~1 ms per KiB)
_GUESS_MIN_LETTERS = 8  # fewer non-ASCII letters than this: too little to tell a script apart
# Long free-text cells (descriptions, notes) are legitimate; the field checks reject oversized values.
_CSV_FIELD_LIMIT = 8 * 1024 * 1024
_REPLACEMENT = "\ufffd"
_XLSX_MAGIC = b"PK\x03\x04"
# Exports prefix these with an apostrophe (see tscrm.core.exports.neutralise); imports take it off.
_NEUTRALISED = frozenset("=+-@\t\r")


class ReadError(ValidationError):
    """The file as a whole cannot be read (missing, empty, not a spreadsheet, unknown sheet...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "file")


@dataclass(frozen=True)
class RawRow:
    number: int  # the row number a spreadsheet shows (header = 1 when it is the first line)
    cells: list[str]
    problem: str | None = None


@dataclass
class SourceInfo:
    """What was found out about the file; shown in reports and reused for the undo history."""

    path: str
    kind: str  # "csv" or "xlsx"
    size: int
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


# --- detection ----------------------------------------------------------------------------------


def detect_encoding(sample: bytes) -> str:
    """The encoding of a CSV file from its first bytes (see the module docstring)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        even_nuls = sample[0::2].count(0)
        odd_nuls = sample[1::2].count(0)
        half = len(sample) / 2
        if odd_nuls > 0.3 * half and even_nuls < 0.05 * half:
            return "utf-16-le"
        if even_nuls > 0.3 * half and odd_nuls < 0.05 * half:
            return "utf-16-be"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)  # a character cut at the end of the sample is fine
        return "utf-8"
    except UnicodeDecodeError:
        pass
    other = other_script_encoding(sample)
    if other is not None:
        return other
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def other_script_encoding(sample: bytes) -> str | None:
    """charset-normalizer's encoding for bytes that are not UTF-8, when the text it reads is mostly
    letters of a script other than Latin (Cyrillic cp1251, Greek, Shift-JIS...); else None."""
    if len(sample) > _GUESS_BYTES:
        cut = sample.rfind(b"\n", 0, _GUESS_BYTES)
        sample = sample[: cut + 1] if cut > 0 else sample[:_GUESS_BYTES]
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
    except Exception:  # noqa: BLE001 - a guess only: any trouble means "no opinion"
        return None
    if best is None or best.encoding.startswith(("utf_16", "utf_32")):  # without NULs: not UTF-16
        return None
    letters = [c for c in str(best) if ord(c) > 127 and c.isalpha()]
    if len(letters) < _GUESS_MIN_LETTERS:
        return None
    foreign = sum(1 for c in letters if not unicodedata.name(c, "LATIN").startswith("LATIN"))
    if foreign < 0.8 * len(letters):
        return None
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:
        return None


def sniff_delimiter(text: str) -> str:
    """The delimiter that gives the widest header and splits the next rows the same way."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end in the middle of a row
    sample = "".join(lines[:200])
    best, best_score = ",", 0.0
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if any(c.strip() for c in r)][:50]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:] or rows
        consistent = sum(1 for r in body if len(r) == width) / len(body)
        score = width * (0.5 + consistent)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def check_encoding(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ReadError(_("--encoding: {name!r} is not an encoding Python knows (e.g. utf-8, cp1252, utf-16)").format(name=name)) from None


def _is_xlsx(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in (".xlsx", ".xlsm") or head.startswith(_XLSX_MAGIC)


# --- cells ----------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """An Excel cell as the text a user typed: 612345678 not 612345678.0, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def clean_headers(raw: list[str]) -> list[str]:
    """Header names stripped, blanks named "Column N", repeats numbered ("Phone (2)")."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for index, value in enumerate(raw, start=1):
        name = " ".join(str(value).replace("\ufeff", "").split()) or _("Column {n}").format(n=index)
        key = name.casefold()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        out.append(name)
    return out


# --- the reader ---------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from a file, for a progress bar that needs no row count up front."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self.raw.readinto(buffer) or 0
        self.count += n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class TableReader:
    """An open CSV or XLSX file: its header, then its rows, streamed. Use as a context manager."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        sheet: str | None = None,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ReadError(_("{file}: no such file").format(file=self.path))
        size = self.path.stat().st_size
        if size == 0:
            raise ReadError(_("{file}: the file is empty").format(file=self.path))
        with open(self.path, "rb") as handle:
            head = handle.read(_SAMPLE_BYTES)
        self.rows_read = 0
        self._counter: _CountingReader | None = None
        self._workbook: Any = None
        self._total_rows: int | None = None
        if _is_xlsx(self.path, head):
            self.info = SourceInfo(str(self.path), "xlsx", size)
            self._open_xlsx(sheet)
        else:
            if head.startswith(b"\xd0\xcf\x11\xe0"):
                raise ReadError(_("{file}: an old Excel .xls file; save it as .xlsx or CSV").format(file=self.path))
            self.info = SourceInfo(str(self.path), "csv", size)
            self._open_csv(head, encoding, delimiter)

    # -- CSV --

    def _open_csv(self, head: bytes, encoding: str | None, delimiter: str | None) -> None:
        enc = check_encoding(encoding) if encoding else detect_encoding(head)
        if enc == "utf-8" and head.startswith(codecs.BOM_UTF8):
            enc = "utf-8-sig"
        sample = head.decode(enc, errors="replace")
        if delimiter is not None:
            delimiter = {"tab": "\t", "\\t": "\t"}.get(delimiter.lower(), delimiter)
            if len(delimiter) != 1:
                raise ReadError(_("--delimiter: one character (or 'tab'), not {value!r}").format(value=delimiter))
        self.info.encoding = enc
        self.info.delimiter = delimiter or sniff_delimiter(sample)
        if csv.field_size_limit() < _CSV_FIELD_LIMIT:
            csv.field_size_limit(_CSV_FIELD_LIMIT)
        self._counter = _CountingReader(open(self.path, "rb"))  # noqa: SIM115 - closed by close()
        self._text = io.TextIOWrapper(io.BufferedReader(self._counter, 1 << 16), encoding=enc, errors="replace", newline="")
        self._csv = csv.reader(self._text, delimiter=self.info.delimiter)
        self._record = 0
        self.headers = self._first_csv_header()

    def _next_csv(self) -> tuple[int, list[str] | None, str | None]:
        """(record number, cells or None at the end, problem)."""
        try:
            cells = next(self._csv)
        except StopIteration:
            return self._record, None, None
        except csv.Error as exc:
            self._record += 1
            return self._record, [], _("not readable as CSV: {reason}").format(reason=exc)
        self._record += 1
        return self._record, cells, None

    def _first_csv_header(self) -> list[str]:
        while True:
            _n, cells, _problem = self._next_csv()
            if cells is None:
                raise ReadError(_("{file}: no header row").format(file=self.path))
            if any(c.strip() for c in cells):
                return clean_headers(cells)

    def _csv_rows(self) -> Iterator[RawRow]:
        while True:
            number, cells, problem = self._next_csv()
            if cells is None:
                return
            if problem is None and not any(c.strip() for c in cells):
                continue
            yield self._shape(number, cells, problem)

    # -- XLSX --

    def _open_xlsx(self, sheet: str | None) -> None:
        try:
            import openpyxl

            self._workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
            names = list(self._workbook.sheetnames)
        except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
            raise ReadError(_("{file}: not a readable Excel workbook ({reason})").format(file=self.path, reason=exc)) from None
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds of errors on damaged files
            raise ReadError(_("{file}: not a readable Excel workbook ({reason})").format(file=self.path, reason=exc)) from None
        self.info.sheets = names
        if not names:
            raise ReadError(_("{file}: the workbook has no sheet").format(file=self.path))
        if sheet is None:
            chosen = names[0]
        else:
            matches = [n for n in names if n == sheet] or [n for n in names if n.casefold() == sheet.casefold()]
            if not matches and sheet.isdigit() and 1 <= int(sheet) <= len(names):
                matches = [names[int(sheet) - 1]]
            if not matches:
                raise ReadError(
                    _("--sheet: no sheet {sheet!r} in {file} (sheets: {names})").format(
                        sheet=sheet, file=self.path.name, names=", ".join(names)
                    )
                )
            chosen = matches[0]
        self.info.sheet = chosen
        try:
            worksheet = self._workbook[chosen]
            self._total_rows = worksheet.max_row if isinstance(worksheet.max_row, int) else None
            self._xlsx_iter = worksheet.iter_rows(values_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged workbook, whatever openpyxl makes of it
            raise ReadError(_("{file}: not a readable Excel workbook ({reason})").format(file=self.path, reason=exc)) from None
        self._record = 0
        self.headers = self._first_xlsx_header()

    def _next_xlsx(self) -> tuple[int, list[str] | None, str | None]:
        try:
            values = next(self._xlsx_iter)
        except StopIteration:
            return self._record, None, None
        except Exception as exc:  # noqa: BLE001 - a damaged sheet part: report the row, stop reading
            self._record += 1
            self._xlsx_iter = iter(())
            return self._record, [], _("not readable: {reason}").format(reason=exc)
        self._record += 1
        return self._record, [cell_text(v) for v in values], None

    def _first_xlsx_header(self) -> list[str]:
        while True:
            _n, cells, problem = self._next_xlsx()
            if cells is None or problem:
                raise ReadError(_("{file}: no header row").format(file=self.path))
            if any(c.strip() for c in cells):
                while cells and not cells[-1].strip():
                    cells.pop()  # Excel sheets often carry empty trailing columns
                return clean_headers(cells)

    def _xlsx_rows(self) -> Iterator[RawRow]:
        while True:
            number, cells, problem = self._next_xlsx()
            if cells is None:
                return
            if problem is None and not any(c.strip() for c in cells):
                continue
            yield self._shape(number, cells, problem)

    # -- common --

    def _shape(self, number: int, cells: list[str], problem: str | None) -> RawRow:
        width = len(self.headers)
        if problem is None and len(cells) > width and any(c.strip() for c in cells[width:]):
            problem = _("{n} cells but the header has {width} columns").format(n=len(cells), width=width)
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        elif len(cells) > width:
            cells = cells[:width]
        if problem is None and any(_REPLACEMENT in c for c in cells):
            problem = _("characters that are not valid {encoding} (try --encoding)").format(encoding=self.info.encoding)
        if self.info.kind == "csv":
            for i, cell in enumerate(cells):
                if cell[:1] == "'" and cell[1:2] in _NEUTRALISED:
                    cells[i] = cell[1:]  # written "'=..." by an export so that spreadsheets show text
        self.rows_read += 1
        return RawRow(number, cells, problem)

    def rows(self) -> Iterator[RawRow]:
        return self._xlsx_rows() if self.info.kind == "xlsx" else self._csv_rows()

    def fraction_done(self) -> float | None:
        """How far through the file reading is (0..1), for progress bars; None when unknown."""
        if self._counter is not None:
            return min(1.0, self._counter.count / max(1, self.info.size))
        if self._total_rows:
            return min(1.0, self._record / self._total_rows)
        return None

    def close(self) -> None:
        if self._counter is not None:
            self._text.close()
            self._counter = None
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def peek(
    path: str | os.PathLike[str],
    *,
    limit: int = 20,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> tuple[list[str], list[RawRow], SourceInfo]:
    """The header and the first rows of a file: what a mapping screen shows."""
    with TableReader(path, encoding=encoding, delimiter=delimiter, sheet=sheet) as reader:
        rows: list[RawRow] = []
        for row in reader.rows():
            rows.append(row)
            if len(rows) >= limit:
                break
        return reader.headers, rows, reader.info
