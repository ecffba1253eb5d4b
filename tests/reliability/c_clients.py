"""Foreign clients for hostile-client tests: Mosquitto's own ``mosquitto_sub``, ``mosquitto_pub``.

What a curious pupil with an exhibit's SD card would run: the C clients of Debian's
``mosquitto-clients``, with that exhibit's username, password and CA file, against the
production listener. The SUBACK and PUBACK reason codes are read from their ``-d``
(debug) output, which prints every packet they receive.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require

INSTALL_HINT = "sudo apt-get install mosquitto-clients (scripts/system-deps.sh does)"
_SUBACK = re.compile(r"^Subscribed \(mid: \d+\): (.+)$", re.MULTILINE)
_PUBACK = re.compile(r"received PUBACK \(Mid: \d+, RC:(\d+)\)")


@dataclass(frozen=True)
class Credentials:
    """What an exhibit's SD card holds: where to connect, as whom, which CA to trust."""

    port: int
    username: str
    password: str
    ca_file: Path

    def argv(self) -> list[str]:
        """Connection options common to both clients (MQTT v5 over TLS)."""
        server = ["-V", "mqttv5", "-h", "127.0.0.1", "-p", str(self.port)]
        return [*server, "--cafile", str(self.ca_file), "-u", self.username, "-P", self.password]


def binary(name: str) -> str:
    """Path of ``mosquitto_sub`` or ``mosquitto_pub``; a visible skip (a CI failure) if absent."""
    found = shutil.which(name)
    require(found is not None, name, INSTALL_HINT)
    assert found is not None
    return found


def start_sub(who: Credentials, topic_filter: str, *more: str) -> subprocess.Popen[str]:
    """``mosquitto_sub -V mqttv5 -q 1 -c -t FILTER`` (persistent session), running until stopped."""
    argv = [binary("mosquitto_sub"), *who.argv(), "-q", "1", "-c", "-i", who.username, "-d"]
    return subprocess.Popen(
        [*argv, *more, "-t", topic_filter],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def suback_codes(output: str) -> list[int]:
    """The reason codes of every SUBACK ``mosquitto_sub -d`` printed."""
    return [int(code) for line in _SUBACK.findall(output) for code in line.split(", ")]


def publish(who: Credentials, topic: str, payload: bytes) -> int:
    """``mosquitto_pub -V mqttv5 -q 1``: one message; the PUBACK reason code."""
    done = subprocess.run(
        [binary("mosquitto_pub"), *who.argv(), "-q", "1", "-d", "-t", topic, "-s"],
        input=payload,
        capture_output=True,
        timeout=30,
        check=False,
    )
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    found = _PUBACK.findall(output)
    assert found, f"no PUBACK from the broker: {output}"
    return int(found[-1])
