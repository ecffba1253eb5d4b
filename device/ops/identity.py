"""Identity that survives cloning an SD card: which machine an exhibit was provisioned on.

``exhibit-agent provision`` (or ``run --provision`` on a first start) records, in
``data_dir/identity.json``, the exhibit id and what identifies this machine:

- ``/etc/machine-id`` (differs between installations),
- the Pi's CPU serial from ``/proc/cpuinfo`` (differs between boards),
- the SD card's CID from ``/sys/block/mmcblk0/device/cid`` (differs between cards),

each where the machine has it. At every start the agent compares: a card cloned into
another Pi (or onto another card) still holds the original's exhibit id, credentials and
outbox, and publishing from it would speak for the original, reuse its seqs with other
counts, and (the broker forcing client id = username) disconnect the real exhibit. So on
a mismatch the agent connects to nothing, says why and exits with code 3.

The fix is deliberate: give the clone its own exhibit id (``fleet-api broker
add-exhibit``) and run ``exhibit-agent provision --force``, which moves the original's
outbox aside; or, when the same exhibit really moved to a new board or card, ``provision
--force`` with the same id, which keeps the outbox (its seq stream goes on).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from device.core.errors import IdentityMismatch, OutboxError
from device.settings.config import AgentSettings

log = logging.getLogger(__name__)

IDENTITY_FILE = "identity.json"


@dataclass(frozen=True, slots=True)
class MachineIdentity:
    """What identifies this machine; None where it cannot tell."""

    machine_id: str | None
    serial: str | None
    sd_cid: str | None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def _serial(cpuinfo: Path) -> str | None:
    for line in (_read(cpuinfo) or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Serial" and value.strip().strip("0"):
            return value.strip()
    return None


def read_machine(settings: AgentSettings) -> MachineIdentity:
    """This machine's identity, from the paths in ``settings``."""
    return MachineIdentity(
        machine_id=_read(settings.machine_id_file),
        serial=_serial(settings.cpuinfo_file),
        sd_cid=_read(settings.sd_cid_file),
    )


def identity_path(settings: AgentSettings) -> Path:
    """Where the provisioned identity is kept."""
    return settings.data_dir / IDENTITY_FILE


def recorded(settings: AgentSettings) -> tuple[str, MachineIdentity] | None:
    """The exhibit id and machine recorded at provisioning, or None if never provisioned."""
    text = _read(identity_path(settings))
    if text is None:
        return None
    try:
        raw = json.loads(text)
        machine = MachineIdentity(raw["machine_id"], raw["serial"], raw["sd_cid"])
        return str(raw["exhibit_id"]), machine
    except (ValueError, KeyError, TypeError) as exc:
        raise IdentityMismatch(
            f"{identity_path(settings)} is damaged ({exc}); re-provision with "
            "'exhibit-agent provision --force'"
        ) from None


def differences(settings: AgentSettings) -> list[str]:
    """How this machine and configuration differ from the provisioned ones (empty: same)."""
    known = recorded(settings)
    if known is None:
        return []
    exhibit_id, then = known
    now = read_machine(settings)
    found = []
    if exhibit_id != settings.exhibit_id:
        found.append(f"provisioned as {exhibit_id!r}, configured as {settings.exhibit_id!r}")
    labels = {"machine_id": "machine-id", "serial": "Pi serial", "sd_cid": "SD card"}
    for field, label in labels.items():
        before, current = getattr(then, field), getattr(now, field)
        if before is not None and before != current:
            found.append(f"{label} was {before}, is now {current or 'unknown'}")
    return found


def check(settings: AgentSettings) -> bool:
    """Raise IdentityMismatch if this is not the provisioned machine; False if unprovisioned."""
    found = differences(settings)
    if found:
        raise IdentityMismatch(
            f"identity mismatch for {settings.exhibit_id}: {'; '.join(found)}. This looks "
            "like a cloned SD card: nothing is published. Give this exhibit its own id and "
            "run 'exhibit-agent provision --force' (see device/ops/identity.py)"
        )
    return recorded(settings) is not None


def provision(settings: AgentSettings, *, force: bool = False) -> MachineIdentity:
    """Record this machine as the exhibit's; with ``force`` over a different recording.

    When the configured exhibit id differs from the one the outbox belongs to, the outbox
    is moved aside (never deleted): its records belong to the other exhibit.
    """
    found = differences(settings)
    if found and not force:
        raise IdentityMismatch(
            f"already provisioned differently: {'; '.join(found)}; add --force to record "
            "this machine (see device/ops/identity.py for what that does to the outbox)"
        )
    known = recorded(settings)
    if known is not None and known[0] != settings.exhibit_id:
        _move_outbox_aside(settings, owner=known[0])
    machine = read_machine(settings)
    if machine == MachineIdentity(None, None, None):
        log.warning("no machine-id, Pi serial or SD card id readable: clones cannot be told")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "exhibit_id": settings.exhibit_id,
        **asdict(machine),
        "provisioned_at": datetime.now(UTC).isoformat(),
    }
    target = identity_path(settings)
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(body, indent=2) + "\n")
    temporary.replace(target)
    return machine


def _move_outbox_aside(settings: AgentSettings, *, owner: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{settings.outbox_path}{suffix}")
        if path.exists():
            aside = Path(f"{settings.outbox_path}.{owner}.{stamp}{suffix}")
            try:
                path.rename(aside)
            except OSError as exc:
                raise OutboxError(f"cannot move {path} aside: {exc}") from exc
            log.warning("moved %s (records of %s) to %s", path, owner, aside)
