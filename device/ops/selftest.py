"""Self-test: the technician triggers every input within a window; each is seen or not seen.

A self-test starts from a retained ``self_test`` command (the fleet's "check sensors"
button), or from ``exhibit-agent self-test`` on the Pi. While the window is open,
interactions are the technician's, not visitors': they mark their input as seen and are
not counted (not in counts, not in sessions). None of them is dropped silently: the
result says how many the window took, by count name (``taken``), and the fleet counts
them as self-test presses. When it closes, a ``SelfTestResult`` (seen per configured
input, passed = all seen, taken) is kept in the outbox and published retained on the
exhibit's ``selftest`` topic until the broker acknowledges it. (A self-test command does
not start while the exhibit holds a visit, unless forced: ``device.ops.commands``.)

``exhibit-agent self-test`` and the running service talk through files in
``data_dir/selftest/``: the command writes ``request-ID.json`` (atomically), the agent
picks it up within a quarter second, runs the window and writes ``result-ID.json``,
which the command prints. Files need no open port and no extra permission beyond the
data directory, survive nothing they should not (a request is consumed when read), and
work the same whether the agent runs under systemd or in the command's own process
(``device.runtime.cli`` starts an agent itself when none holds the data directory's lock).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from device.core.clock import Clock
from device.core.events import Interaction, SelfTestRequest
from device.settings.config import AgentSettings
from device.wire.codec import SelfTestResult

log = logging.getLogger(__name__)

REQUEST_DIR = "selftest"
POLL_S = 0.25


def request_dir(data_dir: Path) -> Path:
    """Where self-test requests and results are exchanged."""
    return data_dir / REQUEST_DIR


def write_request(data_dir: Path, *, seconds: float) -> str:
    """Ask the running agent for a self-test of ``seconds``; return its command id."""
    command_id = f"local-{uuid.uuid4().hex[:12]}"
    folder = request_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{command_id}.tmp"
    temporary.write_text(json.dumps({"command_id": command_id, "seconds": seconds}))
    temporary.replace(folder / f"request-{command_id}.json")
    return command_id


def wait_result(data_dir: Path, command_id: str, *, timeout: float) -> SelfTestResult | None:
    """Wait for the result of request ``command_id``; None after ``timeout`` seconds."""
    path = request_dir(data_dir) / f"result-{command_id}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            result = SelfTestResult.from_json(path.read_text())
            path.unlink(missing_ok=True)
            return result
        time.sleep(0.05)
    return None


@dataclass(slots=True)
class _Run:
    command_id: str
    seconds: float
    seen: dict[str, bool]
    request: SelfTestRequest | None = None
    reply_file: bool = False
    ends_at: float = 0.0
    taken: dict[str, int] = field(default_factory=dict)
    """Interactions the window took out of the counts, by count name."""


@dataclass(slots=True)
class SelfTests:
    """The self-test windows of one agent, one at a time; driven by the worker."""

    settings: AgentSettings
    clock: Clock
    keep: Callable[[SelfTestResult], None] = lambda result: None
    """Stores a result durably; called before anyone is told of it."""
    active: _Run | None = None
    _queue: deque[_Run] = field(default_factory=deque)
    _next_poll: float = 0.0

    def start(
        self,
        command_id: str,
        seconds: float,
        *,
        request: SelfTestRequest | None = None,
        reply_file: bool = False,
    ) -> None:
        """Open a window of ``seconds`` (after the one running, if any)."""
        names = [spec.name for spec in self.settings.inputs]
        run = _Run(command_id, seconds, dict.fromkeys(names, False), request, reply_file)
        self._queue.append(run)
        self._advance()

    def _advance(self) -> None:
        if self.active is None and self._queue:
            run = self._queue.popleft()
            run.ends_at = self.clock.monotonic() + run.seconds
            self.active = run
            log.warning(
                "self-test %s: trigger every input within %gs: %s",
                run.command_id,
                run.seconds,
                ", ".join(run.seen) or "(no inputs configured)",
            )

    def due(self) -> float | None:
        """Monotonic time at which the running window closes."""
        return None if self.active is None else self.active.ends_at

    def observe(self, interactions: list[Interaction]) -> list[Interaction]:
        """Mark what the technician triggered; return what still counts (all, if no window)."""
        if self.active is None:
            return interactions
        for item in interactions:
            self.active.taken[item.input] = self.active.taken.get(item.input, 0) + 1
            if item.origin in self.active.seen and not self.active.seen[item.origin]:
                self.active.seen[item.origin] = True
                log.warning("self-test: %s seen", item.origin)
        return []

    def finish_due(self, handled_upto: float | None = None) -> SelfTestResult | None:
        """Close the running window if its time is up; return its result.

        ``handled_upto``: the monotonic time up to which every interaction has been handed
        to ``observe`` (the worker's last drain of its queue). A window closes only then:
        a clock that jumps past its end must not leave presses made inside it uncounted
        by it (and counted as visitors' instead).
        """
        run = self.active
        now = self.clock.monotonic() if handled_upto is None else handled_upto
        if run is None or now < run.ends_at:
            return None
        self.active = None
        result = SelfTestResult(
            exhibit_id=self.settings.exhibit_id,
            command_id=run.command_id,
            at=self.clock.wall(),
            seen=run.seen,
            passed=all(run.seen.values()),
            taken=dict(sorted(run.taken.items())),
        )
        self.keep(result)
        if run.reply_file:
            folder = request_dir(self.settings.data_dir)
            temporary = folder / f".result-{run.command_id}.tmp"
            temporary.write_bytes(result.to_payload())
            temporary.replace(folder / f"result-{run.command_id}.json")
        if run.request is not None:
            run.request.result = result
            run.request.done.set()
        self._advance()
        return result

    def poll_requests(self) -> None:
        """Pick up request files of ``exhibit-agent self-test`` (at most every POLL_S)."""
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + POLL_S
        folder = request_dir(self.settings.data_dir)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("request-*.json")):
            try:
                raw = json.loads(path.read_text())
                command_id, seconds = str(raw["command_id"]), float(raw["seconds"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring self-test request %s: %s", path.name, exc)
                command_id = ""
            with contextlib.suppress(OSError):
                path.unlink()
            if command_id:
                self.start(command_id, seconds, reply_file=True)
