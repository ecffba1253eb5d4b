"""What a notification says: the JSON body of one alert change, the same for every
destination and every attempt (so a receiver can deduplicate on ``event_id``).

Body, ``schema_version`` 1::

    {"schema_version": 1, "event_id": "<episode>-raised", "alert_id": "ex-1:under_voltage",
     "status": "raised" | "resolved", "code": "under_voltage", "severity": "warning",
     "exhibit_id": "ex-1", "exhibit_name": "Pendulum", "visit_id": null,
     "message": "under-voltage reported: ...", "started_at": "2026-05-04T05:58:00Z",
     "resolved_at": null, "at": "2026-05-04T06:00:00Z", "url": "https://.../ui/exhibits/ex-1"}

``started_at`` is when the condition began; ``at`` when the change was decided; a
``resolved`` event repeats the raise's message. ``url`` is null without ``FLEET_PUBLIC_URL``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fleet_api.alert_changes import Change

SCHEMA_VERSION = 1


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def event_body(change: Change, *, exhibit_name: str | None, public_url: str | None) -> str:
    """The JSON body of ``change`` (compact, keys sorted: the same bytes every time)."""
    state = change.state
    url = None
    if public_url is not None:
        url = (
            f"{public_url}/ui/exhibits/{state.exhibit_id}"
            if state.exhibit_id is not None
            else f"{public_url}/ui/technician"
        )
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": change.event_id,
        "alert_id": state.alert_id,
        "status": change.status.value,
        "code": state.code,
        "severity": state.severity.value,
        "exhibit_id": state.exhibit_id,
        "exhibit_name": exhibit_name,
        "visit_id": state.visit_id,
        "message": state.message,
        "started_at": _iso(state.since),
        "resolved_at": _iso(state.resolved_at),
        "at": _iso(change.at),
        "url": url,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


SUMMARIES = {
    "offline_during_visit": "offline during visit {visit_id}",
    "offline": "offline",
    "under_voltage": "under-voltage",
    "throttled": "CPU throttled",
    "low_disk": "little disk space left",
    "unsynced_clock": "clock not synchronised",
    "data_gaps": "records missing",
    "outbox_backlog": "records waiting to be sent",
    "self_test_failed": "self-test failed",
    "config_drift": "not the expected configuration",
    "agent_outdated": "agent outdated",
    "ingestion_down": "ingestion not connected to the broker",
}
"""A few words per alert code, for e-mail subjects and chat messages."""


def headline(body: dict[str, Any]) -> str:
    """One line for a person: ``RAISED: Pendulum (ex-1): under-voltage``."""
    if body["exhibit_id"]:
        who = f"{body['exhibit_name'] or body['exhibit_id']} ({body['exhibit_id']})"
    else:
        who = "exhibit fleet"
    what = SUMMARIES.get(str(body["code"]), str(body["code"])).format(visit_id=body["visit_id"])
    return f"{str(body['status']).upper()}: {who}: {what}"
