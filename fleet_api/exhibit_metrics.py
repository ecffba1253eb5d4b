"""Per-exhibit gauges on ``/metrics`` (``fleet_exhibit_*``), read from fleet health at scrape.

One series per *registered* exhibit and gauge, labelled ``exhibit_id`` only: the label
values come from the ``exhibits`` table, which only technicians write, so an MQTT client
can never add a series (an unregistered exhibit's messages go to the quarantine). The
agent version, config hash and name are labels of one ``fleet_exhibit_info`` series per
exhibit, the Prometheus way of attaching text to numbers (join with ``* on(exhibit_id)
group_left(name, agent_version) fleet_exhibit_info``); a value the exhibit never
reported (no heartbeat yet, a Pi that cannot read its power state) is a missing sample,
never a made-up 0. Every exhibit gets a fresh family per scrape, so a renamed exhibit
or a new agent version replaces its series instead of piling up.

The values are those of ``GET /fleet/health`` (:func:`fleet_api.store.fleet_health
.fleet_health`), so the pages, the API and Prometheus never disagree. If the database
cannot be read, ``fleet_exhibit_metrics_ok`` is 0 and no exhibit series is sent (the
ingestion metrics still are).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.datastructures import State

from fleet_api.alerts import Connectivity, Thresholds
from fleet_api.config_drift import ConfigState
from fleet_api.models.health import ExhibitHealth, FleetHealth
from fleet_api.store.fleet_health import fleet_health

log = logging.getLogger(__name__)

Value = Callable[[ExhibitHealth, datetime], float | bool | None]


def _flag(value: bool | None) -> float | None:
    return None if value is None else float(value)


def _config_drift(item: ExhibitHealth, _now: datetime) -> float | None:
    if item.config.wrong:
        return 1.0
    return 0.0 if item.config is ConfigState.MATCHES else None


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


GAUGES: dict[str, tuple[str, Value]] = {
    "online": (
        "1 if the exhibit is online now, 0 if offline or never heard from",
        lambda item, _: item.connectivity is Connectivity.ONLINE,
    ),
    "seconds_since_last_heard": (
        "Seconds since the fleet last heard from the exhibit (status or heartbeat)",
        lambda item, now: _age(item.last_seen_at, now),
    ),
    "outbox_backlog": (
        "Records waiting in the exhibit's outbox, as its latest heartbeat said",
        lambda item, _: None if item.heartbeat is None else item.heartbeat.outbox_depth,
    ),
    "missing_records": (
        "Records missing below the highest seq received from the exhibit",
        lambda item, _: item.missing_records,
    ),
    "clock_synced": (
        "1 if the exhibit's clock was synchronised at its latest heartbeat",
        lambda item, _: None if item.heartbeat is None else item.heartbeat.clock_synced,
    ),
    "cpu_temperature_celsius": (
        "CPU temperature at the latest heartbeat",
        lambda item, _: None if item.heartbeat is None else item.heartbeat.cpu_temp_c,
    ),
    "under_voltage": (
        "1 if the latest heartbeat reported under-voltage now",
        lambda item, _: None if item.heartbeat is None else _flag(item.heartbeat.under_voltage),
    ),
    "throttled": (
        "1 if the latest heartbeat reported the CPU throttled now",
        lambda item, _: None if item.heartbeat is None else _flag(item.heartbeat.throttled),
    ),
    "disk_free_bytes": (
        "Free bytes on the exhibit's data disk at its latest heartbeat",
        lambda item, _: None if item.heartbeat is None else item.heartbeat.disk_free_bytes,
    ),
    "in_visit": (
        "1 if a visit scheduled now took the exhibit",
        lambda item, _: item.visit_now is not None,
    ),
    "self_test_passed": (
        "1 if the exhibit's latest self-test reached every input, 0 if not",
        lambda item, _: None if item.self_test is None else item.self_test.passed,
    ),
    "self_test_age_seconds": (
        "Seconds since the fleet received the exhibit's latest self-test result",
        lambda item, now: None if item.self_test is None else _age(item.self_test.received_at, now),
    ),
    "config_drift": (
        "1 if the exhibit runs another configuration than expected, 0 if the expected one",
        _config_drift,
    ),
    "agent_outdated": (
        "1 if the exhibit's agent is older than the current version, 0 if not",
        lambda item, _: _flag(item.agent_outdated),
    ),
}


class ExhibitCollector(Collector):
    """Reads every registered exhibit's health at scrape time (``app.state.engine``)."""

    def __init__(self, state: State, thresholds: Callable[[State], Thresholds | None]) -> None:
        self._state = state
        self._thresholds = thresholds

    def collect(self) -> Iterator[Metric]:
        """The per-exhibit families as they are now."""
        engine: Engine | None = getattr(self._state, "engine", None)
        limits = self._thresholds(self._state)
        health = None
        if engine is not None and limits is not None:
            try:
                with Session(engine) as session:
                    health = fleet_health(session, thresholds=limits, now=datetime.now(UTC))
            except SQLAlchemyError as exc:
                log.warning("per-exhibit metrics: the database cannot be read: %s", exc)
        yield GaugeMetricFamily(
            "fleet_exhibit_metrics_ok",
            "1 if the per-exhibit metrics were read from the database in this scrape",
            value=health is not None,
        )
        if health is not None:
            yield from _families(health)


def _families(health: FleetHealth) -> Iterator[Metric]:
    now = health.checked_at
    yield GaugeMetricFamily(
        "fleet_exhibits_registered", "Exhibits registered in the fleet", value=len(health.exhibits)
    )
    info = GaugeMetricFamily(
        "fleet_exhibit_info",
        "Always 1: the exhibit's name, agent version and config hash as labels",
        labels=["exhibit_id", "name", "agent_version", "config_hash"],
    )
    for item in health.exhibits:
        info.add_metric(
            [item.exhibit_id, item.name, item.agent_version or "", item.config_hash or ""], 1
        )
    yield info
    for name, (documentation, value) in GAUGES.items():
        family = GaugeMetricFamily(f"fleet_exhibit_{name}", documentation, labels=["exhibit_id"])
        for item in health.exhibits:
            found = value(item, now)
            if found is not None:
                family.add_metric([item.exhibit_id], float(found))
        yield family
