"""The agent's side of the configuration channels (``broker.messages``), in the standard library.

- ``read_config()`` reads a retained ``ExhibitConfig`` (the fleet's newest version for this
  exhibit) with the contract's checks: its envelope first (``version``, ``config_hash``,
  ``issued_at``, ``force``), then the document with ``broker.exhibit_config``, the checker
  the fleet used. A document the checker refuses, or one whose hash is not ``config_hash``,
  raises ``ConfigRefused``: a ``MessageError`` (reason ``invalid``, as the contract's model
  has it) that still carries the envelope, so the agent can report *which* version it
  refused, and why, in the checker's own line.
- ``config_report_payload()`` writes a ``ConfigReport`` (``applied``, ``waiting`` or
  ``refused`` with its reason) exactly as the contract's model writes it.

``tests/device/test_wire_config.py`` holds both to the pydantic models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.errors import MessageError
from broker.exhibit_config import config_hash, describe, problems
from broker.limits import SCHEMA_VERSION, SEQ_MAX
from device.wire.values import (
    bool_value,
    compact_json,
    exhibit_id_value,
    format_time,
    int_value,
    invalid,
    require_fields,
    text_value,
    time_value,
)

_HASH = re.compile(r"^[0-9a-f]{16}$")
_SHORT_TEXT = re.compile(r"^[^\x00-\x1f]*$")
_CONTROL = re.compile(r"[\x00-\x1f]")
OUTCOMES = ("applied", "waiting", "refused")
MAX_REASON = 500
"""The contract's longest ``reason``; a longer one is cut (the start names the setting)."""


@dataclass(frozen=True, slots=True)
class ExhibitConfig:
    """Retained: the configuration the fleet wants this exhibit to run."""

    exhibit_id: str
    version: int
    config_hash: str
    config: dict[str, Any]
    issued_at: datetime
    force: bool = False


class ConfigRefused(MessageError):
    """A configuration whose envelope is good but whose document cannot be applied."""

    def __init__(self, config: ExhibitConfig, why: str) -> None:
        super().__init__("invalid", why)
        self.config = config


def read_config(raw: dict[str, Any]) -> ExhibitConfig:
    """An ``ExhibitConfig`` from its JSON object (schema version already checked).

    MessageError (``invalid``) for a bad envelope; ``ConfigRefused`` for a bad document.
    """
    require_fields(raw, ("exhibit_id", "version", "config_hash", "config", "issued_at"), ("force",))
    document = raw["config"]
    if not isinstance(document, dict):
        raise invalid("config", f"{type(document).__name__} is not an object")
    config = ExhibitConfig(
        exhibit_id=exhibit_id_value(raw["exhibit_id"]),
        version=int_value("version", raw["version"], ge=1, le=SEQ_MAX),
        config_hash=text_value("config_hash", raw["config_hash"], pattern=_HASH),
        config=document,
        issued_at=time_value("issued_at", raw["issued_at"]),
        force=raw.get("force") is not None and bool_value("force", raw["force"]),
    )
    found = problems(document)
    if found:
        raise ConfigRefused(config, describe(found))
    if config_hash(document) != config.config_hash:
        raise ConfigRefused(config, "config_hash is not the hash of config")
    return config


def one_line(reason: str) -> str:
    """``reason`` as the contract takes it: no control characters, at most 500 long."""
    line = _CONTROL.sub(" ", reason)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def config_report_payload(
    config: ExhibitConfig,
    *,
    outcome: str,
    at: datetime,
    clock_synced: bool,
    reason: str | None = None,
) -> bytes:
    """A ``ConfigReport``: what became of ``config`` (``reason`` only when refused)."""
    if outcome not in OUTCOMES:
        raise invalid("outcome", f"{outcome!r} is not one of {', '.join(OUTCOMES)}")
    return compact_json(
        {
            "schema_version": SCHEMA_VERSION,
            "exhibit_id": exhibit_id_value(config.exhibit_id),
            "version": int_value("version", config.version, ge=1, le=SEQ_MAX),
            "config_hash": text_value(
                "config_hash", config.config_hash, pattern=_SHORT_TEXT, max_length=64
            ),
            "outcome": outcome,
            "reason": None if reason is None else one_line(reason),
            "at": format_time(time_value("at", at)),
            "clock_synced": bool_value("clock_synced", clock_synced),
        }
    ).encode()
