"""The scores workbook, read back with openpyxl (a strict reader): values, styles, layout, nasty text."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from evalsuite.metrics import summarize
from evalsuite.reports import xlsx
from evalsuite.reports.xlsx import write_xlsx
from evalsuite.reports.xlsx_writer import XlsxWriter, column_letter
from evalsuite.types import ItemResult, SampleResult

FORMULA = "=cmd|' /C calc'!A0"
SPACED = "  keep my spaces & <tags> \"quotes\" 'too'  "


def _item(
    item_id: str, output: str, *, correct: bool = False, error: str | None = None, truncated: bool = False
) -> ItemResult:
    sample = SampleResult(
        0,
        output,
        correct,
        float(correct),
        None if error or truncated else ("7" if correct else "8"),
        "truncated" if truncated else ("engine error" if error else "equivalent"),
        "length" if truncated else ("error" if error else "stop"),
        0 if error else 123,
        error,
    )
    return ItemResult("math", item_id, {"level": "1"}, "What is 3 + 4?", "7", (sample,))


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory):
    items = [
        _item("formula", FORMULA, correct=True),
        _item("control", "a\x00b\x07c\x1bd\ud800e", correct=False),
        _item("error", "", error="HTTP 503"),
        _item("long", "x" * 40_000, truncated=True),
        _item("spaced", SPACED, correct=True),
    ]
    path = write_xlsx(tmp_path_factory.mktemp("xlsx") / "m_scores.xlsx", items, summarize(items))
    return path, load_workbook(path)


def _rows(ws) -> dict[str, tuple]:
    return {row[1].value: row for row in ws.iter_rows(min_row=2)}


def test_header_row_is_bold_white_on_navy_and_frozen(book) -> None:
    _, wb = book
    assert wb.sheetnames == ["summary", "per-item"]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        for cell in ws[1]:
            assert cell.font.b and cell.font.color.rgb.endswith("FFFFFF")
            assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb.endswith("1F3A5F")
    assert [c.value for c in wb["per-item"][1]][:3] == ["benchmark", "item_id", "status"]


def test_autofilter_and_column_widths(book) -> None:
    _, wb = book
    items, summary = wb["per-item"], wb["summary"]
    assert items.auto_filter.ref == "A1:M6"
    assert summary.auto_filter.ref == f"A1:L{summary.max_row}"
    widths = [items.column_dimensions[column_letter(i)].width for i in range(13)]
    assert widths == [12, 30, 9, 28, 8, 9, 9, 18, 18, 10, 9, 9, 80]
    widths = [summary.column_dimensions[column_letter(i)].width for i in range(12)]
    assert widths == [14, 24, 12, 9, 9, 9, 9, 9, 10, 12, 12, 10]


def test_status_fills_and_number_formats(book) -> None:
    _, wb = book
    rows = _rows(wb["per-item"])
    fills = {k: (r[2].value, r[2].fill.fill_type, r[2].fill.fgColor.rgb[-6:]) for k, r in rows.items()}
    assert fills["formula"] == ("correct", "solid", "E3F4E8")
    assert fills["control"] == ("wrong", "solid", "FBE4E4")
    assert fills["error"] == ("error", "solid", "FFF1D6")
    assert fills["long"][:2] == ("truncated", None)
    avg = rows["formula"][6]
    assert avg.value == 1.0 and avg.number_format == "0.000"
    assert rows["formula"][4].value == 1 and rows["formula"][4].number_format == "General"  # ints unformatted
    assert rows["error"][6].value is None  # no valid sample: no average
    value = wb["summary"]["D2"]
    assert isinstance(value.value, float) and value.number_format == "0.000"


def test_text_stays_text_and_is_made_safe(book) -> None:
    path, wb = book
    rows = _rows(wb["per-item"])
    out = {k: r[12] for k, r in rows.items()}
    assert out["formula"].value == FORMULA and out["formula"].data_type == "s"  # never a formula
    assert out["control"].value == "a\ufffdb\ufffdc\ufffdd\ufffde"
    assert out["long"].value == "x" * 32_000
    assert out["spaced"].value == SPACED
    assert out["error"].value == "HTTP 503"
    with zipfile.ZipFile(path) as z:
        assert all("<f>" not in z.read(n).decode() for n in z.namelist())
        for name in z.namelist():
            ET.fromstring(z.read(name))  # every part is well-formed XML


def test_writer_cell_types_and_escaped_sheet_names(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with XlsxWriter(path) as w:
        money = w.style(number_format='"$"#,##0.00')
        sheet = w.add_sheet("a & <b>", widths=[5])
        sheet.append([True, 3, 2.5, None, math.nan, "plain", ("t", 1)])
        sheet.append([1.25], [money])
        w.add_sheet("O'Brien").append(["x"])
    wb = load_workbook(path)
    assert wb.sheetnames == ["a & <b>", "O'Brien"]
    ws = wb["a & <b>"]
    assert [c.value for c in ws[1]] == [True, 3, 2.5, None, "nan", "plain", "('t', 1)"]
    assert ws["A2"].number_format == '"$"#,##0.00' and ws.auto_filter.ref is None and ws.freeze_panes is None


@pytest.mark.parametrize("title", ["", "x" * 32, "a/b", "a[1]", "what?", "'quoted'"])
def test_writer_rejects_bad_sheet_names(tmp_path: Path, title: str) -> None:
    with pytest.raises(ValueError, match="sheet name"), XlsxWriter(tmp_path / "t.xlsx") as w:
        w.add_sheet(title)


def test_column_letters() -> None:
    letters = [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)]
    assert letters == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_sheet_over_the_zip_limit_is_written_again_with_zip64(tmp_path: Path, monkeypatch) -> None:
    # Pretend a sheet of a few kB is over 2 GiB: the plain write fails, the ZIP64 one is read back whole.
    items = [_item(f"i{i}", "some output " * 50, correct=i % 2 == 0) for i in range(40)]
    tries: list[bool] = []
    write = xlsx._write

    def spy(*args, zip64: bool):
        tries.append(zip64)
        return write(*args, zip64=zip64)

    monkeypatch.setattr(xlsx, "_write", spy)
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 4000)
    path = xlsx.write_xlsx(tmp_path / "big.xlsx", items, summarize(items))
    monkeypatch.undo()
    assert tries == [False, True]
    back = load_workbook(path)
    assert back["per-item"].max_row == 41 and back["per-item"]["C2"].fill.fgColor.rgb.endswith("E3F4E8")
