"""Which agent version the fleet considers current, and whether an exhibit runs an older one.

The current version is ``FLEET_AGENT_CURRENT_VERSION`` when it is set (the version the
technicians deploy, said on purpose); otherwise the newest version any registered
exhibit reports, which flags the stragglers of a roll-out but cannot see an exhibit
that missed every update. Versions compare as PEP 440 versions (``1.10.0`` is newer than
``1.9.2``); a version that does not parse as one is not compared: outdated is then not
known, never guessed from the text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from packaging.version import InvalidVersion, Version


class VersionBasis(StrEnum):
    """Where the current version came from."""

    SETTING = "setting"
    """``FLEET_AGENT_CURRENT_VERSION``."""
    NEWEST_REPORTED = "newest_reported"
    """The newest version reported by an exhibit of the fleet."""
    NONE = "none"
    """Nothing configured, and no exhibit reported a version that parses."""


@dataclass(frozen=True, slots=True)
class VersionPolicy:
    """The version exhibits should run, and why that one."""

    current: str | None
    basis: VersionBasis

    def outdated(self, version: str | None) -> bool | None:
        """Whether ``version`` is older than the current one (None: not known)."""
        mine, current = _parse(version), _parse(self.current)
        if mine is None or current is None:
            return None
        return mine < current


def version_policy(configured: str | None, reported: Iterable[str | None]) -> VersionPolicy:
    """The setting if given, else the newest parseable version among ``reported``."""
    if configured is not None:
        return VersionPolicy(configured, VersionBasis.SETTING)
    parsed = [(found, text) for text in reported if (found := _parse(text)) is not None]
    if not parsed:
        return VersionPolicy(None, VersionBasis.NONE)
    return VersionPolicy(max(parsed)[1], VersionBasis.NEWEST_REPORTED)


def valid_version(text: str) -> bool:
    """Whether ``text`` is a PEP 440 version (for the setting's check)."""
    return _parse(text) is not None


def _parse(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None
