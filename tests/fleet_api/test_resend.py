"""``resend``: the fleet asks an exhibit for its records again, from what it lacks.

Through the app (a fake source standing in for the broker): the request goes out
retained on the exhibit's resend channel, is stored and audited; by default it starts at
the first seq the fleet lacks at or above the exhibit's retained window; it never asks
for less than an earlier request the exhibit may not have acted on; requests stored
without the broker (the CLI, a restore) go out once the service is connected. Fleet
health shows each exhibit's retained window from its heartbeat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from broker.messages import Resend, utc_now
from broker.topics import Channel, exhibit_topic
from fleet_api.completeness import SeqRange
from fleet_api.main import create_app
from fleet_api.resend import request_resend, send_pending
from fleet_api.settings import Settings
from fleet_api.store.ingest import write_batch
from fleet_api.store.resend import first_missing
from fleet_api.tables_domain import audit_log
from tests.fleet_api.builders import beat, counts, record
from tests.fleet_api.fakes import FakeSource
from tests.fleet_api.helpers import register
from tests.fleet_api.tokens import TEST_ACTOR

ONE, TWO = "exhibit-001", "exhibit-002"


@pytest.fixture
def source() -> FakeSource:
    return FakeSource()


@pytest.fixture
async def app(settings: Settings, source: FakeSource) -> AsyncIterator[FastAPI]:
    with_mqtt = settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    app = create_app(with_mqtt, message_source=lambda _: source)
    async with app.router.lifespan_context(app):
        register(app.state.engine, ONE, TWO)
        yield app


def resends(source: FakeSource, exhibit_id: str = ONE) -> list[Resend]:
    topic = exhibit_topic(exhibit_id, Channel.RESEND)
    found = []
    for published, payload, retained in source.published:
        if published == topic:
            assert retained, "a resend request is retained: the exhibit may be offline"
            found.append(Resend.model_validate_json(payload))
    return found


async def ask(client: httpx.AsyncClient, exhibit_id: str = ONE, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/exhibits/{exhibit_id}/resend", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


@given(
    st.lists(st.integers(1, 60), unique=True).map(sorted),
    st.integers(1, 70),
)
def test_the_first_missing_seq_is_the_first_gap_at_or_above_the_floor(
    seqs: list[int], floor: int
) -> None:
    runs: list[SeqRange] = []
    for seq in seqs:
        if runs and runs[-1].last + 1 == seq:
            runs[-1] = SeqRange(runs[-1].first, seq)
        else:
            runs.append(SeqRange(seq, seq))
    missing = first_missing(runs, floor=floor)
    assert missing >= floor
    assert missing not in seqs
    assert all(seq in seqs for seq in range(floor, missing))


async def test_a_technician_asks_from_a_seq_and_it_is_retained_stored_and_audited(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource
) -> None:
    made = await ask(client, from_seq=40)
    assert made["from_seq"] == 40
    assert made["reason"] == "technician"
    assert made["sent_at"]
    [sent] = resends(source)
    assert (sent.from_seq, sent.command_id, sent.exhibit_id) == (40, made["command_id"], ONE)
    listed = (await client.get(f"/exhibits/{ONE}/resend")).json()
    assert [item["command_id"] for item in listed] == [made["command_id"]]
    with app.state.engine.connect() as connection:
        entry = connection.execute(
            select(audit_log.c.action, audit_log.c.entity_id, audit_log.c.after).where(
                audit_log.c.action == "exhibit.resend"
            )
        ).one()
    assert entry.entity_id == ONE
    assert entry.after["from_seq"] == 40


async def test_by_default_it_asks_for_what_the_fleet_lacks_within_the_retained_window(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource
) -> None:
    engine: Engine = app.state.engine
    write_batch(engine, [counts(ONE, *(record(s) for s in (*range(1, 6), 8, 9, 12)))])
    assert (await ask(client))["from_seq"] == 6  # no window known: the first gap
    # The exhibit holds 8 on: 6 and 7 are beyond recovery, 10 is the first it can send.
    write_batch(engine, [beat(ONE, outbox_depth=0, retained_from_seq=8, retained_records=9)])
    source.published.clear()
    # The earlier request (from 6) was acted on: a heartbeat since says the outbox is empty.
    assert (await ask(client))["from_seq"] == 10
    assert [r.from_seq for r in resends(source)] == [10]
    # Nothing stored at all of the other exhibit: from its first seq.
    assert (await ask(client, TWO))["from_seq"] == 1


async def test_a_newer_request_never_asks_for_less_than_one_not_yet_acted_on(
    app: FastAPI, client: httpx.AsyncClient, source: FakeSource
) -> None:
    await ask(client, from_seq=100)
    # The broker keeps one retained request per exhibit: this one replaces the first,
    # which the exhibit (offline, no heartbeat since) has not seen.
    assert (await ask(client, from_seq=500))["from_seq"] == 100
    write_batch(app.state.engine, [beat(ONE, outbox_depth=3)])  # busy: maybe not yet
    assert (await ask(client, from_seq=700))["from_seq"] == 100
    write_batch(app.state.engine, [beat(ONE, outbox_depth=0)])  # drained: all three done
    assert (await ask(client, from_seq=900))["from_seq"] == 900


async def test_refusals_are_precise_and_store_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    auth_headers: Any,
    source: FakeSource,
) -> None:
    assert (await client.post("/exhibits/ghost/resend", json={})).status_code == 404
    for bad in (
        {"from_seq": 0},
        {"from_seq": "x"},
        {"from_seq": True},
        {"from_seq": 2**53},
        {"from": 3},
    ):
        assert (await client.post(f"/exhibits/{ONE}/resend", json=bad)).status_code == 422
    staff = await anonymous.post(f"/exhibits/{ONE}/resend", json={}, headers=auth_headers("staff"))
    assert staff.status_code == 403
    source.refuse.add(exhibit_topic(ONE, Channel.RESEND))
    assert (await client.post(f"/exhibits/{ONE}/resend", json={})).status_code == 503
    assert (await client.get(f"/exhibits/{ONE}/resend")).json() == []
    assert resends(source) == []


async def test_requests_stored_without_the_broker_go_out_once_per_exhibit(
    app: FastAPI, source: FakeSource
) -> None:
    engine: Engine = app.state.engine
    with engine.begin() as connection:
        for exhibit_id, from_seq in ((ONE, 30), (ONE, 20), (TWO, 5)):
            request_resend(
                connection,
                None,
                exhibit_id=exhibit_id,
                from_seq=from_seq,
                reason="restore",
                actor=TEST_ACTOR,
            )
    source.connected = False
    with pytest.raises(Exception, match="refuses"):
        send_pending(engine, source, timeout_s=1)
    source.connected = True
    assert send_pending(engine, source, timeout_s=1) == 2
    assert [r.from_seq for r in resends(source, ONE)] == [20]
    assert [r.from_seq for r in resends(source, TWO)] == [5]
    assert send_pending(engine, source, timeout_s=1) == 0  # sent is sent


async def test_fleet_health_shows_each_exhibits_retained_window(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    write_batch(
        app.state.engine,
        [
            beat(ONE, retained_from_seq=1200, retained_records=800),
            beat(TWO, received_at=utc_now() - timedelta(seconds=1)),  # an older agent
        ],
    )
    health = (await client.get("/fleet/health")).json()
    windows = {
        item["exhibit_id"]: (
            item["heartbeat"]["retained_from_seq"],
            item["heartbeat"]["retained_records"],
        )
        for item in health["exhibits"]
    }
    assert windows == {ONE: (1200, 800), TWO: (None, None)}
    one = (await client.get(f"/exhibits/{ONE}/health")).json()
    assert one["heartbeat"]["retained_from_seq"] == 1200
    assert one["heartbeats"][0]["retained_records"] == 800
