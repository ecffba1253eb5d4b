"""Usage of one visit, read from the hourly rollups (which attribution keeps current).

Totals per exhibit and input, the timeline and session counts come from
``usage_hourly``/``session_hourly``. What a sum cannot give is read from the visit's
own records (indexed by visit): the median dwell time, the time each exhibit was in
use, and per-exhibit completeness (:mod:`fleet_api.store.visit_completeness`).

Hours are UTC; so are all times in the response.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import Connection, DateTime, select, type_coerce
from sqlalchemy.orm import Session

from broker.messages import utc_now
from fleet_api.attribution import hour_of
from fleet_api.completeness import DataStatus
from fleet_api.models.usage import ExhibitUsage, HourUsage, InputUsage, VisitUsage
from fleet_api.models.visits import MAX_VISIT_LENGTH, VisitPublic
from fleet_api.store.visit_completeness import visit_completeness
from fleet_api.store.visits import get_visit
from fleet_api.tables import count_records, session_hourly, session_records, usage_hourly

# The least final status wins when a visit's exhibits disagree.
_STATUS_ORDER = (
    DataStatus.IN_PROGRESS,
    DataStatus.INCOMPLETE,
    DataStatus.UNPLACED,
    DataStatus.PENDING,
    DataStatus.FINAL,
)


def visit_usage(session: Session, *, visit_id: int, now: datetime | None = None) -> VisitUsage:
    """Usage of visit ``visit_id``; UnknownVisit if there is none."""
    visit = get_visit(session, visit_id=visit_id)
    connection = session.connection()
    counts, hours = _counts(connection, visit_id)
    session_hours = _session_hours(connection, visit_id)
    dwell = _dwell_times(connection, visit_id)
    exhibit_ids = sorted({*visit.exhibit_ids, *counts, *session_hours})
    completeness = visit_completeness(
        connection,
        visit_id=visit.id,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        exhibit_ids=exhibit_ids,
        now=now or utc_now(),
    )
    in_use = _in_use(connection, visit, dwell)
    length = (visit.ends_at - visit.starts_at).total_seconds()
    exhibits = []
    for exhibit_id in exhibit_ids:
        inputs = counts.get(exhibit_id, {})
        total = sum(inputs.values())
        sessions = session_hours.get(exhibit_id, {})
        seconds, basis = in_use.get(exhibit_id, (None, None))
        exhibits.append(
            ExhibitUsage(
                exhibit_id=exhibit_id,
                total=total,
                inputs=[InputUsage(input=name, count=inputs[name]) for name in sorted(inputs)],
                sessions=sum(sessions.values()),
                median_dwell_s=_median(dwell.get(exhibit_id, [])),
                in_use_s=seconds,
                in_use_share=None if seconds is None else min(1.0, round(seconds / length, 4)),
                in_use_basis=basis,
                interactions_per_pupil=_per_pupil(total, visit.pupils),
                timeline=_timeline(visit, hours.get(exhibit_id, {}), sessions),
                completeness=completeness[exhibit_id],
            )
        )
    total = sum(exhibit.total for exhibit in exhibits)
    all_hours: defaultdict[datetime, int] = defaultdict(int)
    all_sessions: defaultdict[datetime, int] = defaultdict(int)
    for per_hour in hours.values():
        for hour, count in per_hour.items():
            all_hours[hour] += count
    for per_hour in session_hours.values():
        for hour, count in per_hour.items():
            all_sessions[hour] += count
    statuses = {c.status for c in completeness.values()}
    return VisitUsage(
        visit_id=visit.id,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        total=total,
        exhibits=exhibits,
        pupils=visit.pupils,
        interactions_per_pupil=_per_pupil(total, visit.pupils),
        sessions=sum(all_sessions.values()),
        median_dwell_s=_median([d for values in dwell.values() for d in values]),
        timeline=_timeline(visit, all_hours, all_sessions),
        data_status=next((s for s in _STATUS_ORDER if s in statuses), None),
        unplaced_records=sum(c.unplaced_records for c in completeness.values()),
        unplaced_interactions=sum(c.unplaced_interactions for c in completeness.values()),
    )


def _counts(
    connection: Connection, visit_id: int
) -> tuple[dict[str, dict[str, int]], dict[str, dict[datetime, int]]]:
    """Interactions per exhibit and input, and per exhibit and hour."""
    by_input: defaultdict[str, dict[str, int]] = defaultdict(dict)
    by_hour: defaultdict[str, defaultdict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    c = usage_hourly.c
    for exhibit_id, input_name, hour, count in connection.execute(
        select(c.exhibit_id, c.input, c.hour, c.count).where(c.visit_id == visit_id)
    ):
        by_input[exhibit_id][input_name] = by_input[exhibit_id].get(input_name, 0) + count
        by_hour[exhibit_id][hour] += count
    return dict(by_input), {e: dict(hours) for e, hours in by_hour.items()}


def _session_hours(connection: Connection, visit_id: int) -> dict[str, dict[datetime, int]]:
    c = session_hourly.c
    found: defaultdict[str, dict[datetime, int]] = defaultdict(dict)
    for exhibit_id, hour, sessions in connection.execute(
        select(c.exhibit_id, c.hour, c.sessions).where(c.visit_id == visit_id)
    ):
        found[exhibit_id][hour] = sessions
    return dict(found)


def _dwell_times(connection: Connection, visit_id: int) -> dict[str, list[float]]:
    c = session_records.c
    found: defaultdict[str, list[float]] = defaultdict(list)
    for exhibit_id, dwell_s in connection.execute(
        select(c.exhibit_id, c.dwell_s).where(c.attributed_visit_id == visit_id)
    ):
        found[exhibit_id].append(dwell_s)
    return dict(found)


def _in_use(
    connection: Connection, visit: VisitPublic, dwell: dict[str, list[float]]
) -> dict[str, tuple[float, str]]:
    """Seconds each exhibit was in use: its sessions' dwell times, else its busy buckets.

    Buckets of different inputs overlap in time, so their union is taken, not their sum.
    """
    found: dict[str, tuple[float, str]] = {
        exhibit_id: (round(sum(values), 3), "sessions") for exhibit_id, values in dwell.items()
    }
    c = count_records.c
    intervals: defaultdict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    # The inputs of an exhibit share bucket boundaries: DISTINCT reads a third of the rows.
    # Only differences are taken, so the times skip UTCDateTime's per-row conversion
    # (naive on SQLite, aware on PostgreSQL: consistent within one query either way).
    # The index on (attributed_visit_id, exhibit_id, corrected_start, seconds, count, ...)
    # covers this read; fetching all rows at once is cheaper than one by one.
    for exhibit_id, start, seconds in connection.execute(
        select(c.exhibit_id, type_coerce(c.corrected_start, DateTime()), c.seconds)
        .where(c.attributed_visit_id == visit.id, c.count > 0)
        .distinct()
    ).all():
        if exhibit_id not in found:
            intervals[exhibit_id].append((start, _end(start, seconds)))
    for exhibit_id, spans in intervals.items():
        found[exhibit_id] = (round(_union_seconds(spans), 3), "buckets")
    return found


def _end(start: datetime, seconds: float) -> datetime:
    """When a bucket ends; a start at the end of time (stored before ingestion bounded
    dates, fleet_api/plausibility.py) is taken as empty rather than failing the page."""
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:
        return start


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    total = 0.0
    current_start: datetime | None = None
    current_end: datetime | None = None
    for start, end in sorted(spans):
        if current_end is None or current_start is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += (current_end - current_start).total_seconds()
    return total


def _timeline(
    visit: VisitPublic, counts: dict[datetime, int], sessions: dict[datetime, int]
) -> list[HourUsage]:
    """Every UTC hour of the visit, plus any other hour with data (e.g. tagged records)."""
    hours = set(counts) | set(sessions)
    hour = hour_of(visit.starts_at)
    # Visits are validated to a few weeks; the bound keeps a bad row from costing memory.
    length = min(visit.ends_at - visit.starts_at, MAX_VISIT_LENGTH)
    end = visit.starts_at + length
    count = math.ceil((end - hour) / timedelta(hours=1))
    hours.update(hour + timedelta(hours=n) for n in range(count))
    return [
        HourUsage(hour=h, count=counts.get(h, 0), sessions=sessions.get(h, 0))
        for h in sorted(hours)
    ]


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _per_pupil(total: int, pupils: int | None) -> float | None:
    return round(total / pupils, 3) if pupils else None
