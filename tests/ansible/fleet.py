"""The test fleet: a Testbed of machines, an inventory for them, and ansible-playbook runs.

The inventory is built the way a technician builds theirs: the example inventory's
group_vars glue (``ansible/inventories/example/group_vars/*/main.yml``) copied as is,
this fleet's hosts, a dev CA made with ``fleet-api broker dev-ca``, and every secret
encrypted with Ansible Vault under a password generated for this run. What only a test
needs (SSH user and key, the local wheelhouse as pip's index, the pinbench pins, apt
without a mirror) is passed as extra variables, listed in ``test_vars()``. What is
deployed is built in ``tests.ansible.artefacts``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.ansible.artefacts import BIN, snapshot_sources
from tests.ansible.hostside import run
from tests.ansible.testbed import REPO, Testbed
from tests.fleet_api.receivers import WebhookReceiver

ANSIBLE_DIR = REPO / "ansible"


EXAMPLE = ANSIBLE_DIR / "inventories" / "example"


RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)",
    re.MULTILINE,
)


@dataclass
class PlaybookRun:
    """One ansible-playbook run: exit code, output and the per-host recap."""

    argv: list[str]
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """Host -> {ok, changed, unreachable, failed, skipped} from PLAY RECAP."""
        tail = self.output.rsplit("PLAY RECAP", 1)[-1]
        return {
            found["host"]: {
                key: int(found[key])
                for key in ("ok", "changed", "unreachable", "failed", "skipped")
            }
            for found in RECAP.finditer(tail)
        }

    def changed_tasks(self) -> list[str]:
        """Task headers followed by a 'changed:' line (to explain a non-zero changed=)."""
        tasks: list[str] = []
        current = ""
        for line in self.output.splitlines():
            if line.startswith("TASK ["):
                current = line
            elif line.startswith("changed:") and current not in tasks:
                tasks.append(current)
        return tasks


class Fleet:
    """The machines, the inventory and how to run playbooks and reach the fleet API."""

    def __init__(self, bed: Testbed, workdir: Path, wheelhouse_url: str, pinbench: Path) -> None:
        self.bed = bed
        self.workdir = workdir
        self.inventory = workdir / "inventory"
        self.vault_password_file = workdir / "vault-password"
        self.vault_password_file.write_text(secrets.token_urlsafe(24) + "\n")
        self.vault_password_file.chmod(0o600)
        self.admin_token = secrets.token_urlsafe(36)
        self.wheelhouse_url = wheelhouse_url
        self.pinbench = pinbench
        self.source = snapshot_sources(workdir / "source")
        self.server = bed.machines["server"]
        self.api_url = f"http://{self.server.address}:8000"
        self.exhibits: dict[str, str] = {}  # exhibit id -> machine name
        self.runs: list[PlaybookRun] = []
        # A webhook receiver on the host (the conftest starts it) gets the API's notifications,
        # signed with this secret, which the inventory keeps in the vault.
        self.webhook_url: str | None = None
        self.webhook_secret = secrets.token_urlsafe(36)
        self.receiver: WebhookReceiver | None = None

    # -- inventory --------------------------------------------------------------------

    def write_inventory(self) -> None:
        """Group_vars glue from the example, this fleet's hosts, PKI and vaulted secrets."""
        inventory = self.inventory
        for group in ("all", "brokers", "api_servers", "exhibits"):
            (inventory / "group_vars" / group).mkdir(parents=True, exist_ok=True)
            shutil.copy(
                EXAMPLE / "group_vars" / group / "main.yml", inventory / "group_vars" / group
            )
        pki = inventory / "files" / "pki"
        run(
            str(BIN / "python"),
            "-m",
            "broker.admin",
            "dev-ca",
            str(self.workdir / "ca"),
            "--host",
            self.server.address,
            "--host",
            "server",
            "--client",
            "fleet-ingest",
        )
        pki.mkdir(parents=True, exist_ok=True)
        for name in ("ca.crt", "server.crt", "client-fleet-ingest.crt"):
            shutil.copy(self.workdir / "ca" / name, pki / name)
        ingest_password = secrets.token_urlsafe(24)
        self.write_vault(
            inventory / "group_vars" / "all" / "vault.yml",
            vault_exhibit_fleet_api_token=self.admin_token,
            vault_exhibit_fleet_ingest_mqtt_password=ingest_password,
        )
        self.write_vault(
            inventory / "group_vars" / "brokers" / "vault.yml",
            vault_mosquitto_tls_server_key=(self.workdir / "ca" / "server.key").read_text(),
        )
        self.write_vault(
            inventory / "group_vars" / "api_servers" / "vault.yml",
            vault_fleet_api_bootstrap_admin_token=self.admin_token,
            vault_fleet_api_webhook_secret=self.webhook_secret,
            vault_fleet_api_mqtt_client_key=(
                self.workdir / "ca" / "client-fleet-ingest.key"
            ).read_text(),
        )
        self.write_hosts()

    def add_exhibit(self, exhibit_id: str, machine: str, *, password: str | None) -> None:
        """Put an exhibit in the inventory (host_vars; a vault only if already provisioned)."""
        self.exhibits[exhibit_id] = machine
        host_vars = self.inventory / "host_vars" / exhibit_id
        host_vars.mkdir(parents=True, exist_ok=True)
        (host_vars / "main.yml").write_text(
            yaml.safe_dump(
                {
                    "exhibit_fleet_exhibit_name": f"Test exhibit {exhibit_id}",
                    "exhibit_agent_inputs": [{"name": "button", "kind": "button", "pin": 17}],
                }
            )
        )
        if password is not None:
            self.write_vault(host_vars / "vault.yml", vault_exhibit_agent_mqtt_password=password)
        self.write_hosts()

    def write_hosts(self) -> None:
        """hosts.yml: the server in brokers and api_servers, every exhibit added so far."""
        hosts = {
            "all": {
                "children": {
                    "brokers": {"hosts": {"server": {"ansible_host": self.server.address}}},
                    "api_servers": {"hosts": {"server": {"ansible_host": self.server.address}}},
                    "exhibits": {
                        "hosts": {
                            exhibit: {"ansible_host": self.bed.machines[machine].address}
                            for exhibit, machine in self.exhibits.items()
                        }
                    },
                }
            }
        }
        (self.inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))

    def write_vault(self, path: Path, **secrets_: str) -> None:
        """A vars file of ``!vault`` strings, encrypted with this run's vault password.

        The same format ``ansible-vault encrypt_string`` writes (ansible's own VaultLib).
        """
        from ansible.constants import DEFAULT_VAULT_ID_MATCH
        from ansible.parsing.vault import VaultLib, VaultSecret

        secret = VaultSecret(self.vault_password_file.read_text().strip().encode())
        vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, secret)])
        blocks = ["---"]
        for name, value in secrets_.items():
            armoured = vault.encrypt(value).decode().strip().splitlines()
            blocks.append(f"{name}: !vault |\n" + "\n".join(f"  {line}" for line in armoured))
        path.write_text("\n".join(blocks) + "\n")

    def test_vars(self) -> dict[str, Any]:
        """What differs from a real depot only because this is a test."""
        host = self.bed.host_address
        return {
            # The machines: user 'ansible' with sudo, a key made for this run.
            "ansible_user": "ansible",
            "ansible_ssh_private_key_file": str(self.bed.key),
            "ansible_ssh_common_args": (
                "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
            ),
            # Addresses on the test bridge instead of DNS names.
            "exhibit_fleet_broker_host": self.server.address,
            "exhibit_fleet_api_url": self.api_url,
            # pip's index: the wheelhouse served on the bridge (no internet in the netns).
            "exhibit_fleet_pip_config": {
                "no-index": "true",
                "find-links": self.wheelhouse_url,
                "trusted-host": host,
            },
            # The Debian packages are in the root already and there is no mirror to update from.
            "exhibit_agent_apt_update_cache": False,
            "mosquitto_apt_update_cache": False,
            "fleet_api_apt_update_cache": False,
            # The wheel is built from a snapshot of the sources taken when the test started,
            # and kept in this run's directory, not the repo's dist/.
            "exhibit_fleet_wheel_source_dir": str(self.source),
            "exhibit_fleet_wheel_dist_dir": str(self.workdir / "dist"),
            # No GPIO chip here: gpiozero's MockFactory, with mock pins the test can press
            # from outside the agent's process (tests/ansible/pinbench).
            "exhibit_agent_extra_wheels": [str(self.pinbench)],
            "exhibit_agent_environment": {
                "GPIOZERO_PIN_FACTORY": "mock",
                "GPIOZERO_MOCK_PIN_CLASS": "pinbench",
            },
            # Short buckets so that counts leave the Pi within seconds.
            "exhibit_agent_settings": {"bucket_seconds": 2},
            "exhibit_fleet_update_serial": 1,
            # Alerting: the API's notifications to the host's receiver, the secret from the
            # vault; Prometheus and node exporter on the server, scraping every 5 s.
            "fleet_api_notify_webhooks": [
                {
                    "name": "testbed",
                    "url": self.webhook_url or f"http://{host}:9/unused",
                    "secret": "{{ vault_fleet_api_webhook_secret }}",
                }
            ],
            "fleet_api_public_url": self.api_url,
            "fleet_api_prometheus_install": True,
            "fleet_api_prometheus_scrape_interval": "5s",
        }

    # -- running ----------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment for ansible-playbook and ansible-vault."""
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
            ANSIBLE_HOME=str(self.workdir / "ansible-home"),
            ANSIBLE_VAULT_PASSWORD_FILE=str(self.vault_password_file),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_SSH_CONTROL_PATH_DIR=str(self.workdir / "cp"),
            PATH=f"{BIN}:{env.get('PATH', '')}",
        )
        return env

    def playbook(self, name: str, *args: str, timeout: float = 600) -> PlaybookRun:
        """Run ``ansible-playbook NAME`` from ansible/ against this fleet's inventory."""
        extra = self.workdir / "test-vars.json"
        extra.write_text(json.dumps(self.test_vars()))
        argv = [
            str(BIN / "ansible-playbook"),
            "-i",
            str(self.inventory / "hosts.yml"),
            "-e",
            f"@{extra}",
            name,
            *args,
        ]
        started = time.monotonic()
        done = subprocess.run(
            argv,
            cwd=ANSIBLE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        result = PlaybookRun(
            argv, done.returncode, done.stdout + done.stderr, time.monotonic() - started
        )
        self.runs.append(result)
        log = self.workdir / f"playbook-{len(self.runs):02d}-{Path(name).stem}.log"
        log.write_text(result.output)
        return result

    def ssh(
        self, machine: str, command: str, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a command as root on a machine, over SSH."""
        return self.bed.ssh(machine, command, check=check)

    def api(self, method: str, path: str, body: object | None = None) -> Any:
        """Call the deployed fleet API with the admin token; the decoded JSON answer."""
        request = urllib.request.Request(
            f"{self.api_url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {self.admin_token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AssertionError(
                f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}"
            ) from None
