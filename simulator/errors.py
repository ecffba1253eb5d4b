"""Errors raised by the simulator.

SimError
 ├── LedgerError (ValueError)       a ledger file that cannot be read
 └── FleetApiError (RuntimeError)   the fleet API answered something unexpected
"""

from __future__ import annotations


class SimError(Exception):
    """Root of every error raised by the ``simulator`` package."""


class LedgerError(SimError, ValueError):
    """A ground-truth ledger line that cannot be parsed."""


class FleetApiError(SimError, RuntimeError):
    """The fleet API refused a request or answered with an unexpected shape."""
