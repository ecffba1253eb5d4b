"""What the broker refused of the agent's own subscriptions (its SUBACK reason codes).

A broker whose ACL (the exhibit's dynamic-security role) does not let the exhibit read
its own assignment or command channel grants the connection but refuses the
subscription: the exhibit would wait for ever for a visit or a command that can never
reach it. So every refusal is logged, shown on the indicator, and reported: in the
heartbeat, and in the retained status, published again once the SUBACK is in (the birth
goes out before it). The fleet shows it on fleet health.
"""

from __future__ import annotations

import logging

from device.core.clock import Clock
from device.gpio.indicator import Indicator
from device.link.base import Publication
from device.ops.status import status_message
from device.settings.config import AgentSettings

log = logging.getLogger(__name__)


class SubscriptionWatch:
    """The refusals of the latest connection; called by the worker only."""

    def __init__(self, settings: AgentSettings, clock: Clock, indicator: Indicator) -> None:
        self.settings = settings
        self.clock = clock
        self.indicator = indicator
        self.refused: dict[str, str] | None = None
        """Topic filter -> the broker's reason; {}: all granted; None: not answered yet."""

    def answered(self, refused: dict[str, str]) -> Publication | None:
        """Take a SUBACK's refusals; the status to publish again, or None."""
        for topic, reason in sorted(refused.items()):
            log.error(
                "the broker refused our subscription to %s (%s): nothing sent there reaches "
                "this exhibit; its account's role must allow it (fleet-api broker)",
                topic,
                reason,
            )
            self.indicator.show_error(f"broker refused subscription {topic}: {reason}")
        # Nothing refused now or before: the birth said all there is (the heartbeat says {}).
        before, self.refused = self.refused, dict(refused)
        if not refused and not before:
            return None
        return status_message(self.settings, online=True, clock=self.clock, refused=refused)
