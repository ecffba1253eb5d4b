"""The few fleet API calls the simulator makes, over plain HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx

from simulator.errors import FleetApiError

T = TypeVar("T")
RETRY_S = 30.0


def retry(call: Callable[[], T], what: str) -> T:
    """``call()``, tried again for up to ``RETRY_S``: right after a broker or API restart
    the API may answer 503 for a moment."""
    deadline = time.monotonic() + RETRY_S
    while True:
        try:
            return call()
        except FleetApiError as exc:
            if time.monotonic() >= deadline:
                raise FleetApiError(f"{what}: {exc}") from exc
            time.sleep(0.2)


class FleetClient:
    """Synchronous client for the fleet API."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise FleetApiError(f"{method} {url}: {exc}") from exc
        if response.status_code >= 400:
            raise FleetApiError(f"{method} {url}: {response.status_code} {response.text}")
        return response.json()

    def ensure_exhibit(self, exhibit_id: str, name: str) -> None:
        """Register an exhibit; one that exists already is fine."""
        response = self._http.post("/exhibits", json={"id": exhibit_id, "name": name})
        if response.status_code not in (201, 409):
            raise FleetApiError(f"POST /exhibits: {response.status_code} {response.text}")

    def create_school(
        self, *, name: str, municipality: str, region: str, area: str | None = None
    ) -> int:
        """Create a school and return its id."""
        body = {"name": name, "municipality": municipality, "region": region, "area": area}
        school: dict[str, Any] = self._call("POST", "/schools", json=body)
        return int(school["id"])

    def create_visit(
        self,
        *,
        school_id: int,
        starts_at: datetime,
        ends_at: datetime,
        exhibit_ids: list[str],
        **details: Any,
    ) -> int:
        """Schedule a visit and return its id; ``details``: pupils, grades, staff, ..."""
        body = {
            "school_id": school_id,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "exhibit_ids": exhibit_ids,
            **{key: value for key, value in details.items() if value is not None},
        }
        visit: dict[str, Any] = self._call("POST", "/visits", json=body)
        return int(visit["id"])

    def create_programme(self, **programme: Any) -> int:
        """Create a programme (name, grade_min, grade_max, stem_area) and return its id."""
        created: dict[str, Any] = self._call("POST", "/programmes", json=programme)
        return int(created["id"])

    def cancel_visit(self, visit_id: int, reason: str) -> None:
        """``POST /visits/{id}/cancel`` with the reason staff give."""
        self._call("POST", f"/visits/{visit_id}/cancel", json={"reason": reason})

    def check_out(self, visit_id: int) -> None:
        """``POST /visits/{id}/checkout``: the visit's exhibits get their retained assignment."""
        self._call("POST", f"/visits/{visit_id}/checkout")

    def checked_out(self, visit_id: int) -> bool:
        """Whether the visit is checked out now (``GET /visits/{id}``)."""
        visit: dict[str, Any] = self._call("GET", f"/visits/{visit_id}")
        return visit.get("checked_out_at") is not None and visit.get("checked_in_at") is None

    def check_in(self, visit_id: int) -> None:
        """``POST /visits/{id}/checkin``: the assignment is cleared."""
        self._call("POST", f"/visits/{visit_id}/checkin")

    def exhibit_totals(self) -> dict[str, tuple[int, int]]:
        """Per exhibit: interactions in any visit, and in none (``/reports/usage`` by exhibit)."""
        report: dict[str, Any] = self._call("GET", "/reports/usage", params={"group_by": "exhibit"})
        return {
            row["key"]: (int(row["interactions"]), int(row.get("unassigned_interactions") or 0))
            for row in report["rows"]
        }

    def stored_upto(self) -> dict[str, int]:
        """Per exhibit: the highest seq the fleet has stored (``/fleet/health``'s max_seq)."""
        health: dict[str, Any] = self._call("GET", "/fleet/health")
        return {item["exhibit_id"]: int(item["max_seq"] or 0) for item in health["exhibits"]}

    def resend_requests(self, exhibit_id: str) -> list[dict[str, Any]]:
        """``GET /exhibits/{id}/resend``: the exhibit's latest resend requests, newest first."""
        found: list[dict[str, Any]] = self._call("GET", f"/exhibits/{exhibit_id}/resend")
        return found

    def push_config(self, exhibit_id: str, document: dict[str, Any], *, force: bool) -> int:
        """``PUT /exhibits/{id}/config``: the version the fleet gave the document."""
        body = {"config": document, "force": force}
        pushed: dict[str, Any] = self._call("PUT", f"/exhibits/{exhibit_id}/config", json=body)
        return int(pushed["version"])

    def config_history(self, exhibit_id: str) -> list[dict[str, Any]]:
        """``GET /exhibits/{id}/config``: its versions and what the exhibit reported of each."""
        found: list[dict[str, Any]] = self._call("GET", f"/exhibits/{exhibit_id}/config")
        return found

    def exhibit_health(self, exhibit_id: str) -> dict[str, Any]:
        """``/fleet/health``'s entry for one exhibit (empty if it has none)."""
        health: dict[str, Any] = self._call("GET", "/fleet/health")
        return next((e for e in health["exhibits"] if e["exhibit_id"] == exhibit_id), {})

    def ingest_stats(self) -> dict[str, Any]:
        """``GET /ingest/stats``: counters since the API started."""
        stats: dict[str, Any] = self._call("GET", "/ingest/stats")
        return stats

    def unplaced(self, exhibit_id: str) -> list[dict[str, Any]] | None:
        """``GET /unplaced`` of one exhibit, every page; None if this fleet has no such list."""
        records: list[dict[str, Any]] = []
        while True:
            params: dict[str, Any] = {"exhibit_id": exhibit_id, "limit": 500}
            params["offset"] = len(records)
            response = self._http.get("/unplaced", params=params)
            if response.status_code == 404 and not records and "total" not in response.text:
                return None
            if response.status_code >= 400:
                raise FleetApiError(f"GET /unplaced: {response.status_code} {response.text}")
            page: dict[str, Any] = response.json()
            records += page["records"]
            if not page["records"] or len(records) >= int(page["total"]):
                return records

    def visit_usage(self, visit_id: int) -> dict[str, Any]:
        """``GET /visits/{id}/usage``."""
        usage: dict[str, Any] = self._call("GET", f"/visits/{visit_id}/usage")
        return usage

    def healthy(self) -> bool:
        """Whether ``/healthz`` answers 200."""
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.HTTPError:
            return False
