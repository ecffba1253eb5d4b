# SPDX-License-Identifier: MIT
"""Filters for the exhibit-fleet playbooks.

``exhibit_fleet_busy(visits, start, end)``: which exhibits are in a visit that overlaps
``[start, end)``, from the fleet API's ``GET /visits?from=start&to=end`` answer. The
filter checks the window itself as well, so the answer stays right if the API returns
more than asked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def exhibit_fleet_busy(
    visits: list[dict[str, Any]], start: str, end: str
) -> dict[str, dict[str, Any]]:
    """Map exhibit id -> {visit, starts_at, ends_at} for every visit overlapping the window."""
    window_start, window_end = _instant(start), _instant(end)
    busy: dict[str, dict[str, Any]] = {}
    for visit in visits:
        if _instant(visit["starts_at"]) < window_end and window_start < _instant(visit["ends_at"]):
            for exhibit_id in visit.get("exhibit_ids", []):
                busy[exhibit_id] = {
                    "visit": visit["id"],
                    "starts_at": visit["starts_at"],
                    "ends_at": visit["ends_at"],
                }
    return busy


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        """The filters this file provides."""
        return {"exhibit_fleet_busy": exhibit_fleet_busy}
