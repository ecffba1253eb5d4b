"""Accounts changed live over ``$CONTROL`` on the real Mosquitto 2.0.11 with its plugin.

What ``fleet-api broker`` and the Ansible module run (``BrokerAccounts``): add, rotate,
revoke, list, sync and reconcile, checked by what the broker then lets clients do and by
the document the broker itself keeps on disk (which must survive a restart).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from broker.accounts import Wanted
from broker.acl import Acl, AclType, Role, exhibit_acls, role_name
from broker.control import ControlAccess, ControlClient
from broker.devca import DevCa, ensure_dev_ca
from broker.dynsec import Document, role_json
from broker.endpoint import BrokerEndpoint
from broker.errors import AccountExists, ControlError, UnknownAccount
from broker.tls import TlsSettings
from broker.topics import Channel, exhibit_topic
from tests.broker.mqtt_probe import NOT_AUTHORIZED, Probe, connack_refused, connect
from tests.broker.secured import SecuredMosquitto, secured_mosquitto

pytestmark = pytest.mark.integration

INGEST = "fleet-ingest"


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCa:
    return ensure_dev_ca(tmp_path_factory.mktemp("ca"), clients=[INGEST])


@pytest.fixture
def broker(tmp_path: Path, dev_ca: DevCa) -> Iterator[SecuredMosquitto]:
    with secured_mosquitto(tmp_path, dev_ca, exhibits=(), services=(INGEST,)) as m:
        yield m


def _exhibit(m: SecuredMosquitto, ca: DevCa, name: str, password: str) -> Probe:
    return connect(
        BrokerEndpoint.parse(f"mqtts://127.0.0.1:{m.config.tls_port}"),
        username=name,
        password=password,
        tls=TlsSettings(ca_file=ca.ca_cert),
        client_id=name,
    )


def test_add_rotate_revoke_take_effect_at_once(broker: SecuredMosquitto, dev_ca: DevCa) -> None:
    with broker.accounts() as accounts:
        issued = accounts.add("exhibit-001", Role.EXHIBIT)
        assert [(a.name, a.role) for a in accounts.accounts()] == [
            ("exhibit-001", Role.EXHIBIT),
            (INGEST, Role.SERVICE),
        ]
        first = _exhibit(broker, dev_ca, "exhibit-001", issued.password)
        assert first.connack == 0
        assert first.publish(exhibit_topic("exhibit-001", Channel.HEARTBEAT), b"{}") < 0x80

        rotated = accounts.rotate("exhibit-001")
        first.wait_disconnected()  # the plugin drops the old connection
        assert rotated.role is Role.EXHIBIT
        assert connack_refused(_exhibit(broker, dev_ca, "exhibit-001", issued.password)) == (
            NOT_AUTHORIZED
        )
        second = _exhibit(broker, dev_ca, "exhibit-001", rotated.password)
        assert second.connack == 0

        accounts.revoke("exhibit-001")
        second.wait_disconnected()
        assert connack_refused(_exhibit(broker, dev_ca, "exhibit-001", rotated.password)) == (
            NOT_AUTHORIZED
        )
        assert [a.name for a in accounts.accounts()] == [INGEST]
    stored = Document.read(broker.config.dynsec_file)
    assert set(stored.accounts) == {INGEST}
    assert role_name("exhibit-001", Role.EXHIBIT) not in stored.roles  # its role went too
    for probe in (first, second):
        probe.close()


def test_taken_and_unknown_names(broker: SecuredMosquitto) -> None:
    with broker.accounts() as accounts:
        accounts.add("exhibit-001", Role.EXHIBIT)
        with pytest.raises(AccountExists, match="rotate exhibit-001"):
            accounts.add("exhibit-001", Role.SERVICE)
        for operation in (accounts.rotate, accounts.revoke):
            with pytest.raises(UnknownAccount, match="no broker account 'nobody'"):
                operation("nobody")


def test_changes_are_saved_by_the_broker_and_survive_a_restart(
    broker: SecuredMosquitto, dev_ca: DevCa
) -> None:
    with broker.accounts() as accounts:
        issued = accounts.add("exhibit-001", Role.EXHIBIT)
    stored = Document.read(broker.config.dynsec_file)
    found = stored.accounts["exhibit-001"].password
    assert found is not None
    assert found.matches(issued.password)
    broker.process.stop()
    broker.process.start()
    probe = _exhibit(broker, dev_ca, "exhibit-001", issued.password)
    assert probe.connack == 0
    probe.close()


def test_concurrent_admins_lose_no_account(broker: SecuredMosquitto) -> None:
    names = [f"exhibit-{n:03d}" for n in range(24)]

    def add(chunk: list[str]) -> None:
        with broker.accounts() as accounts:
            for name in chunk:
                accounts.add(name, Role.EXHIBIT)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(add, [names[n::4] for n in range(4)]))
    with broker.accounts() as accounts:
        assert [a.name for a in accounts.accounts()] == [*names, INGEST]
    assert set(Document.read(broker.config.dynsec_file).accounts) == {*names, INGEST}


def test_sync_puts_back_what_the_contract_says(broker: SecuredMosquitto) -> None:
    with broker.accounts() as accounts:
        accounts.add("exhibit-001", Role.EXHIBIT)
        assert accounts.sync() == []  # nothing to do
    rolename = role_name("exhibit-001", Role.EXHIBIT)
    widened = (*exhibit_acls("exhibit-001"), Acl(AclType.SUBSCRIBE_PATTERN, "#"))
    with ControlClient(broker.access) as control:
        control.execute([{"command": "modifyRole", **role_json(rolename, widened)}])
    assert Document.read(broker.config.dynsec_file).roles[rolename] == tuple(sorted(widened))
    with broker.accounts() as accounts:
        assert accounts.sync() == [rolename]
    assert Document.read(broker.config.dynsec_file).roles[rolename] == exhibit_acls("exhibit-001")


def test_reconcile_is_idempotent_and_checks_passwords_against_the_brokers_file(
    broker: SecuredMosquitto, dev_ca: DevCa
) -> None:
    wanted = [
        Wanted("exhibit-001", Role.EXHIBIT, "password-one-0123456789"),
        Wanted(INGEST, Role.SERVICE, "service-password-0123456789"),
    ]
    with broker.accounts() as accounts:

        def reconcile(items: list[Wanted], *, dry_run: bool = False) -> dict[str, list[str]]:
            stored = Document.read(broker.config.dynsec_file)
            report = accounts.reconcile(items, stored=stored, exclusive=True, dry_run=dry_run)
            return {k: v for k, v in vars(report).items() if v}

        assert reconcile(wanted) == {"added": ["exhibit-001"], "changed_password": [INGEST]}
        assert reconcile(wanted) == {}
        changed = [wanted[0], replace(wanted[1], password="a-new-service-password-0123")]
        assert reconcile(changed, dry_run=True) == {"changed_password": [INGEST]}
        assert reconcile(changed) == {"changed_password": [INGEST]}
        assert reconcile([changed[1]]) == {"revoked": ["exhibit-001"]}
        assert [a.name for a in accounts.accounts()] == [INGEST]
    probe = _exhibit(broker, dev_ca, "exhibit-001", wanted[0].password)
    assert connack_refused(probe) == NOT_AUTHORIZED


def test_a_wrong_admin_password_or_no_broker_is_a_clear_error(
    broker: SecuredMosquitto, tmp_path: Path
) -> None:
    with (
        pytest.raises(ControlError, match="refused the admin account"),
        ControlClient(replace(broker.access, password="wrong")),
    ):
        pass
    with (
        pytest.raises(ControlError, match="cannot connect to the broker's control socket"),
        ControlClient(ControlAccess(tmp_path / "nothing.sock", "x")),
    ):
        pass
