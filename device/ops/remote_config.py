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
                replaces it.
``applied``     written to the data directory (``device.settings.pushed``: temporary
                file, fsync, rename), and the agent rebuilt from the new settings: the
                worker asks to stop with reason ``reconfigure`` and ``exhibit-agent run``
                starts a new agent on the same outbox (records and seqs carry on). That
                agent, running it, reports ``applied`` (so a power cut between the rename
                and the report loses nothing); its birth carries ``config_version`` and
                the new ``config_hash``.
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
    ) -> None:
        self.settings = settings
        self._state = state
        self._clock = clock
        self._synced = synced
        self._reconfigure = reconfigure
        self.waiting: ExhibitConfig | None = None
        """The version held until the visit ends."""
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
        self._apply(config)

    def visit_changed(self) -> None:
        """The assignment changed: a version held for the visit is applied once it ends."""
        if self.waiting is not None and self._state.visit_id is None:
            self._apply(self.waiting)

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
