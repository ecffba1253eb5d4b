"""Clone detection: the machine recorded at provisioning is checked at every start."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from device.core.clock import FakeClock
from device.core.errors import AlreadyRunning, IdentityMismatch
from device.ops import identity
from device.ops.instance import InstanceLock, agent_running
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink

CPUINFO = "processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: {serial}\nModel\t: Raspberry Pi 4\n"


@pytest.fixture
def machine(tmp_path: Path) -> Path:
    """A Pi-like /etc/machine-id, /proc/cpuinfo and SD card CID."""
    folder = tmp_path / "machine"
    folder.mkdir()
    (folder / "machine-id").write_text("5f0c3c1e9a6b4d2c8e7f6a5b4c3d2e1f\n")
    (folder / "cpuinfo").write_text(CPUINFO.format(serial="10000000abcdef01"))
    (folder / "cid").write_text("1b534d3030303030101234567800f1c3\n")
    return folder


@pytest.fixture
def settings(make_settings: SettingsMaker, machine: Path) -> AgentSettings:
    return make_settings(
        machine_id_file=machine / "machine-id",
        cpuinfo_file=machine / "cpuinfo",
        sd_cid_file=machine / "cid",
    )


def test_provisioning_records_this_machine_and_the_check_passes(settings: AgentSettings) -> None:
    assert identity.check(settings) is False  # not provisioned: nothing to compare
    machine = identity.provision(settings)
    assert machine == identity.MachineIdentity(
        "5f0c3c1e9a6b4d2c8e7f6a5b4c3d2e1f", "10000000abcdef01", "1b534d3030303030101234567800f1c3"
    )
    assert identity.check(settings) is True


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("cpuinfo", "Pi serial was 10000000abcdef01, is now 10000000deadbeef"),
        ("cid", "SD card was 1b534d3030303030101234567800f1c3, is now 0000"),
        ("machine-id", "machine-id was 5f0c3c1e9a6b4d2c8e7f6a5b4c3d2e1f, is now 0000"),
    ],
)
def test_a_clone_on_another_board_or_card_is_refused(
    settings: AgentSettings, machine: Path, change: str, says: str
) -> None:
    identity.provision(settings)
    content = CPUINFO.format(serial="10000000deadbeef") if change == "cpuinfo" else "0000\n"
    (machine / change).write_text(content)
    with pytest.raises(IdentityMismatch, match=says):
        identity.check(settings)


def test_an_identity_that_can_no_longer_be_read_is_a_mismatch(
    settings: AgentSettings, machine: Path
) -> None:
    identity.provision(settings)
    (machine / "cpuinfo").write_text("processor : 0\n")  # no serial any more
    with pytest.raises(IdentityMismatch, match="is now unknown"):
        identity.check(settings)


def test_the_agent_refuses_to_start_on_a_clone_and_publishes_nothing(
    settings: AgentSettings, machine: Path, factory: MockFactory, clock: FakeClock
) -> None:
    identity.provision(settings)
    (machine / "cid").write_text("ffff\n")
    link = FakeLink()
    agent = Agent(settings, pin_factory=factory, clock=clock, link=link)
    with pytest.raises(IdentityMismatch, match="cloned SD card: nothing is published"):
        agent.start()
    assert link.events is None  # never started: no connection, no birth, no counts
    assert not settings.outbox_path.exists()
    assert agent.state == "stopped"
    assert not agent_running(settings.data_dir)


def test_provision_force_for_a_new_exhibit_id_moves_the_old_outbox_aside(
    settings: AgentSettings, make_settings: SettingsMaker, machine: Path
) -> None:
    identity.provision(settings)
    Outbox(settings.outbox_path, bucket_seconds=60, exhibit_id="exhibit-001").close()
    clone = make_settings(
        exhibit_id="exhibit-077",
        machine_id_file=machine / "machine-id",
        cpuinfo_file=machine / "cpuinfo",
        sd_cid_file=machine / "cid",
    )
    with pytest.raises(IdentityMismatch, match="provisioned as 'exhibit-001'"):
        identity.check(clone)
    with pytest.raises(IdentityMismatch, match="add --force"):
        identity.provision(clone)
    identity.provision(clone, force=True)
    assert identity.check(clone) is True
    assert not clone.outbox_path.exists()
    aside = list(clone.data_dir.glob("outbox.sqlite3.exhibit-001.*"))
    assert aside, "the original's records are kept, not deleted"


def test_an_outbox_belongs_to_one_exhibit_id(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    Outbox(path, bucket_seconds=60, exhibit_id="exhibit-001").close()
    with pytest.raises(IdentityMismatch, match="holds the records of 'exhibit-001'"):
        Outbox(path, bucket_seconds=60, exhibit_id="exhibit-002")


def test_one_agent_per_data_directory(settings: AgentSettings) -> None:
    held = InstanceLock(settings.data_dir)
    held.acquire()
    try:
        assert agent_running(settings.data_dir)
        with pytest.raises(AlreadyRunning, match="another agent is running"):
            InstanceLock(settings.data_dir).acquire()
    finally:
        held.release()
    assert not agent_running(settings.data_dir)
