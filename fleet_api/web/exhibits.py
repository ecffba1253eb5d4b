"""Exhibits: the list, one exhibit's usage across visits and its health history, and
the technician page (fleet health, backlog, clocks, self-tests, commands)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response

from fleet_api.deps import IngestorDep, IngestStatsDep, PublisherDep, SessionDep, SettingsDep
from fleet_api.errors import BrokerUnavailable
from fleet_api.models.health import ExhibitHealth, ExhibitHealthDetail
from fleet_api.notifications.outbox import counts
from fleet_api.outbound import send_command
from fleet_api.routes.fleet import thresholds
from fleet_api.store.audit import entries_about
from fleet_api.store.exhibits import get_exhibit
from fleet_api.store.fleet_health import exhibit_health, fleet_health
from fleet_api.web import audit_texts, texts
from fleet_api.web.charts import chart
from fleet_api.web.page import PREFIX, Page, PostedForm, TechnicianPage, ViewerPage
from fleet_api.web.queries import ExhibitVisit, exhibit_visits
from fleet_api.web.route import PageRoute

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

ExhibitId = Annotated[str, Path(min_length=1, max_length=200)]
VISITS_SHOWN = 50
SELF_TEST_SECONDS = 30.0
IDENTIFY_SECONDS = 10.0


def _alerts(page: Page, item: ExhibitHealth) -> list[tuple[bool, str]]:
    return [
        (alert.severity == "warning", texts.alert(page, alert.code, item)) for alert in item.alerts
    ]


@router.get("/exhibits")
def exhibit_list(page: ViewerPage, session: SessionDep, settings: SettingsDep) -> Response:
    """Every exhibit with its state now."""
    health = fleet_health(session, thresholds=thresholds(settings), now=page.now)
    return page.render(
        "exhibits/list.html",
        health=health,
        states={e.exhibit_id: texts.connectivity(page, e.connectivity) for e in health.exhibits},
    )


def _usage_chart(page: Page, visits: list[ExhibitVisit]) -> dict[str, Any]:
    ordered = list(reversed(visits))  # oldest first, left to right
    return chart(
        "bar",
        [f"{v.school} ({page.fmt.day(v.starts_at, 'short')})" for v in ordered],
        [
            (page.gettext("Interactions"), [v.interactions for v in ordered]),
            (page.gettext("Sessions"), [v.sessions for v in ordered]),
        ],
        x_title=page.gettext("Visit"),
        y_title=page.gettext("Count"),
    )


def _health_chart(page: Page, detail: ExhibitHealthDetail) -> dict[str, Any]:
    beats = list(reversed(detail.heartbeats))  # oldest first
    return chart(
        "line",
        [page.fmt.time(beat.received_at) for beat in beats],
        [
            (page.gettext("Records waiting"), [beat.outbox_depth for beat in beats]),
            (page.gettext("CPU temperature (°C)"), [beat.cpu_temp_c for beat in beats]),
        ],
        x_title=page.gettext("Time (%(zone)s)", zone=str(page.fmt.zone)),
        y_title="",
    )


@router.get("/exhibits/{exhibit_id}")
def exhibit_page(
    page: ViewerPage, session: SessionDep, settings: SettingsDep, exhibit_id: ExhibitId
) -> Response:
    """One exhibit: its usage across visits and its health over the last day."""
    exhibit = get_exhibit(session, exhibit_id=exhibit_id)
    detail = exhibit_health(
        session, exhibit_id=exhibit_id, thresholds=thresholds(settings), now=page.now
    )
    visits = exhibit_visits(session.connection(), exhibit_id=exhibit_id, limit=VISITS_SHOWN)
    return page.render(
        "exhibits/detail.html",
        exhibit=exhibit,
        detail=detail,
        state=texts.connectivity(page, detail.connectivity),
        alerts=_alerts(page, detail),
        visits=visits,
        usage_chart=_usage_chart(page, visits),
        history=audit_texts.lines(
            page, entries_about(session.connection(), entity="exhibit", entity_id=exhibit_id)
        ),
        health_chart=_health_chart(page, detail),
        notice=page.request.query_params.get("notice"),
    )


@router.get("/technician")
def technician(
    page: ViewerPage,
    session: SessionDep,
    settings: SettingsDep,
    stats: IngestStatsDep,
    ingestor: IngestorDep,
) -> Response:
    """Fleet health for technicians: every exhibit's state, backlog, clock and self-test."""
    health = fleet_health(session, thresholds=thresholds(settings), now=page.now)
    return page.render(
        "technician.html",
        health=health,
        states={e.exhibit_id: texts.connectivity(page, e.connectivity) for e in health.exhibits},
        alerts={e.exhibit_id: _alerts(page, e) for e in health.exhibits},
        stats=stats.public(connected=ingestor is not None and ingestor.connected),
        outbox=counts(session.connection(), since=page.now - timedelta(hours=24)),
        notifying=bool(settings.notify_webhooks or settings.notify_emails),
    )


@router.post("/exhibits/{exhibit_id}/commands/{action}")
def command(
    page: TechnicianPage,
    form: PostedForm,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    exhibit_id: ExhibitId,
    action: Literal["identify", "self_test"],
) -> Response:
    """Make the exhibit blink, or start a self-test of its inputs."""
    get_exhibit(session, exhibit_id=exhibit_id)
    seconds = SELF_TEST_SECONDS if action == "self_test" else IDENTIFY_SECONDS
    outcome: str = action
    try:
        send_command(
            session,
            publisher,
            exhibit_id=exhibit_id,
            action=action,
            seconds=seconds,
            timeout_s=settings.mqtt_publish_timeout_s,
            actor=page.actor,
        )
    except BrokerUnavailable:
        session.rollback()
        outcome = "broker"
    if page.is_htmx:
        return page.render("exhibits/_command.html", exhibit_id=exhibit_id, notice=outcome)
    return page.redirect(page.url(f"/exhibits/{exhibit_id}?notice={outcome}"))
