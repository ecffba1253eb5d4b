"""The fleet's custody acknowledgements and resend requests, read without pydantic.

The agent's mirror of ``broker.messages.Custody`` and ``broker.messages.Resend``, with the
same checks and reason codes (``device.wire.codec.decode_inbound`` calls these once the payload
is a JSON object of schema version 1; ``tests/device/test_wire.py`` holds both readers
equal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.limits import MAX_CUSTODY_RANGES, SEQ_MAX
from device.wire.values import (
    exhibit_id_value,
    int_value,
    invalid,
    require_fields,
    text_value,
    time_value,
)

_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Custody:
    """What the fleet has stored: every seq below ``stored_below``, and ``ranges``."""

    exhibit_id: str
    stored_below: int
    ranges: tuple[tuple[int, int], ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class Resend:
    """Retained: send every record held from ``from_seq`` on again, once per id."""

    exhibit_id: str
    command_id: str
    from_seq: int
    issued_at: datetime


def _seq(name: str, value: object) -> int:
    return int_value(name, value, ge=1, le=SEQ_MAX)


def read_custody(raw: dict[str, Any]) -> Custody:
    """A ``Custody`` from its decoded JSON object; MessageError (``invalid``) if bad."""
    require_fields(raw, ("exhibit_id", "stored_below", "at"), ("ranges",))
    stored_below = _seq("stored_below", raw["stored_below"])
    given = raw.get("ranges", [])
    if not isinstance(given, list):
        raise invalid("ranges", f"{given!r} is not a list")
    if len(given) > MAX_CUSTODY_RANGES:
        raise invalid("ranges", f"more than {MAX_CUSTODY_RANGES} ranges")
    ranges: list[tuple[int, int]] = []
    for index, pair in enumerate(given):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise invalid(f"ranges.{index}", f"{pair!r} is not a [first, last] pair")
        ranges.append((_seq(f"ranges.{index}.0", pair[0]), _seq(f"ranges.{index}.1", pair[1])))
    exhibit_id = exhibit_id_value(raw["exhibit_id"])
    at = time_value("at", raw["at"])
    floor = stored_below
    for first, last in ranges:
        if not floor < first <= last:
            raise invalid("ranges", f"[{first}, {last}] is out of order")
        floor = last + 1
    return Custody(exhibit_id, stored_below, tuple(ranges), at)


def read_resend(raw: dict[str, Any]) -> Resend:
    """A ``Resend`` from its decoded JSON object; MessageError (``invalid``) if bad."""
    require_fields(raw, ("exhibit_id", "command_id", "from_seq", "issued_at"), ())
    return Resend(
        exhibit_id=exhibit_id_value(raw["exhibit_id"]),
        command_id=text_value(
            "command_id", raw["command_id"], pattern=_COMMAND_ID, min_length=1, max_length=64
        ),
        from_seq=_seq("from_seq", raw["from_seq"]),
        issued_at=time_value("issued_at", raw["issued_at"]),
    )
