"""What the test fleet deploys, built on this machine: the dependencies as a wheelhouse, the
pinbench wheel (cached by content, outside the repo), a snapshot of the sources, and the
HTTP server the machines' pip reads the wheelhouse from."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

from tests.ansible.hostside import run
from tests.ansible.testbed import CACHE_DIR, REPO

BIN = Path(sys.executable).parent


PINBENCH = Path(__file__).parent / "pinbench"


SOURCE_PATHS = ("pyproject.toml", "README.md", "broker", "device", "fleet_api", "simulator")


def source_origin() -> Path:
    """The checkout the test deploys: this one, or EXHIBIT_TEST_SOURCE_DIR."""
    return Path(os.environ.get("EXHIBIT_TEST_SOURCE_DIR") or REPO)


def _digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(file.name.encode() + file.read_bytes())
    return digest.hexdigest()[:16]


def build_wheelhouse() -> Path:
    """The project's dependencies as wheels, cached outside the repo (the test 'index').

    Refreshed when pyproject.toml changes (pip adds what is new, keeps what it has).
    """
    wheelhouse = CACHE_DIR / "wheelhouse"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    stamp = wheelhouse / f".pyproject-{_digest(source_origin() / 'pyproject.toml')}"
    if stamp.exists():
        return wheelhouse
    run(
        str(BIN / "python"),
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--wheel-dir",
        str(wheelhouse),
        f"{source_origin()}[device,api]",
        timeout=600,
    )
    for own in wheelhouse.glob("exhibit_fleet-*.whl"):
        own.unlink()  # the playbooks build and ship the project's wheel themselves
    for old in wheelhouse.glob(".pyproject-*"):
        old.unlink()
    stamp.touch()
    return wheelhouse


def build_pinbench() -> Path:
    """Wheel of the test-only pin factory (tests/ansible/pinbench), cached by content."""
    dest = CACHE_DIR / f"pinbench-{_digest(PINBENCH)}"
    found = sorted(dest.glob("exhibit_fleet_pinbench-*.whl"))
    if found:
        return found[0]
    source = CACHE_DIR / "pinbench-src"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(
        PINBENCH, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    run(
        str(BIN / "python"),
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--wheel-dir",
        str(dest),
        str(source),
    )
    shutil.rmtree(source, ignore_errors=True)
    return next(dest.glob("exhibit_fleet_pinbench-*.whl"))


def snapshot_sources(dest: Path) -> Path:
    """Copy what the wheel is built from, so every playbook run of a test deploys the same
    code even while the working tree changes.

    From this checkout, or from the tree named by EXHIBIT_TEST_SOURCE_DIR (e.g.
    ``git archive HEAD | tar -x -C DIR`` while the working tree is in the middle of a change).
    """
    origin = source_origin()
    for name in SOURCE_PATHS:
        source = origin / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


class WheelhouseServer:
    """Serves the wheelhouse over HTTP on the bridge: the machines' pip index."""

    def __init__(self, directory: Path, host: str) -> None:
        handler = partial(_QuietHandler, directory=str(directory))
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass
