"""The Ansible content without machines: syntax, ansible-lint's production profile, and the
two pieces of Python the playbooks carry (the visits filter, the broker accounts module)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.ansible.conftest import require_ansible
from tests.ansible.fleet import ANSIBLE_DIR, BIN

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


def test_accounts_module_keeps_matching_hashes_and_revokes_the_unlisted() -> None:
    require_ansible()
    from broker.acl import Role
    from broker.passwords import hash_password, verify_password

    module = _load(
        ANSIBLE_DIR / "roles" / "mosquitto" / "library" / "mosquitto_accounts.py",
        "mosquitto_accounts",
    )
    kept = hash_password("same-password")
    hashes = {
        "exhibit-001": kept,
        "exhibit-009": hash_password("x"),
        "fleet-ingest": hash_password("old"),
    }
    roles = {"exhibit-001": Role.EXHIBIT, "exhibit-009": Role.EXHIBIT, "fleet-ingest": Role.SERVICE}
    wanted = [
        {"name": "exhibit-001", "role": "exhibit", "password": "same-password"},
        {"name": "exhibit-002", "role": "exhibit", "password": "new-exhibit"},
        {"name": "fleet-ingest", "role": "service", "password": "rotated"},
    ]
    report = module._reconcile(
        hashes,
        roles,
        wanted,
        exclusive=True,
        role_of=Role,
        verify=verify_password,
        new_hash=hash_password,
    )
    assert report == {
        "added": ["exhibit-002"],
        "changed_password": ["fleet-ingest"],
        "changed_role": [],
        "revoked": ["exhibit-009"],
    }
    assert hashes["exhibit-001"] == kept
    assert verify_password("new-exhibit", hashes["exhibit-002"])
    assert verify_password("rotated", hashes["fleet-ingest"])
    assert roles == {
        "exhibit-001": Role.EXHIBIT,
        "exhibit-002": Role.EXHIBIT,
        "fleet-ingest": Role.SERVICE,
    }
