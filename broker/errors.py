"""Errors raised by the MQTT contract and the broker helpers.

BrokerError
 ├── TopicError (ValueError)          a topic string that is not one of ours
 ├── MessageError (ValueError)        a payload that is not a valid message; ``reason`` says why
 └── BrokerStartError (RuntimeError)  a broker process that would not come up
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
