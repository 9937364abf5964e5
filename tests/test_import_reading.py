"""Reading CSV and Excel files: encodings, delimiters, quoting, sheets, and files that cannot be read."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from tscrm.core.imports.reading import (
    ReadError,
    TableReader,
    detect_encoding,
    peek,
    sniff_delimiter,
)

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "data" / "imports"
HEADER = "Nombre;Teléfono;Ciudad\n"
ROW = "José Müller-Ñúñez;+34 612 345 678;Cádiz\n"


@pytest.mark.parametrize(
    "encoding,prefix,expected",
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
        ("utf-16", b"", "utf-16"),  # Excel's "Unicode text": UTF-16 with a BOM
        ("utf-16-le", b"", "utf-16-le"),  # no BOM: found from the NUL bytes
        ("cp1252", b"", "cp1252"),
        ("latin-1", b"", "cp1252"),  # the same bytes for these letters
    ],
)
def test_encodings_are_detected(tmp_path, encoding, prefix, expected):
    path = tmp_path / "f.csv"
    path.write_bytes(prefix + (HEADER + ROW * 3).encode(encoding))
    headers, rows, info = peek(path)
    assert info.encoding == expected
    assert headers == ["Nombre", "Teléfono", "Ciudad"]
    assert rows[0].cells == ["José Müller-Ñúñez", "+34 612 345 678", "Cádiz"] and rows[0].problem is None


def test_latin1_bytes_that_are_not_cp1252_fall_back_to_latin1():
    assert detect_encoding("x\x81y".encode("latin-1")) == "latin-1"


def test_cp1252_with_euro_quotes_and_accented_names(tmp_path):
    text = "Nom;Prénom;Société;Prix\nDurand;Anaïs;Boulangerie Girard;12 €\nLefèvre;Élodie;Café “Le Zoé” – Évry;5 €\n"
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode("cp1252"))
    headers, rows, info = peek(path)
    assert info.encoding == "cp1252" and headers == ["Nom", "Prénom", "Société", "Prix"]
    assert rows[1].cells == ["Lefèvre", "Élodie", "Café “Le Zoé” – Évry", "5 €"] and rows[1].problem is None


def test_latin1_files_read_right(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes("Name;City\nZoë Ångström;Ørsted\nJosé Núñez;Cádiz\n".encode("latin-1"))
    _headers, rows, info = peek(path)
    assert info.encoding == "cp1252"  # byte for byte the same letters
    assert [r.cells for r in rows] == [["Zoë Ångström", "Ørsted"], ["José Núñez", "Cádiz"]]
    path.write_bytes("Name;Note\nZoë;a\x85b\x81\n".encode("latin-1"))  # 0x81 is not cp1252
    _headers, rows, info = peek(path)
    assert info.encoding == "latin-1" and rows[0].cells == ["Zoë", "a\x85b\x81"]


def test_a_short_ambiguous_file_is_windows_1252(tmp_path):
    # charset-normalizer alone reads these 9 bytes as UTF-16; too few letters to leave Windows-1252
    path = tmp_path / "f.csv"
    path.write_bytes("Nom\nZoé\n".encode("cp1252"))
    headers, rows, info = peek(path)
    assert (info.encoding, headers, rows[0].cells) == ("cp1252", ["Nom"], ["Zoé"])


@pytest.mark.parametrize(
    "text,encoding",
    [
        ("Имя;Телефон;Город\nИван Петров;+7 912 345 67 89;Москва\nОльга Смирнова;+7 913 111 22 33;Санкт-Петербург\n", "cp1251"),
        ("名前,電話,都市\n山田太郎,+81 90 1234 5678,東京\n佐藤花子,+81 80 2345 6789,大阪\n", "cp932"),
    ],
)
def test_other_scripts_are_detected_with_charset_normalizer(tmp_path, text, encoding):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode(encoding))
    headers, rows, info = peek(path)
    assert info.encoding == encoding
    assert [",".join(headers)] + [",".join(r.cells) for r in rows] == text.replace(";", ",").splitlines()
    _headers, rows, info = peek(path, encoding="latin-1")  # --encoding wins, even when it is wrong
    first_name = text.splitlines()[1].replace(";", ",").split(",")[0]
    assert info.encoding == "iso8859-1" and rows[0].cells[0] == first_name.encode(encoding).decode("latin-1")


def test_encoding_override_and_unknown_encoding(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes((HEADER + ROW).encode("cp1252"))
    _headers, rows, info = peek(path, encoding="latin-1")
    assert info.encoding == "iso8859-1" and rows[0].cells[2] == "Cádiz"
    with pytest.raises(ReadError, match="not an encoding"):
        peek(path, encoding="klingon")


def test_undecodable_bytes_are_a_row_problem_not_a_crash(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(("Name,City\n" + "Ana,Madrid\n" * 30000).encode() + "Zoé,Évry\n".encode("cp1252"))
    with TableReader(path) as reader:
        rows = list(reader.rows())
    assert reader.info.encoding == "utf-8"  # the first bytes said so
    assert rows[-1].number == 30002 and "not valid utf-8" in rows[-1].problem


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    text = delimiter.join(["Name", "Phone", "Tags"]) + "\n" + delimiter.join(['"Ana, Bea"', "+34612345678", '"a;b"']) + "\n"
    path = tmp_path / "f.csv"
    path.write_text(text * 1)
    headers, rows, info = peek(path)
    assert info.delimiter == delimiter and len(headers) == 3
    assert rows[0].cells[0] == "Ana, Bea"


def test_a_comma_inside_cells_does_not_fool_the_sniffer():
    assert sniff_delimiter("Nombre;Teléfono\nAna;+34 600, +34 601\nBea;+34 602, +34 603\n") == ";"


def test_quotes_embedded_newlines_blank_rows_and_row_numbers(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text('Name,Notes\n"Ana ""La Jefa""","line 1\nline 2"\n\n,\nBea,x\n', encoding="utf-8")
    with TableReader(path) as reader:
        rows = list(reader.rows())
    assert [r.number for r in rows] == [2, 5]  # the row numbers a spreadsheet shows; blank rows skipped
    assert rows[0].cells == ['Ana "La Jefa"', "line 1\nline 2"]


def test_short_rows_are_padded_and_long_rows_reported(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("A,B,C\n1\n1,2,3,4\n1,2,3,,\n", encoding="utf-8")
    with TableReader(path) as reader:
        rows = list(reader.rows())
    assert rows[0].cells == ["1", "", ""] and rows[0].problem is None
    assert "4 cells but the header has 3 columns" in rows[1].problem
    assert rows[2].problem is None  # empty extra cells are harmless


def test_header_names_are_cleaned_and_made_unique(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("\ufeff Phone ,Phone,,phone\n1,2,3,4\n", encoding="utf-8")
    headers, _rows, _info = peek(path)
    assert headers == ["Phone", "Phone (2)", "Column 3", "phone (3)"]


def test_neutralised_cells_get_their_apostrophe_back(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("Name,Phone,Note\n'=1+1,'+34612345678,'it's\n", encoding="utf-8")
    _headers, rows, _info = peek(path)
    assert rows[0].cells == ["=1+1", "+34612345678", "'it's"]


def test_xlsx_first_sheet_or_named_sheet(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    first = workbook.active
    first.title = "Summary"
    first.append(["Nothing", "here"])
    second = workbook.create_sheet("Clientes")
    second.append(["Nombre", "Teléfono", "Alta"])
    second.append(["Ana", 34612345678, None])
    second.append([None, None, None])
    second.append(["Bea", "+34 612 345 679", 12.5])
    path = tmp_path / "book.xlsx"
    workbook.save(path)
    headers, _rows, info = peek(path)
    assert info.sheet == "Summary" and headers == ["Nothing", "here"]
    headers, rows, info = peek(path, sheet="clientes")
    assert info.sheets == ["Summary", "Clientes"] and headers == ["Nombre", "Teléfono", "Alta"]
    assert [r.cells for r in rows] == [["Ana", "34612345678", ""], ["Bea", "+34 612 345 679", "12.5"]]
    assert [r.number for r in rows] == [2, 4]
    assert peek(path, sheet="2")[2].sheet == "Clientes"
    with pytest.raises(ReadError, match="no sheet 'Nope'.*Summary, Clientes"):
        peek(path, sheet="Nope")


def test_sample_xlsx_streams_with_progress(tmp_path):
    with TableReader(SAMPLES / "clientes.xlsx") as reader:
        rows = list(reader.rows())
        assert reader.fraction_done() == 1.0
    assert len(rows) == 150


@pytest.mark.parametrize(
    "content,name,message",
    [
        (b"", "empty.csv", "empty"),
        (b"PK\x03\x04garbage", "broken.xlsx", "not a readable Excel workbook"),
        (b"\xd0\xcf\x11\xe0old excel", "old.xls", "old Excel .xls"),
        (b"\n\n\n", "blank.csv", "no header"),
    ],
)
def test_files_that_cannot_be_read_say_why(tmp_path, content, name, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadError, match=message):
        peek(path)


def test_missing_file(tmp_path):
    with pytest.raises(ReadError, match="no such file"):
        peek(tmp_path / "nope.csv")
