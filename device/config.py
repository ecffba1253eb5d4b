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

Inputs and their rules are described in ``device.wiring``. ``load_settings()`` turns every
mistake into a one-line ``ConfigError`` naming the setting and the fix
(``device.config_errors``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from broker.endpoint import BrokerEndpoint
from broker.errors import BrokerUrlError
from broker.messages import MAX_RECORDS_PER_BATCH
from broker.tls import TlsSettings
from broker.topics import validate_exhibit_id
from device.config_errors import INPUTS_EXAMPLE, describe, setting_error
from device.errors import ConfigError
from device.wiring import IndicatorSpec, InputSpec

ENV_PREFIX = "EXHIBIT_"
CONFIG_FILE_ENV = "EXHIBIT_CONFIG"
OUTBOX_FILE = "outbox.sqlite3"
_CODE_ONLY: ContextVar[bool] = ContextVar("agent_settings_code_only", default=False)


class AgentSettings(BaseSettings):
    """Everything the agent needs to know; see the module docstring for where it comes from."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    exhibit_id: str
    broker_url: str = "mqtt://127.0.0.1:1883"
    username: str | None = Field(default=None, min_length=1, max_length=64)
    password: SecretStr | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    mqtt_protocol: Literal["auto", "5", "3.1.1"] = "auto"
    client_id: str | None = Field(default=None, min_length=1, max_length=64)
    data_dir: Path = Path("/var/lib/exhibit-agent")
    inputs: list[InputSpec] = Field(default_factory=list)
    indicator: IndicatorSpec | None = None
    bucket_seconds: float = Field(default=60.0, gt=0, le=86_400)
    session_idle_s: float = Field(default=30.0, gt=0, le=3_600)
    outbox_max_records: int = Field(default=50_000, ge=100, le=10_000_000)
    inflight_window: int = Field(default=100, ge=1, le=1_000)
    batch_max_records: int = Field(default=500, ge=1, le=MAX_RECORDS_PER_BATCH)
    heartbeat_seconds: float = Field(default=60.0, gt=0, le=86_400)
    keepalive_s: int = Field(default=30, ge=5, le=300)
    reconnect_min_s: float = Field(default=0.5, gt=0, le=3_600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3_600)
    command_max_age_s: float = Field(default=3_600.0, gt=0, le=30 * 86_400)
    self_test_seconds: float = Field(default=30.0, gt=0, le=600)
    identity_blink_s: float = Field(default=10.0, ge=0, le=600)
    machine_id_file: Path = Path("/etc/machine-id")
    cpuinfo_file: Path = Path("/proc/cpuinfo")
    sd_cid_file: Path = Path("/sys/block/mmcblk0/device/cid")

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
    def _broker_url_parses(cls, value: str) -> str:
        try:
            return BrokerEndpoint.parse(value).url
        except BrokerUrlError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("inputs")
    @classmethod
    def _inputs_are_distinct(cls, inputs: list[InputSpec]) -> list[InputSpec]:
        owners: dict[str, str] = {}
        for spec in inputs:
            for name in dict.fromkeys([spec.name, *spec.count_names()]):
                if name in owners:
                    raise ValueError(f"input name {name!r} is used twice; give each input its own")
                if len(name) > 32:
                    raise ValueError(
                        f"input {spec.name!r} counts as {name!r}, longer than 32 characters; "
                        "shorten the input name"
                    )
                owners[name] = spec.name
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

    @model_validator(mode="after")
    def _whole_config_holds_together(self) -> AgentSettings:
        self._check_pins()
        self._check_credentials()
        self._check_tls()
        return self

    def _check_pins(self) -> None:
        used: dict[int, str] = {}
        wired = [(spec.name, spec.pins()) for spec in self.inputs]
        if self.indicator is not None:
            wired.append(("indicator", {"pin": self.indicator.pin}))
        for owner, pins in wired:
            for role, pin in pins.items():
                other = used.get(pin)
                if other is not None:
                    raise setting_error(
                        "indicator" if owner == "indicator" else "inputs",
                        f"pin {pin} is used by both {other!r} and {owner!r} ({role}); "
                        "wire each to its own pin",
                    )
                used[pin] = owner

    def _check_credentials(self) -> None:
        if self.password is not None and self.username is None:
            raise setting_error(
                "username", "a password is set without a username; set EXHIBIT_USERNAME too"
            )
        if self.username is not None and self.password is None:
            raise setting_error(
                "password",
                f"username {self.username!r} has no password; set EXHIBIT_PASSWORD "
                "(fleet-api broker add-exhibit prints it)",
            )
        if self.endpoint.tls and self.username is None:
            raise setting_error(
                "username",
                f"{self.broker_url} needs credentials; set EXHIBIT_USERNAME and "
                "EXHIBIT_PASSWORD (fleet-api broker add-exhibit prints them)",
            )

    def _check_tls(self) -> None:
        files = {
            "tls_ca_file": self.tls_ca_file,
            "tls_cert_file": self.tls_cert_file,
            "tls_key_file": self.tls_key_file,
        }
        given = [name for name, path in files.items() if path is not None]
        if given and not self.endpoint.tls:
            raise setting_error(
                given[0],
                f"TLS files are set but broker_url {self.broker_url} is not TLS; "
                "use mqtts:// or wss://",
            )
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            missing = "tls_key_file" if self.tls_key_file is None else "tls_cert_file"
            raise setting_error(
                missing, "a client certificate and its key go together; set both or neither"
            )
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise setting_error(
                    name,
                    f"{path} does not exist or is not a file; copy it there or fix the setting",
                )

    @property
    def endpoint(self) -> BrokerEndpoint:
        """Where and how to connect (``broker_url`` parsed)."""
        return BrokerEndpoint.parse(self.broker_url)

    @property
    def tls(self) -> TlsSettings | None:
        """TLS settings for a TLS broker URL (CA None: the system's), else None."""
        if not self.endpoint.tls:
            return None
        return TlsSettings(
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

    def count_names(self) -> list[str]:
        """Every name interactions are counted under, in configuration order."""
        return [name for spec in self.inputs for name in spec.count_names()]

    def config_hash(self) -> str:
        """A short hash of what shapes the counts (inputs, buckets, sessions), sent at birth."""
        shape = {
            "inputs": [spec.model_dump(mode="json") for spec in self.inputs],
            "bucket_seconds": self.bucket_seconds,
            "session_idle_s": self.session_idle_s,
        }
        digest = hashlib.sha256(repr(sorted(shape.items())).encode()).hexdigest()
        return digest[:16]


def load_settings(*, use_environment: bool = True, **values: Any) -> AgentSettings:
    """Build settings from ``values``, the environment and EXHIBIT_CONFIG; raise ConfigError.

    With ``use_environment=False`` only ``values`` count (e.g. many simulated agents in
    one process, whatever EXHIBIT_* variables that process has).
    """
    fields = set(AgentSettings.model_fields)
    if not use_environment:
        token = _CODE_ONLY.set(True)
        try:
            return AgentSettings(**values)
        except ValidationError as exc:
            raise ConfigError(describe(exc, fields)) from None
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
        raise ConfigError(describe(exc, fields)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"setting {CONFIG_FILE_ENV}: {config_file} is not valid TOML ({exc}); fix the file"
        ) from None
    except SettingsError as exc:
        found = re.search(r'field "(\w+)"', str(exc))
        field = found.group(1) if found else "inputs"
        raise ConfigError(
            f"setting {field} ({ENV_PREFIX}{field.upper()}): not valid JSON; lists are JSON in "
            f"the environment, e.g. {ENV_PREFIX}INPUTS='{INPUTS_EXAMPLE}'"
        ) from None
