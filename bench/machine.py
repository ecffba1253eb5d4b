"""What the figures were measured on: cores, memory, versions."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path


def _command_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def _memory_gib() -> str:
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def describe() -> dict[str, str]:
    """A dict of machine facts for the report header."""
    return {
        "cpu": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "memory": _memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "mosquitto": _command_version(["/usr/sbin/mosquitto", "-h"]).replace("mosquitto ", ""),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _command_version(["psql", "--version"]),
        "paho-mqtt": version("paho-mqtt"),
        "gpiozero": version("gpiozero"),
    }
