"""CSV for spreadsheets: a BOM, RFC 4180, no formulas smuggled in through text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

from fleet_api.csv_export import to_csv


def parse(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def test_text_a_spreadsheet_would_run_as_a_formula_is_kept_as_text() -> None:
    names = ['=HYPERLINK("http://x","y")', "+1", "-cmd", "@SUM(A1)", "\tx", "\rx"]
    rows = parse(to_csv(["school"], [[name] for name in names]))
    assert [row[0] for row in rows[1:]] == ["'" + name for name in names]


def test_numbers_dates_and_ordinary_text_are_unchanged() -> None:
    cells = [-3, -2.5, 0, True, None, date(2026, 5, 4), datetime(2026, 5, 4, 9, tzinfo=UTC)]
    text = to_csv(["a", "b", "c", "d", "e", "f", "g", "h"], [[*cells, "Cēsu novads, 4-5"]])
    assert parse(text)[1] == [
        "-3",
        "-2.5",
        "0",
        "true",
        "",
        "2026-05-04",
        "2026-05-04T09:00:00Z",
        "Cēsu novads, 4-5",
    ]
    assert text.endswith('"Cēsu novads, 4-5"\r\n')
