"""Errors raised by the exhibit agent.

AgentError
 ├── ConfigError (ValueError)          a setting is wrong; the message names it and the fix
 ├── InputError (RuntimeError)         an input device could not be set up on its pin
 ├── OutboxError (RuntimeError)        the durable outbox cannot be opened, read or written
 ├── IdentityMismatch (RuntimeError)   this machine is not the one the exhibit was provisioned on
 └── AgentStateError (RuntimeError)    a call that does not fit the agent's state (e.g. not started)
      └── AlreadyRunning               another agent holds this data directory
"""

from __future__ import annotations


class AgentError(Exception):
    """Root of every error raised by the ``device`` package."""


class ConfigError(AgentError, ValueError):
    """A bad setting: the message is one line naming the setting and how to fix it."""


class InputError(AgentError, RuntimeError):
    """An input (button, sensor) could not be created on its pin."""


class OutboxError(AgentError, RuntimeError):
    """The SQLite outbox cannot be opened or used."""


class IdentityMismatch(AgentError, RuntimeError):
    """The SD card runs on another machine than it was provisioned on (a clone), or for
    another exhibit id: publishing would speak for an exhibit this machine is not."""


class AgentStateError(AgentError, RuntimeError):
    """The agent was asked for something its current state does not allow."""


class AlreadyRunning(AgentStateError):
    """Another agent process (or Agent object) holds the lock of this data directory."""
