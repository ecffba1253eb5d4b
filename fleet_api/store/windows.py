"""Load the visits attribution needs into a :class:`fleet_api.attribution.VisitIndex`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, or_, select

from fleet_api.attribution import VisitIndex, VisitWindow
from fleet_api.tables import visit_exhibits, visits


def load_index(
    connection: Connection,
    *,
    exhibit_ids: Iterable[str],
    since: datetime | None = None,
    until: datetime | None = None,
    visit_ids: Iterable[int] = (),
) -> VisitIndex:
    """Visits taking any of ``exhibit_ids`` whose window meets ``[since, until]``, and visits
    ``visit_ids`` (the tags), each with all of its exhibits."""
    exhibits = sorted(set(exhibit_ids))
    tags = sorted(set(visit_ids))
    conditions: list[ColumnElement[bool]] = []
    if exhibits:
        by_time: ColumnElement[bool] = visits.c.id.in_(
            select(visit_exhibits.c.visit_id).where(visit_exhibits.c.exhibit_id.in_(exhibits))
        )
        if since is not None:
            by_time = by_time & (visits.c.ends_at > since)
        if until is not None:
            by_time = by_time & (visits.c.starts_at <= until)
        conditions.append(by_time)
    if tags:
        conditions.append(visits.c.id.in_(tags))
    if not conditions:
        return VisitIndex()
    rows = connection.execute(
        select(visits.c.id, visits.c.starts_at, visits.c.ends_at).where(or_(*conditions))
    ).all()
    members: dict[int, set[str]] = {row.id: set() for row in rows}
    if members:
        for link in connection.execute(
            select(visit_exhibits.c.visit_id, visit_exhibits.c.exhibit_id).where(
                visit_exhibits.c.visit_id.in_(sorted(members))
            )
        ):
            members[link.visit_id].add(link.exhibit_id)
    return VisitIndex(
        VisitWindow(row.id, row.starts_at, row.ends_at, frozenset(members[row.id])) for row in rows
    )
