"""Settings of alert changes and their notifications (``FLEET_ALERTS_*``, ``FLEET_NOTIFY_*``,
``FLEET_SMTP_*``), a part of :class:`fleet_api.settings.Settings`.

Webhooks are a JSON list, each with a name (how deliveries are told apart), an
``http(s)://`` URL and a secret of at least 32 characters that signs every body::

    FLEET_NOTIFY_WEBHOOKS='[{"name": "depot", "url": "https://hooks.example.lv/fleet",
                             "secret": "..."}]'
    FLEET_NOTIFY_EMAILS='["technician@example.lv"]'   (needs FLEET_SMTP_HOST and _FROM)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
MIN_SECRET = 32


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("credentials do not belong in the URL: the secret signs each request")
    return value


class WebhookTarget(BaseModel):
    """One webhook: where alert changes are POSTed, and the secret that signs them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="1-64 lower-case letters, digits, '_' or '-'")
    url: str = Field(description="an http:// or https:// URL")
    secret: SecretStr = Field(description="at least 32 characters, shared with the receiver")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("not 1-64 lower-case letters, digits, '_' or '-'")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET:
            raise ValueError(f"shorter than {MIN_SECRET} characters")
        return value


class NotificationSettings(BaseSettings):
    """Alert changes (hold-down) and where they are sent."""

    alerts_interval_s: float = Field(
        default=30.0,
        ge=0.2,
        le=3600,
        description="seconds between two evaluations of the fleet's alerts, 0.2-3600",
    )
    alerts_raise_after_s: float = Field(
        default=120.0,
        ge=0,
        le=86_400,
        description="seconds an alert's condition must hold before it is raised, 0-86400 "
        "(a blip shorter than this tells nobody)",
    )
    alerts_resolve_after_s: float = Field(
        default=600.0,
        ge=0,
        le=86_400,
        description="seconds an alert's condition must be gone before it is resolved, 0-86400 "
        "(a flapping alert stays raised instead of ringing again)",
    )
    notify_min_severity: Literal["warning", "info"] = Field(
        default="warning",
        description="warning (only warnings are sent) or info (everything)",
    )
    notify_webhooks: list[WebhookTarget] = Field(
        default_factory=list,
        description='a JSON list of {"name": ..., "url": "https://...", "secret": "at least '
        '32 characters"}',
    )
    smtp_host: str | None = Field(default=None, description="the SMTP server's host name")
    smtp_port: int = Field(default=587, ge=1, le=65_535, description="a port, 1-65535")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (port 587), tls (port 465) or none (a local relay only)",
    )
    smtp_username: str | None = Field(default=None, description="the SMTP user name, if any")
    smtp_password: SecretStr | None = Field(default=None, description="the SMTP password")
    smtp_from: str | None = Field(
        default=None, description="the sender address, e.g. fleet@example.lv"
    )
    notify_emails: list[str] = Field(
        default_factory=list,
        description='a JSON list of e-mail addresses, e.g. ["technician@example.lv"], with '
        "FLEET_SMTP_HOST and FLEET_SMTP_FROM set",
    )
    notify_ca_file: Path | None = Field(
        default=None,
        description="a PEM file of the CA to trust for https webhooks and SMTP TLS (unset: the "
        "system's CAs)",
    )
    notify_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="seconds to wait for a receiver, up to 120"
    )
    notify_retry_min_s: float = Field(
        default=10.0,
        ge=0.1,
        le=3600,
        description="seconds before the first retry of a failed delivery, 0.1-3600 (doubled "
        "each time)",
    )
    notify_retry_max_s: float = Field(
        default=900.0,
        ge=1,
        le=86_400,
        description="the longest wait between two attempts, 1-86400 seconds",
    )
    notify_give_up_h: float = Field(
        default=48.0,
        gt=0,
        le=24 * 30,
        description="hours after which an undelivered notification is given up, up to 720",
    )
    public_url: str | None = Field(
        default=None,
        description="the address staff open the pages at, e.g. https://fleet.example.lv, "
        "for links in notifications",
    )

    @field_validator("smtp_from")
    @classmethod
    def _notify_sender(cls, value: str | None) -> str | None:
        if value is not None and not _ADDRESS.fullmatch(value):
            raise ValueError("not an e-mail address")
        return value

    @field_validator("notify_emails")
    @classmethod
    def _notify_recipients(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for address in value:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"{address!r} is not an e-mail address")
        if value and (info.data.get("smtp_host") is None or info.data.get("smtp_from") is None):
            raise ValueError("e-mail needs FLEET_SMTP_HOST and FLEET_SMTP_FROM as well")
        return value

    @field_validator("notify_webhooks")
    @classmethod
    def _notify_distinct(cls, value: list[WebhookTarget]) -> list[WebhookTarget]:
        names = [target.name for target in value]
        if len(set(names)) != len(names):
            raise ValueError("two webhooks have the same name")
        return value

    @field_validator("notify_ca_file")
    @classmethod
    def _notify_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("no such file")
        return value

    @field_validator("public_url")
    @classmethod
    def _notify_public(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value).rstrip("/")
