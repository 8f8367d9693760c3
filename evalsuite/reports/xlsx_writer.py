"""A small streaming writer of SpreadsheetML (``.xlsx``) workbooks: rows go straight into the zip.

An ``.xlsx`` file is a zip of XML parts: ``[Content_Types].xml``, ``_rels/.rels``,
``docProps/core.xml``, ``xl/workbook.xml``, ``xl/_rels/workbook.xml.rels``, ``xl/styles.xml`` and one
``xl/worksheets/sheetN.xml`` per sheet. Each sheet is written as one zip entry while its rows arrive
(``zipfile.ZipFile.open(name, "w")`` streams), strings are inline (``t="inlineStr"``) so no
shared-strings table is held, and the parts that depend on every sheet (workbook, styles) are written
last. Memory stays flat in the number of rows.

What a cell shows:

- ``None``: no cell;
- ``bool``: a boolean (``t="b"``); ``int`` and finite ``float``: a number; a non-finite float:
  its text (``nan``, ``inf``), since a spreadsheet has no such number;
- anything else: ``str(value)`` as text, never a formula (nothing here writes ``<f>``), with the
  characters XML 1.0 cannot hold (C0 controls but tab/newline/CR, lone surrogates, U+FFFE/U+FFFF)
  replaced by U+FFFD and cut at ``max_chars`` (Excel refuses cells over 32,767 characters).

Usage::

    with XlsxWriter(path) as book:
        head = book.style(bold=True, color="FFFFFF", fill="1F3A5F")
        sheet = book.add_sheet("data", widths=[12, 40], freeze_header=True, autofilter=True)
        sheet.append(["name", "score"], [head, head])
        sheet.append(["a", 0.5])
"""

from __future__ import annotations

import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any

MAX_CHARS = 32_000
"""Default cut of a text cell (Excel refuses cells over 32,767 characters)."""

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_FLUSH_CHARS = 1 << 16  # rows are joined and written to the zip entry in chunks of about this size


class SheetTooLarge(RuntimeError):
    """A sheet passed 2 GiB uncompressed without ``zip64=True``; write the workbook again with it.

    ZIP64 is off by default because Excel is picky about streamed ZIP64 entries.
    """


def column_letter(index: int) -> str:
    """Spreadsheet column name of the 0-based ``index``: 0 -> ``A``, 25 -> ``Z``, 26 -> ``AA``."""
    if index < 0:
        raise ValueError(f"column index must be >= 0, got {index}")
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _text(value: str, max_chars: int) -> str:
    """``<t>`` of an inline string: XML-illegal characters replaced by U+FFFD, cut at ``max_chars``,
    escaped, spaces at either end kept."""
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub("\ufffd", value)
    if len(value) > max_chars:
        value = value[:max_chars]
    value = _escape_text(value)
    if value[:1].isspace() or value[-1:].isspace():
        return f'<t xml:space="preserve">{value}</t>'
    return f"<t>{value}</t>"


def _escape_text(text: str) -> str:
    """Escape element text (``&``, ``<``, ``>``; the ``in`` checks skip the copies on the hot path)."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _escape(text: str) -> str:
    """Escape text content and double-quoted attribute values."""
    text = _escape_text(text)
    return text.replace('"', "&quot;") if '"' in text else text


def _absolute(ref: str) -> str:
    """``A1:M9`` -> ``$A$1:$M$9``."""
    return re.sub(r"([A-Z]+)([0-9]+)", r"$\1$\2", ref)


def _rgb(color: str) -> str:
    """``RRGGBB`` (or ``AARRGGBB``) -> the ``AARRGGBB`` SpreadsheetML wants."""
    c = color.lstrip("#").upper()
    if not re.fullmatch(r"[0-9A-F]{6}([0-9A-F]{2})?", c):
        raise ValueError(f"colour must be RRGGBB hex, got {color!r}; e.g. '1F3A5F'")
    return c if len(c) == 8 else "FF" + c


@dataclass(frozen=True)
class _Style:
    bold: bool
    color: str | None
    fill: str | None
    number_format: str | None


class Sheet:
    """One worksheet being written; rows go out in order with ``append``. Made by ``XlsxWriter.add_sheet``."""

    def __init__(
        self,
        stream: IO[bytes],
        title: str,
        index: int,
        widths: Sequence[float],
        *,
        freeze_header: bool,
        autofilter: bool,
        float_style: int,
        max_chars: int,
    ) -> None:
        self.title = title
        self.rows = 0
        self.columns = 0
        self._stream = stream
        self._autofilter = autofilter
        self._float_style = float_style
        self._max_chars = max_chars
        self._letters: list[str] = []
        self._buf: list[str] = []
        self._buf_len = 0
        head = [_XML_HEAD, f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">']
        view = (
            '<sheetView tabSelected="1" workbookViewId="0">'
            if index == 0
            else '<sheetView workbookViewId="0">'
        )
        if freeze_header:
            view += (
                '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A1" sqref="A1"/>'
            )
        head.append(f"<sheetViews>{view}</sheetView></sheetViews>")
        head.append('<sheetFormatPr defaultRowHeight="15"/>')
        if widths:
            head.append("<cols>")
            head.extend(
                f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>' for i, w in enumerate(widths, 1)
            )
            head.append("</cols>")
        head.append("<sheetData>")
        self._write("".join(head))

    def _write(self, text: str) -> None:
        self._stream.write(text.encode("utf-8"))

    def append(self, values: Sequence[Any], styles: Sequence[int] | None = None) -> None:
        """Write the next row: ``values[i]`` in column ``i``, with style ``styles[i]`` (0: none).

        Styles come from ``XlsxWriter.style``; a float without one gets the sheet's ``float_style``.
        """
        self.rows += 1
        r = self.rows
        n = len(values)
        if n > self.columns:
            self.columns = n
            self._letters.extend(column_letter(i) for i in range(len(self._letters), n))
        letters = self._letters
        out = [f'<row r="{r}">']
        for i, v in enumerate(values):
            if v is None:
                continue
            s = styles[i] if styles else 0
            if type(v) is str:
                t = 'inlineStr"><is>' + _text(v, self._max_chars) + "</is>"
            elif isinstance(v, bool):
                t = f'b"><v>{int(v)}</v>'
            elif isinstance(v, int):
                t = f'n"><v>{int(v)}</v>'
            elif isinstance(v, float) and math.isfinite(v):
                s = s or self._float_style
                t = f'n"><v>{float(v)!r}</v>'
            else:  # text: non-finite floats, dates, anything else
                t = 'inlineStr"><is>' + _text(str(v), self._max_chars) + "</is>"
            if s:
                out.append(f'<c r="{letters[i]}{r}" s="{s}" t="{t}</c>')
            else:
                out.append(f'<c r="{letters[i]}{r}" t="{t}</c>')
        out.append("</row>")
        text = "".join(out)
        self._buf.append(text)
        self._buf_len += len(text)
        if self._buf_len >= _FLUSH_CHARS:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._write("".join(self._buf))
            self._buf.clear()
            self._buf_len = 0

    @property
    def ref(self) -> str:
        """The used range, ``A1:<last column><last row>`` (``A1:A1`` when empty)."""
        return f"A1:{column_letter(max(self.columns, 1) - 1)}{max(self.rows, 1)}"

    def close(self) -> None:
        """Finish the sheet's XML and its zip entry (``XlsxWriter`` calls this for you)."""
        if self._stream.closed:
            return
        self._flush()
        tail = "</sheetData>"
        if self._autofilter:
            tail += f'<autoFilter ref="{self.ref}"/>'
        tail += (
            '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>'
        )
        self._write(tail)
        try:
            self._stream.close()
        except RuntimeError as e:  # zipfile: "File size too large, try using force_zip64"
            raise SheetTooLarge(f"sheet {self.title!r} is over 2 GiB uncompressed: {e}") from e


class XlsxWriter:
    """Write an ``.xlsx`` workbook to ``path``, one sheet at a time, each streamed row by row.

    Args:
        path: Target file (overwritten).
        zip64: Write sheets with ZIP64 headers, needed past 2 GiB of XML in one sheet (see
            ``SheetTooLarge``).
        compresslevel: zlib level of the zip entries (1 fastest .. 9 smallest).
        creator: ``dc:creator`` of the document properties.
    """

    def __init__(
        self, path: Path | str, *, zip64: bool = False, compresslevel: int = 6, creator: str = "evalsuite"
    ) -> None:
        self.path = Path(path)
        self._zip64 = zip64
        self._creator = creator
        self._zip = zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._sheets: list[Sheet] = []
        self._styles: dict[_Style, int] = {}
        self._closed = False

    def __enter__(self) -> XlsxWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:  # no workbook/styles parts: a failed workbook does not open as if it were whole
            self._closed = True
            try:
                if self._sheets:
                    self._sheets[-1]._stream.close()
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
            self._zip.close()

    def style(
        self,
        *,
        bold: bool = False,
        color: str | None = None,
        fill: str | None = None,
        number_format: str | None = None,
    ) -> int:
        """The id of a cell style (the same id for the same arguments): font bold/colour (``RRGGBB``),
        solid fill colour, number format (e.g. ``0.000``). 0 is the default style."""
        key = _Style(
            bold,
            None if color is None else _rgb(color),
            None if fill is None else _rgb(fill),
            None if number_format in (None, "General") else number_format,
        )
        if key == _Style(False, None, None, None):
            return 0
        return self._styles.setdefault(key, len(self._styles) + 1)

    def add_sheet(
        self,
        title: str,
        *,
        widths: Sequence[float] = (),
        freeze_header: bool = False,
        autofilter: bool = False,
        float_style: int = 0,
        max_chars: int = MAX_CHARS,
    ) -> Sheet:
        """Start the next sheet (finishing the one before).

        Args:
            title: Sheet name: 1-31 characters, none of ``[]:*?/\\``, no ``'`` at either end, unique
                (case-insensitive).
            widths: Column widths, in characters, from column A.
            freeze_header: Freeze the first row (pane at A2).
            autofilter: Put an auto-filter over the used range (header row included).
            float_style: Style of float cells appended without one (e.g. a ``0.000`` format).
            max_chars: Cut text cells at this many characters.
        """
        if self._closed:
            raise ValueError("workbook already closed")
        if not 1 <= len(title) <= 31 or _BAD_SHEET_CHARS.search(title) or title[0] == "'" or title[-1] == "'":
            raise ValueError(
                f"invalid sheet name {title!r}: 1-31 characters, none of []:*?/\\, no ' at either end"
            )
        if title.lower() in (s.title.lower() for s in self._sheets):
            raise ValueError(f"duplicate sheet name {title!r}")
        if self._sheets:
            self._sheets[-1].close()
        index = len(self._sheets)
        stream = self._zip.open(f"xl/worksheets/sheet{index + 1}.xml", "w", force_zip64=self._zip64)
        sheet = Sheet(
            stream,
            title,
            index,
            widths,
            freeze_header=freeze_header,
            autofilter=autofilter,
            float_style=float_style,
            max_chars=max_chars,
        )
        self._sheets.append(sheet)
        return sheet

    def close(self) -> None:
        """Finish the last sheet and write the workbook, styles and package parts."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._sheets:
                raise ValueError("a workbook needs at least one sheet")
            self._sheets[-1].close()
            z = self._zip
            z.writestr("[Content_Types].xml", self._content_types())
            z.writestr("_rels/.rels", self._root_rels())
            z.writestr("docProps/core.xml", self._core())
            z.writestr("xl/workbook.xml", self._workbook())
            z.writestr("xl/_rels/workbook.xml.rels", self._workbook_rels())
            z.writestr("xl/styles.xml", self._styles_xml())
        finally:
            self._zip.close()

    def _content_types(self) -> str:
        ct = "application/vnd.openxmlformats-officedocument"
        parts = [
            _XML_HEAD,
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">',
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>',
            '<Default Extension="xml" ContentType="application/xml"/>',
            f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.spreadsheetml.sheet.main+xml"/>',
            f'<Override PartName="/xl/styles.xml" ContentType="{ct}.spreadsheetml.styles+xml"/>',
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>',
        ]
        parts.extend(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{ct}.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(self._sheets) + 1)
        )
        parts.append("</Types>")
        return "".join(parts)

    def _root_rels(self) -> str:
        return (
            f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">'
            f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/'
            'metadata/core-properties" Target="docProps/core.xml"/></Relationships>'
        )

    def _core(self) -> str:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"{_XML_HEAD}<cp:coreProperties "
            'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>{_escape(self._creator)}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{now}</dcterms:modified>'
            "</cp:coreProperties>"
        )

    def _workbook(self) -> str:
        sheets = "".join(
            f'<sheet name="{_escape(s.title)}" sheetId="{i}" r:id="rId{i}"/>'
            for i, s in enumerate(self._sheets, 1)
        )
        quote = "'"
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"'{_escape(s.title.replace(quote, quote * 2))}'!{_absolute(s.ref)}</definedName>"
            for i, s in enumerate(self._sheets)
            if s._autofilter
        )
        return (
            f'{_XML_HEAD}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets>"
            + (f"<definedNames>{names}</definedNames>" if names else "")
            + "</workbook>"
        )

    def _workbook_rels(self) -> str:
        rels = [
            f'<Relationship Id="rId{i}" Type="{_REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(self._sheets) + 1)
        ]
        rels.append(
            f'<Relationship Id="rId{len(self._sheets) + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
        )
        return f'{_XML_HEAD}<Relationships xmlns="{_PKG_REL_NS}">{"".join(rels)}</Relationships>'

    def _styles_xml(self) -> str:
        fonts = ['<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>']
        fills = [
            '<fill><patternFill patternType="none"/></fill>',
            '<fill><patternFill patternType="gray125"/></fill>',
        ]
        formats: dict[str, int] = {}
        font_ids: dict[tuple[bool, str | None], int] = {(False, None): 0}
        fill_ids: dict[str | None, int] = {None: 0}
        xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>']
        for st in self._styles:  # in id order (dicts keep insertion order)
            font = font_ids.get((st.bold, st.color))
            if font is None:
                font = font_ids[st.bold, st.color] = len(fonts)
                fonts.append(
                    "<font>"
                    + ("<b/>" if st.bold else "")
                    + '<sz val="11"/>'
                    + (f'<color rgb="{st.color}"/>' if st.color else "")
                    + '<name val="Calibri"/><family val="2"/></font>'
                )
            fill = fill_ids.get(st.fill)
            if fill is None:
                fill = fill_ids[st.fill] = len(fills)
                fills.append(
                    f'<fill><patternFill patternType="solid"><fgColor rgb="{st.fill}"/>'
                    '<bgColor indexed="64"/></patternFill></fill>'
                )
            fmt = 0
            if st.number_format is not None:
                fmt = formats.setdefault(st.number_format, 164 + len(formats))
            xfs.append(
                f'<xf numFmtId="{fmt}" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
                + (' applyNumberFormat="1"' if fmt else "")
                + (' applyFont="1"' if font else "")
                + (' applyFill="1"' if fill else "")
                + "/>"
            )
        numfmts = "".join(
            f'<numFmt numFmtId="{i}" formatCode="{_escape(code)}"/>' for code, i in formats.items()
        )
        return (
            f'{_XML_HEAD}<styleSheet xmlns="{_MAIN_NS}">'
            + (f'<numFmts count="{len(formats)}">{numfmts}</numFmts>' if formats else "")
            + f'<fonts count="{len(fonts)}">{"".join(fonts)}</fonts>'
            + f'<fills count="{len(fills)}">{"".join(fills)}</fills>'
            + '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            + '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            + f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            + '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            + "</styleSheet>"
        )
