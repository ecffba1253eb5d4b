"""The agent's settings: environment variables ``EXHIBIT_*``, optionally a TOML file.

Precedence, highest first: values passed in code, environment variables, the TOML file
named by ``EXHIBIT_CONFIG``. Lists and tables are JSON in the environment, e.g.::

    EXHIBIT_EXHIBIT_ID=exhibit-001
    EXHIBIT_BROKER_URL=mqtts://broker.example.org:8883
    EXHIBIT_USERNAME=exhibit-001
    EXHIBIT_PASSWORD=...
    EXHIBIT_TLS_CA_FILE=/etc/exhibit-agent/broker-ca.crt
    EXHIBIT_INPUTS='[{"name": "button", "kind": "button", "pin": 17}]'
    EXHIBIT_INDICATOR='{"pin": 27}'

An indicator's fields may also come one by one (``EXHIBIT_INDICATOR__PIN=27``). Environment
variable names are case-insensitive; unknown ``EXHIBIT_*`` variables are ignored, unknown
keys in the file or in code are errors.

Inputs and their rules are described in ``device.settings.wiring``. ``load_settings()`` turns every
mistake into a one-line ``ConfigError`` naming the setting and the fix
(``device.settings.config_errors``); so does building ``AgentSettings`` directly. Everything here is
the standard library (``tomllib``, dataclasses, ``device.settings.setting_types``): the agent
imports no pydantic.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from broker.endpoint import BrokerEndpoint
from broker.limits import MAX_RECORDS_PER_BATCH
from broker.topics import validate_exhibit_id
from device.core.errors import ConfigError
from device.settings.config_errors import INPUTS_EXAMPLE, raise_first, setting_error
from device.settings.controller import CONTROL_FIELDS, control_problem, read_parts, read_table
from device.settings.setting_types import (
    Loc,
    Problem,
    Secret,
    current_values,
    read_fields,
    reader,
    rule,
)
from device.settings.wiring import IndicatorSpec, InputSpec, read_indicator, read_inputs

if TYPE_CHECKING:
    from broker.tls import TlsSetKwargs

ENV_PREFIX = "EXHIBIT_"
CONFIG_FILE_ENV = "EXHIBIT_CONFIG"
OUTBOX_FILE = "outbox.sqlite3"
NESTED_DELIMITER = "__"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The CA to trust (None: the system's) and an optional client certificate and key.

    The agent's stand-in for ``broker.tls.TlsSettings`` (a pydantic model): the files were
    checked with the settings, and ``tls_set_kwargs()`` gives paho the same arguments.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    def tls_set_kwargs(self) -> TlsSetKwargs:
        """Keyword arguments for paho's ``Client.tls_set`` (None lets paho use its default)."""
        return {
            "ca_certs": None if self.ca_file is None else str(self.ca_file),
            "certfile": None if self.cert_file is None else str(self.cert_file),
            "keyfile": None if self.key_file is None else str(self.key_file),
        }


def _broker_url(value: str) -> str:
    return BrokerEndpoint.parse(value).url  # BrokerUrlError is a ValueError


def _distinct_inputs(value: Any, loc: Loc) -> tuple[list[InputSpec] | None, list[Problem]]:
    inputs, problems = read_inputs(value, loc)
    if inputs is None:
        return None, problems
    owners: dict[str, str] = {}
    for spec in inputs:
        for name in dict.fromkeys([spec.name, *spec.count_names()]):
            if name in owners:
                message = f"input name {name!r} is used twice; give each input its own"
                return None, [Problem(loc, "value", message)]
            if len(name) > 32:
                message = (
                    f"input {spec.name!r} counts as {name!r}, longer than 32 characters; "
                    "shorten the input name"
                )
                return None, [Problem(loc, "value", message)]
            owners[name] = spec.name
    return inputs, []


@dataclass(frozen=True, kw_only=True)
class AgentSettings:
    """Everything the agent needs to know; see the module docstring for where it comes from."""

    exhibit_id: str = field(metadata=rule(str, check=validate_exhibit_id))
    broker_url: str = field(default="mqtt://127.0.0.1:1883", metadata=rule(str, check=_broker_url))
    username: str | None = field(
        default=None, metadata=rule(str, min_length=1, max_length=64, optional=True)
    )
    password: Secret | None = field(default=None, metadata=rule(Secret, optional=True))
    tls_ca_file: Path | None = field(default=None, metadata=rule(Path, optional=True))
    tls_cert_file: Path | None = field(default=None, metadata=rule(Path, optional=True))
    tls_key_file: Path | None = field(default=None, metadata=rule(Path, optional=True))
    mqtt_protocol: Literal["auto", "5", "3.1.1"] = field(
        default="auto", metadata=rule(str, choices=("auto", "5", "3.1.1"))
    )
    client_id: str | None = field(
        default=None, metadata=rule(str, min_length=1, max_length=64, optional=True)
    )
    data_dir: Path = field(default=Path("/var/lib/exhibit-agent"), metadata=rule(Path))
    inputs: list[InputSpec] = field(default_factory=list, metadata=reader(_distinct_inputs))
    indicator: IndicatorSpec | None = field(default=None, metadata=reader(read_indicator))
    # What the exhibit drives (device/settings/controller.py, docs/controller.md).
    outputs: list[dict[str, Any]] = field(default_factory=list, metadata=reader(read_parts))
    behaviours: list[dict[str, Any]] = field(default_factory=list, metadata=reader(read_parts))
    attract: dict[str, Any] | None = field(default=None, metadata=reader(read_table))
    quiet_hours: dict[str, Any] | None = field(default=None, metadata=reader(read_table))
    bucket_seconds: float = field(default=60.0, metadata=rule(float, gt=0, le=86_400))
    session_idle_s: float = field(default=30.0, metadata=rule(float, gt=0, le=3_600))
    outbox_max_records: int = field(default=50_000, metadata=rule(int, ge=100, le=10_000_000))
    inflight_window: int = field(default=100, metadata=rule(int, ge=1, le=1_000))
    batch_max_records: int = field(default=500, metadata=rule(int, ge=1, le=MAX_RECORDS_PER_BATCH))
    # Custody and retention (device/outbox/retention.py):
    # see docs/architecture.md, "Nothing is lost".
    custody: Literal["fleet", "broker"] = field(
        default="fleet", metadata=rule(str, choices=("fleet", "broker"))
    )
    custody_timeout_s: float = field(default=60.0, metadata=rule(float, gt=0, le=3_600))
    custody_timeout_max_s: float = field(default=900.0, metadata=rule(float, gt=0, le=86_400))
    retention_days: float = field(default=60.0, metadata=rule(float, ge=0, le=3_650))
    retention_max_mb: float = field(default=512.0, metadata=rule(float, ge=1, le=1_000_000))
    heartbeat_seconds: float = field(default=60.0, metadata=rule(float, gt=0, le=86_400))
    keepalive_s: int = field(default=30, metadata=rule(int, ge=5, le=300))
    reconnect_min_s: float = field(default=0.5, metadata=rule(float, gt=0, le=3_600))
    reconnect_max_s: float = field(default=60.0, metadata=rule(float, gt=0, le=3_600))
    command_max_age_s: float = field(default=3_600.0, metadata=rule(float, gt=0, le=30 * 86_400))
    self_test_seconds: float = field(default=30.0, metadata=rule(float, gt=0, le=600))
    identity_blink_s: float = field(default=10.0, metadata=rule(float, ge=0, le=600))
    machine_id_file: Path = field(default=Path("/etc/machine-id"), metadata=rule(Path))
    cpuinfo_file: Path = field(default=Path("/proc/cpuinfo"), metadata=rule(Path))
    sd_cid_file: Path = field(default=Path("/sys/block/mmcblk0/device/cid"), metadata=rule(Path))
    # Set from the fleet's configuration in data_dir (device/settings/pushed.py), never by hand.
    config_version: int | None = field(default=None, metadata=rule(int, ge=1, optional=True))
    pushed_config_hash: str | None = field(
        default=None, metadata=rule(str, pattern=r"^[0-9a-f]{16}$", optional=True)
    )

    def __post_init__(self) -> None:
        for name, value in _checked(current_values(self)).items():
            object.__setattr__(self, name, value)

    @property
    def endpoint(self) -> BrokerEndpoint:
        """Where and how to connect (``broker_url`` parsed)."""
        return BrokerEndpoint.parse(self.broker_url)

    @property
    def tls(self) -> TlsFiles | None:
        """TLS files for a TLS broker URL (CA None: the system's), else None."""
        if not self.endpoint.tls:
            return None
        return TlsFiles(
            ca_file=self.tls_ca_file, cert_file=self.tls_cert_file, key_file=self.tls_key_file
        )

    @property
    def mqtt_client_id(self) -> str:
        """MQTT client id: ``client_id`` if set, else the exhibit id."""
        return self.client_id or self.exhibit_id

    @property
    def outbox_path(self) -> Path:
        """Where the SQLite outbox lives."""
        return self.data_dir / OUTBOX_FILE

    @property
    def retention_max_bytes(self) -> int:
        """The outbox's disk budget in bytes (``retention_max_mb`` megabytes)."""
        return int(self.retention_max_mb * 1_000_000)

    def count_names(self) -> list[str]:
        """Every name interactions are counted under, in configuration order."""
        return [name for spec in self.inputs for name in spec.count_names()]

    def config_hash(self) -> str:
        """A short hash of what shapes the counts (inputs, buckets, sessions) and, when there
        are any, the outputs and behaviours; sent at birth. Running the fleet's configuration:
        the hash the fleet gave it (``broker.exhibit_config.config_hash``)."""
        if self.config_version is not None and self.pushed_config_hash is not None:
            return self.pushed_config_hash
        shape: dict[str, Any] = {
            "inputs": [dataclasses.asdict(spec) for spec in self.inputs],
            "bucket_seconds": self.bucket_seconds,
            "session_idle_s": self.session_idle_s,
        }
        # Only when set: an exhibit that drives nothing keeps the hash it always had.
        shape |= {name: getattr(self, name) for name in CONTROL_FIELDS if getattr(self, name)}
        digest = hashlib.sha256(repr(sorted(shape.items())).encode()).hexdigest()
        return digest[:16]


FIELDS = frozenset(spec.name for spec in dataclasses.fields(AgentSettings))


def _checked(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` read and checked as settings; ConfigError naming the first problem."""
    values, problems = read_fields(AgentSettings, raw)
    for least, most in (
        ("reconnect_min_s", "reconnect_max_s"),
        ("custody_timeout_s", "custody_timeout_max_s"),
    ):
        low, high = values.get(least), values.get(most)
        if low is not None and high is not None and high < low:
            message = f"{high} is below {least} ({low}); raise it to at least {low}"
            problems.append(Problem((most,), "value", message))
    raise_first(problems, FIELDS)
    for check in (control_problem, _pins_problem, _credentials_problem, _tls_problem):
        problem = check(values)
        if problem is not None:
            raise_first([problem], FIELDS)
    return values


def _pins_problem(values: Mapping[str, Any]) -> Problem | None:
    used: dict[int, str] = {}
    wired: list[tuple[str, dict[str, int]]] = [
        (spec.name, spec.pins()) for spec in values.get("inputs", [])
    ]
    indicator: IndicatorSpec | None = values.get("indicator")
    wired += [
        (str(part.get("name")), {k: v for k, v in part.items() if k.endswith("pin")})
        for part in values.get("outputs", [])
    ]
    if indicator is not None:
        wired.append(("indicator", {"pin": indicator.pin}))
    for owner, pins in wired:
        for role, pin in pins.items():
            other = used.get(pin)
            if other is not None:
                return setting_error(
                    "indicator" if owner == "indicator" else "inputs",
                    f"pin {pin} is used by both {other!r} and {owner!r} ({role}); "
                    "wire each to its own pin",
                )
            used[pin] = owner  # inputs against outputs: broker.exhibit_config checked it
    return None


def _credentials_problem(values: Mapping[str, Any]) -> Problem | None:
    username, password = values.get("username"), values.get("password")
    broker_url = values.get("broker_url", "mqtt://127.0.0.1:1883")
    if password is not None and username is None:
        return setting_error(
            "username", "a password is set without a username; set EXHIBIT_USERNAME too"
        )
    if username is not None and password is None:
        return setting_error(
            "password",
            f"username {username!r} has no password; set EXHIBIT_PASSWORD "
            "(fleet-api broker add-exhibit prints it)",
        )
    if BrokerEndpoint.parse(broker_url).tls and username is None:
        return setting_error(
            "username",
            f"{broker_url} needs credentials; set EXHIBIT_USERNAME and "
            "EXHIBIT_PASSWORD (fleet-api broker add-exhibit prints them)",
        )
    return None


def _tls_problem(values: Mapping[str, Any]) -> Problem | None:
    broker_url = values.get("broker_url", "mqtt://127.0.0.1:1883")
    files: dict[str, Path | None] = {
        name: values.get(name) for name in ("tls_ca_file", "tls_cert_file", "tls_key_file")
    }
    given = [name for name, path in files.items() if path is not None]
    if given and not BrokerEndpoint.parse(broker_url).tls:
        return setting_error(
            given[0],
            f"TLS files are set but broker_url {broker_url} is not TLS; use mqtts:// or wss://",
        )
    if (files["tls_cert_file"] is None) != (files["tls_key_file"] is None):
        missing = "tls_key_file" if files["tls_key_file"] is None else "tls_cert_file"
        return setting_error(
            missing, "a client certificate and its key go together; set both or neither"
        )
    for name, path in files.items():
        if path is not None and not path.is_file():
            return setting_error(
                name, f"{path} does not exist or is not a file; copy it there or fix the setting"
            )
    return None


# -- where the values come from ----------------------------------------------------------

_STRUCTURED = ("inputs", "indicator", *CONTROL_FIELDS)
"""Settings given as JSON in the environment."""


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``; tables merged key by key, anything else replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings given as ``EXHIBIT_*`` variables (JSON for lists and tables)."""
    by_name = {key.upper(): value for key, value in environ.items()}
    found: dict[str, Any] = {}
    for name in sorted(FIELDS):
        variable = f"{ENV_PREFIX}{name.upper()}"
        if variable in by_name:
            found[name] = by_name[variable]
            if name in _STRUCTURED:
                try:
                    found[name] = json.loads(by_name[variable])
                except json.JSONDecodeError:
                    raise ConfigError(
                        f"setting {name} ({variable}): not valid JSON; lists are JSON in the "
                        f"environment, e.g. {ENV_PREFIX}INPUTS='{INPUTS_EXAMPLE}'"
                    ) from None
        prefix = variable + NESTED_DELIMITER
        nested = {
            key[len(prefix) :].lower(): value
            for key, value in by_name.items()
            if key.startswith(prefix)
        }
        if nested:
            current = found.get(name)
            found[name] = _merge(current if isinstance(current, dict) else {}, nested)
    return found


def _from_file(path: str) -> dict[str, Any]:
    """The settings in the TOML file named by EXHIBIT_CONFIG."""
    if not Path(path).is_file():
        raise ConfigError(
            f"setting {CONFIG_FILE_ENV}: {path!r} is not a file; "
            "point it at the agent's TOML config or unset it"
        )
    try:
        with Path(path).open("rb") as file:
            return tomllib.load(file)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"setting {CONFIG_FILE_ENV}: {path} is not valid TOML ({exc}); fix the file"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"setting {CONFIG_FILE_ENV}: cannot read {path} ({exc}); fix its permissions"
        ) from None


def load_settings(*, use_environment: bool = True, **values: Any) -> AgentSettings:
    """Build settings from ``values``, the environment and EXHIBIT_CONFIG; raise ConfigError.

    Precedence, highest first: the configuration the fleet pushed (inputs, outputs,
    behaviours: ``device.settings.pushed``), ``values``, ``EXHIBIT_*``, the TOML file. With
    ``use_environment=False`` only ``values`` count (e.g. many simulated agents in one
    process, whatever EXHIBIT_* variables that process has).
    """
    raw: dict[str, Any] = {}
    if use_environment:
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            raw = _from_file(config_file)
        raw = _merge(raw, _from_environment(os.environ))
    raw = _merge(raw, values)
    from device.settings.pushed import with_pushed  # it builds on this module

    return with_pushed(AgentSettings(**_checked(raw)))
