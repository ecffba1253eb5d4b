"""The fleet's configuration for this exhibit: checked, held through a visit, applied atomically.

The fleet publishes its newest version retained on the exhibit's ``config`` channel
(``PUT /exhibits/{id}/config``), so it arrives on every (re)connection. The worker hands
each delivery here (through ``device.ops.commands``), and the exhibit answers on
``configured`` with a ``ConfigReport``, kept in the outbox until the broker has it
(``device.runtime.reports``):

==============  ===========================================================================
``refused``     the document breaks ``broker.exhibit_config``'s rules, its hash is wrong,
                or it does not fit the local settings (the indicator's pin, say); the
                reason is the checker's one line. The configuration it ran stays.
``waiting``     the exhibit holds a visit assignment and the version is not ``force``d:
                the school's exhibit does not change under its hands. It is applied the
                moment the assignment is cleared (the visit ends); a newer version
                replaces it (and is answered for itself: ``waiting`` again, if it must
                wait too). The replaced one is never applied nor answered: the fleet's
                history shows it ``superseded``.
(none yet)      a self-test window is open or queued (``device.ops.selftest``): the
                rebuild would cut it and lose its result, so the version is held
                (nothing written) until the window has closed and its result is kept in
                the outbox and, when connected, handed to the broker (the worker's same
                turn); then it is applied as below (or, if the exhibit was checked out
                to a visit meanwhile, reported ``waiting``). A newer version replaces
                it. A self-test command arriving once a version is applied, before the
                rebuild, is left for the new agent (``device.ops.commands``).
``applied``     written to the data directory (``device.settings.pushed``: temporary
                file, fsync, rename), and the agent rebuilt from the new settings: the
                worker asks to stop with reason ``reconfigure`` and ``exhibit-agent run``
                starts a new agent on the same outbox (records and seqs carry on). That
                agent, running it, reports ``applied`` (so a power cut between the rename
                and the report loses nothing); its birth carries ``config_version`` and
                the new ``config_hash``. A self-test result the broker had not
                acknowledged yet is sent again by that agent before the report.
==============  ===========================================================================

A version at or below the one running is not applied again (the retained message after
every reconnect); a final answer (applied, refused) is given once per version (noted in
the outbox with the report), so a redelivery is quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from device.core.clock import Clock
from device.core.errors import ConfigError
from device.outbox.state import AgentState
from device.settings.config import AgentSettings
from device.settings.pushed import Pushed, overlaid, write_pushed
from device.wire.configs import ExhibitConfig, config_report_payload

log = logging.getLogger(__name__)


class RemoteConfig:
    """Decides what to do with each configuration the fleet sends (worker thread only)."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        state: AgentState,
        clock: Clock,
        synced: Callable[[], bool],
        reconfigure: Callable[[], None],
        self_testing: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self._state = state
        self._clock = clock
        self._synced = synced
        self._reconfigure = reconfigure
        self._self_testing = self_testing
        self.waiting: ExhibitConfig | None = None
        """The version held until the visit ends."""
        self.deferred: ExhibitConfig | None = None
        """The version held until the open self-test window has closed."""
        self.applied: ExhibitConfig | None = None
        """The version just written (the agent is being rebuilt for it)."""

    def started(self) -> None:
        """The agent runs its settings: a pushed version not yet answered is ``applied``."""
        settings = self.settings
        running, hash_ = settings.config_version, settings.pushed_config_hash
        if running is not None and hash_ is not None and self._state.config_answered() != running:
            now = self._clock.wall()
            self._report(ExhibitConfig(settings.exhibit_id, running, hash_, {}, now), "applied")

    def offer(self, config: ExhibitConfig, refusal: str | None = None) -> None:
        """A configuration from the fleet; ``refusal``: why its document cannot be applied."""
        if self.applied is not None:
            return  # a new agent takes it from here (it comes again, retained)
        running = self.settings.config_version
        if running is not None and config.version <= running:
            if config.version < running:
                log.warning(
                    "ignoring configuration version %d: this exhibit runs version %d",
                    config.version,
                    running,
                )
            return
        if self.waiting is not None and self.waiting.version < config.version:
            self.waiting = None  # superseded: the fleet wants the newer one
        if self.deferred is not None and self.deferred.version < config.version:
            self.deferred = None
        if refusal is None:
            try:
                overlaid(self.settings, _pushed(config))
            except ConfigError as exc:
                refusal = str(exc)
        if refusal is not None:
            if self._state.config_answered() != config.version:
                log.warning("refusing configuration version %d: %s", config.version, refusal)
                self._report(config, "refused", reason=refusal)
            return
        self._place(config)

    def visit_changed(self) -> None:
        """The assignment changed: a version held for the visit is applied once it ends."""
        if self.waiting is not None and self._state.visit_id is None:
            config, self.waiting = self.waiting, None
            self._place(config)

    def self_test_closed(self) -> None:
        """A version held for a self-test window goes on once no window is open."""
        if self.deferred is not None and not self._self_testing():
            config, self.deferred = self.deferred, None
            self._place(config)

    def _place(self, config: ExhibitConfig) -> None:
        """Hold ``config`` for the visit or the self-test window, or apply it now."""
        if self._state.visit_id is not None and not config.force:
            if self.waiting is None or self.waiting.version != config.version:
                log.info(
                    "configuration version %d waits until visit %d ends",
                    config.version,
                    self._state.visit_id,
                )
                self._report(config, "waiting")
            self.waiting = config
            return
        if self._self_testing():
            if self.deferred is None or self.deferred.version != config.version:
                log.info(
                    "configuration version %d waits until the self-test window closes",
                    config.version,
                )
            self.deferred = config
            return
        self._apply(config)

    def _apply(self, config: ExhibitConfig) -> None:
        write_pushed(self.settings.data_dir, _pushed(config))
        log.info("configuration version %d (%s) written", config.version, config.config_hash)
        self.waiting = None
        self.applied = config
        self._reconfigure()

    def _report(self, config: ExhibitConfig, outcome: str, *, reason: str | None = None) -> None:
        report = config_report_payload(
            config,
            outcome=outcome,
            at=self._clock.wall(),
            clock_synced=self._synced(),
            reason=reason,
        )
        final = outcome != "waiting"  # applied or refused: answered for good
        self._state.note_config_report(report, answered=config.version if final else None)


def _pushed(config: ExhibitConfig) -> Pushed:
    return Pushed(config.version, config.config_hash, config.config)
