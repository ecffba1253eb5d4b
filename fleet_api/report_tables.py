"""The reports as tables (a header and rows), as the CSV and XLSX downloads give them.

Times are in the centre's time zone with their UTC offset (``2026-05-04T09:30:00+03:00``);
the summary is one row per indicator with its definition, after the period's local days.
``label`` translates a column header (the pages pass their language's; the API keeps
the keys).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from fleet_api.csv_export import Cell
from fleet_api.models.reports import FunderReport, UsageReport

Table = tuple[list[str], list[list[Cell]]]
Label = Callable[[str], str]


class FunderTable(StrEnum):
    """Which table of the funder report a download holds."""

    SUMMARY = "summary"
    REGIONS = "regions"
    MUNICIPALITIES = "municipalities"
    PROGRAMMES = "programmes"
    EXHIBITS = "exhibits"
    VISITS = "visits"
    NOT_COUNTED = "not_counted"


def _keep(name: str) -> str:
    return name


def _local(value: Cell, zone: ZoneInfo) -> Cell:
    return value.astimezone(zone) if isinstance(value, datetime) else value


def _rows(models: list[BaseModel], header: list[str], zone: ZoneInfo) -> list[list[Cell]]:
    rows = []
    for model in models:
        values = model.model_dump()
        for name, glue in (("grades", " "), ("exhibit_ids", " "), ("programmes", "; ")):
            if name in values:
                values[name] = glue.join(str(item) for item in values[name] or []) or None
        rows.append([_local(values[name], zone) for name in header])
    return rows


def funder_table(
    report: FunderReport, table: FunderTable, zone: ZoneInfo, label: Label = _keep
) -> Table:
    """One table of the funder report."""
    header: list[str]
    if table is FunderTable.SUMMARY:
        period = report.period
        rows: list[list[Cell]] = [
            ["period_first_day", label("First day"), period.first_day, ""],
            ["period_last_day", label("Last day"), period.last_day, ""],
            ["time_zone", label("Time zone"), report.time_zone, ""],
        ]
        rows += [[i.key, label(i.label), i.value, label(i.definition)] for i in report.indicators]
        return [label(h) for h in ("indicator", "label", "value", "definition")], rows
    if table in (FunderTable.REGIONS, FunderTable.MUNICIPALITIES):
        reach = report.regions if table is FunderTable.REGIONS else report.municipalities
        header = [
            "region",
            "municipality",
            "field_trips_held",
            "schools",
            "pupil_participations",
            "teachers_present",
            "interactions",
            "sessions",
        ]
        if table is FunderTable.REGIONS:
            header.remove("municipality")
        return [label(h) for h in header], _rows(list(reach), header, zone)
    if table is FunderTable.PROGRAMMES:
        header = [
            "programme_id",
            "name",
            "stem_area",
            "grade_min",
            "grade_max",
            "field_trips_held",
            "schools",
            "pupil_participations",
        ]
        return [label(h) for h in header], _rows(list(report.programmes), header, zone)
    if table is FunderTable.EXHIBITS:
        header = [
            "rank",
            "exhibit_id",
            "name",
            "field_trips_held",
            "interactions",
            "sessions",
            "interactions_per_trip",
        ]
        return [label(h) for h in header], _rows(list(report.exhibits), header, zone)
    header = [
        "visit_id",
        "status",
        "status_reason",
        "starts_at",
        "ends_at",
        "school_id",
        "school",
        "municipality",
        "region",
        "area",
        "pupils",
        "teachers",
        "grades",
        "staff",
        "programmes",
        "exhibit_ids",
        "interactions",
        "sessions",
    ]
    lines = report.visits if table is FunderTable.VISITS else report.not_counted
    return [label(h) for h in header], _rows(list(lines), header, zone)


USAGE_HEADER = [
    "key",
    "label",
    "municipality",
    "region",
    "field_trips_held",
    "schools",
    "pupil_participations",
    "teachers_present",
    "interactions",
    "sessions",
    "unassigned_interactions",
]


def usage_table(report: UsageReport, zone: ZoneInfo, label: Label = _keep) -> Table:
    """The usage report's rows."""
    return [label(h) for h in USAGE_HEADER], _rows(list(report.rows), USAGE_HEADER, zone)


def download_name(name: str, report_period: object, extension: str) -> str:
    """``funder-summary-20260101-20261231.csv``: the first and last local days included."""
    first = getattr(report_period, "first_day", None)
    last = getattr(report_period, "last_day", None)
    start = "start" if first is None else first.strftime("%Y%m%d")
    end = "now" if last is None else last.strftime("%Y%m%d")
    return f"{name}-{start}-{end}.{extension}"
