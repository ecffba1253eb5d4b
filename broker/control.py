"""Commands to Mosquitto's dynamic-security plugin over ``$CONTROL`` (the one paho user of broker/).

``fleet-api broker`` changes accounts on the running broker, live: it publishes a JSON
``{"commands": [...]}`` on ``$CONTROL/dynamic-security/v1`` and reads the plugin's answer
on ``.../response`` (one answer per command, with its ``correlationData`` and an
``error`` when it failed). Nothing is restarted and no file is rewritten by us.

It connects over the broker's Unix socket listener (``listener 0 PATH``). Mosquitto
creates that socket as root before it drops privileges, so only root can connect: the
admin password alone, were it to leak, is not enough from another machine.

The admin's socket, username and password are in one ``KEY=value`` file, 0600
(``ControlAccess``), written by ``fleet-api broker init``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from broker.acl import ADMIN_USERNAME, CONTROL_RESPONSE_TOPIC, CONTROL_TOPIC
from broker.errors import ControlError, CredentialsFileError

TIMEOUT_S = 10.0
_KEYS = ("FLEET_BROKER_CONTROL_SOCKET", "FLEET_BROKER_CONTROL_USERNAME")
_PASSWORD = "FLEET_BROKER_CONTROL_PASSWORD"  # noqa: S105 - the key's name, not a secret


@dataclass(frozen=True, slots=True)
class ControlAccess:
    """Where and as whom ``fleet-api broker`` reaches the plugin."""

    socket: Path
    password: str = field(repr=False)
    username: str = ADMIN_USERNAME

    def lines(self) -> str:
        """The access file's text."""
        return (
            f"FLEET_BROKER_CONTROL_SOCKET={self.socket}\n"
            f"FLEET_BROKER_CONTROL_USERNAME={self.username}\n"
            f"{_PASSWORD}={self.password}\n"
        )

    @classmethod
    def read(cls, path: Path) -> ControlAccess:
        """Read an access file written by ``fleet-api broker init``."""
        try:
            text = path.read_text()
        except OSError as exc:
            raise CredentialsFileError(
                f"cannot read the broker admin file {path} ({exc.strerror}): run as root, or "
                "create it with 'fleet-api broker init' (or pass --control-file)"
            ) from None
        values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        missing = [key for key in (*_KEYS, _PASSWORD) if not values.get(key)]
        if missing:
            raise CredentialsFileError(f"{path} lacks {', '.join(missing)}")
        return cls(Path(values[_KEYS[0]]), values[_PASSWORD], values[_KEYS[1]])


class ControlClient:
    """One connection to the plugin; ``execute`` sends commands and returns their answers."""

    def __init__(
        self, access: ControlAccess, *, timeout_s: float = TIMEOUT_S, wait_s: float = 0.0
    ) -> None:
        """``wait_s``: how long to keep trying the socket (a broker that is just starting)."""
        self._access = access
        self._timeout_s = timeout_s
        self._wait_s = wait_s
        self._changed = threading.Condition()
        self._connack: ReasonCode | None = None
        self._subscribed: list[ReasonCode] | None = None
        self._closed = False
        self._answers: dict[str, dict[str, Any]] = {}
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"fleet-broker-admin:{os.getpid()}:{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
            transport="unix",
            reconnect_on_failure=False,
        )
        self._client.username_pw_set(access.username, access.password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect

    def __enter__(self) -> ControlClient:
        where = f"the broker's control socket {self._access.socket}"
        problem = self._probe()
        if problem is None:
            try:
                self._client.connect(str(self._access.socket), keepalive=30, clean_start=True)
            except OSError as exc:
                problem = exc.strerror or str(exc)
        if problem is not None:
            raise ControlError(
                f"cannot connect to {where} ({problem}): is mosquitto running with the config "
                "from 'fleet-api broker render-config', and are you root?"
            )
        self._client.loop_start()
        try:
            self._wait(f"a CONNACK on {where}", lambda: self._connack is not None or self._closed)
            if self._connack is None or self._connack.is_failure:
                raise ControlError(
                    f"the broker refused the admin account {self._access.username!r} "
                    f"({self._connack}): is its password the one in the admin file?"
                )
            self._client.subscribe(CONTROL_RESPONSE_TOPIC, qos=1)
            self._wait("the SUBACK", lambda: self._subscribed is not None or self._closed)
            if not self._subscribed or any(code.is_failure for code in self._subscribed):
                raise ControlError(
                    f"the broker refused {CONTROL_RESPONSE_TOPIC!r} to the admin account: is "
                    "the dynamic-security plugin loaded (plugin ... in mosquitto.conf)?"
                )
        except BaseException:
            self.close()
            raise
        return self

    def _probe(self) -> str | None:
        """Why the socket cannot be connected to (None: it can), within ``wait_s``."""
        deadline = time.monotonic() + self._wait_s
        while True:
            # paho leaves the socket of a failed connect() open: probe it ourselves first.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(self._access.socket))
                    return None
                except OSError as exc:
                    # Mosquitto binds (the file appears) a moment before it listens.
                    problem = exc.strerror or str(exc)
            if time.monotonic() >= deadline:
                return problem
            time.sleep(0.05)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        if not self._closed:
            self._client.disconnect()
        self._client.loop_stop()

    def execute(self, commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run ``commands`` in order; their answers, or ControlError for the first that failed."""
        tagged = [{**command, "correlationData": secrets.token_hex(8)} for command in commands]
        payload = json.dumps({"commands": tagged}).encode()
        info = self._client.publish(CONTROL_TOPIC, payload, qos=1)
        keys = [str(command["correlationData"]) for command in tagged]
        self._wait(
            f"the plugin's answer to {[c['command'] for c in commands]}",
            lambda: all(key in self._answers for key in keys) or self._closed,
        )
        if not info.is_published() or not all(key in self._answers for key in keys):
            raise ControlError("the broker closed the admin connection before answering")
        with self._changed:
            answers = [self._answers.pop(key) for key in keys]
        for answer in answers:
            if answer.get("error"):
                raise ControlError(f"{answer.get('command')}: {answer['error']}")
        return answers

    def _wait(self, what: str, predicate: Any) -> None:
        deadline = time.monotonic() + self._timeout_s
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ControlError(f"timed out after {self._timeout_s:g}s waiting for {what}")
                self._changed.wait(left)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        self._connack = rc
        self._notify()

    def _on_subscribe(
        self, c: mqtt.Client, u: object, mid: int, rcs: list[ReasonCode], p: object
    ) -> None:
        self._subscribed = list(rcs)
        self._notify()

    def _on_disconnect(
        self, c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object
    ) -> None:
        self._closed = True
        self._notify()

    def _on_message(self, c: mqtt.Client, u: object, message: mqtt.MQTTMessage) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._changed:
            for response in responses:
                key = response.get("correlationData")
                if isinstance(key, str):
                    self._answers[key] = response
            self._changed.notify_all()
