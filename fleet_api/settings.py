"""Settings of the fleet API: environment variables prefixed ``FLEET_`` (pydantic-settings).

Nothing reads the environment at import time. :func:`get_settings` builds the settings
once, on first use, and FastAPI routes get them through the ``SettingsDep`` dependency
so tests replace them with ``app.dependency_overrides[get_settings]``. Ansible writes
the variables into a systemd ``EnvironmentFile``; secrets are ``SecretStr``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict
from pydantic_settings.exceptions import SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from broker.tls import TlsSettings
from fleet_api.errors import ConfigError
from fleet_api.operations_settings import OperationsSettings

ENV_PREFIX = "FLEET_"
_SECRET_FIELDS = frozenset(
    {"mqtt_username", "mqtt_password", "bootstrap_admin_token", "session_secret"}
    | {"notify_webhooks", "smtp_password"}  # a webhook's secret is in its JSON
)
_BEARER_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{32,256}$")
_SHARE_GROUP = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_MQTT_SCHEMES = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where the broker listens, parsed from ``FLEET_MQTT_URL``."""

    host: str
    port: int
    tls: bool


class Settings(OperationsSettings):
    """Every knob of the fleet API; ``Field.description`` is the fix shown for a bad value.

    Trip readiness, alert and notification settings are declared in
    :class:`fleet_api.operations_settings.OperationsSettings`.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    database_url: str = Field(
        default="sqlite:///./fleet.db",
        description="an SQLAlchemy URL, e.g. sqlite:///./fleet.db or "
        "postgresql+psycopg://user@host/dbname",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="true to run the database migrations when the API starts, false to "
        "require that `fleet-api migrate` was run",
    )
    mqtt_url: str | None = Field(
        default=None,
        description="the broker as mqtt://host:port or mqtts://host:port, or unset for no "
        "ingestion",
    )
    mqtt_username: SecretStr | None = Field(default=None, description="the broker user name")
    mqtt_password: SecretStr | None = Field(default=None, description="the broker password")
    mqtt_ca_file: Path | None = Field(
        default=None, description="a PEM file of the CA that signed the broker's certificate"
    )
    mqtt_cert_file: Path | None = Field(
        default=None,
        description="a PEM file of the ingest's client certificate, for the broker's service "
        "listener (8884), together with FLEET_MQTT_KEY_FILE",
    )
    mqtt_key_file: Path | None = Field(
        default=None,
        validate_default=True,
        description="the PEM file of the client certificate's private key, together with "
        "FLEET_MQTT_CERT_FILE",
    )
    mqtt_client_id: str = Field(
        default="fleet-ingest",
        description="a fixed client id of 1-64 letters, digits, '.', '_' or '-', unique per "
        "ingest worker (the broker keeps its session under this id)",
    )
    mqtt_share_group: str | None = Field(
        default=None,
        description="an MQTT v5 shared subscription group of 1-64 letters, digits, '_' or "
        "'-', the same for every ingest worker sharing the load",
    )
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=300, description="seconds, 5-300")
    mqtt_session_expiry_s: int = Field(
        default=14 * 24 * 3600,
        ge=60,
        le=2**32 - 1,
        description="seconds the broker keeps our session (and queues for us) while we are "
        "away, at least 60",
    )
    mqtt_reconnect_min_s: int = Field(default=1, ge=1, le=60, description="seconds, 1-60")
    mqtt_reconnect_max_s: int = Field(default=30, ge=1, le=3600, description="seconds, 1-3600")
    ingest_enabled: bool = Field(
        default=True, description="true to ingest from FLEET_MQTT_URL, false to serve only"
    )
    ingest_batch_max: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="the most messages written in one transaction, 1-10000",
    )
    ingest_batch_wait_ms: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="milliseconds to wait for more messages before writing a batch, 0-1000",
    )
    ingest_inflight_max: int = Field(
        default=1000,
        ge=1,
        le=65_535,
        description="the most unacknowledged messages the broker may send us (MQTT Receive "
        "Maximum), 1-65535",
    )
    custody_acks: bool = Field(
        default=True,
        description="true to tell each exhibit after every commit which of its records are "
        "stored (exhibits with EXHIBIT_CUSTODY=fleet, the default, keep resending until told); "
        "false only if every exhibit runs with EXHIBIT_CUSTODY=broker",
    )
    ingest_stop_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="seconds to finish the batch in hand when stopping, up to 300",
    )
    ingest_max_seq_jump: int = Field(
        default=1_000_000,
        ge=1,
        le=2**63 - 1,
        description="how far past an exhibit's highest stored seq a record's seq may be, at "
        "least 1 (more than any outbox holds; a record beyond is quarantined as seq_jump)",
    )
    ingest_error_retries: int = Field(
        default=3,
        ge=0,
        le=100,
        description="times a write that failed unexpectedly (not an unreachable database) is "
        "retried before its message is quarantined as storage_error, 0-100",
    )
    quarantine_per_exhibit_per_hour: int = Field(
        default=120,
        ge=1,
        description="quarantined messages kept per exhibit in any hour, at least 1 (more are "
        "dropped and counted)",
    )
    quarantine_max_mb: float = Field(
        default=100.0,
        gt=0,
        description="megabytes the quarantine may hold; past it the oldest rows of the biggest "
        "sender go first, e.g. 100",
    )
    quarantine_retention_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="days a quarantined message is kept, up to 3650",
    )
    bootstrap_admin_token: SecretStr | None = Field(
        default=None,
        description="an admin API token of 32-256 letters, digits or '._~+/=-' that the API "
        "ensures exists when it starts (first login, demo, tests); unset it once real "
        "tokens exist (revoking it in the API sticks)",
    )
    # Fleet health, heartbeats and messages to exhibits.
    mqtt_publish_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="seconds to wait for the broker to acknowledge an assignment or command, "
        "up to 60",
    )
    health_offline_grace_s: float = Field(
        default=180.0,
        ge=10,
        le=86_400,
        description="seconds without a status or heartbeat after which an exhibit counts as "
        "offline, 10-86400 (a few heartbeat intervals)",
    )
    health_low_disk_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="free disk bytes below which an exhibit is flagged, e.g. 268435456",
    )
    health_outbox_backlog: int = Field(
        default=1000,
        ge=1,
        description="records waiting in an exhibit's outbox above which it is flagged, at least 1",
    )
    heartbeat_history_days: float = Field(
        default=14.0,
        gt=0,
        le=3650,
        description="days of heartbeat history to keep, up to 3650",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL") from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(f"backend {url.get_backend_name()!r} is not supported")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_mqtt_url(value)
        return value

    @field_validator("mqtt_ca_file", "mqtt_cert_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such file")
        return value

    @field_validator("mqtt_key_file")
    @classmethod
    def _key_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such file")
        if (value is None) != (info.data.get("mqtt_cert_file") is None):
            raise ValueError("a client certificate and its key go together: set both or neither")
        return value

    @field_validator("mqtt_client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not _CLIENT_ID.fullmatch(value):
            raise ValueError("not a valid client id")
        return value

    @field_validator("mqtt_share_group")
    @classmethod
    def _share_group(cls, value: str | None) -> str | None:
        if value is not None and not _SHARE_GROUP.fullmatch(value):
            raise ValueError("not a valid share group name")
        return value

    @field_validator("bootstrap_admin_token")
    @classmethod
    def _bearer_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _BEARER_TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError("not 32-256 letters, digits or '._~+/=-'")
        return value

    def mqtt_tls(self) -> TlsSettings:
        """The CA to trust and the client certificate, for an mqtts:// broker."""
        return TlsSettings(
            ca_file=self.mqtt_ca_file, cert_file=self.mqtt_cert_file, key_file=self.mqtt_key_file
        )

    def mqtt_endpoint(self) -> MqttEndpoint | None:
        """The broker to ingest from, or None when ingestion has nowhere to connect."""
        return None if self.mqtt_url is None else _parse_mqtt_url(self.mqtt_url)

    @property
    def ingest_active(self) -> bool:
        """Whether the lifespan starts MQTT ingestion."""
        return self.ingest_enabled and self.mqtt_url is not None

    # Staff web pages (fleet_api/web).
    session_secret: SecretStr | None = Field(
        default=None,
        description="at least 32 random characters signing the web pages' session cookies, "
        "the same for every API worker (e.g. the output of `openssl rand -base64 48`); unset: "
        "a random one per process, so sessions end when the API restarts",
    )
    time_zone: str = Field(
        default="Europe/Riga",
        description="the centre's IANA time zone, e.g. Europe/Riga: report periods, months, "
        "CSV and XLSX times and download names are in it",
    )
    web_time_zone: str | None = Field(
        default=None,
        description="an IANA time zone name, e.g. Europe/Riga, in which the web pages show "
        "and read times; unset: FLEET_TIME_ZONE",
    )

    @field_validator("session_secret")
    @classmethod
    def _session_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("shorter than 32 characters")
        return value

    @field_validator("time_zone", "web_time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a known time zone") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The centre's time zone (reports, exports)."""
        return ZoneInfo(self.time_zone)

    @property
    def page_zone(self) -> ZoneInfo:
        """The zone the web pages show and read times in."""
        return ZoneInfo(self.web_time_zone or self.time_zone)


def _parse_mqtt_url(value: str) -> MqttEndpoint:
    parts = urlsplit(value)
    if parts.scheme not in _MQTT_SCHEMES:
        raise ValueError("the scheme must be mqtt:// or mqtts://")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("only mqtt://host:port is accepted (no path or query)")
    if parts.username or parts.password:
        raise ValueError("put credentials in FLEET_MQTT_USERNAME and FLEET_MQTT_PASSWORD")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("the host is missing")
    return MqttEndpoint(
        parts.hostname, port or _MQTT_SCHEMES[parts.scheme], parts.scheme == "mqtts"
    )


def describe_errors(exc: ValidationError) -> str:
    """One line naming each bad setting, what is wrong, and what to set it to."""
    reasons: dict[str, list[str]] = {}
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        reason = error["msg"].removeprefix("Value error, ")
        if len(error["loc"]) > 1:  # inside a list or object: say where
            reason = f"{'.'.join(str(part) for part in error['loc'][1:])}: {reason}"
        if Settings.model_fields.get(field) is None:
            # an unknown keyword given in code, not from the environment
            problems.append(f"unknown setting {field!r}")
            continue
        if field not in reasons:
            shown = "" if field in _SECRET_FIELDS else f"={error.get('input')!r}"
            reasons[field] = [f"{ENV_PREFIX}{field.upper()}{shown}"]
        reasons[field].append(reason)
    for field, (name, *said) in reasons.items():
        fix = Settings.model_fields[field].description
        problems.append(f"{name}: {'; '.join(said)}; set it to {fix}")
    return "invalid configuration: " + "; ".join(problems)


_UNPARSED = re.compile(r'error parsing value for field "(\w+)"')


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment (``overrides`` win); ConfigError if bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    except SettingsError as exc:  # a list or object setting that is not JSON
        found = _UNPARSED.search(str(exc))
        field = found.group(1) if found else ""
        info = Settings.model_fields.get(field)
        if info is None:
            raise ConfigError(f"invalid configuration: {exc}") from None
        raise ConfigError(
            f"invalid configuration: {ENV_PREFIX}{field.upper()}: not JSON; set it to "
            f"{info.description}"
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; tests override this dependency."""
    return load_settings()
