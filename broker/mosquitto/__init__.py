"""Start and stop the real Mosquitto binary with the project's configuration.

Used by the tests, the simulator's reliability runs and the benchmarks. Production
runs Mosquitto under systemd with a config built from the same ``base.conf``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from broker.errors import BrokerStartError

CONFIG_DIR = Path(__file__).parent
BASE_CONF = CONFIG_DIR / "base.conf"
INSTALL_HINT = "install it with: sudo apt-get install mosquitto"


def mosquitto_binary() -> str | None:
    """Path of the mosquitto binary (also looked for in /usr/sbin), or None."""
    found = shutil.which("mosquitto")
    if found:
        return found
    candidate = Path("/usr/sbin/mosquitto")
    return str(candidate) if candidate.exists() else None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(host: str, port: int, timeout: float) -> bool:
    """Poll until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def _stay_root() -> str:
    """``user root`` when we are root, so Mosquitto keeps access to our files.

    Started as root, Mosquitto drops to user ``mosquitto`` before it reads the password
    file and before it saves persistence, and that user cannot enter a 0700 test
    directory (it logs "Unable to open pwfile" / "Error saving in-memory database").
    Containers run tests as root; CI and developers do not, and get nothing here.
    """
    return "user root\n" if os.geteuid() == 0 else ""


class MosquittoProcess:
    """A Mosquitto child process on a loopback port, with state kept in ``data_dir``.

    ``extra_config`` lines are appended (authentication, ACLs, TLS listeners).
    Stopping and starting again with the same ``data_dir`` and port keeps persisted
    sessions and retained messages, like a broker restart in production.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        extra_config: str = "allow_anonymous true\n",
    ) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise BrokerStartError(f"mosquitto is not installed: {INSTALL_HINT}")
        self.binary = binary
        self.data_dir = data_dir
        self.host = host
        self.port = port or free_port(host)
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None
        self.config_path = data_dir / "mosquitto.conf"
        self.log_path = data_dir / "mosquitto.log"

    def write_config(self) -> Path:
        """Write the full config: base.conf, our listener, persistence dir, extras."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            BASE_CONF.read_text()
            + f"\nlistener {self.port} {self.host}\n"
            + f"persistence_location {self.data_dir}/\n"
            + _stay_root()
            + self.extra_config
        )
        return self.config_path

    def start(self, timeout: float = 10.0) -> MosquittoProcess:
        """Start mosquitto and wait until it accepts connections."""
        self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if not wait_listening(self.host, self.port, timeout):
            self.stop()
            raise BrokerStartError(
                f"mosquitto did not listen on {self.host}:{self.port} within {timeout}s; "
                f"see {self.log_path}:\n{self.log_path.read_text()[-2000:]}"
            )
        return self

    def reload(self) -> None:
        """Send SIGHUP: Mosquitto re-reads its password file, ACL and certificates.

        It then disconnects every client whose credentials no longer pass (revoked or
        rotated accounts); a test waits for that disconnect, not for a time.
        """
        if self.process is None or self.process.poll() is not None:
            raise BrokerStartError("mosquitto is not running: nothing to reload")
        self.process.send_signal(signal.SIGHUP)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop mosquitto gracefully (it saves its persistence file on SIGTERM)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def kill(self) -> None:
        """Kill mosquitto without letting it save: a crash."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def __enter__(self) -> MosquittoProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
