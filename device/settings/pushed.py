"""The configuration the fleet pushed, kept in the data directory and laid over the settings.

The fleet sends a document (``broker.exhibit_config``: inputs, outputs, behaviours,
attract mode, quiet hours, bucket and session lengths); once the agent accepts it
(``device.ops.remote_config``) it is written here, atomically (a temporary file, fsync,
rename, fsync of the directory), as ``pushed-config.json`` with its version and hash.
``with_pushed()`` lays it over the local settings whenever they are loaded: the document's
``inputs``, ``outputs`` and ``behaviours`` replace the local ones (absent: none),
``attract`` and ``quiet_hours`` too (absent: off), ``bucket_seconds`` and
``session_idle_s`` only when the document gives them. Everything else (exhibit id,
broker, credentials, indicator, data directory) stays local: the fleet cannot move an
exhibit to another broker or identity.

A file that cannot be read, or no longer fits the local settings (say, the indicator was
moved onto a pin the document uses), is logged and left out: the exhibit runs its local
settings, reports no ``config_version``, and the fleet's retained version, offered again,
is then refused with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.exhibit_config import config_hash, problems
from device.core.errors import ConfigError
from device.settings.config import AgentSettings

log = logging.getLogger(__name__)

PUSHED_FILE = "pushed-config.json"


@dataclass(frozen=True, slots=True)
class Pushed:
    """A configuration the fleet pushed: its version, hash and document."""

    version: int
    config_hash: str
    document: dict[str, Any]


def pushed_path(data_dir: Path) -> Path:
    """Where the accepted configuration is kept."""
    return data_dir / PUSHED_FILE


def overlaid(settings: AgentSettings, pushed: Pushed) -> AgentSettings:
    """``settings`` running ``pushed``; ConfigError (one line) if they do not fit together."""
    document = pushed.document
    values: dict[str, Any] = {
        "inputs": document["inputs"],
        "outputs": document.get("outputs", []),
        "behaviours": document.get("behaviours", []),
        "attract": document.get("attract"),
        "quiet_hours": document.get("quiet_hours"),
    }
    for name in ("bucket_seconds", "session_idle_s"):
        if name in document:
            values[name] = document[name]
    return dataclasses.replace(
        settings, **values, config_version=pushed.version, pushed_config_hash=pushed.config_hash
    )


def read_pushed(data_dir: Path) -> Pushed | None:
    """The accepted configuration in ``data_dir``, or None; ConfigError if it is damaged."""
    path = pushed_path(data_dir)
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}); delete it") from None
    try:
        pushed = Pushed(int(raw["version"]), str(raw["config_hash"]), dict(raw["config"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a pushed configuration ({exc}); delete it") from None
    if problems(pushed.document) or config_hash(pushed.document) != pushed.config_hash:
        raise ConfigError(f"{path}: damaged (its hash or checks fail); delete it")
    return pushed


def write_pushed(data_dir: Path, pushed: Pushed) -> None:
    """Keep ``pushed`` in ``data_dir``, atomically: the old file or the new, never half."""
    path = pushed_path(data_dir)
    body = json.dumps(
        {"version": pushed.version, "config_hash": pushed.config_hash, "config": pushed.document},
        sort_keys=True,
    ).encode()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as file:
        file.write(body)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)


def with_pushed(settings: AgentSettings) -> AgentSettings:
    """``settings`` with the fleet's accepted configuration laid over them, if there is one."""
    try:
        pushed = read_pushed(settings.data_dir)
        return settings if pushed is None else overlaid(settings, pushed)
    except ConfigError as exc:
        log.error("running the local settings, not the fleet's configuration: %s", exc)
        return settings
