"""Tables as an XLSX workbook, one sheet per table, written with openpyxl.

Numbers stay numbers and dates and times become real spreadsheet dates (openpyxl
refuses time zones, so a time is written as the centre's local wall time, which the
sheet's header and the summary's ``time_zone`` row name). Text is never evaluated: a
cell that starts with ``=`` is stored as a string, not a formula (``data_type="s"``).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_MAX_SHEET_NAME = 31
_MAX_WIDTH = 60
_BOLD = Font(bold=True)


def to_xlsx(sheets: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]]) -> bytes:
    """A workbook with one sheet per ``name: (header, rows)``, header row frozen."""
    book = Workbook()
    book.remove(book.active)
    for name, (header, rows) in sheets.items():
        sheet = book.create_sheet(title=name[:_MAX_SHEET_NAME])
        sheet.append(list(header))
        for row in rows:
            sheet.append([_cell(value) for value in row])
        for cell in sheet[1]:
            cell.font = _BOLD
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"
                elif isinstance(cell.value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
        sheet.freeze_panes = "A2"
        for index, column in enumerate(sheet.columns, start=1):
            longest = max((len(str(c.value)) for c in column if c.value is not None), default=8)
            sheet.column_dimensions[get_column_letter(index)].width = min(longest + 2, _MAX_WIDTH)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # already in the centre's zone: its wall time
    return value


def xlsx_response(
    sheets: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]], *, filename: str
) -> Response:
    """A download of the workbook as ``filename``."""
    return Response(
        content=to_xlsx(sheets),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


XLSX_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
}
"""OpenAPI ``responses`` entry of a route that can answer in XLSX."""
