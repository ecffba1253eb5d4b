"""The few fleet API calls the simulator makes, over plain HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from simulator.errors import FleetApiError


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

    def create_school(self, *, name: str, municipality: str, region: str) -> int:
        """Create a school and return its id."""
        body = {"name": name, "municipality": municipality, "region": region}
        school: dict[str, Any] = self._call("POST", "/schools", json=body)
        return int(school["id"])

    def create_visit(
        self, *, school_id: int, starts_at: datetime, ends_at: datetime, exhibit_ids: list[str]
    ) -> int:
        """Schedule a visit and return its id."""
        body = {
            "school_id": school_id,
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "exhibit_ids": exhibit_ids,
        }
        visit: dict[str, Any] = self._call("POST", "/visits", json=body)
        return int(visit["id"])

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
