"""Whether an exhibit runs the configuration the fleet expects of it.

The agent sends at birth a hash of what shapes its counts (inputs with their pins and
rules, bucket length, session idle time: ``device/settings/config.py``, ``config_hash()``), or,
when it runs a configuration the fleet pushed, that configuration's version and hash
(``broker.exhibit_config.config_hash``), and the names it counts under. The fleet keeps
the hash it *expects* per exhibit (``exhibits.expected_config_hash``): a technician
accepts the reported one once the exhibit is known to be right, and pushing a
configuration (``PUT /exhibits/{id}/config``) sets it to the pushed one. The registered
input names are compared with the reported ones too.

While the exhibit does not yet run the newest pushed version, what it reported of that
version says more than "another hash": it ``refused`` it (a wrong: the reason is shown),
is ``waiting`` for its visit to end (not wrong: it will apply it), or has not answered
yet (``pending``: not known).

An exhibit whose birth says it runs a version of the fleet's configuration above the
newest this fleet has a record of (the fleet was restored from a backup older than that
push) runs a configuration the fleet cannot show: ``unknown_version``, never
``matches``, whatever hash the restored fleet expects. The next push is numbered above
it (:func:`fleet_api.store.configs.next_version`) and ends it.
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
    REFUSED = "refused"
    """It refused the newest configuration the fleet pushed, and runs the one before."""
    WAITING = "waiting"
    """It holds the newest configuration and applies it when its visit ends."""
    PENDING = "pending"
    """The newest configuration was sent; the exhibit has not said what it did with it."""
    UNKNOWN_VERSION = "unknown_version"
    """It runs a version of the fleet's configuration the fleet has no record of (restored
    from an older backup): what it runs is not known here until a configuration is pushed."""

    @property
    def wrong(self) -> bool:
        """Whether the exhibit is known to run another configuration than expected."""
        return self in (ConfigState.DRIFTED, ConfigState.INPUTS_DIFFER, ConfigState.REFUSED)


def config_state(
    *,
    expected_hash: str | None,
    reported_hash: str | None,
    registered_inputs: Sequence[str],
    reported_inputs: Sequence[str] | None,
    pushed_outcome: str | None = None,
    pushed_hash: str | None = None,
    reported_version: int | None = None,
    pushed_version: int | None = None,
) -> ConfigState:
    """Compare what the exhibit reported with what the fleet expects; known wrongs first.

    ``pushed_version``, ``pushed_hash`` and ``pushed_outcome``: the newest configuration
    the fleet pushed, and what the exhibit reported of it (None: nothing yet, or nothing
    was pushed); ``reported_version``: the version its birth says it runs (None: its own).
    """
    if reported_version is not None and reported_version > (pushed_version or 0):
        return ConfigState.UNKNOWN_VERSION
    runs_pushed = pushed_hash is not None and reported_hash == pushed_hash
    if pushed_hash is not None and not runs_pushed and expected_hash == pushed_hash:
        if pushed_outcome == "refused":
            return ConfigState.REFUSED
        if pushed_outcome == "waiting":
            return ConfigState.WAITING
        if pushed_outcome is None:
            return ConfigState.PENDING
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
