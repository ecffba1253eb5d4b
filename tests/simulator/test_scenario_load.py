"""Scenario files: field types, validation errors naming file, line and field, cross-checks."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from simulator.errors import ScenarioError
from simulator.scenario_files import load_scenario, named_scenarios, scenario_path
from simulator.scenario_types import (
    expand_range,
    parse_days,
    parse_duration,
    parse_hours,
    parse_signed_duration,
    parse_utc,
)

BASE = """\
name: tiny
start: 2026-03-02T06:00:00Z
end: 2026-03-03T18:00:00Z
visitors:
  default: {arrivals_per_hour: [4, 4]}
exhibits:
  - {id: e1, inputs: [button, beam]}
  - {id: e2}
schools:
  - {key: north, name: North, municipality: Rēzekne, region: Latgale}
visits:
  - {key: v1, school: north, days: 2026-03-02, hours: 08:00-14:00, exhibits: [e1, e2]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    return str(caught.value)


@pytest.mark.parametrize("name", named_scenarios())
def test_every_shipped_scenario_is_valid(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario_path(name).name == f"{name}.yaml"


def test_the_named_scenarios_of_the_issue_are_shipped() -> None:
    assert {"normal-week", "offline-day", "broker-restart-replay", "backlog-50"} <= set(
        named_scenarios()
    )
    assert len(load_scenario("backlog-50").exhibit_defs()) == 50
    crashes = {type(fault).__name__ for fault in load_scenario("server-crashes").faults}
    assert crashes == {"BrokerKill", "ServerPowerCut", "DatabaseRestore"}
    assert [f.kind for f in load_scenario("worker-kill").faults] == ["worker_kill"]
    normal = load_scenario("normal-week")
    assert (len(normal.exhibit_defs()), len(normal.schools), normal.faults) == (5, 3, [])


def test_a_minimal_scenario_loads_with_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, BASE))
    assert [e.count_names() for e in scenario.exhibits] == [["button", "beam"], ["button"]]
    visit = scenario.visits[0]
    assert visit.checkout
    assert visit.starts_at == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert visit.ends_at == datetime(2026, 3, 2, 14, tzinfo=UTC)
    assert scenario.agent.bucket_seconds == 60
    assert scenario.checkout_lead == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), (1.5, 1.5), ("90s", 90), ("20m", 1200), ("8h", 28800), ("1d2h30m", 95400)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["soon", "-5m", -1, True, "5 minutes"])
def test_bad_durations_say_how_to_write_one(bad: object) -> None:
    with pytest.raises(ValueError, match=r"20m|negative|seconds"):
        parse_duration(bad)


def test_times_are_utc_and_naive_means_utc() -> None:
    assert parse_utc("2026-03-02T08:00:00Z") == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert parse_utc("2026-03-02T10:00:00+02:00") == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert parse_utc(datetime(2026, 3, 2, 8)) == datetime(2026, 3, 2, 8, tzinfo=UTC)
    with pytest.raises(ValueError, match="time of day"):
        parse_utc(date(2026, 3, 2))


def test_days_and_hours() -> None:
    assert parse_days("2026-03-02..2026-03-04") == [date(2026, 3, d) for d in (2, 3, 4)]
    assert parse_days([date(2026, 3, 3), "2026-03-02"]) == [date(2026, 3, 2), date(2026, 3, 3)]
    hours = parse_hours("08:30-14:00")
    assert (hours.start, hours.end) == (time(8, 30), time(14))
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_hours("8-15")
    with pytest.raises(ValueError, match="after the start"):
        parse_hours("15:00-08:00")
    with pytest.raises(ValueError, match="before the first"):
        parse_days("2026-03-04..2026-03-02")


def test_exhibit_ranges() -> None:
    assert expand_range("ex-01..ex-03") == ["ex-01", "ex-02", "ex-03"]
    assert expand_range("rb-8..rb-10") == ["rb-8", "rb-9", "rb-10"]
    assert expand_range("pendulum") == ["pendulum"]
    with pytest.raises(ValueError, match="same prefix"):
        expand_range("ex-01..other-03")


def test_a_field_error_names_file_line_and_field(tmp_path: Path) -> None:
    message = error_of(tmp_path, BASE.replace("hours: 08:00-14:00", "hours: 8-14"))
    assert message == (
        f"{tmp_path / 'scenario.yaml'}:12: visits[0].hours: use HH:MM-HH:MM, "
        "e.g. 08:00-15:00 (got '8-14')"
    )


def test_an_unknown_key_is_refused_at_its_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, BASE + "colour: blue\n")
    assert message.startswith(f"{tmp_path / 'scenario.yaml'}:13: colour: ")
    assert "Extra inputs are not permitted" in message


def test_a_fault_error_names_the_fault(tmp_path: Path) -> None:
    text = BASE + "faults:\n  - {kind: partition, exhibits: [e1], at: 2026-03-02T09:00:00Z}\n"
    assert ":14: faults[0].for: Field required" in error_of(tmp_path, text)
    text = BASE + "faults:\n  - {kind: earthquake, at: 2026-03-02T09:00:00Z}\n"
    assert "faults[0]: Input tag 'earthquake'" in error_of(tmp_path, text)


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    assert ":3: not valid YAML" in error_of(tmp_path, "name: x\nstart: [\n  :\n")


def test_a_missing_file_lists_the_named_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="normal-week"):
        load_scenario(tmp_path / "nothing.yaml")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("school: north", "school: south"), "visits[0].school: no school with key 'south'"),
        (("exhibits: [e1, e2]", "exhibits: [e1, e9]"), "visits[0].exhibits: no exhibit 'e9'"),
        (("{id: e2}", "{id: e2, visitors: crowd}"), "no visitor profile 'crowd'"),
        (("{id: e2}", "{id: e1}"), "exhibit 'e1' is defined twice"),
        (("2026-03-02, hours", "2026-03-04, hours"), "outside the scenario"),
    ],
)
def test_cross_checks(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    assert expected in error_of(tmp_path, BASE.replace(*change))


def test_overlapping_visits_of_one_exhibit_are_refused(tmp_path: Path) -> None:
    text = BASE + (
        "  - {key: v2, school: north, days: 2026-03-02, hours: 14:10-15:00, exhibits: [e2]}\n"
    )
    message = error_of(tmp_path, text)
    assert "visits[1].exhibits: e2 is in v1 and v2 at overlapping times" in message


def test_a_check_out_staff_cannot_make_is_refused(tmp_path: Path) -> None:
    text = BASE + "faults:\n  - {kind: api_restart, at: 2026-03-02T07:00:00Z, for: 1h}\n"
    message = error_of(tmp_path, text)
    assert "visits[0].checkout: the check-out of e1 for v1 at 2026-03-02T07:30:00+00:00" in message
    assert "falls in a fleet API restart" in message
    assert "checkout: false" in message


def test_a_check_out_inside_a_partition_is_a_valid_scenario(tmp_path: Path) -> None:
    # As in real life: staff check the exhibit out, it hears of it when it reconnects.
    for how in ("cut", "black_hole"):
        text = BASE + (
            "faults:\n  - {kind: partition, exhibits: [e1], at: 2026-03-02T07:00:00Z, for: 1h,"
            f" how: {how}}}\n"
        )
        (fault,) = load_scenario(write(tmp_path, text)).faults
        assert fault.kind == "partition"
        assert fault.how == how


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (
            "  - {kind: power_cut, exhibit: e1, at: 2026-03-04T09:00:00Z}\n",
            "faults[0].at: the fault (and its duration) must lie inside the scenario",
        ),
        (
            "  - {kind: power_cut, exhibit: e1, at: 2026-03-02T09:00:00Z, for: 1h}\n"
            "  - {kind: power_cut, exhibit: e1, at: 2026-03-02T09:30:00Z}\n",
            "two power cuts of e1 overlap",
        ),
        (
            "  - {kind: power_cut, exhibit: e1, at: 2026-03-02T09:00:00Z, for: 1h,\n"
            "     sync_at: 2026-03-02T09:30:00Z}\n",
            "faults[0].sync_at: the clock can sync only after the exhibit is up again",
        ),
        (
            "  - {kind: broker_restart, at: 2026-03-02T09:00:00Z, for: 1h}\n"
            "  - {kind: duplicate_delivery, at: 2026-03-02T09:30:00Z}\n",
            "faults[1].at: the broker is down then",
        ),
        (
            "  - {kind: cloned_identity, exhibit: e7, at: 2026-03-02T09:00:00Z}\n",
            "faults[0].exhibit: no exhibit 'e7'",
        ),
        (
            "  - {kind: database_restore, backup_at: 2026-03-02T12:00:00Z,\n"
            "     at: 2026-03-02T11:00:00Z}\n",
            "faults[0].backup_at: the backup is taken in the scenario, before the restore",
        ),
        (
            "  - {kind: broker_kill, at: 2026-03-02T09:00:00Z, ingest: down, ingest_down: 30m}\n"
            "  - {kind: api_restart, at: 2026-03-02T08:45:00Z, for: 5m}\n",
            "faults[1].at: two api restarts overlap",
        ),
        (
            "  - {kind: server_power_cut, at: 2026-03-02T09:00:00Z, for: 10m}\n"
            "  - {kind: broker_kill, at: 2026-03-02T09:05:00Z}\n",
            "faults[1].at: two broker restarts overlap",
        ),
        (
            "  - {kind: broker_kill, at: 2026-03-02T09:00:00Z, ingest: sideways}\n",
            "faults[0].ingest: Input should be 'running' or 'down'",
        ),
    ],
)
def test_fault_cross_checks(tmp_path: Path, faults: str, expected: str) -> None:
    assert expected in error_of(tmp_path, BASE + "faults:\n" + faults)


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (
            "  - {kind: clock_ahead, exhibit: e1, at: 2026-03-02T09:00:00Z, ahead: 0s}\n",
            "faults[0].ahead: give how far ahead the clock is",
        ),
        (
            "  - {kind: clock_jump, exhibit: e1, at: 2026-03-02T09:00:00Z, by: 0}\n",
            "faults[0].by: give how far the clock jumps",
        ),
        (
            "  - {kind: clock_jump, exhibit: e1, at: 2026-03-02T09:00:00Z, by: sideways}\n",
            "faults[0].by: a clock offset is like -26h, +3h, 1d2h (got 'sideways')",
        ),
        (
            "  - {kind: power_cut, exhibit: e1, at: 2026-03-02T09:00:00Z, clock_behind: 1h,\n"
            "     clock_ahead: 1h}\n",
            "faults[0]: a clock is behind or ahead, not both",
        ),
        (
            "  - {kind: reboot_chain, exhibit: e1, at: 2026-03-02T09:00:00Z,\n"
            "     boots: [{offset: -26h}, {offset: +2h}]}\n",
            "faults[0].boots[1].after: a later boot comes some time after the last",
        ),
        (
            "  - {kind: reboot_chain, exhibit: e1, at: 2026-03-02T09:00:00Z,\n"
            "     boots: [{offset: -26h, for: 2h}], sync_at: 2026-03-02T10:00:00Z}\n",
            "faults[0].sync_at: the clock can sync only after the exhibit is up again",
        ),
        (
            "  - {kind: power_cut, exhibit: e1, at: 2026-03-02T09:00:00Z, for: 2h}\n"
            "  - {kind: clock_jump, exhibit: e1, at: 2026-03-02T10:00:00Z, by: 1h}\n",
            "faults[1].at: e1 has no power then",
        ),
    ],
)
def test_clock_fault_cross_checks(tmp_path: Path, faults: str, expected: str) -> None:
    assert expected in error_of(tmp_path, BASE + "faults:\n" + faults)


def test_a_depot_check_while_checked_out_is_refused(tmp_path: Path) -> None:
    text = BASE + "depot_checks:\n  - {at: 2026-03-02T14:10:00Z, exhibits: all}\n"
    assert "depot_checks[0].at: e1 is checked out to v1 then" in error_of(tmp_path, text)


def test_visitor_inputs_must_be_count_names_of_the_exhibits(tmp_path: Path) -> None:
    text = BASE.replace("[4, 4]}", "[4, 4], inputs: {dial_cw: 1}}")
    message = error_of(tmp_path, text)
    assert (
        "exhibits[0].visitors: its visitors use ['dial_cw'], none of them a count name" in message
    )
    assert ":5: visitors.default.inputs: no exhibit of these visitors counts ['dial_cw']" in message
    text = BASE.replace("[4, 4]}", "[4, 4], inputs: {beam: 1}}")
    assert "exhibits[1].visitors: its visitors use ['beam'], none" in error_of(tmp_path, text)


def test_the_example_of_the_docs_is_a_valid_scenario(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
    text = docs.read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = load_scenario(write(tmp_path, example))
    assert len(scenario.exhibit_defs()) == 4
    assert [f.kind for f in scenario.faults] == ["partition", "power_cut"]


def test_signed_durations_are_clock_offsets_either_way() -> None:
    assert parse_signed_duration("-26h") == timedelta(hours=-26)
    assert parse_signed_duration("+1d2h") == timedelta(hours=26)
    assert parse_signed_duration("3h") == timedelta(hours=3)
    assert parse_signed_duration(-90) == timedelta(seconds=-90)
    with pytest.raises(ValueError, match="a clock offset is like"):
        parse_signed_duration("-")


RIGA = "Europe/Riga"


def test_times_and_hours_can_be_written_in_the_visits_local_time(tmp_path: Path) -> None:
    # Riga is UTC+2 in winter and UTC+3 in summer (DST from 2026-03-29).
    text = (
        BASE.replace("start: 2026-03-02T06:00:00Z", f"timezone: {RIGA}\nstart: 2026-03-02T06:00")
        .replace("end: 2026-03-03T18:00:00Z", "end: 2026-04-03T18:00:00")
        .replace("hours: 08:00-14:00", "hours: 08:30-14:30")
    ) + (
        "  - {key: summer, school: north, days: 2026-04-02, hours: 08:30-14:30, exhibits: [e1]}\n"
        "  - {key: utc, school: north, days: 2026-04-03, hours: 08:30-14:30, exhibits: [e2],\n"
        "     timezone: UTC}\n"
        "faults:\n"
        "  - {kind: power_cut, exhibit: e1, at: 2026-03-02T10:40:00, clock_behind: 26h}\n"
        "  - {kind: power_cut, exhibit: e2, at: 2026-03-02T10:40:00Z}\n"
    )
    scenario = load_scenario(write(tmp_path, text))
    assert scenario.start == datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert scenario.end == datetime(2026, 4, 3, 15, 0, tzinfo=UTC)
    winter, summer, utc = scenario.visits
    assert (winter.starts_at, winter.ends_at) == (
        datetime(2026, 3, 2, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 2, 12, 30, tzinfo=UTC),
    )
    assert summer.starts_at == datetime(2026, 4, 2, 5, 30, tzinfo=UTC)
    assert utc.starts_at == datetime(2026, 4, 3, 8, 30, tzinfo=UTC)
    local, explicit = scenario.faults
    assert local.at == datetime(2026, 3, 2, 8, 40, tzinfo=UTC)
    assert explicit.at == datetime(2026, 3, 2, 10, 40, tzinfo=UTC)


def test_an_unknown_time_zone_is_named(tmp_path: Path) -> None:
    text = BASE.replace("name: tiny", "name: tiny\ntimezone: Europe/Atlantis")
    assert "timezone: 'Europe/Atlantis' is not a time zone; use an IANA name" in error_of(
        tmp_path, text
    )
