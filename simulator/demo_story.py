"""The demo's story: a term of field trips to Latgale and Kurzeme schools, and today's.

:func:`term` writes it as a scenario (``simulator/scenario.py``): six schools in their
canonical places, past field trips on school days of the last five weeks with pupils,
teachers, grades and programmes, today's trip from a few minutes ago, one trip planned
next week and one cancelled. Its visitors come in groups (a class at an exhibit, then a
pause longer than the agents' session idle time), so sessions and dwell are real. The
same seed gives the same term. :func:`register` creates it all in the fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from simulator.fleet_client import FleetClient
from simulator.plan import PlannedTouch, build_plan
from simulator.scenario import Scenario, VisitorProfile
from simulator.scenario_controller import document

SCHOOLS = (
    # key, name, place code, region (its planning region), area
    ("rezekne", "Rēzeknes Valsts 1. ģimnāzija", "LV-REZ", "Latgale", "urban"),
    ("ludza", "Ludzas 2. vidusskola", "LV-058", "Latgale", "urban"),
    ("kraslava", "Krāslavas pamatskola", "LV-047", "Latgale", "rural"),
    ("kuldiga", "Kuldīgas Centra vidusskola", "LV-050", "Kurzeme", "urban"),
    ("aizpute", "Aizputes vidusskola", "LV-112", "Kurzeme", "rural"),
    ("ventspils", "Ventspils 4. vidusskola", "LV-VEN", "Kurzeme", "urban"),
)
PROGRAMMES = (
    # name, lowest grade, highest grade, STEM area
    ("Gaisma un krāsas", 1, 4, "science"),
    ("Kustība un spēks", 5, 9, "engineering"),
    ("Skaitļi ap mums", 1, 6, "mathematics"),
    ("Inženieru darbnīca", 7, 12, "technology"),
)
EXHIBITS = (
    ("Svārsts", [{"name": "button", "kind": "button"}, {"name": "beam", "kind": "beam"}]),
    ("Prizma", [{"name": "button", "kind": "button"}, {"name": "dial", "kind": "rotary"}]),
    ("Zobrati", [{"name": "crank", "kind": "rotary"}, {"name": "button", "kind": "button"}]),
    ("Magnēts", [{"name": "button", "kind": "button"}]),
)
_SIGN = {"idle_s": 120, "actions": [{"output": "sign", "action": "blink", "on_s": 0.3}]}
CONTROLLERS: tuple[dict[str, Any], ...] = (
    # What each exhibit drives (docs/controller.md); the sign blinks to attract visitors.
    {
        "outputs": [
            {"name": "lamp", "kind": "led"},
            {"name": "fan", "kind": "relay", "active_high": False},
            {"name": "sign", "kind": "led"},
        ],
        "behaviours": [
            {"input": "button", "event": "press", "output": "lamp", "action": "on", "seconds": 5},
            {"input": "beam", "event": "beam_broken", "output": "fan", "action": "on"},
            {"input": "beam", "event": "beam_restored", "output": "fan", "action": "off"},
        ],
        "attract": _SIGN,
    },
    {
        "outputs": [
            {"name": "prism", "kind": "rgbled"},
            {"name": "arm", "kind": "servo"},
            {"name": "sign", "kind": "led"},
        ],
        "behaviours": [
            {
                "input": "button",
                "event": "press",
                "output": "prism",
                "action": "on",
                "color": [1, 0.2, 0],
                "seconds": 5,
            },
            {
                "input": "dial",
                "event": "rotation",
                "output": "arm",
                "action": "angle",
                "angle": 45,
                "seconds": 3,
            },
        ],
        "attract": _SIGN,
    },
    {
        "outputs": [
            {"name": "motor", "kind": "motor"},
            {"name": "horn", "kind": "tonal_buzzer"},
            {"name": "sign", "kind": "led"},
        ],
        "behaviours": [
            {
                "input": "crank",
                "event": "rotation",
                "output": "motor",
                "action": "speed",
                "speed": 0.6,
                "seconds": 3,
            },
            {
                "input": "button",
                "event": "press",
                "output": "horn",
                "action": "tone",
                "frequency_hz": 440,
                "seconds": 1,
            },
        ],
        "attract": _SIGN,
    },
    {
        "outputs": [
            {"name": "magnet", "kind": "relay"},
            {"name": "sign", "kind": "led"},
        ],
        "behaviours": [
            {"input": "button", "event": "press", "output": "magnet", "action": "on", "seconds": 3}
        ],
        "attract": _SIGN,
    },
)
STAFF = ("Anna Bērziņa", "Jānis Ozols", "Līga Kalniņa")
TRIP_HOURS = ("07:00-11:00", "07:30-11:30", "08:00-12:00")  # UTC: 09:00-14:00 in Riga
PAST_TRIPS = 8


@dataclass(frozen=True, slots=True)
class Trip:
    """A field trip of the story, with what the scenario does not know."""

    school: str
    programmes: list[str]
    teachers: int
    staff: str
    status: str = "planned"  # cancelled: staff call it off (with a reason)


def _school_days(today: date, rng: random.Random) -> list[date]:
    days = [today - timedelta(days=n) for n in range(1, 36)]
    weekdays = [day for day in days if day.weekday() < 5]
    return sorted(rng.sample(weekdays, PAST_TRIPS))


def _next_weekday(day: date, ahead: int) -> date:
    later = day + timedelta(days=ahead)
    while later.weekday() >= 5:
        later += timedelta(days=1)
    return later


def _grades(rng: random.Random, programmes: list[str]) -> list[int]:
    low, high = next((p[1], p[2]) for p in PROGRAMMES if p[0] == programmes[0])
    first = rng.randint(low, max(low, high - 1))
    return [first, first + 1] if first < high else [first]


def term(
    now: datetime, *, exhibits: int, seed: int, hours: float, bucket_seconds: float
) -> tuple[Scenario, list[Trip]]:
    """The story as a scenario (visits in time order, today's last but two) and its trips."""
    rng = random.Random(seed)  # noqa: S311 - a story, not a secret
    ids = [f"sim-{n:03d}" for n in range(1, exhibits + 1)]
    today = now.date()
    visits: list[dict[str, Any]] = []
    trips: list[Trip] = []

    def add(school: str, day: date, window: str, pupils: int | None, **trip: Any) -> None:
        programmes = rng.sample([p[0] for p in PROGRAMMES], rng.choice((1, 1, 2)))
        visits.append(
            {
                "school": school,
                "days": day.isoformat(),
                "hours": window,
                "exhibits": ids,
                "pupils": pupils,
                "grades": _grades(rng, programmes),
                "checkout": False,
            }
        )
        trips.append(
            Trip(
                school,
                programmes,
                teachers=rng.randint(2, 4),
                staff=rng.choice(STAFF),
                **trip,
            )
        )

    keys = [school[0] for school in SCHOOLS]
    for n, day in enumerate(_school_days(today, rng)):
        add(keys[n % len(keys)], day, rng.choice(TRIP_HOURS), rng.randint(18, 62))
    start = (now - timedelta(minutes=10)).replace(second=0, microsecond=0)
    midnight = datetime.combine(today, time(23, 59), tzinfo=UTC)
    end = min(now + timedelta(hours=hours), midnight)
    add("ludza", today, f"{start:%H:%M}-{end:%H:%M}", 46)
    add("aizpute", _next_weekday(today, 6), "07:00-11:00", 38)
    add("kuldiga", _next_weekday(today, 16), "08:00-12:00", 25, status="cancelled")
    first = min(date.fromisoformat(v["days"]) for v in visits)
    scenario = Scenario.model_validate(
        {
            "name": "demo-term",
            "description": "a term of field trips to Latgale and Kurzeme schools",
            "start": datetime.combine(first, time(5, 0), tzinfo=UTC),
            "end": end,
            "seed": seed,
            "agent": {
                "bucket_seconds": bucket_seconds,
                "session_idle_s": 30,
                "heartbeat_seconds": 60,
            },
            "visitors": {
                "class": {
                    "arrivals_per_hour": [6, 9, 9, 7, 9, 8, 6, 5],
                    "session_length": "75s",
                    "interactions_per_session": [3, 9],
                }
            },
            "exhibits": [
                {
                    "id": exhibit_id,
                    "inputs": EXHIBITS[n % len(EXHIBITS)][1],
                    "visitors": "class",
                    "controller": CONTROLLERS[n % len(CONTROLLERS)],
                }
                for n, exhibit_id in enumerate(ids)
            ],
            "schools": [
                {"key": key, "name": name, "municipality": code, "region": region, "area": area}
                for key, name, code, region, area in SCHOOLS
            ],
            "visits": visits,
        }
    )
    return scenario, trips


def live_plan(scenario: Scenario, today: int) -> list[PlannedTouch]:
    """Today's trip, busier than the term's average (a class every minute or two), so the
    demo shows numbers moving; touches carry the trip's index in ``scenario``."""
    busy = VisitorProfile.model_validate(
        {
            "arrivals_per_hour": [40] * 24,
            "session_length": "60s",
            "interactions_per_session": [3, 8],
        }
    )
    alone = scenario.model_copy(
        update={"visits": [scenario.visits[today]], "visitors": {"class": busy}}
    )
    return [replace(t, visit=today) for t in build_plan(alone).touches if t.visit == 0]


def lamp_for_8_s(scenario: Scenario) -> tuple[str, dict[str, Any]]:
    """A technician's change for the demo: the first exhibit's lamp now stays on 8 s (the
    document the fleet pushes: its inputs as wired and its controller with the change)."""
    exhibit_id, exhibit = next(iter(scenario.exhibit_defs().items()))
    assert exhibit.controller is not None
    rules = [
        {**rule, "seconds": 8} if rule.get("output") == "lamp" else rule
        for rule in exhibit.controller.behaviours
    ]
    changed = exhibit.controller.model_copy(update={"behaviours": rules})
    return exhibit_id, document(exhibit.inputs, changed)


def exhibit_name(scenario: Scenario, exhibit_id: str) -> str:
    """The exhibit's name in the story (``Svārsts``, ...)."""
    index = list(scenario.exhibit_defs()).index(exhibit_id)
    return EXHIBITS[index % len(EXHIBITS)][0]


def register(client: FleetClient, scenario: Scenario, trips: list[Trip]) -> list[int]:
    """Create the exhibits, programmes, schools and trips in the fleet; the trips' ids."""
    for exhibit_id in scenario.exhibit_defs():
        client.ensure_exhibit(exhibit_id, exhibit_name(scenario, exhibit_id))
    programmes = {
        name: client.create_programme(name=name, grade_min=low, grade_max=high, stem_area=area)
        for name, low, high, area in PROGRAMMES
    }
    schools = {
        school.key: client.create_school(
            name=school.name,
            municipality=school.municipality,
            region=school.region,
            area=school.area,
        )
        for school in scenario.schools
    }
    ids = []
    for visit, trip in zip(scenario.visits, trips, strict=True):
        visit_id = client.create_visit(
            school_id=schools[visit.school],
            starts_at=visit.starts_at,
            ends_at=visit.ends_at,
            exhibit_ids=visit.exhibits,
            pupils=visit.pupils,
            grades=visit.grades,
            teachers=trip.teachers,
            staff=trip.staff,
            programme_ids=[programmes[name] for name in trip.programmes],
        )
        if trip.status == "cancelled":
            client.cancel_visit(visit_id, "Skolā gripas karantīna: izbraukums pārcelts")
        ids.append(visit_id)
    return ids
