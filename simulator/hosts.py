"""The coordinator's handle on an exhibit host process: start, ask, kill -9, stop.

Requests go one at a time per host; ``send`` to many hosts, then ``receive`` from each,
runs their work in parallel. A reader thread turns the host's stdout into a queue, so
every wait has a deadline and a dead host is noticed at once (end of its output).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from simulator.errors import HostError
from simulator.host_protocol import EXIT_IDENTITY, HostConfig

START_TIMEOUT_S = 60.0
_EOF = None


class ExhibitHost:
    """One ``python -m simulator.exhibit_process`` child and its pipe."""

    def __init__(self, name: str, config: HostConfig, work_dir: Path) -> None:
        self.name = name
        self.config = config
        self.exhibit_ids = [boot.exhibit_id for boot in config.exhibits]
        self.config_path = work_dir / f"{name}.json"
        self.log_path = work_dir / f"{name}.log"
        self.process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Start the process; return its first word: ``ready`` or ``identity_mismatch``."""
        self.spawn()
        return self.first_word(timeout)

    def spawn(self) -> None:
        """Start the process without waiting for it (start many, then ``first_word`` each)."""
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config.model_dump_json(indent=1))
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "simulator.exhibit_process", str(self.config_path)],
                env={**os.environ, "TZ": self.config.timezone},  # the Pis' local time
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="utf-8",
            )
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self.process.stdout,), name=f"host-{self.name}", daemon=True
        )
        self._reader.start()

    def first_word(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """What the host says once its agents are up: ``ready`` or ``identity_mismatch``."""
        first = self.receive(timeout)
        if first.get("event") not in ("ready", "identity_mismatch"):
            raise HostError(f"host {self.name} did not start: {first}; see {self.log_path}")
        return first

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                self._lines.put(json.loads(line))
            except json.JSONDecodeError:
                self._lines.put({"ok": False, "error": f"not a protocol line: {line[:200]!r}"})
        self._lines.put(_EOF)

    @property
    def alive(self) -> bool:
        """Whether the process is running."""
        return self.process is not None and self.process.poll() is None

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to end; its exit code."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise HostError(f"host {self.name} did not exit within {timeout}s") from None

    def kill(self) -> None:
        """``kill -9``: a power cut for every agent of this host."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the agents cleanly; kill the process if it does not end in time."""
        if not self.alive:
            self._close_pipes()
            return
        try:
            self.request({"op": "stop"}, timeout)
            self.wait_exit(timeout)
        except HostError:
            self.kill()
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.process is None:
            return
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process.poll() is not None and self._reader is not None:
            self._reader.join(5)  # it has read to the end of a dead process's output
        if self.process.stdout is not None and not (self._reader and self._reader.is_alive()):
            self.process.stdout.close()

    # -- requests ----------------------------------------------------------------------

    def send(self, request: dict[str, Any]) -> None:
        """Send one request; its reply comes with ``receive``."""
        if not self.alive or self.process is None or self.process.stdin is None:
            raise HostError(f"host {self.name} is not running (see {self.log_path})")
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError as exc:
            raise HostError(f"host {self.name}: cannot send ({exc}); see {self.log_path}") from exc

    def receive(self, timeout: float) -> dict[str, Any]:
        """The next line from the host; HostError if it died or said nothing in time."""
        try:
            reply = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise HostError(f"host {self.name} did not answer within {timeout}s") from None
        if reply is _EOF:
            code = self.process.poll() if self.process else None
            if code == EXIT_IDENTITY:
                return {"event": "exited", "code": code}
            raise HostError(f"host {self.name} ended (exit {code}); see {self.log_path}")
        return reply

    def request(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send and wait for the reply; HostError unless it says ``ok``."""
        self.send({**request, "timeout": timeout})
        reply = self.receive(timeout + 10)
        if not reply.get("ok"):
            raise HostError(f"host {self.name}: {request.get('op')}: {reply.get('error', reply)}")
        return reply
