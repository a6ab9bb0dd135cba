"""coverage.xlsx: one sheet per table, written in openpyxl's streaming mode, byte for byte the same across runs."""
from __future__ import annotations

import datetime
import functools
import io
import os
import queue
import re
import threading
import types
import unicodedata
import zipfile
from pathlib import Path

import pandas as pd

from .io import FORMULA_START, write_bytes_atomic
from .taxonomy import Taxonomy


@functools.cache
def _xl() -> types.SimpleNamespace:
    """The openpyxl classes this module uses, imported on first use: 0.1 s that commands and runs writing no
    workbook in this process (the workbook is written by a helper process) do not pay."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.formatting.rule import CellIsRule, ColorScaleRule
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter

    return types.SimpleNamespace(**{f.__name__: f for f in (Workbook, WriteOnlyCell, CellIsRule, ColorScaleRule,
                                                             Alignment, Font, PatternFill, get_column_letter,
                                                             ExcelWriter)})

SHEETS = ("region_ranking", "coverage_region", "coverage_region_long", "gaps", "coded_passages", "coverage_document",
          "coverage_document_long", "first_year", "coverage_by_year", "human_coding", "ingest_report")
EXCEL_CELL_LIMIT = 32767
# characters XML 1.0 (and so xlsx) cannot hold; openpyxl raises on them
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# what a sheet with a column per node counts in each cell, said beside the node names: the two heatmaps look alike
# and a region's cell can read less than one of its documents'
NODE_COUNTS = {"coverage_region": "documents addressing it", "coverage_document": "passages coded with it"}

# with several frameworks, the framework x framework table too
CROSSTAB_SHEET = "crosstab"


def sheets_for(taxonomy: Taxonomy) -> tuple[str, ...]:
    """The workbook's sheets for a run with this taxonomy."""
    return SHEETS + ((CROSSTAB_SHEET,) if len(taxonomy.parts) > 1 else ())


def node_names(taxonomy: Taxonomy) -> dict[str, tuple[str, str]]:
    """node ID -> (English name, Chinese name), for the workbook's header of node columns."""
    return {n.id: (n.name.get("en") or n.id, n.name.get("zh") or n.id) for n in taxonomy.nodes}


def write_xlsx(tables: dict[str, pd.DataFrame], path: Path, names: dict[str, tuple[str, str]] | None = None) -> None:
    """One sheet per table, header row frozen, with filters, column widths and colour on the coverage figures;
    in a sheet whose columns are nodes, a row of their names (`names`) under the IDs. Written in openpyxl's
    streaming (write-only) mode."""
    wb = _xl().Workbook(write_only=True)
    for name in SHEETS + (CROSSTAB_SHEET,):
        if name in tables:
            _write_sheet(wb.create_sheet(name[:31]), name, tables[name], names)
    _save_workbook(wb, path)


def serve_xlsx(conn, path: Path, sheets: tuple[str, ...], names: dict[str, tuple[str, str]] | None = None,
               first=None) -> None:
    """write_xlsx for tables that arrive over `conn` in batches ({sheet name: table}), in any order: each
    sheet is written as soon as its table arrives, and the file once every sheet is there. The file is the
    same as write_xlsx's; nothing is written if the sender goes away first. `first()`: other work this
    process does before the sheets (the batches that arrive meanwhile wait)."""
    # a thread takes the batches off the pipe as they come, so the sender never waits for a sheet to be written
    arrived: queue.Queue = queue.Queue()

    def receive():
        try:
            while True:
                arrived.put(conn.recv())
        except EOFError:
            arrived.put(None)

    threading.Thread(target=receive, daemon=True).start()
    if first is not None:
        first()
    wb = _xl().Workbook(write_only=True)
    # write-only sheets keep the order they were created in, whatever order they are filled in
    ws = {name: wb.create_sheet(name[:31]) for name in sheets}
    todo = set(sheets)
    while todo:
        batch = arrived.get()
        if batch is None:
            raise EOFError("the tables stopped coming")
        for name, df in batch.items():
            _write_sheet(ws[name], name, df, names)
            todo.discard(name)
    _save_workbook(wb, path)


class _Literal(str):
    """Text that starts like a formula (= + - @): written as a string cell with Excel's hidden quote prefix, so
    it shows as it is, without a visible ', and stays text when someone edits the cell."""


def _literal_cell(ws, v: str):
    cell = _xl().WriteOnlyCell(ws, str(v))
    cell.data_type = "s"  # openpyxl would store a leading '=' as a formula
    cell.quotePrefix = True
    return cell


def _cell(v):
    if isinstance(v, str):
        if not v:
            return None  # an empty cell, not an empty string (which openpyxl would write out)
        # Excel rejects longer cells and control characters
        v = _XML_ILLEGAL.sub("", v)[:EXCEL_CELL_LIMIT]
        return _Literal(v) if v.startswith(FORMULA_START) else v
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    return v.item() if hasattr(v, "item") else v


# columns coloured from white (0) to blue (1): the shares a reader scans for gaps
SHARE_COLUMNS = ("share",)


def _is_share(column: str) -> bool:
    """Columns coloured as shares: `share` and the audit's coverage columns (<stem>_coverage)."""
    return column in SHARE_COLUMNS or column.endswith("_coverage")


# a column's width is read from its header and this many of its first values
WIDTH_SAMPLE = 200


def _write_sheet(ws, name: str, df: pd.DataFrame, names: dict[str, tuple[str, str]] | None = None) -> None:
    xl = _xl()
    cols = [str(c) for c in df.columns]
    names = names or {}
    is_node = [c in names for c in cols]
    # a sheet with a column per node gets their names in a second header row (filters sit on that row)
    top = 2 if sum(is_node) > 1 else 1
    ws.freeze_panes = f"B{top + 1}"
    # cells prepared a column at a time: numbers need no per-value work
    columns = [_column_cells(df[c]) for c in df.columns]
    # widths (set before the first row: a streamed sheet writes them first) from the header and the first rows
    for i, (c, cells) in enumerate(zip(cols, columns), 1):
        width = 14 if top == 2 and is_node[i - 1] else max(
            [_text_width(c)] + [_text_width(v) for v in cells[:WIDTH_SAMPLE] if v is not None])
        ws.column_dimensions[xl.get_column_letter(i)].width = min(max(width + 2, 6), 60)
    bold, grey = xl.Font(bold=True), xl.PatternFill("solid", start_color="F0F3F6", end_color="F0F3F6")
    wrap = xl.Alignment(wrap_text=True, vertical="top")

    def head(value, align=None):
        cell = _literal_cell(ws, value) if type(_cell(value)) is _Literal else xl.WriteOnlyCell(ws, value=value)
        cell.font, cell.fill = bold, grey
        if align is not None:
            cell.alignment = align
        return cell

    ws.append([head(c) for c in cols])
    if top == 2:
        counts = NODE_COUNTS.get(name)
        first = head(f"name (en / zh); cells: {counts}", wrap) if counts else head("name (en / zh)")
        ws.append([head(f"{names[c][0]} / {names[c][1]}", wrap) if is_node[i] else first if i == 0 else head(None)
                   for i, c in enumerate(cols)])
    literal = [i for i, cells in enumerate(columns) if _Literal in map(type, cells)]
    for row in zip(*columns):
        if literal:
            row = list(row)
            for i in literal:
                if type(row[i]) is _Literal:
                    row[i] = _literal_cell(ws, row[i])
        ws.append(row)
    if not cols:
        return
    last_row = top + len(df)
    ws.auto_filter.ref = f"A{top}:{xl.get_column_letter(len(cols))}{max(last_row, top)}"
    if not len(df):
        return
    blue = xl.ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF", end_type="max", end_color="6BAED6")
    share = xl.ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF", end_type="num", end_value=1,
                              end_color="6BAED6")
    if top == 2:  # counts per node: a heatmap
        nodes = [i for i, x in enumerate(is_node, 1) if x]
        first, last = xl.get_column_letter(nodes[0]), xl.get_column_letter(nodes[-1])
        ws.conditional_formatting.add(f"{first}{top + 1}:{last}{last_row}", blue)
    for i, c in enumerate(cols, 1):
        where = f"{xl.get_column_letter(i)}{top + 1}:{xl.get_column_letter(i)}{last_row}"
        if _is_share(c):
            ws.conditional_formatting.add(where, share)
        elif c == "addressed":
            for value, colour in (("TRUE", "D4F4DD"), ("FALSE", "FFE1E1")):
                ws.conditional_formatting.add(where, xl.CellIsRule(operator="equal", formula=[value], fill=xl.PatternFill(
                    "solid", start_color=colour, end_color=colour)))


def _text_width(v) -> int:
    """Columns a value takes in a spreadsheet cell: two for a wide (CJK) character, its first line only."""
    s = str(v).split("\n", 1)[0][:80]
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _column_cells(s: pd.Series) -> list:
    # a zero count is written as 0, as in the CSV and Parquet: Excel's COUNT and AVERAGE skip blank cells, so a
    # blank zero would make a column's average that of the documents addressing the node alone
    if not s.hasnans and (pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s)):
        return s.tolist()
    if pd.api.types.is_float_dtype(s) and not isinstance(s.dtype, pd.ArrowDtype):
        return [None if v != v else v for v in s.tolist()]
    return [_cell(v) for v in s.tolist()]


def _save_workbook(wb, path: Path) -> None:
    # openpyxl would stamp the current time into docProps and every zip entry; fixed times make identical
    # runs give identical files
    wb.properties.created = wb.properties.modified = FIXED_TIME
    buf = io.BytesIO()
    # the lightest deflate: the sheets' XML (25 MB for the shared corpus, every string inline) compresses 7:1
    # instead of 10:1, in a third of the time, which a re-run after a small change waits for
    with _FixedTimeZip(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1) as archive:
        _xl().ExcelWriter(wb, archive).save()
    write_bytes_atomic(path, buf.getvalue())


FIXED_TIME = datetime.datetime(2000, 1, 1)


class _FixedTimeZip(zipfile.ZipFile):
    """A zip archive whose entries all carry FIXED_TIME (zipfile stamps the current time or a file's mtime)."""
    def writestr(self, zinfo_or_arcname, data, *args, **kwargs):
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo_or_arcname = zipfile.ZipInfo(zinfo_or_arcname, date_time=FIXED_TIME.timetuple()[:6])
            zinfo_or_arcname.compress_type = self.compression
            kwargs.setdefault("compresslevel", self.compresslevel)
        return super().writestr(zinfo_or_arcname, data, *args, **kwargs)

    def write(self, filename, arcname=None, *args, **kwargs):
        with open(filename, "rb") as fh:
            return self.writestr(arcname or os.path.basename(filename), fh.read())
