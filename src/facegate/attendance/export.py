"""Exports that Excel opens correctly: CSV with a UTF-8 BOM, and ``.xlsx`` (openpyxl).

Why: Excel reads a CSV without a byte-order mark in the machine's legacy code page, so Chinese
names turn into mojibake; the BOM makes it read UTF-8. ``.xlsx`` avoids the question and keeps
numbers as numbers. Times are written in the site's zone to the second (``reports._local``);
text cells that would run as formulas are defused (CSV: ``reports.csv_text``; xlsx: a string
starting with ``=`` is stored as a string cell, never as a formula).

The BOM and the to-the-second rule live in ``reports`` (``BOM``, ``csv_text(excel=True)``,
``_local_s``) so the streamed events export (``reports.events_csv``) follows them too.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Literal

from fastapi.responses import Response

from facegate.attendance.reports import BOM, csv_text

__all__ = ["BOM", "ExportFormat", "excel_csv", "export_response", "xlsx"]
ExportFormat = Literal["csv", "xlsx"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def excel_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV bytes that start with the UTF-8 BOM."""
    return csv_text(header, rows, excel=True).encode("utf-8")


def xlsx(header: Sequence[str], rows: Iterable[Sequence[object]], sheet: str) -> bytes:
    """One sheet, a bold header row, and cells as given (numbers stay numbers)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet[:31]
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([_xlsx_cell(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, never a formula
    ws.freeze_panes = "A2"
    for column, name in zip(ws.columns, header, strict=False):
        width = max([len(str(name)), *(len(str(c.value or "")) for c in column[1:200])])
        ws.column_dimensions[column[0].column_letter].width = min(40, width + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def export_response(
    fmt: ExportFormat,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    filename: str,
) -> Response:
    """A download of ``rows`` as ``filename.csv`` (BOM) or ``filename.xlsx``."""
    if fmt == "xlsx":
        body, media = xlsx(header, rows, filename), XLSX_TYPE
    else:
        body, media = excel_csv(header, rows), "text/csv; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'},
    )
