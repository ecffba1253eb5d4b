"""The randomized fault campaign's nemesis: from a seed, a whole scenario (Jepsen-style).

``generate(seed)`` is a pure function: the same seed gives the same scenario file, so a
failing seed is replayed by ``exhibit-sim campaign --seed N``. It draws a few school days
in Riga time (some weeks cross the change to summer time), two or three schools, two to
four exhibits with bouncing inputs (``simulator/signals.py``'s defaults), visits that send
each exhibit to a school or leave it at the depot each day (checked out or not), depot
checks, and then a random schedule of faults: partitions (cut or black hole) of one or
several exhibits, power cuts with presses in flight, reboots with clocks behind or ahead,
clock jumps, reboot chains with offsets either way, NTP syncs or none, broker and API
restarts (SIGTERM or SIGKILL) and duplicate delivery; half the seeds also get one fault of
the server (a broker or the whole server killed, the database restored from a backup, an
ingest worker dead: issue 14's kinds). A drawn fault that the scenario
checks refuse (two power cuts overlapping, a check-out while the API is down, ...) is
drawn again, up to a bound, then left out: every generated scenario is valid. Last, most
exhibits get a controller, and the fleet pushes configurations that rebuild agents in the
middle of it all, with output checks from an oracle (``simulator.campaign_controller``).
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from simulator.campaign_controller import add_controllers
from simulator.controller_checks import problems as controller_problems
from simulator.scenario import Scenario
from simulator.scenario_checks import problems

ZONE = "Europe/Riga"
FIRST_MONDAY = date(2026, 3, 2)
SCHOOLS = (
    # key, name, municipality, region, area: places the fleet knows (fleet_api/places)
    ("rezekne", "Rēzeknes Valsts ģimnāzija", "Rēzekne", "Latgale", "urban"),
    ("ludza", "Ludzas pamatskola", "Ludzas novads", "Latgale", "rural"),
    ("kuldiga", "Kuldīgas Centra vidusskola", "Kuldīgas novads", "Kurzeme", "urban"),
)
INPUT_SETS: tuple[list[Any], ...] = (
    ["button"],
    ["button", "beam"],
    ["button", {"name": "dial", "kind": "rotary"}],
)
FAULT_WEIGHTS = {
    "partition": 4,
    "power_cut": 3,
    "clock_behind": 2,
    "clock_ahead": 2,
    "clock_jump": 2,
    "reboot_chain": 2,
    "broker_restart": 1,
    "api_restart": 1,
    "duplicate_delivery": 1,
}
SERVER_WEIGHTS = {
    "broker_kill": 3,
    "server_power_cut": 2,
    "database_restore": 2,
    "worker_kill": 1,
}
"""Faults of the fleet's server: kill -9 of the broker (ingestion running or down), of the
broker and the API together, the database restored from a backup, an ingest worker dead."""
DRAWS = 40
"""Attempts to draw the scenario's faults (a refused fault is drawn again)."""


def generate(seed: int) -> dict[str, Any]:
    """The scenario of ``seed``, as the mapping a scenario file holds (times in Riga time)."""
    rng = random.Random(f"campaign:{seed}")  # noqa: S311 - a simulation, not a secret
    first = FIRST_MONDAY + timedelta(weeks=rng.randint(0, 5))
    days = [first + timedelta(days=n) for n in range(rng.randint(2, 3))]
    exhibits = [f"ex-{n}" for n in range(1, rng.randint(2, 4) + 1)]
    schools = rng.sample(SCHOOLS, rng.randint(2, 3))
    raw: dict[str, Any] = {
        "name": f"campaign-{seed}",
        "description": f"randomized fault campaign, seed {seed}",
        "timezone": ZONE,
        "start": _at(days[0], time(6, 0)),
        "end": _at(days[-1], time(19, 0)),
        "seed": seed,
        "agent": {"bucket_seconds": 60, "keepalive_s": 5},
        "visitors": {
            "class": {
                "arrivals_per_hour": [rng.randint(4, 12) for _ in range(6)],
                "session_length": "90s",
                "interactions_per_session": [2, 6],
            }
        },
        "exhibits": [
            {"id": e, "inputs": rng.choice(INPUT_SETS), "visitors": "class"} for e in exhibits
        ],
        "schools": [
            {"key": k, "name": n, "municipality": m, "region": r, "area": a}
            for k, n, m, r, a in schools
        ],
        "visits": _visits(rng, days, exhibits, [s[0] for s in schools]),
        "depot_checks": [
            {"at": _at(days[0], time(6, 20)), "exhibits": "all", "touches": 2},
            {"at": _at(days[-1], time(17, 0)), "exhibits": "all", "touches": 2},
        ],
        "faults": [],
    }
    window = (_local(days[0], time(6, 30)), _local(days[-1], time(18, 0)))
    for _ in range(DRAWS):
        if len(raw["faults"]) >= rng.randint(3, 7):
            break
        kind = rng.choices(list(FAULT_WEIGHTS), list(FAULT_WEIGHTS.values()))[0]
        fault = _fault(rng, kind, exhibits, window)
        raw["faults"].append(fault)
        if not _valid(raw):
            raw["faults"].pop()
    server = _server_fault(random.Random(f"campaign-server:{seed}"), days, window)  # noqa: S311
    if server is not None:  # a stream of its own: the faults above stay those of the seed
        raw["faults"].append(server)
        if not _valid(raw):
            raw["faults"].pop()
    add_controllers(rng, raw, window, _scenario_of, ZONE)  # after the faults: same faults
    return raw


def _visits(
    rng: random.Random, days: list[date], exhibits: list[str], schools: list[str]
) -> list[dict[str, Any]]:
    visits: list[dict[str, Any]] = []
    for number, day in enumerate(days, start=1):
        where = {e: rng.choice([*schools, "depot"]) for e in exhibits}
        for school in schools:
            taken = [e for e in exhibits if where[e] == school]
            if not taken:
                continue
            start = time(rng.choice([8, 8, 9]), rng.choice([0, 30]))
            hours = rng.randint(4, 6)
            end = time(start.hour + hours, start.minute)
            visits.append(
                {
                    "key": f"{school}-{number}",
                    "school": school,
                    "days": day.isoformat(),
                    "hours": f"{start:%H:%M}-{end:%H:%M}",
                    "exhibits": taken,
                    "pupils": rng.randint(15, 80),
                    "checkout": rng.random() < 0.8,
                }
            )
    if not visits:  # every exhibit stayed at the depot: the first day goes to a school
        visits.append(
            {
                "key": f"{schools[0]}-1",
                "school": schools[0],
                "days": days[0].isoformat(),
                "hours": "09:00-14:00",
                "exhibits": list(exhibits),
                "pupils": 30,
                "checkout": True,
            }
        )
    return visits


def _fault(
    rng: random.Random, kind: str, exhibits: list[str], window: tuple[datetime, datetime]
) -> dict[str, Any]:
    start, end = window
    at = _moment(rng, start, end - timedelta(hours=1))
    one = rng.choice(exhibits)
    if kind == "partition":
        several = rng.sample(exhibits, rng.randint(1, len(exhibits)))
        length = timedelta(minutes=rng.randint(10, 20 * 60))
        how = rng.choice(["cut", "black_hole"])
        return {
            "kind": kind,
            "exhibits": several,
            "at": _text(at),
            "for": _span(length),
            "how": how,
        }
    if kind == "power_cut":
        off = timedelta(minutes=rng.randint(1, 90))
        fault: dict[str, Any] = {"kind": kind, "exhibit": one, "at": _text(at), "for": _span(off)}
        fault["in_flight"] = rng.choice([0, 0, 1, 2])
        offset = _offset(rng) if rng.random() < 0.7 else timedelta(0)
        if offset:
            fault["clock_behind" if offset < timedelta(0) else "clock_ahead"] = _span(abs(offset))
            fault.update(_sync(rng, at + off, end))
        return fault
    if kind in ("clock_behind", "clock_ahead"):
        field = "behind" if kind == "clock_behind" else "ahead"
        size = abs(_offset(rng))
        return {
            "kind": kind,
            "exhibit": one,
            "at": _text(at),
            field: _span(size),
            **_sync(rng, at, end),
        }
    if kind == "clock_jump":
        by = _offset(rng, low_minutes=10, high_hours=6)
        return {
            "kind": kind,
            "exhibit": one,
            "at": _text(at),
            "by": _signed(by),
            **_sync(rng, at, end),
        }
    if kind == "reboot_chain":
        boots = []
        moment = at
        for number in range(rng.randint(2, 3)):
            after = timedelta(minutes=rng.randint(30, 20 * 60)) if number else timedelta(0)
            cut = rng.random() < 0.6
            boot = {"after": _span(after), "offset": _signed(_offset(rng)), "power_cut": cut}
            if cut:
                boot["for"] = _span(timedelta(minutes=rng.randint(1, 30)))
            boots.append(boot)
            moment += after
        return {
            "kind": kind,
            "exhibit": one,
            "at": _text(at),
            "boots": boots,
            **_sync(rng, moment, end),
        }
    if kind in ("broker_restart", "api_restart"):
        restart: dict[str, Any] = {"kind": kind, "at": _text(at)}
        restart["for"] = _span(timedelta(minutes=rng.randint(0, 5)))
        if kind == "api_restart":
            restart["hard"] = rng.random() < 0.5
        return restart
    return {"kind": "duplicate_delivery", "at": _text(at), "batches": rng.randint(1, 5)}


def _server_fault(
    rng: random.Random, days: list[date], window: tuple[datetime, datetime]
) -> dict[str, Any] | None:
    """Half the seeds: one fault of the fleet's server (issue 14's kinds). A restore's
    backup is taken before the first day's depot check, so the restore takes records back."""
    if rng.random() < 0.5:
        return None
    kind = rng.choices(list(SERVER_WEIGHTS), list(SERVER_WEIGHTS.values()))[0]
    start, end = window
    at = _moment(rng, start, end - timedelta(hours=1))
    if kind == "database_restore":
        backup = _local(days[0], time(6, 5))
        restore = _moment(rng, _local(days[0], time(10, 0)), _local(days[0], time(18, 0)))
        return {"kind": kind, "at": _text(restore), "backup_at": _text(backup)}
    if kind == "worker_kill":
        return {"kind": kind, "at": _text(at)}
    fault: dict[str, Any] = {
        "kind": kind,
        "at": _text(at),
        "for": _span(timedelta(minutes=rng.randint(1, 10))),
    }
    if kind == "broker_kill" and rng.random() < 0.5:
        fault.update(ingest="down", ingest_down=_span(timedelta(minutes=rng.randint(5, 30))))
    return fault


def _sync(rng: random.Random, after: datetime, end: datetime) -> dict[str, str]:
    """NTP in the same boot, most of the time (else never in that boot)."""
    earliest = after + timedelta(hours=2)
    if rng.random() < 0.25 or earliest >= end:
        return {}
    return {"sync_at": _text(_moment(rng, earliest, end))}


def _offset(rng: random.Random, *, low_minutes: int = 60, high_hours: int = 40) -> timedelta:
    size = timedelta(minutes=rng.randint(low_minutes, high_hours * 60))
    return size if rng.random() < 0.5 else -size


def _valid(raw: dict[str, Any]) -> bool:
    return _scenario_of(raw) is not None


def _scenario_of(raw: dict[str, Any]) -> Scenario | None:
    """``raw`` as a scenario if every check accepts it (controllers' too), else None."""
    try:
        scenario = Scenario.model_validate(raw, context={"timezone": ZONE})
    except ValueError:
        return None
    return None if problems(scenario) or controller_problems(scenario) else scenario


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(ZONE))


def _at(day: date, at: time) -> str:
    return _text(_local(day, at))


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    minutes = max(0, int((end - start).total_seconds() // 60))
    return start + timedelta(minutes=rng.randint(0, minutes))


def _text(at: datetime) -> str:
    """A local time without an offset: the scenario's time zone says which."""
    return at.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M:00")


def _span(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())}s"


def _signed(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"+{seconds}s" if seconds >= 0 else f"-{-seconds}s"
