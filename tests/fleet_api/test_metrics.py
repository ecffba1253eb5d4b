"""Prometheus ``/metrics``: ingestion counters, HTTP by route template, one registry per app."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from fleet_api.main import create_app
from fleet_api.settings import Settings
from tests.fleet_api.builders import counts, raw, record
from tests.fleet_api.fakes import FakeSource, eventually
from tests.fleet_api.helpers import register
from tests.fleet_api.tokens import ADMIN_HEADERS, ADMIN_TOKEN


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_http_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/visits/41")
    await client.get("/visits/42")
    await client.get("/no/such/path/7")
    await client.get("/visits", params={"limit": 0})
    found = await scrape(client)
    by_route = (
        "fleet_http_requests_total",
        (("method", "GET"), ("route", "/visits/{visit_id}"), ("status", "404")),
    )
    assert found[by_route] == 2
    unmatched = (
        "fleet_http_requests_total",
        (("method", "GET"), ("route", "unmatched"), ("status", "404")),
    )
    assert found[unmatched] == 1
    assert (
        found[
            (
                "fleet_http_requests_total",
                (("method", "GET"), ("route", "/visits"), ("status", "422")),
            )
        ]
        == 1
    )
    latency = (
        "fleet_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/visits/{visit_id}")),
    )
    assert found[latency] == 2
    assert not any("/visits/41" in str(key) for key in found)


async def test_ingestion_is_counted_and_each_app_has_its_own_registry(db_url: str) -> None:
    source = FakeSource()
    settings = Settings(
        database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", bootstrap_admin_token=ADMIN_TOKEN
    )
    app = create_app(settings, message_source=lambda _: source)
    quiet: FastAPI = create_app(Settings(database_url=db_url, mqtt_url=None))
    async with app.router.lifespan_context(app), quiet.router.lifespan_context(quiet):
        register(app.state.engine, "exhibit-001")
        first = counts("exhibit-001", record(1), record(2))
        source.push(first, first, raw("fleet/v1/exhibits/exhibit-001/counts", b"{"))
        source.push(counts("exhibit-009", record(1)))
        await eventually(lambda: len(source.acked) == 4)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            found = await scrape(client)
            stats = (await client.get("/ingest/stats", headers=ADMIN_HEADERS)).json()
        transport = httpx.ASGITransport(app=quiet)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            other = await scrape(client)

    def value(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    assert value("fleet_ingest_enabled") == 1
    assert value("fleet_ingest_connected") == 1
    assert value("fleet_ingest_messages_total") == stats["messages"] == 4
    assert value("fleet_ingest_records_received_total") == 4
    assert value("fleet_ingest_records_inserted_total") == 2
    assert value("fleet_ingest_records_duplicate_total") == 2
    assert value("fleet_ingest_acked_total") == 4
    assert value("fleet_ingest_storage_errors_total") == 0
    assert value("fleet_ingest_quarantined_total", reason="malformed") == 1
    assert value("fleet_ingest_quarantined_total", reason="unknown_exhibit") == 1
    assert value("fleet_ingest_quarantined_total", reason="oversized") == 0
    batches = value("fleet_ingest_batches_total")
    assert batches >= 1
    assert value("fleet_ingest_batch_duration_seconds_count") == batches
    assert value("fleet_ingest_batch_duration_seconds_bucket", le="+Inf") == batches

    # The other app ingests nothing and counts nothing of the first one.
    assert other[("fleet_ingest_enabled", ())] == 0
    assert other[("fleet_ingest_messages_total", ())] == 0
    assert other[("fleet_ingest_batch_duration_seconds_count", ())] == 0
