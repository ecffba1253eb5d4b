"""Errors raised by the simulator.

SimError
 ├── LedgerError (ValueError)       a ledger file that cannot be read
 ├── FleetApiError (RuntimeError)   the fleet API answered something unexpected
 ├── ScenarioError (ValueError)     a scenario file that cannot be simulated
 ├── HostError (RuntimeError)       a simulated exhibit's host process failed
 └── FaultError (RuntimeError)      a fault could not be injected or its check failed
"""

from __future__ import annotations


class SimError(Exception):
    """Root of every error raised by the ``simulator`` package."""


class LedgerError(SimError, ValueError):
    """A ground-truth ledger line that cannot be parsed."""


class FleetApiError(SimError, RuntimeError):
    """The fleet API refused a request or answered with an unexpected shape."""


class ScenarioError(SimError, ValueError):
    """A scenario file that cannot be simulated: it names the file, line and field."""


class HostError(SimError, RuntimeError):
    """A simulated exhibit's host process failed or did not answer in time."""


class FaultError(SimError, RuntimeError):
    """A fault could not be injected, or its own check failed."""
