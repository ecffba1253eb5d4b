"""Field types of scenario files: durations, times, time zones, school days and hours, ranges.

Each parses what a person writes in YAML (``20m``, ``-26h``, ``1d2h``, ``08:00-15:00``,
``2026-03-02..2026-03-04``, ``ex-01..ex-50``, ``Europe/Riga``) and says how to fix anything
else. A time without an offset is in the scenario's time zone (``timezone:``, UTC if
absent); the loader passes that zone in the validation context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, PlainSerializer, ValidationInfo

_SIGNED = re.compile(r"^\s*([+-])\s*(.+)$")
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([dhms]))+\s*$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNITS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}
_HOURS = re.compile(r"^(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})$")
_RANGE = re.compile(r"^(?P<head>.*?)(?P<first>\d+)\.\.(?P=head)(?P<last>\d+)$")
MAX_RANGE = 1000


def parse_duration(value: Any) -> timedelta:
    """``90`` (seconds), ``"90s"``, ``"20m"``, ``"8h"``, ``"1d2h30m"`` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"a duration is a number of seconds or like 20m, 8h, 1d (got {value!r})")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"a duration cannot be negative (got {value})")
        return timedelta(seconds=float(value))
    if isinstance(value, str) and _DURATION.match(value):
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))
        return timedelta(seconds=seconds)
    raise ValueError(
        f"a duration is a number of seconds or like 90s, 20m, 8h, 1d2h (got {value!r})"
    )


def parse_signed_duration(value: Any) -> timedelta:
    """Like :func:`parse_duration`, with a sign: ``-26h`` (behind), ``+3h`` or ``3h`` (ahead)."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=float(value))
    found = _SIGNED.match(value) if isinstance(value, str) else None
    if found is not None:
        magnitude = parse_duration(found[2])
        return -magnitude if found[1] == "-" else magnitude
    try:
        return parse_duration(value)
    except ValueError:
        raise ValueError(f"a clock offset is like -26h, +3h, 1d2h (got {value!r})") from None


def zone(name: Any) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Riga``, ``UTC``)."""
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone; use an IANA name, e.g. Europe/Riga or UTC"
        ) from None


def context_zone(info: ValidationInfo | None) -> str:
    """The scenario's time zone from the validation context (UTC without one)."""
    context = info.context if info is not None else None
    found = context.get("timezone") if isinstance(context, dict) else None
    return found if isinstance(found, str) else "UTC"


def parse_time(value: Any, info: ValidationInfo | None) -> datetime:
    """A datetime (YAML timestamp or ISO 8601 string) in UTC; naive means the scenario's zone."""
    local = zone(context_zone(info))
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"use an ISO 8601 time in UTC, e.g. 2026-03-02T08:00:00Z (got {value!r})"
            ) from None
    if isinstance(value, date) and not isinstance(value, datetime):
        raise ValueError(f"give a time of day too, e.g. {value.isoformat()}T08:00:00Z")
    if not isinstance(value, datetime):
        raise ValueError(f"use an ISO 8601 time in UTC, e.g. 2026-03-02T08:00:00Z (got {value!r})")
    if value.tzinfo is None:
        return value.replace(tzinfo=local).astimezone(UTC)
    return value.astimezone(UTC)


def parse_utc(value: Any) -> datetime:
    """A datetime (YAML timestamp or ISO 8601 string) in UTC; naive means UTC."""
    return parse_time(value, None)


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"a day is a date without a time, e.g. 2026-03-02 (got {value!r})")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"a day is a date like 2026-03-02 (got {value!r})") from None


def parse_days(value: Any) -> list[date]:
    """A date, ``first..last``, or a list of dates -> sorted distinct days."""
    if isinstance(value, list):
        days = [_parse_date(item) for item in value]
    elif isinstance(value, str) and ".." in value:
        first_text, _, last_text = value.partition("..")
        first, last = _parse_date(first_text), _parse_date(last_text)
        if last < first:
            raise ValueError(f"{value!r}: the last day is before the first")
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    else:
        days = [_parse_date(value)]
    if not days:
        raise ValueError("give at least one day")
    return sorted(set(days))


@dataclass(frozen=True, slots=True)
class Hours:
    """The part of each day a visit runs, in the visit's local time."""

    start: time
    end: time

    def on(self, day: date, timezone: str = "UTC") -> tuple[datetime, datetime]:
        """The window of ``day`` in ``timezone``, as UTC times."""
        local = zone(timezone)
        return (
            datetime.combine(day, self.start, tzinfo=local).astimezone(UTC),
            datetime.combine(day, self.end, tzinfo=local).astimezone(UTC),
        )

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_hours(value: Any) -> Hours:
    """``"08:00-15:00"`` -> Hours (the end after the start, on the same day)."""
    if isinstance(value, Hours):
        return value
    found = _HOURS.match(str(value).strip()) if isinstance(value, str) else None
    if found is None:
        raise ValueError(f"use HH:MM-HH:MM, e.g. 08:00-15:00 (got {value!r})")
    h1, m1, h2, m2 = (int(part) for part in found.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{value!r} is not a time of day range")
    hours = Hours(time(h1, m1), time(h2, m2))
    if hours.end <= hours.start:
        raise ValueError(f"{value!r}: the end must be after the start on the same day")
    return hours


def expand_ids(value: Any) -> list[str]:
    """A list of exhibit ids where ``ex-01..ex-50`` stands for fifty of them; or ``all``."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"an exhibit id is text (got {item!r})")
        ids.extend(expand_range(item))
    return ids


def expand_range(text: str) -> list[str]:
    """``ex-01..ex-05`` -> five ids with the same zero padding; anything else is itself."""
    if ".." not in text:
        return [text]
    found = _RANGE.match(text)
    if found is None:
        raise ValueError(
            f"{text!r}: a range is written like ex-01..ex-50 (same prefix, numbers at the end)"
        )
    first, last = int(found["first"]), int(found["last"])
    if last < first or last - first >= MAX_RANGE:
        raise ValueError(f"{text!r}: a range goes up, by at most {MAX_RANGE} ids")
    width = len(found["first"])
    return [f"{found['head']}{n:0{width}d}" for n in range(first, last + 1)]


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda d: d.total_seconds(), return_type=float),
]
SignedDuration = Annotated[
    timedelta,
    BeforeValidator(parse_signed_duration),
    PlainSerializer(lambda d: d.total_seconds(), return_type=float),
]
UtcTime = Annotated[datetime, BeforeValidator(parse_time)]
"""A moment; written without an offset it is in the scenario's time zone."""
Days = Annotated[list[date], BeforeValidator(parse_days)]
HoursField = Annotated[Hours, BeforeValidator(parse_hours), PlainSerializer(str, return_type=str)]
ExhibitList = Annotated[list[str], BeforeValidator(expand_ids)]
