"""The agent's side of the MQTT contract (``broker.messages``), in the standard library.

The contract's pydantic models are the fleet's; in the agent, importing them cost about
9 MB of RSS (pydantic-core and the compiled validators; measured on x86-64), against the
agent's 40 MB target. So the agent writes what those models write, and reads the
messages it receives, with the standard library:

- ``count_record()`` / ``session_record()`` (through ``record_json()``), ``status_payload()``,
  ``heartbeat_payload()`` and ``SelfTestResult.to_payload()`` give exactly the JSON of
  ``model_dump_json(exclude_none=True)``: the contract's field order, compact separators,
  UTC as ``Z``, absent optional values left out, floats laid out as pydantic-core lays
  them out (``0.00003`` and ``1e-7`` where ``json.dumps`` writes ``3e-05`` and ``1e-07``:
  ``values.contract_float``). A value the contract would refuse (out of
  its bounds, not matching its pattern, NaN, a naive time) raises ``MessageError``
  (reason ``invalid``) instead of being sent.
- ``decode_inbound()`` reads an ``Assignment``, a ``Command``, a ``Custody``, a ``Resend`` or
  an ``ExhibitConfig`` (the last three in ``custody.py`` and ``configs.py`` beside this one)
  with the contract's checks and its reason codes (``oversized``, ``malformed``,
  ``schema_version``, ``invalid``).

``tests/device/test_wire.py`` holds this module to the contract: every payload written
here validates with the pydantic models and equals their own encoding, and decoding
agrees with ``broker.messages.decode`` on good and bad payloads alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from broker.errors import MessageError
from broker.limits import MAX_AMOUNT, MAX_PAYLOAD_BYTES, MAX_SPAN_S, SCHEMA_VERSION, SEQ_MAX
from broker.topics import Channel
from device.wire.configs import ExhibitConfig, read_config
from device.wire.custody import Custody, Resend, read_custody, read_resend
from device.wire.values import (
    bool_value,
    boot_id_value,
    compact_json,
    exhibit_id_value,
    float_value,
    format_time,
    input_name_value,
    int_value,
    invalid,
    refused_value,
    require_fields,
    text_value,
    time_value,
)

_SHORT_TEXT = re.compile(r"^[^\x00-\x1f]*$")
_COMMAND_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_ACTIONS = ("identify", "self_test")
_OUTCOMES = ("ran", "expired", "refused_in_visit", "refused_unknown_age")


# -- records (the outbox stores them as this exact JSON) ---------------------------------

_COUNT_FIELDS = frozenset(
    {
        "type",
        "seq",
        "input",
        "start",
        "mono_start",
        "seconds",
        "count",
        "boot_id",
        "clock_synced",
        "visit_id",
    }
)
_SESSION_FIELDS = frozenset(
    {
        "type",
        "seq",
        "start",
        "mono_start",
        "dwell_s",
        "interactions",
        "boot_id",
        "clock_synced",
        "visit_id",
    }
)


def _visit_id(value: object) -> int | None:
    return None if value is None else int_value("visit_id", value, ge=1, le=SEQ_MAX)


def _required(fields: Mapping[str, Any], allowed: frozenset[str]) -> None:
    extra = sorted(set(fields) - allowed)
    if extra:
        raise invalid(extra[0], "extra field not permitted")
    missing = sorted(allowed - {"type", "visit_id"} - set(fields))
    if missing:
        raise invalid(missing[0], "field required")


def record_json(fields: Mapping[str, Any]) -> str:
    """A ``CountRecord`` or ``SessionRecord`` (by ``type``, default count) as its JSON."""
    kind = fields.get("type", "count")
    if kind == "session":
        _required(fields, _SESSION_FIELDS)
        return compact_json(
            {
                "type": "session",
                "seq": int_value("seq", fields["seq"], ge=1, le=SEQ_MAX),
                "start": format_time(time_value("start", fields["start"])),
                "mono_start": float_value("mono_start", fields["mono_start"], ge=0),
                "dwell_s": float_value("dwell_s", fields["dwell_s"], ge=0, le=MAX_SPAN_S),
                "interactions": int_value(
                    "interactions", fields["interactions"], ge=1, le=MAX_AMOUNT
                ),
                "boot_id": boot_id_value(fields["boot_id"]),
                "clock_synced": bool_value("clock_synced", fields["clock_synced"]),
                "visit_id": _visit_id(fields.get("visit_id")),
            }
        )
    if kind != "count":
        raise invalid("type", f"{kind!r} is neither 'count' nor 'session'")
    _required(fields, _COUNT_FIELDS)
    return compact_json(
        {
            "type": "count",
            "seq": int_value("seq", fields["seq"], ge=1, le=SEQ_MAX),
            "input": input_name_value("input", fields["input"]),
            "start": format_time(time_value("start", fields["start"])),
            "mono_start": float_value("mono_start", fields["mono_start"], ge=0),
            "seconds": float_value("seconds", fields["seconds"], gt=0, le=MAX_SPAN_S),
            "count": int_value("count", fields["count"], ge=0, le=MAX_AMOUNT),
            "boot_id": boot_id_value(fields["boot_id"]),
            "clock_synced": bool_value("clock_synced", fields["clock_synced"]),
            "visit_id": _visit_id(fields.get("visit_id")),
        }
    )


# -- what the agent announces ------------------------------------------------------------


def status_payload(
    *,
    exhibit_id: str,
    online: bool,
    at: datetime | None = None,
    boot_id: str | None = None,
    agent_version: str | None = None,
    config_hash: str | None = None,
    inputs: list[str] | None = None,
    config_version: int | None = None,
    refused_subscriptions: Mapping[str, str] | None = None,
) -> bytes:
    """A ``Status`` (birth, offline, or the last will without ``at``) as its payload."""

    def short(name: str, value: str | None) -> str | None:
        return (
            None if value is None else text_value(name, value, pattern=_SHORT_TEXT, max_length=64)
        )

    return compact_json(
        {
            "schema_version": SCHEMA_VERSION,
            "exhibit_id": exhibit_id_value(exhibit_id),
            "online": bool_value("online", online),
            "at": None if at is None else format_time(time_value("at", at)),
            "boot_id": None if boot_id is None else boot_id_value(boot_id),
            "agent_version": short("agent_version", agent_version),
            "config_hash": short("config_hash", config_hash),
            "inputs": None if inputs is None else [input_name_value("inputs", n) for n in inputs],
            "config_version": None
            if config_version is None
            else int_value("config_version", config_version, ge=1, le=SEQ_MAX),
            "refused_subscriptions": refused_value(refused_subscriptions),
        }
    ).encode()


def heartbeat_payload(
    *,
    exhibit_id: str,
    at: datetime,
    boot_id: str,
    uptime_s: float,
    clock_synced: bool,
    outbox_depth: int,
    cpu_temp_c: float | None = None,
    under_voltage: bool | None = None,
    throttled: bool | None = None,
    disk_free_bytes: int | None = None,
    mem_available_bytes: int | None = None,
    wifi_signal_dbm: float | None = None,
    retained_from_seq: int | None = None,
    retained_records: int | None = None,
    refused_subscriptions: Mapping[str, str] | None = None,
) -> bytes:
    """A ``Heartbeat`` as its payload; values the Pi cannot measure stay absent."""

    def optional(value: Any, check: Any, name: str, **bounds: Any) -> Any:
        return None if value is None else check(name, value, **bounds)

    return compact_json(
        {
            "schema_version": SCHEMA_VERSION,
            "exhibit_id": exhibit_id_value(exhibit_id),
            "at": format_time(time_value("at", at)),
            "boot_id": boot_id_value(boot_id),
            "uptime_s": float_value("uptime_s", uptime_s, ge=0),
            "clock_synced": bool_value("clock_synced", clock_synced),
            "outbox_depth": int_value("outbox_depth", outbox_depth, ge=0),
            "cpu_temp_c": optional(cpu_temp_c, float_value, "cpu_temp_c"),
            "under_voltage": optional(under_voltage, bool_value, "under_voltage"),
            "throttled": optional(throttled, bool_value, "throttled"),
            "disk_free_bytes": optional(disk_free_bytes, int_value, "disk_free_bytes", ge=0),
            "mem_available_bytes": optional(
                mem_available_bytes, int_value, "mem_available_bytes", ge=0
            ),
            "wifi_signal_dbm": optional(wifi_signal_dbm, float_value, "wifi_signal_dbm"),
            "retained_from_seq": optional(
                retained_from_seq, int_value, "retained_from_seq", ge=1, le=SEQ_MAX
            ),
            "retained_records": optional(retained_records, int_value, "retained_records", ge=0),
            "refused_subscriptions": refused_value(refused_subscriptions),
        }
    ).encode()


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    """Which inputs the technician's presses reached during a self-test window."""

    exhibit_id: str
    command_id: str
    at: datetime
    seen: dict[str, bool]
    passed: bool
    taken: dict[str, int] | None = None
    """Interactions the window took out of the counts, by count name."""

    def to_payload(self) -> bytes:
        """The contract's ``SelfTestResult`` JSON, as published and as kept in files."""
        return compact_json(
            {
                "schema_version": SCHEMA_VERSION,
                "exhibit_id": exhibit_id_value(self.exhibit_id),
                "command_id": text_value(
                    "command_id", self.command_id, min_length=1, max_length=64
                ),
                "at": format_time(time_value("at", self.at)),
                "seen": {
                    input_name_value("seen", k): bool_value("seen", v) for k, v in self.seen.items()
                },
                "passed": bool_value("passed", self.passed),
                "taken": None
                if self.taken is None
                else {
                    input_name_value("taken", k): int_value("taken", v, ge=0, le=MAX_AMOUNT)
                    for k, v in self.taken.items()
                },
            }
        ).encode()

    @classmethod
    def from_json(cls, payload: str | bytes) -> SelfTestResult:
        """Read back a result this module wrote (a file, the outbox); MessageError if bad."""
        raw = _object(payload)
        seen = raw.get("seen")
        if not isinstance(seen, dict):
            raise invalid("seen", "a table of input names is required")
        taken = raw.get("taken")
        if taken is not None and not isinstance(taken, dict):
            raise invalid("taken", "a table of count names is required")
        return cls(
            exhibit_id=exhibit_id_value(raw.get("exhibit_id")),
            command_id=text_value("command_id", raw.get("command_id"), min_length=1, max_length=64),
            at=time_value("at", raw.get("at")),
            seen={input_name_value("seen", k): bool_value("seen", v) for k, v in seen.items()},
            passed=bool_value("passed", raw.get("passed")),
            taken=None
            if taken is None
            else {
                input_name_value("taken", k): int_value("taken", v, ge=0, le=MAX_AMOUNT)
                for k, v in taken.items()
            },
        )


# -- what the fleet tells the agent ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assignment:
    """Retained: the visit an exhibit is checked out to, or none."""

    exhibit_id: str
    visit_id: int | None
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class Command:
    """Retained: a command to one exhibit, run once per ``command_id``."""

    exhibit_id: str
    command_id: str
    action: Literal["identify", "self_test"]
    seconds: float
    issued_at: datetime
    expires_at: datetime | None = None
    force: bool = False


def command_done_payload(
    command: Command, *, outcome: str, at: datetime, clock_synced: bool, visit_id: int | None
) -> bytes:
    """A ``CommandDone``: what became of ``command`` (``outcome``, ``broker.messages``)."""
    if outcome not in _OUTCOMES:
        raise invalid("outcome", f"{outcome!r} is not one of {', '.join(_OUTCOMES)}")
    return compact_json(
        {
            "schema_version": SCHEMA_VERSION,
            "exhibit_id": exhibit_id_value(command.exhibit_id),
            "command_id": text_value(
                "command_id", command.command_id, pattern=_COMMAND_ID, min_length=1, max_length=64
            ),
            "action": command.action,
            "outcome": outcome,
            "at": format_time(time_value("at", at)),
            "clock_synced": bool_value("clock_synced", clock_synced),
            "visit_id": _visit_id(visit_id),
        }
    ).encode()


def _object(payload: str | bytes) -> dict[str, Any]:
    try:
        raw: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError("malformed", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MessageError("malformed", "payload is not a JSON object")
    return raw


def decode_inbound(
    channel: Channel, payload: bytes
) -> Assignment | Command | Custody | Resend | ExhibitConfig:
    """Parse a message of the fleet; MessageError with the contract's reasons."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    raw = _object(payload)
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise MessageError(
            "schema_version", f"schema_version {version!r} is not supported (expected 1)"
        )
    if channel is Channel.ASSIGNMENT:
        require_fields(raw, ("exhibit_id", "issued_at"), ("visit_id",))
        return Assignment(
            exhibit_id=exhibit_id_value(raw["exhibit_id"]),
            visit_id=_visit_id(raw.get("visit_id")),
            issued_at=time_value("issued_at", raw["issued_at"]),
        )
    if channel is Channel.COMMAND:
        require_fields(
            raw,
            ("exhibit_id", "command_id", "action", "seconds", "issued_at"),
            ("expires_at", "force"),
        )
        action = raw["action"]
        if action not in _ACTIONS:
            raise invalid("action", f"{action!r} is not one of {', '.join(_ACTIONS)}")
        return Command(
            exhibit_id=exhibit_id_value(raw["exhibit_id"]),
            command_id=text_value(
                "command_id", raw["command_id"], pattern=_COMMAND_ID, min_length=1, max_length=64
            ),
            action=action,
            seconds=float_value("seconds", raw["seconds"], gt=0, le=600),
            issued_at=time_value("issued_at", raw["issued_at"]),
            expires_at=None
            if raw.get("expires_at") is None
            else time_value("expires_at", raw["expires_at"]),
            force=raw.get("force") is not None and bool_value("force", raw["force"]),
        )
    if channel is Channel.CUSTODY:
        return read_custody(raw)
    if channel is Channel.RESEND:
        return read_resend(raw)
    if channel is Channel.CONFIG:
        return read_config(raw)
    raise MessageError("invalid", f"the agent does not read the {channel.value} channel")
