"""Whether an exhibit runs the configuration the fleet expects of it.

The agent sends at birth a hash of what shapes its counts (inputs with their pins and
rules, bucket length, session idle time: ``device/settings/config.py``, ``config_hash()``) and the
names it counts under. The fleet cannot compute that hash from what it stores (pins and
rules are not registered), so it keeps the hash it *expects* per exhibit
(``exhibits.expected_config_hash``): a technician accepts the reported one once the
exhibit is known to be right, and a configuration pushed by the fleet will set it. The
registered input names are compared with the reported ones too.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ConfigState(StrEnum):
    """What the fleet can say about an exhibit's configuration."""

    MATCHES = "matches"
    """It reports the expected hash (and the registered inputs, if any are registered)."""
    DRIFTED = "drifted"
    """It reports a hash other than the expected one."""
    INPUTS_DIFFER = "inputs_differ"
    """It counts under other input names than those registered."""
    NOT_EXPECTED = "not_expected"
    """No hash is expected of it yet: right or wrong is not known."""
    NOT_REPORTED = "not_reported"
    """Its agent has not said (no birth yet, or an agent too old to send it)."""

    @property
    def wrong(self) -> bool:
        """Whether the exhibit is known to run another configuration than expected."""
        return self in (ConfigState.DRIFTED, ConfigState.INPUTS_DIFFER)


def config_state(
    *,
    expected_hash: str | None,
    reported_hash: str | None,
    registered_inputs: Sequence[str],
    reported_inputs: Sequence[str] | None,
) -> ConfigState:
    """Compare what the exhibit reported with what the fleet expects; known wrongs first."""
    if expected_hash is not None and reported_hash is not None and reported_hash != expected_hash:
        return ConfigState.DRIFTED
    if (
        registered_inputs
        and reported_inputs is not None
        and set(registered_inputs) != set(reported_inputs)
    ):
        return ConfigState.INPUTS_DIFFER
    if reported_hash is None:
        return ConfigState.NOT_REPORTED
    if expected_hash is None:
        return ConfigState.NOT_EXPECTED
    return ConfigState.MATCHES
