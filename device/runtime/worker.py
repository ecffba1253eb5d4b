"""The agent's worker: the one thread that owns the outbox and talks to the link.

Everything reaches it through one queue (``device.core.events``): interactions from the
inputs, link events from the link's threads, requests from callers. Each turn it:

1. confirms the input levels that have held for their debounce time by now
   (``device.gpio.interactions``: a level settles with time alone, on the agent's clock, so
   this runs every turn, before any request is answered, and the worker wakes up for it);
2. handles what it drained, in order: interactions are counted (and extend the session)
   in one durable transaction, unless a self-test window takes them; the fleet's custody
   messages move what it stored out of the pending records (``device.outbox.retention``); the
   fleet's assignment, commands, resend requests and configuration are acted on;
3. re-bases this boot's unpublished times once the clock is seen synced;
4. seals the buckets whose time is up and the session that has gone idle;
5. closes a self-test window that has run out;
6. compacts the outbox if it is over its cap, and drops confirmed records past their
   retention (every ``PRUNE_INTERVAL_S``);
7. publishes (``device.runtime.sender``), a pending self-test result (then applies a
   configuration held for its window), the reports of commands and configs, the heartbeat.

When the connection drops, everything the fleet has not confirmed is sent again after
reconnecting: duplicates are harmless (the fleet deduplicates on seq), loss is not.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from broker.topics import Channel, exhibit_topic
from device.core.clock import Clock
from device.core.events import (
    Acked,
    Barrier,
    FlushRequest,
    Inbound,
    Interaction,
    LinkDown,
    LinkRefused,
    LinkUp,
    SelfTestRequest,
    StopRequest,
    Subscribed,
)
from device.gpio.indicator import Indicator
from device.gpio.interactions import Settling
from device.link.base import Link, Publication
from device.ops.commands import CommandHandler
from device.ops.health import HealthProbe
from device.ops.remote_config import RemoteConfig
from device.ops.selftest import SelfTests
from device.ops.status import heartbeat_message
from device.ops.subscriptions import SubscriptionWatch
from device.outbox.compaction import compact
from device.outbox.rebasing import rebase_boot
from device.outbox.retention import Retention, Span, merge_spans, spans_of, stated_custody
from device.outbox.sessions import Sessions
from device.outbox.state import AgentState
from device.outbox.store import Outbox
from device.runtime.reports import CommandReports
from device.runtime.sender import Sender
from device.settings.config import AgentSettings

log = logging.getLogger(__name__)

MAX_IDLE_S = 0.1
"""The worker looks at the clock at least this often, even with nothing queued."""
MAX_DRAIN = 10_000
"""Queue items handled in one turn at most."""
SYNC_POLL_S = 0.5
"""How often (real seconds) the worker asks whether the clock is synced."""
PRUNE_INTERVAL_S = 60.0
"""How often (real seconds) confirmed records past their retention are dropped."""

CommitHook = Callable[[Sequence[Interaction]], None]


class Worker:
    """The worker loop; ``run()`` is the thread's target and returns on a StopRequest."""

    def __init__(
        self,
        settings: AgentSettings,
        *,
        events: queue.SimpleQueue[object],
        outbox: Outbox,
        link: Link,
        clock: Clock,
        indicator: Indicator,
        on_commit: CommitHook | None = None,
        inputs: Settling | None = None,
    ) -> None:
        self.settings = settings
        self._inputs = inputs
        self._events = events
        self._outbox = outbox
        self._clock = clock
        self._indicator = indicator
        self._on_commit = on_commit
        self._boot_id = clock.boot_id()
        self.state = AgentState(outbox)
        self._sessions = Sessions(outbox, idle_s=settings.session_idle_s)
        self._sender = Sender(settings, outbox=outbox, link=link, clock=clock)
        self.retention = Retention(
            outbox, days=settings.retention_days, max_bytes=settings.retention_max_bytes
        )
        self._custody_topic = exhibit_topic(settings.exhibit_id, Channel.CUSTODY)
        self._next_prune = 0.0
        self.self_tests = SelfTests(settings, clock, keep=self.state.keep_self_test)
        self.reconfigure = threading.Event()
        """Set once a configuration from the fleet is applied: rebuild the agent."""
        self.configs = RemoteConfig(
            settings,
            state=self.state,
            clock=clock,
            synced=lambda: self.synced,
            reconfigure=self.reconfigure.set,
            self_testing=lambda: self.self_tests.active is not None,
        )
        self._commands = CommandHandler(
            settings,
            state=self.state,
            self_tests=self.self_tests,
            indicator=indicator,
            clock=clock,
            synced=lambda: self.synced,
            resend=self._resend,
            configs=self.configs,
        )
        self._health = HealthProbe(settings.data_dir)
        self._selftest_topic = exhibit_topic(settings.exhibit_id, Channel.SELFTEST)
        self._selftest_sending = False
        self._reports = CommandReports(self.state, self._sender, settings.exhibit_id)
        self.self_test_pending = self.state.pending_self_test() is not None
        self.connected = threading.Event()
        self.finished = threading.Event()
        self.failure: BaseException | None = None
        self.recorded = 0
        self.last_turn = time.monotonic()
        self.synced = False
        self._next_sync_poll = 0.0
        self._watch_sync()
        self.depth = outbox.depth()
        self._next_due = outbox.next_due(self._boot_id)
        self._next_heartbeat = 0.0
        self._drained_at = clock.monotonic()
        self._flush_waiters: list[tuple[int, threading.Event]] = []
        self.subscriptions = SubscriptionWatch(settings, clock, indicator)

    def run(self) -> None:
        """Turn until stopped; an unexpected error is kept in ``failure``."""
        try:
            self.configs.started()
            while True:
                stop = self._handle(self._take())
                if stop is not None and stop.abrupt:
                    return
                self._turn()
                if stop is not None:
                    return
        except Exception as exc:
            log.exception("agent worker failed")
            self.failure = exc
        finally:
            self.connected.clear()
            self.finished.set()

    def _turn(self) -> None:
        self._watch_sync()
        now = self._clock.monotonic()
        if self._next_due is not None and now >= self._next_due:
            self._sealed(self._outbox.seal_due(boot_id=self._boot_id, now_mono=now))
        self._sealed(self._sessions.close_idle(boot_id=self._boot_id, now_mono=now))
        if self.self_tests.finish_due(self._drained_at) is not None:
            self.self_test_pending = True
            self._selftest_sending = False  # a newer result replaces one in flight
        self._compact()
        self._prune()
        self._sender.pump()
        self._send_self_test()
        self.configs.self_test_closed()  # its result kept and sent: a rebuild loses nothing
        self._reports.pump()
        self._heartbeat()
        self._indicator.tick()
        self._resolve_flushes()
        if not self.reconfigure.is_set():  # else the rebuilt agent picks the requests up
            self.self_tests.poll_requests()
        self.last_turn = time.monotonic()

    def _take(self) -> list[object]:
        now = self._clock.monotonic()
        # Everything stamped before now is queued by now: once this drain is handled, a
        # self-test window that ended before now has seen all of its interactions.
        self._drained_at = now
        waits = [MAX_IDLE_S]
        settles = None if self._inputs is None else self._inputs.due()
        for due in (self._next_due, self._sessions.due(), self.self_tests.due(), settles):
            if due is not None:
                waits.append(due - now)
        if self._sender.session is not None:
            waits.append(self._next_heartbeat - now)
        try:
            items = [self._events.get(timeout=max(0.0, min(waits)))]
        except queue.Empty:
            return []
        while len(items) < MAX_DRAIN:
            try:
                items.append(self._events.get_nowait())
            except queue.Empty:
                break
        return items

    def _handle(self, items: list[object]) -> StopRequest | None:
        counts: list[Interaction] = []
        acked: list[int] = []
        custody: list[bytes] = []
        if self._inputs is not None:
            # Before the requests below: a Barrier or a flush must find every level that
            # has settled by now already counted (the simulator's clock jumps, then asks).
            settled: list[object] = list(self._inputs.settle())
            items = settled + items if settled else items
        for item in items:
            if isinstance(item, Interaction):
                if self.self_tests.active is None:
                    counts.append(item)
                else:
                    self.self_tests.observe([item])
            elif isinstance(item, Acked):
                acked.extend(self._acked(item))
            elif isinstance(item, Inbound) and item.topic == self._custody_topic:
                custody.append(item.payload)
            elif isinstance(item, LinkUp):
                self._sender.up(item.session)
                self._selftest_sending = False
                self._reports.reset()
                self._next_heartbeat = self._clock.monotonic()
                self._indicator.clear_error()
                self.connected.set()
            elif isinstance(item, LinkDown):
                if self._sender.down(item.session):
                    self._selftest_sending = False
                    self._reports.reset()
                    self.connected.clear()
            elif isinstance(item, Subscribed):
                if (status := self.subscriptions.answered(item.refused)) is not None:
                    self._sender.publish_untracked(status)
            elif isinstance(item, LinkRefused):
                self._indicator.show_error(f"broker refused the connection: {item.reason}")
            elif isinstance(item, StopRequest):
                if not item.abrupt:  # a power cut loses what was not committed yet
                    self._commit(counts, acked, custody)
                return item  # open buckets stay open, to go on after a restart
            else:
                self._commit(counts, acked, custody)
                counts, acked, custody = [], [], []
                self._request(item)
        self._commit(counts, acked, custody)
        return None

    def _request(self, item: object) -> None:
        if isinstance(item, Inbound):
            if self._commands.handle(item.topic, item.payload, item.expiry_s):
                self._sealed(self._sessions.close())  # a session belongs to one visit
        elif isinstance(item, FlushRequest):
            self._sealed(self._outbox.seal_all())
            self._sealed(self._sessions.close())
            self._flush_waiters.append((self._outbox.last_seq(), item.done))
        elif isinstance(item, Barrier):
            item.done.set()
        elif isinstance(item, SelfTestRequest):
            self.self_tests.start(item.command_id, item.seconds, request=item)

    def _acked(self, ack: Acked) -> list[int]:
        refused_before = self._sender.refusal
        seqs = self._sender.acked(ack)
        if self._sender.refusal is not None:
            self._indicator.show_error(f"broker refused counts: {self._sender.refusal}")
        elif refused_before is not None:
            self._indicator.clear_error()
        return seqs

    def _commit(self, counts: list[Interaction], acked: list[int], custody: list[bytes]) -> None:
        if counts:
            visit_id = self.state.visit_id
            with self._outbox.transaction():
                self._outbox.add(
                    counts, boot_id=self._boot_id, clock_synced=self.synced, visit_id=visit_id
                )
                sealed = self._sessions.add(
                    counts, boot_id=self._boot_id, clock_synced=self.synced, visit_id=visit_id
                )
            self.recorded += len(counts)
            self._sealed(sealed)
            if self._on_commit is not None:
                self._on_commit(counts)
        spans, at = self._confirmations(acked, custody)
        if spans:
            moved = self.retention.confirm(spans, at=at)
            self.depth -= len(moved)
            self._sender.confirmed(moved)

    def _confirmations(self, acked: list[int], custody: list[bytes]) -> tuple[list[Span], float]:
        """What the broker (``EXHIBIT_CUSTODY=broker``) or the fleet confirmed, and when."""
        upto = self._outbox.published_upto()
        spans, at = stated_custody(custody, exhibit_id=self.settings.exhibit_id, upto=upto)
        return merge_spans([*spans, *spans_of(acked)]), at or self._clock.wall().timestamp()

    def _resend(self, from_seq: int) -> None:
        """The fleet lacks the records from ``from_seq`` on: send them again."""
        self.depth += self.retention.resend(from_seq)
        self._sender.rewind()

    def _prune(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_INTERVAL_S
        dropped = self.retention.prune()
        if dropped:
            log.info("dropped %d confirmed record(s) past their retention", dropped)

    def _sealed(self, seqs: list[int]) -> None:
        self.depth += len(seqs)
        if seqs:
            self._sender.sealed()
        self._next_due = self._outbox.next_due(self._boot_id)

    def _watch_sync(self) -> None:
        now = time.monotonic()
        if now < self._next_sync_poll:
            return
        self._next_sync_poll = now + SYNC_POLL_S
        synced = self._clock.synced()
        if synced and not self.synced:
            offset = self._clock.wall().timestamp() - self._clock.monotonic()
            changed = rebase_boot(self._outbox, boot_id=self._boot_id, offset_s=offset)
            self._sessions.current = self._sessions.load()
            if changed:
                log.info("clock synced: re-based %d unpublished row(s) of this boot", changed)
        self.synced = synced

    def _compact(self) -> None:
        if self.depth <= self.settings.outbox_max_records:
            return
        if self._outbox.last_seq() <= self._outbox.published_upto():
            return  # nothing unpublished to merge (a resend refills the outbox, say)
        if compact(self._outbox, max_records=self.settings.outbox_max_records) is None:
            return
        self.depth = self._outbox.depth()
        last = self._outbox.last_seq()  # the unpublished tail was renumbered
        self._flush_waiters = [(min(t, last), done) for t, done in self._flush_waiters]
        self._sender.sealed()

    def _send_self_test(self) -> None:
        if self._selftest_sending or self._sender.session is None:
            return
        payload = self.state.pending_self_test()
        self.self_test_pending = payload is not None
        if payload is None:
            return

        def delivered() -> None:
            self.state.self_test_delivered(payload)
            self.self_test_pending = self.state.pending_self_test() is not None

        message = Publication(self._selftest_topic, payload, qos=1, retain=True)
        self._selftest_sending = self._sender.publish_other(message, delivered)

    def _heartbeat(self) -> None:
        now = self._clock.monotonic()
        if self._sender.session is None or now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.settings.heartbeat_seconds
        message = heartbeat_message(
            self.settings,
            clock=self._clock,
            clock_synced=self.synced,
            outbox_depth=self.depth,
            health=self._health.sample(),
            retained_from_seq=self.retention.oldest(),
            retained_records=self.retention.held,
            refused=self.subscriptions.refused,
        )
        self._sender.publish_untracked(message)

    def _resolve_flushes(self) -> None:
        if not self._flush_waiters:
            return
        oldest = self._outbox.oldest_seq()
        waiting = []
        for target, done in self._flush_waiters:
            if oldest is None or oldest > target:
                done.set()
            else:
                waiting.append((target, done))
        self._flush_waiters = waiting
