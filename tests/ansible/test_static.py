"""The Ansible content without machines: syntax, ansible-lint's production profile, and the
visits filter. (The broker accounts module is a thin caller of ``BrokerAccounts.reconcile``,
which tests/broker/test_security_accounts.py runs against the real broker.)"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.ansible.artefacts import BIN
from tests.ansible.conftest import require_ansible
from tests.ansible.fleet import ANSIBLE_DIR

pytestmark = pytest.mark.ansible

PLAYBOOKS = ["site.yml", "provision_exhibit.yml", "update.yml"]


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _ansible(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=ANSIBLE_DIR,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "ANSIBLE_NOCOLOR": "1", "HOME": str(Path.home())},
    )


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str) -> None:
    require_ansible()
    done = _ansible(str(BIN / "ansible-playbook"), "--syntax-check", playbook)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_production_profile() -> None:
    require_ansible()
    done = _ansible(str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--nocolor")
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-5000:]


def test_busy_filter_keeps_visits_overlapping_the_window() -> None:
    busy = _load(ANSIBLE_DIR / "filter_plugins" / "exhibit_fleet.py", "exhibit_fleet_filters")
    visits = [
        {
            "id": 1,
            "starts_at": "2026-05-04T08:00:00Z",
            "ends_at": "2026-05-04T15:00:00Z",
            "exhibit_ids": ["exhibit-001", "exhibit-002"],
        },
        {
            "id": 2,
            "starts_at": "2026-05-04T15:00:00+00:00",
            "ends_at": "2026-05-05T15:00:00+00:00",
            "exhibit_ids": ["exhibit-003"],
        },
        {
            "id": 3,
            "starts_at": "2026-05-03T08:00:00Z",
            "ends_at": "2026-05-04T09:00:00Z",
            "exhibit_ids": ["exhibit-004"],
        },
    ]
    found = busy.exhibit_fleet_busy(visits, "2026-05-04T12:00:00Z", "2026-05-04T12:00:01Z")
    assert found == {
        "exhibit-001": {
            "visit": 1,
            "starts_at": "2026-05-04T08:00:00Z",
            "ends_at": "2026-05-04T15:00:00Z",
        },
        "exhibit-002": {
            "visit": 1,
            "starts_at": "2026-05-04T08:00:00Z",
            "ends_at": "2026-05-04T15:00:00Z",
        },
    }
    # A visit ending exactly when the window starts is over; one starting inside it is held.
    assert set(busy.exhibit_fleet_busy(visits, "2026-05-04T15:00:00Z", "2026-05-04T16:00:00Z")) == {
        "exhibit-003"
    }
