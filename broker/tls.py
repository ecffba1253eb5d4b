"""TLS settings shared by the agent and the fleet ingest, and how a paho client applies them.

``broker`` never imports paho (only one module each of ``device/`` and ``fleet_api/``
does), so this module hands back the keyword arguments of ``Client.tls_set``:

    client.tls_set(**settings.tls_set_kwargs())

The server certificate is always verified (paho's default ``CERT_REQUIRED`` with
hostname checking); there is deliberately no switch to turn that off.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from pydantic import BaseModel, ConfigDict, model_validator

from broker.errors import TlsConfigError


class TlsSetKwargs(TypedDict):
    """The subset of paho's ``Client.tls_set`` parameters we set (typed for ``**`` calls)."""

    ca_certs: str | None
    certfile: str | None
    keyfile: str | None


class TlsSettings(BaseModel):
    """CA to trust (None: the system's) and an optional client certificate with its key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise TlsConfigError(
                "TLS client certificate and key go together: set both tls_cert_file and "
                "tls_key_file, or neither"
            )
        return self

    def check_files(self, *, prefix: str = "tls_") -> None:
        """Raise TlsConfigError naming the first configured file that cannot be read."""
        for field in ("ca_file", "cert_file", "key_file"):
            path: Path | None = getattr(self, field)
            if path is not None and not path.is_file():
                raise TlsConfigError(
                    f"{prefix}{field} = {path} does not exist or is not a file: copy it there "
                    "(see docs/broker.md, 'TLS files') or fix the setting"
                )

    def tls_set_kwargs(self) -> TlsSetKwargs:
        """Keyword arguments for paho's ``Client.tls_set`` (None lets paho use its default)."""
        return {
            "ca_certs": _str(self.ca_file),
            "certfile": _str(self.cert_file),
            "keyfile": _str(self.key_file),
        }


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)
