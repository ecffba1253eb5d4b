"""Tables as CSV: UTF-8, a header row, RFC 4180 (CRLF line ends, fields quoted when needed).

Numbers are written unformatted (``1234.5``, never ``1 234,5``) and times as ISO 8601 in
UTC: a spreadsheet or the web pages format them for the reader's language.

What staff do with a download is open it in a spreadsheet, so:

- the file starts with a UTF-8 byte order mark, without which Excel reads it as the
  local 8-bit code page and "Cēsu novads" turns into "CÄ“su novads";
- text that a spreadsheet would run as a formula (a school named ``=HYPERLINK(...)``,
  anything starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a
  leading apostrophe, OWASP's advice against CSV injection. Numbers are never changed:
  ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from fastapi import Response

Cell = str | int | float | bool | date | datetime | None
MEDIA_TYPE = "text/csv; charset=utf-8"
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """The table as RFC 4180 text after a byte order mark; None is an empty field."""
    buffer = io.StringIO(newline="")
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return str(value)


def csv_response(text: str, *, filename: str) -> Response:
    """A download of ``text`` as ``filename``."""
    return Response(
        content=text.encode("utf-8"),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


CSV_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}, "description": "OK"}
}
"""OpenAPI ``responses`` entry of a route that can answer in CSV."""
