"""Issue 16's cases through ingestion (write_batch), SQLite and PostgreSQL.

A visit at a school with no network; exhibit 1 loses power at 10:40 and boots with its
clock 26 h behind; it reboots again at the depot before any sync, so that boot never
gets a synced reference. Its records are bounded by seq order instead: never counted at
the wrong school nor in a visit they cannot be in, never "final" while unplaced.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from broker.messages import CountRecord
from fleet_api.completeness import DataStatus
from fleet_api.errors import NotACandidate, UnknownRecord
from fleet_api.store.audit import Actor
from fleet_api.store.ingest import write_batch
from fleet_api.store.unplaced import assign, by_exhibit, list_unplaced
from fleet_api.tables_domain import audit_log
from tests.fleet_api.builders import T0, beat, counts, record, unsynced
from tests.fleet_api.checks import assert_rollups_match_records, usage, visits_of
from tests.fleet_api.conftest import AuthHeaders
from tests.fleet_api.helpers import register, schedule
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import log_in

E = "exhibit-001"
DAY = timedelta(days=1)
BEHIND = timedelta(hours=26)
STAFF = Actor(name="Anna", via="api", token_id=None, role="staff")


def minute_of(at: datetime) -> float:
    return (at - T0).total_seconds() / 60


def synced_run(
    first_seq: int, start: datetime, minutes: int, boot: str, *, mono: float = 5.0
) -> list[CountRecord]:
    """One record a minute from ``start``, clock synced, the first at monotonic ``mono``."""
    return [
        record(first_seq + n, minute=minute_of(start) + n, boot_id=boot).model_copy(
            update={"mono_start": mono + 60.0 * n}
        )
        for n in range(minutes)
    ]


def behind_run(
    first_seq: int, start: datetime, minutes: int, boot: str, *, tag: int | None = None
) -> list[CountRecord]:
    """One record a minute from true time ``start`` on a clock 26 h behind, booted at ``start``."""
    return [
        unsynced(
            first_seq + n,
            wall=start - BEHIND + timedelta(minutes=n),
            mono=5.0 + 60.0 * n,
            boot_id=boot,
            visit_id=tag,
        )
        for n in range(minutes)
    ]


def send(engine: Engine, records: list[CountRecord], size: int = 50) -> None:
    """In seq order, ``size`` records a message, as the outbox sends them."""
    for at in range(0, len(records), size):
        write_batch(engine, [counts(E, *records[at : at + size])])


@pytest.fixture
def fleet(engine: Engine) -> Engine:
    register(engine, E)
    return engine


def school_day(day: int) -> tuple[datetime, datetime]:
    """08:30-14:30 of day ``day`` (T0 is 08:00)."""
    return T0 + day * DAY + timedelta(minutes=30), T0 + day * DAY + timedelta(hours=6, minutes=30)


@pytest.mark.parametrize("checked_out", [False, True])
def test_a_second_reboot_at_the_depot_leaves_the_visit_openly_unplaced_or_exact(
    fleet: Engine, checked_out: bool
) -> None:
    visit = schedule(fleet, E, start_h=0.5, hours=6)
    start, end = school_day(0)
    tag = visit if checked_out else None
    before_cut = synced_run(1, start, 130, "boot-1")  # 08:30-10:39
    cut = start + timedelta(minutes=131)  # back on at 10:41, 26 h behind
    school = behind_run(131, cut, int((end - cut).total_seconds() // 60), "boot-2", tag=tag)
    # The next morning at the depot: boot-3, unsynced for 20 minutes, then NTP.
    depot = T0 + DAY + timedelta(hours=1)
    depot_unsynced = behind_run(131 + len(school), depot, 20, "boot-3")
    depot_synced = synced_run(
        131 + len(school) + 20, depot + timedelta(minutes=20), 5, "boot-3", mono=1205.0
    )
    send(fleet, [*before_cut, *school, *depot_unsynced])
    # boot-3's reference arrives last: boot-3 is re-based, boot-2 never can be.
    send(fleet, depot_synced)
    write_batch(
        fleet, [beat(E, boot_id="boot-3", at=depot + timedelta(minutes=30), uptime_s=1805.0)]
    )

    result = usage(fleet, visit, now=T0 + 2 * DAY)
    exhibit = result.exhibits[0]
    placed = visits_of(fleet)
    # Nothing after the visit is ever counted in it.
    assert all(placed[(E, r.seq)] is None for r in [*depot_unsynced, *depot_synced])
    if checked_out:
        # The tag is allowed by the bounds: exact.
        assert exhibit.total == len(before_cut) + len(school)
        assert exhibit.completeness is not None
        assert exhibit.completeness.status is DataStatus.FINAL
        assert exhibit.completeness.unplaced_records == 0
    else:
        assert exhibit.total == len(before_cut)
        assert exhibit.completeness is not None
        assert exhibit.completeness.status is DataStatus.UNPLACED
        assert exhibit.completeness.unplaced_records == len(school)
        assert exhibit.completeness.unplaced_interactions == len(school)
        assert result.unplaced_interactions == len(school)
        assert "could not be placed" in exhibit.completeness.detail
        with Session(fleet) as session:
            total, listed = list_unplaced(session.connection(), visit_id=visit, limit=500)
            health = by_exhibit(session.connection())
        assert total == len(school)
        assert {r.seq for r in listed} == {r.seq for r in school}
        assert all(r.candidate_visit_ids == [visit] for r in listed)
        assert all(r.outside_visits_possible for r in listed)
        assert health[E][0].records == len(school)
        assert health[E][1] == [visit]
    assert_rollups_match_records(fleet)


def test_tuesdays_records_are_never_counted_at_mondays_school(fleet: Engine) -> None:
    monday = schedule(fleet, E, start_h=0.5, hours=6)
    tuesday = schedule(fleet, E, start_h=24.5, hours=6)
    mon_start, _ = school_day(0)
    tue_start, tue_end = school_day(1)
    mon = synced_run(1, mon_start, 247, "boot-1")
    tue = synced_run(248, tue_start, 126, "boot-2")  # up to seq 373, synced, 10:35
    cut = tue_start + timedelta(minutes=130)
    lost = behind_run(374, cut, int((tue_end - cut).total_seconds() // 60), "boot-3")
    # Wednesday at the depot: boot-4 never synced before its reference, much later.
    wednesday = behind_run(374 + len(lost), T0 + 2 * DAY, 10, "boot-4")
    later = synced_run(374 + len(lost) + 10, T0 + 2 * DAY + timedelta(minutes=10), 3, "boot-4")
    send(fleet, [*mon, *tue, *lost, *wednesday, *later])

    monday_usage = usage(fleet, monday, now=T0 + 3 * DAY)
    tuesday_usage = usage(fleet, tuesday, now=T0 + 3 * DAY)
    # Their wall times fall on Monday, but they come after a synced Tuesday record.
    assert monday_usage.total == len(mon)
    assert monday_usage.exhibits[0].completeness is not None
    assert monday_usage.exhibits[0].completeness.status is DataStatus.FINAL
    assert tuesday_usage.total == len(tue)
    assert tuesday_usage.unplaced_interactions == len(lost)
    assert tuesday_usage.data_status is DataStatus.UNPLACED

    # Staff know where the exhibit was: they assign, then undo; both are recorded.
    seqs = [r.seq for r in lost]
    with Session(fleet) as session:
        assert assign(
            session.connection(),
            exhibit_id=E,
            seqs=seqs,
            visit_id=tuesday,
            actor=STAFF,
            now=T0 + 3 * DAY,
        ) == len(seqs)
        session.commit()
    assert usage(fleet, tuesday, now=T0 + 3 * DAY).total == len(tue) + len(lost)
    assert usage(fleet, tuesday, now=T0 + 3 * DAY).data_status is DataStatus.FINAL
    assert usage(fleet, monday, now=T0 + 3 * DAY).total == len(mon)
    assert_rollups_match_records(fleet)
    with Session(fleet) as session:
        assert (
            assign(
                session.connection(),
                exhibit_id=E,
                seqs=seqs[:10],
                visit_id=None,
                actor=STAFF,
                now=T0 + 3 * DAY,
            )
            == 10
        )
        session.commit()
    assert usage(fleet, tuesday, now=T0 + 3 * DAY).total == len(tue) + len(lost) - 10
    with fleet.connect() as connection:
        actions = connection.execute(
            select(audit_log.c.action, audit_log.c.actor_name).order_by(audit_log.c.id)
        ).all()
    assert [tuple(a) for a in actions if a[0].startswith("unplaced")] == [
        ("unplaced.assign", "Anna"),
        ("unplaced.unassign", "Anna"),
    ]
    assert_rollups_match_records(fleet)


def test_staff_cannot_assign_a_record_to_a_visit_its_bounds_exclude(fleet: Engine) -> None:
    monday = schedule(fleet, E, start_h=0.5, hours=6)
    tuesday = schedule(fleet, E, start_h=24.5, hours=6)
    tue_start, _ = school_day(1)
    send(
        fleet,
        [
            *synced_run(1, tue_start, 10, "boot-1"),
            *behind_run(11, tue_start + timedelta(minutes=20), 5, "boot-2"),
        ],
    )
    with Session(fleet) as session:
        with pytest.raises(NotACandidate):
            assign(
                session.connection(), exhibit_id=E, seqs=[11], visit_id=monday, actor=STAFF, now=T0
            )
        with pytest.raises(UnknownRecord):
            assign(
                session.connection(), exhibit_id=E, seqs=[1], visit_id=tuesday, actor=STAFF, now=T0
            )


def test_a_visit_that_has_not_started_shows_no_usage_whatever_the_tag(fleet: Engine) -> None:
    today = schedule(fleet, E, start_h=0.5, hours=6)
    tomorrow = schedule(fleet, E, start_h=24.5, hours=6)
    start, _ = school_day(0)
    received = start + timedelta(hours=2)
    # Checked out for tomorrow while today's visit runs: synced records tagged tomorrow,
    # and an unsynced one (a reboot) tagged tomorrow, received today.
    synced = [record(n, minute=minute_of(start) + n, visit_id=tomorrow) for n in range(1, 61)]
    write_batch(fleet, [counts(E, *synced)])
    rebooted = unsynced(61, wall=start - DAY, mono=5.0, boot_id="boot-2", visit_id=tomorrow)
    inbound = counts(E, rebooted)
    write_batch(fleet, [replace(inbound, received_at=received)])

    # The rebooted record came after seq 60 (09:29) and reached the fleet at 10:30:
    # its bounds allow today's visit only, whatever its wall time and tag say.
    assert usage(fleet, today, now=received).total == 61
    assert visits_of(fleet)[(E, 61)] == today
    assert usage(fleet, tomorrow, now=received).total == 0
    assert usage(fleet, tomorrow, now=received).unplaced_records == 0
    assert_rollups_match_records(fleet)


async def test_staff_place_unplaced_records_over_http_and_viewers_cannot(
    app: FastAPI, client: httpx.AsyncClient, auth_headers: AuthHeaders
) -> None:
    engine = app.state.engine
    register(engine, E)
    monday = schedule(engine, E, start_h=0.5, hours=6)
    tuesday = schedule(engine, E, start_h=24.5, hours=6)
    tue_start, _ = school_day(1)
    send(
        engine,
        [
            *synced_run(1, tue_start, 10, "boot-1"),
            *behind_run(11, tue_start + timedelta(minutes=20), 5, "boot-2"),
        ],
    )
    listed = await client.get("/unplaced", params={"visit_id": tuesday})
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 5
    first = body["records"][0]
    assert (first["exhibit_id"], first["seq"], first["kind"], first["input"]) == (
        E,
        11,
        "count",
        "button",
    )
    assert first["candidate_visit_ids"] == [tuesday]
    assert first["outside_visits_possible"] is True
    assert (await client.get("/unplaced", params={"visit_id": monday})).json()["total"] == 0
    health = (await client.get("/fleet/health")).json()
    assert health["unplaced"] == [
        {"exhibit_id": E, "records": 5, "interactions": 5, "candidate_visit_ids": [tuesday]}
    ]
    assert "unplaced_records" in {a["code"] for a in health["exhibits"][0]["alerts"]}

    body_in = {"exhibit_id": E, "seqs": [11, 12], "visit_id": tuesday}
    viewer = await client.post("/unplaced/assign", json=body_in, headers=auth_headers("viewer"))
    assert viewer.status_code == 403
    wrong = await client.post(
        "/unplaced/assign",
        json={**body_in, "visit_id": monday},
        headers=auth_headers("staff"),
    )
    assert (wrong.status_code, wrong.json()["code"]) == (409, "not_a_candidate")
    missing = await client.post(
        "/unplaced/assign", json={**body_in, "seqs": [1]}, headers=auth_headers("staff")
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_record")
    done = await client.post("/unplaced/assign", json=body_in, headers=auth_headers("staff"))
    assert (done.status_code, done.json()["assigned"]) == (200, 2)

    usage_now = (await client.get(f"/visits/{tuesday}/usage")).json()
    assert usage_now["total"] == 12
    assert usage_now["unplaced_records"] == 3
    listed = (await client.get("/unplaced", params={"exhibit_id": E})).json()
    assigned = [r for r in listed["records"] if r["assigned_visit_id"] is not None]
    assert [r["seq"] for r in assigned] == [11, 12]
    assert assigned[0]["assigned_by"].endswith("(staff)")
    assert assigned[0]["assigned_at"] is not None
    audit = (await client.get("/audit", params={"entity": "exhibit", "entity_id": E})).json()
    assert [e["action"] for e in audit if e["action"].startswith("unplaced")] == ["unplaced.assign"]
    undone = await client.post(
        "/unplaced/unassign", json={"exhibit_id": E, "seqs": [12]}, headers=auth_headers("staff")
    )
    assert (undone.status_code, undone.json()["unassigned"]) == (200, 1)
    assert (await client.get(f"/visits/{tuesday}/usage")).json()["total"] == 11


async def test_the_visit_and_technician_pages_say_how_many_are_unplaced_and_where(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    engine = app.state.engine
    register(engine, E)
    tuesday = schedule(engine, E, start_h=24.5, hours=6)
    tue_start, _ = school_day(1)
    send(
        engine,
        [
            *synced_run(1, tue_start, 10, "boot-1"),
            *behind_run(11, tue_start + timedelta(minutes=20), 3, "boot-2"),
        ],
    )
    await log_in(anonymous, ADMIN_TOKEN)

    english = (await anonymous.get(f"/ui/visits/{tuesday}")).text
    technician = (await anonymous.get("/ui/technician")).text
    latvian = (await anonymous.get(f"/ui/visits/{tuesday}?lang=lv")).text
    technician_lv = (await anonymous.get("/ui/technician?lang=lv")).text

    assert (
        "<strong>Exhibit-001</strong>: 3 records (3 interactions) may belong to this visit"
        in english
    )
    assert "They are not counted until staff assign them." in english
    assert (
        "<strong>Exhibit-001</strong>: 3 ieraksti (3 mijiedarbības) var piederēt šim izbraukumam"
        in latvian
    )
    assert (
        f"3 records could not be placed in a visit (its clock was never synchronised); they may "
        f"belong to visit {tuesday}. Staff can assign them." in technician
    )
    assert "3 ierakstus nevarēja piesaistīt nevienam izbraukumam" in technician_lv
