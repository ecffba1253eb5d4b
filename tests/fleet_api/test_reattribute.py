"""``fleet-api reattribute``: records placed by an earlier version's rules move under issue
16's, once, after the upgrade; SQLite and PostgreSQL.

The state before the upgrade is made with the store's own ``move`` (rollups kept equal to
the records), exactly as the old rules left it: Tuesday's never-synced records, whose wall
times fall on Monday, counted at Monday's school, with no bounds rows (the old version
had none).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from fleet_api.attribution import Placement
from fleet_api.cli import main
from fleet_api.completeness import DataStatus
from fleet_api.reattribute_cli import reattribute_all
from fleet_api.store.reattribution import load_records, move
from fleet_api.tables_bounds import record_bounds, unsynced_boots
from fleet_api.tables_domain import audit_log
from tests.fleet_api.builders import T0
from tests.fleet_api.checks import assert_rollups_match_records, usage
from tests.fleet_api.helpers import register, schedule
from tests.fleet_api.test_clock_truth import DAY, E, behind_run, school_day, send, synced_run


def placed_as_the_old_rules_did(engine: Engine, seqs: set[int], visit_id: int) -> None:
    """Put the records ``seqs`` into ``visit_id`` by their wall time, bounds forgotten."""
    with engine.begin() as connection:
        records = load_records(connection, lambda t: t.c.exhibit_id == E)
        wanted = [r for r in records if r.seq in seqs]
        assert len(wanted) == len(seqs)
        moved = move(
            connection, wanted, lambda r: Placement(r.placement.at, r.placement.basis, visit_id)
        )
        assert moved == len(seqs)
        connection.execute(delete(record_bounds))
        connection.execute(delete(unsynced_boots))


def monday_and_tuesday(engine: Engine) -> tuple[int, int, int, int, set[int]]:
    """Issue 16's Monday/Tuesday case, stored; (monday, tuesday, n_mon, n_tue, lost seqs)."""
    register(engine, E)
    monday = schedule(engine, E, start_h=0.5, hours=6)
    tuesday = schedule(engine, E, start_h=24.5, hours=6)
    mon_start, _ = school_day(0)
    tue_start, tue_end = school_day(1)
    mon = synced_run(1, mon_start, 247, "boot-1")
    tue = synced_run(248, tue_start, 126, "boot-2")
    cut = tue_start + timedelta(minutes=130)
    lost = behind_run(374, cut, int((tue_end - cut).total_seconds() // 60), "boot-3")
    later = synced_run(374 + len(lost), T0 + 2 * DAY, 3, "boot-4")
    send(engine, [*mon, *tue, *lost, *later])
    return monday, tuesday, len(mon), len(tue), {r.seq for r in lost}


def test_records_the_old_rules_misplaced_move_once(engine: Engine) -> None:
    monday, tuesday, n_mon, n_tue, lost = monday_and_tuesday(engine)
    placed_as_the_old_rules_did(engine, lost, monday)
    now = T0 + 3 * DAY
    assert usage(engine, monday, now=now).total == n_mon + len(lost)  # the bug, as it was

    with engine.begin() as connection:
        by_windows, by_bounds = reattribute_all(connection)
    assert by_windows + by_bounds == len(lost)
    monday_usage, tuesday_usage = usage(engine, monday, now=now), usage(engine, tuesday, now=now)
    assert monday_usage.total == n_mon
    assert monday_usage.data_status is DataStatus.FINAL
    assert tuesday_usage.total == n_tue
    assert tuesday_usage.unplaced_interactions == len(lost)
    assert tuesday_usage.data_status is DataStatus.UNPLACED
    assert_rollups_match_records(engine)

    with engine.begin() as connection:
        assert reattribute_all(connection) == (0, 0)  # idempotent


def test_the_command_reattributes_and_is_audited(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monday, _tuesday, n_mon, _n_tue, lost = monday_and_tuesday(engine)
    placed_as_the_old_rules_did(engine, lost, monday)
    monkeypatch.setenv("FLEET_DATABASE_URL", engine.url.render_as_string(hide_password=False))

    assert main(["reattribute"]) == 0
    assert capsys.readouterr().out.startswith("re-placed records under this version's rules")
    assert usage(engine, monday, now=T0 + 3 * DAY).total == n_mon
    with Session(engine) as session:
        (after,) = session.execute(
            select(audit_log.c.after).where(audit_log.c.action == "fleet.reattribute")
        ).scalars()
    moved = after if isinstance(after, dict) else json.loads(after)
    assert moved["moved_by_visit_windows"] + moved["moved_by_bounds"] == len(lost)
