"""Errors raised by the MQTT contract and the broker helpers.

BrokerError
 ├── TopicError (ValueError)             a topic string that is not one of ours
 ├── MessageError (ValueError)           a payload that is not a valid message; ``reason`` says why
 ├── BrokerStartError (RuntimeError)     a broker process that would not come up
 ├── BrokerUrlError (ValueError)         a broker URL we cannot connect to (scheme, host, port)
 ├── TlsConfigError (ValueError)         TLS settings that cannot work (missing file, cert, no key)
 ├── CredentialsFileError (ValueError)   an account file (dynsec, admin, old passwd/ACL) unusable
 ├── AccountExists (ValueError)          adding a broker account whose name is taken
 ├── UnknownAccount (LookupError)        rotating or revoking an account that does not exist
 ├── ControlError (RuntimeError)         the dynamic-security plugin unreachable, or it refused
 ├── BrokerConfigError (ValueError)      a production config that would not do what it says
 └── ReloadError (RuntimeError)          the running broker could not be told to reload
"""

from __future__ import annotations


class BrokerError(Exception):
    """Root of every error raised by the ``broker`` package."""


class TopicError(BrokerError, ValueError):
    """A topic string that does not follow the contract in ``broker.topics``."""


class MessageError(BrokerError, ValueError):
    """A payload that cannot be accepted; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BrokerStartError(BrokerError, RuntimeError):
    """A broker (embedded or Mosquitto) did not start listening."""


class BrokerUrlError(BrokerError, ValueError):
    """A broker URL that is not ``mqtt[s]://host[:port]`` or ``ws[s]://host[:port][/path]``."""


class TlsConfigError(BrokerError, ValueError):
    """TLS settings that cannot work: a missing file, a certificate without its key."""


class CredentialsFileError(BrokerError, ValueError):
    """An account file (dynamic-security document, admin access, old password or ACL file)
    that is missing, unreadable or not in the form our tools write."""


class AccountExists(BrokerError, ValueError):
    """A broker account (exhibit or service) with this name already exists."""


class UnknownAccount(BrokerError, LookupError):
    """No broker account (exhibit or service) has this name."""


class ControlError(BrokerError, RuntimeError):
    """The dynamic-security plugin could not be reached over ``$CONTROL``, or refused a command."""


class BrokerConfigError(BrokerError, ValueError):
    """Production options that Mosquitto would not honour (e.g. a bind it ignores)."""


class ReloadError(BrokerError, RuntimeError):
    """The running Mosquitto could not be signalled to reload (its certificates)."""
