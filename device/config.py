"""The agent's settings: environment variables ``EXHIBIT_*``, optionally a TOML file.

Precedence, highest first: values passed in code, environment variables, the TOML file
named by ``EXHIBIT_CONFIG``. Lists are JSON in the environment, e.g.::

    EXHIBIT_EXHIBIT_ID=exhibit-001
    EXHIBIT_BROKER_URL=mqtt://broker.local:1883
    EXHIBIT_INPUTS='[{"name": "button", "kind": "button", "pin": 17}]'

``load_settings()`` turns every mistake into a one-line ``ConfigError`` naming the
setting and the fix.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from broker.messages import MAX_RECORDS_PER_BATCH, InputName
from broker.topics import validate_exhibit_id
from device.errors import ConfigError

ENV_PREFIX = "EXHIBIT_"
CONFIG_FILE_ENV = "EXHIBIT_CONFIG"
DEFAULT_PORT = 1883
BUTTON_DEBOUNCE_S = 0.05
OUTBOX_FILE = "outbox.sqlite3"
_CODE_ONLY: ContextVar[bool] = ContextVar("agent_settings_code_only", default=False)
_INPUTS_EXAMPLE = '[{"name": "button", "kind": "button", "pin": 17}]'

# How to fix a setting when pydantic's own message does not say it: by the innermost
# name (fields of an input), then by the top-level setting.
_INPUT_FIXES: dict[str, str] = {
    "name": "input names are lowercase letters, digits and _, starting with a letter",
    "kind": "use button or motion",
    "pin": "use the BCM GPIO number 0-27 the input is wired to, e.g. 17",
    "debounce_s": "use seconds between 0 and 10, e.g. 0.05",
    "sample_rate_hz": "use readings per second between 0 and 1000, e.g. 10",
}
_FIXES: dict[str, str] = {
    "exhibit_id": "set it to this exhibit's id, e.g. exhibit-001",
    "broker_url": "use mqtt://host:port, e.g. mqtt://broker.local:1883",
    "inputs": f"give a JSON list like {_INPUTS_EXAMPLE}",
    "data_dir": "give a writable directory, e.g. /var/lib/exhibit-agent",
    "bucket_seconds": "use seconds between 0 and 86400, e.g. 60",
    "inflight_window": "use 1-1000, e.g. 100",
    "batch_max_records": f"use 1-{MAX_RECORDS_PER_BATCH}, e.g. 500",
    "heartbeat_seconds": "use a positive number of seconds, e.g. 60",
    "keepalive_s": "use 5-300 seconds, e.g. 30",
    "reconnect_min_s": "use a positive number of seconds, e.g. 0.5",
    "reconnect_max_s": "use seconds at least reconnect_min_s, e.g. 60",
}


class InputKind(StrEnum):
    """What is wired to a pin."""

    BUTTON = "button"
    MOTION = "motion"


class InputSpec(BaseModel):
    """One input of an exhibit: its name in the counts, what it is, and its GPIO (BCM) pin."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: InputName
    kind: InputKind
    pin: int = Field(ge=0, le=27, description="BCM GPIO number on the 40-pin header")
    debounce_s: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description="ignore an event this soon after the last accepted one (button: 0.05 s)",
    )
    sample_rate_hz: float = Field(
        default=10.0, gt=0, le=1_000, description="motion sensors only: how often gpiozero reads"
    )

    @property
    def debounce(self) -> float:
        """The effective debounce window in seconds (a per-kind default if unset)."""
        if self.debounce_s is not None:
            return self.debounce_s
        return BUTTON_DEBOUNCE_S if self.kind is InputKind.BUTTON else 0.0


class AgentSettings(BaseSettings):
    """Everything the agent needs to know; see the module docstring for where it comes from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    exhibit_id: str
    broker_url: str = f"mqtt://127.0.0.1:{DEFAULT_PORT}"
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = Field(default=None, min_length=1, max_length=64)
    data_dir: Path = Path("/var/lib/exhibit-agent")
    inputs: list[InputSpec] = Field(default_factory=list)
    bucket_seconds: float = Field(default=60.0, gt=0, le=86_400)
    inflight_window: int = Field(default=100, ge=1, le=1_000)
    batch_max_records: int = Field(default=500, ge=1, le=MAX_RECORDS_PER_BATCH)
    heartbeat_seconds: float = Field(default=60.0, gt=0, le=86_400)
    keepalive_s: int = Field(default=30, ge=5, le=300)
    reconnect_min_s: float = Field(default=0.5, gt=0, le=3_600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3_600)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code, then environment, then the TOML file named by EXHIBIT_CONFIG (if any)."""
        if _CODE_ONLY.get():
            return (init_settings,)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @field_validator("exhibit_id")
    @classmethod
    def _exhibit_id_fits_a_topic(cls, value: str) -> str:
        return validate_exhibit_id(value)

    @field_validator("broker_url")
    @classmethod
    def _broker_url_is_mqtt(cls, value: str) -> str:
        host, port = parse_broker_url(value)
        return f"mqtt://{host}:{port}"

    @field_validator("inputs")
    @classmethod
    def _inputs_are_distinct(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        names: set[str] = set()
        pins: dict[int, str] = {}
        for spec in inputs:
            if spec.name in names:
                raise ValueError(f"input name {spec.name!r} is used twice; give each input its own")
            if spec.pin in pins:
                raise ValueError(
                    f"pin {spec.pin} is used by both {pins[spec.pin]!r} and {spec.name!r}; "
                    "wire each input to its own pin"
                )
            names.add(spec.name)
            pins[spec.pin] = spec.name
        return inputs

    @field_validator("reconnect_max_s")
    @classmethod
    def _backoff_is_ordered(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("reconnect_min_s")
        if low is not None and value < low:
            raise ValueError(
                f"{value} is below reconnect_min_s ({low}); raise it to at least {low}"
            )
        return value

    @property
    def broker_host(self) -> str:
        """Host part of ``broker_url``."""
        return parse_broker_url(self.broker_url)[0]

    @property
    def broker_port(self) -> int:
        """Port part of ``broker_url``."""
        return parse_broker_url(self.broker_url)[1]

    @property
    def mqtt_client_id(self) -> str:
        """MQTT client id: ``client_id`` if set, else the exhibit id."""
        return self.client_id or self.exhibit_id

    @property
    def outbox_path(self) -> Path:
        """Where the SQLite outbox lives."""
        return self.data_dir / OUTBOX_FILE

    def config_hash(self) -> str:
        """A short hash of what shapes the counts (inputs, buckets), sent in the birth status."""
        shape = {
            "inputs": [spec.model_dump(mode="json") for spec in self.inputs],
            "bucket_seconds": self.bucket_seconds,
        }
        digest = hashlib.sha256(repr(sorted(shape.items())).encode()).hexdigest()
        return digest[:16]


def parse_broker_url(url: str) -> tuple[str, int]:
    """Split ``mqtt://host[:port]`` into host and port; raise ValueError saying what is wrong."""
    fix = "use mqtt://host:port, e.g. mqtt://broker.local:1883"
    if "@" in url:
        # Checked first, and the URL is not echoed: it may hold a password.
        raise ValueError(
            "the broker URL must not carry credentials; put them in EXHIBIT_USERNAME and "
            "EXHIBIT_PASSWORD and use mqtt://host:port"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(f"broker URL {url!r} has a bad port; {fix}") from None
    if parts.scheme == "mqtts":
        raise ValueError(f"broker URL {url!r}: TLS (mqtts://) is not supported yet; {fix}")
    if parts.scheme != "mqtt":
        raise ValueError(f"broker URL {url!r} must start with mqtt://; {fix}")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host; {fix}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {url!r} has a path or query; {fix}")
    return parts.hostname, port or DEFAULT_PORT


def _setting_name(loc: tuple[int | str, ...]) -> str:
    head = str(loc[0]) if loc else "settings"
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return head + tail


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    top = str(loc[0]) if loc else ""
    setting = _setting_name(loc)
    where = f"{ENV_PREFIX}{top.upper()}" if top in AgentSettings.model_fields else "config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a setting of the agent (misspelt?)"
    leaf = str(loc[-1]) if loc else ""
    fix = _INPUT_FIXES.get(leaf, "") if top == "inputs" and len(loc) > 2 else ""
    fix = fix or _FIXES.get(top, "")
    if fix and "e.g." not in message and "; " not in message:
        message = f"{message}; {fix}"
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return " ".join(f"setting {setting} ({where}): {message}{suffix}".split())


def load_settings(*, use_environment: bool = True, **values: Any) -> AgentSettings:
    """Build settings from ``values``, the environment and EXHIBIT_CONFIG; raise ConfigError.

    With ``use_environment=False`` only ``values`` count (e.g. many simulated agents in
    one process, whatever EXHIBIT_* variables that process has).
    """
    if not use_environment:
        token = _CODE_ONLY.set(True)
        try:
            return AgentSettings(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None
        finally:
            _CODE_ONLY.reset(token)
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and not Path(config_file).is_file():
        raise ConfigError(
            f"setting {CONFIG_FILE_ENV}: {config_file!r} is not a file; "
            "point it at the agent's TOML config or unset it"
        )
    try:
        return AgentSettings(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"setting {CONFIG_FILE_ENV}: {config_file} is not valid TOML ({exc}); fix the file"
        ) from None
    except SettingsError as exc:
        found = re.search(r'field "(\w+)"', str(exc))
        field = found.group(1) if found else "inputs"
        raise ConfigError(
            f"setting {field} ({ENV_PREFIX}{field.upper()}): not valid JSON; lists are JSON in "
            f"the environment, e.g. {ENV_PREFIX}INPUTS='{_INPUTS_EXAMPLE}'"
        ) from None
