"""CountBatch payloads straight to record rows: one ``json.loads``, no model per record.

The pydantic models of :mod:`broker.messages` stay the contract. :func:`read_counts`
reads only the form our agents write -- exact JSON types, UTC times written with ``Z``
or ``+00:00`` -- and checks every bound of the contract on it. Anything else (a value
pydantic would coerce, or reject, or a payload that is not JSON) gives None, and the
caller decodes the payload with the model, which accepts it with the same values or
quarantines it with the same precise reason as always. So this changes how fast a
batch is read, never what is accepted: ``tests/fleet_api/test_record_rows.py`` checks
that whatever this reads, the model reads with equal values.

A record is one tuple, :data:`RecordRow`, in the batch's order (a seq may repeat in a
batch, and the first one counts).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from broker.limits import (
    BOOT_ID_MAX_LENGTH,
    BOOT_ID_PATTERN,
    INPUT_NAME_PATTERN,
    MAX_AMOUNT,
    MAX_PAYLOAD_BYTES,
    MAX_RECORDS_PER_BATCH,
    MAX_SPAN_S,
    SCHEMA_VERSION,
    SEQ_MAX,
)
from broker.messages import CountBatch
from broker.topics import EXHIBIT_ID_PATTERN

RecordRow = tuple[str, int, str, datetime, float, bool, int | None, str, float, int]
"""(type, seq, boot_id, start, mono_start, clock_synced, visit_id, input, amount2, amount):
for a count ``input``, ``seconds``, ``count``; for a session ``""``, ``dwell_s``,
``interactions``."""

COUNT: Final = "count"
SESSION: Final = "session"


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """The records of one CountBatch, as rows (the batch's ``sent_at`` is not kept)."""

    exhibit_id: str
    records: list[RecordRow]


def rows_of(batch: CountBatch) -> RecordBatch:
    """The rows of a batch decoded by the model (the form :func:`read_counts` leaves to it)."""
    rows: list[RecordRow] = []
    for r in batch.records:
        common = (r.seq, r.boot_id, r.start, r.mono_start, r.clock_synced, r.visit_id)
        if r.type == COUNT:
            rows.append((COUNT, *common, r.input, r.seconds, r.count))
        else:
            rows.append((SESSION, *common, "", r.dwell_s, r.interactions))
    return RecordBatch(batch.exhibit_id, rows)


_BATCH_KEYS = frozenset({"schema_version", "exhibit_id", "sent_at", "records"})
_COUNT_KEYS = frozenset(
    {"type", "seq", "input", "start", "mono_start", "seconds", "count", "boot_id", "clock_synced"}
)
_SESSION_KEYS = frozenset(
    {"type", "seq", "start", "mono_start", "dwell_s", "interactions", "boot_id", "clock_synced"}
)
_TAGGED_COUNT_KEYS = _COUNT_KEYS | {"visit_id"}
_TAGGED_SESSION_KEYS = _SESSION_KEYS | {"visit_id"}
# The contract's patterns (broker/limits.py).
_EXHIBIT_ID = re.compile(EXHIBIT_ID_PATTERN)
_INPUT = re.compile(INPUT_NAME_PATTERN)
_BOOT_ID = re.compile(BOOT_ID_PATTERN)
# UTC only, at most microseconds: every other form is left to pydantic's own parser.
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|\+00:00)")
_EXACT_FLOAT = 2**53
"""Past this an int is not exactly a float: leave such values to pydantic."""


class _Defer(Exception):
    """Not the canonical form: let the model decide."""


def read_counts(payload: bytes) -> RecordBatch | None:
    """The rows of a canonical, valid CountBatch payload; None for anything else."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        raw: Any = json.loads(payload)
        return _read(raw)
    except (_Defer, ValueError, TypeError, KeyError, OverflowError):
        # ValueError covers JSON and Unicode errors: the model's decode words them.
        return None


def _read(raw: Any) -> RecordBatch:
    if type(raw) is not dict or raw.keys() != _BATCH_KEYS:
        raise _Defer
    version = raw["schema_version"]
    exhibit_id = raw["exhibit_id"]
    records = raw["records"]
    if type(version) is not int or version != SCHEMA_VERSION:
        raise _Defer
    if type(exhibit_id) is not str or _EXHIBIT_ID.fullmatch(exhibit_id) is None:
        raise _Defer
    if type(records) is not list or not 1 <= len(records) <= MAX_RECORDS_PER_BATCH:
        raise _Defer
    times: dict[str, datetime] = {}
    _time(raw["sent_at"], times)
    # Names seen valid in this batch: most records repeat a few inputs and boots.
    inputs: set[str] = set()
    boots: set[str] = set()
    rows: list[RecordRow] = []
    append = rows.append
    for record in records:
        if type(record) is not dict:
            raise _Defer
        keys = record.keys()
        kind = record.get("type")
        if kind == COUNT:
            if keys != _COUNT_KEYS and keys != _TAGGED_COUNT_KEYS:
                raise _Defer
            name = record["input"]
            if name not in inputs:
                if type(name) is not str or _INPUT.fullmatch(name) is None:
                    raise _Defer
                inputs.add(name)
            seconds = _float(record["seconds"])
            count = record["count"]
            if (
                not 0 < seconds <= MAX_SPAN_S
                or type(count) is not int
                or not 0 <= count <= MAX_AMOUNT
            ):
                raise _Defer
            second, amount = seconds, count
        elif kind == SESSION:
            if keys != _SESSION_KEYS and keys != _TAGGED_SESSION_KEYS:
                raise _Defer
            name = ""
            dwell = _float(record["dwell_s"])
            interactions = record["interactions"]
            if (
                not 0 <= dwell <= MAX_SPAN_S
                or type(interactions) is not int
                or not 1 <= interactions <= MAX_AMOUNT
            ):
                raise _Defer
            second, amount = dwell, interactions
        else:
            raise _Defer
        seq = record["seq"]
        if type(seq) is not int or not 1 <= seq <= SEQ_MAX:
            raise _Defer
        boot_id = record["boot_id"]
        if boot_id not in boots:
            if (
                type(boot_id) is not str
                or len(boot_id) > BOOT_ID_MAX_LENGTH
                or _BOOT_ID.fullmatch(boot_id) is None
            ):
                raise _Defer
            boots.add(boot_id)
        mono_start = _float(record["mono_start"])
        if not mono_start >= 0:
            raise _Defer
        synced = record["clock_synced"]
        if type(synced) is not bool:
            raise _Defer
        visit_id = record.get("visit_id")
        if visit_id is not None and (type(visit_id) is not int or not 1 <= visit_id <= SEQ_MAX):
            raise _Defer
        start = times.get(record["start"]) or _time(record["start"], times)
        append((kind, seq, boot_id, start, mono_start, synced, visit_id, name, second, amount))
    return RecordBatch(exhibit_id, rows)


def _float(value: Any) -> float:
    """A finite float from a JSON number, as pydantic's float fields read it."""
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):  # json.loads reads NaN and Infinity
            raise _Defer
        return value  # type: ignore[no-any-return]
    if kind is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT:
        return float(value)
    raise _Defer


def _time(value: Any, seen: dict[str, datetime]) -> datetime:
    """A UTC time from its canonical text, remembered in ``seen``."""
    if type(value) is not str or _UTC_TIME.fullmatch(value) is None:
        raise _Defer
    parsed = datetime.fromisoformat(value).astimezone(UTC)
    seen[value] = parsed
    return parsed
