"""The dashboard: which exhibits are online, where each one is now, today's
interactions, today's visits, and the alerts that need a look."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Response

from fleet_api.alerts import Severity
from fleet_api.deps import SessionDep, SettingsDep
from fleet_api.models.health import ExhibitHealth
from fleet_api.models.visits import VisitPublic
from fleet_api.routes.fleet import thresholds
from fleet_api.store.fleet_health import fleet_health
from fleet_api.store.visits import get_visit, list_visits
from fleet_api.web import texts
from fleet_api.web.page import PREFIX, ViewerPage
from fleet_api.web.queries import SchoolName, interactions_by_exhibit, school_names
from fleet_api.web.route import PageRoute

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class ExhibitNow:
    """One dashboard row."""

    health: ExhibitHealth
    state: str
    visit: VisitPublic | None
    school: SchoolName | None
    today: int


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One alert, said in the page's language."""

    exhibit_id: str
    exhibit_name: str
    warning: bool
    text: str


@router.get("/")
def dashboard(page: ViewerPage, session: SessionDep, settings: SettingsDep) -> Response:
    """The dashboard."""
    health = fleet_health(session, thresholds=thresholds(settings), now=page.now)
    start, end = page.fmt.today(page.now)
    connection = session.connection()
    today = interactions_by_exhibit(connection, start=start, end=end)
    visits_today = list_visits(session, limit=100, start=start, end=end)
    visits = {visit.id: visit for visit in visits_today}
    for item in health.exhibits:
        if item.visit_now is not None and item.visit_now not in visits:
            visits[item.visit_now] = get_visit(session, visit_id=item.visit_now)
    schools = school_names(connection, (visit.school_id for visit in visits.values()))
    rows = []
    alerts: list[AlertLine] = []
    for item in health.exhibits:
        visit = None if item.visit_now is None else visits[item.visit_now]
        rows.append(
            ExhibitNow(
                health=item,
                state=texts.connectivity(page, item.connectivity),
                visit=visit,
                school=None if visit is None else schools.get(visit.school_id),
                today=today.get(item.exhibit_id, 0),
            )
        )
        alerts.extend(
            AlertLine(
                exhibit_id=item.exhibit_id,
                exhibit_name=item.name,
                warning=alert.severity is Severity.WARNING,
                text=texts.alert(page, alert.code, item),
            )
            for alert in item.alerts
        )
    alerts.sort(key=lambda line: (not line.warning, line.exhibit_id))
    return page.render(
        "dashboard.html",
        health=health,
        rows=rows,
        alerts=alerts,
        today_total=sum(today.values()),
        visits_today=visits_today,
        schools=schools,
    )
