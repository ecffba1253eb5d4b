"""The playbooks applied for real: bookworm machines booted with systemd-nspawn, over SSH.

server (Mosquitto + fleet API on PostgreSQL), pi1 (exhibit-001, provisioned earlier) and
pi2 (exhibit-002, provisioned by provision_exhibit.yml). The agents run as deployed, with
gpiozero mock pins that the test presses from outside (tests/ansible/pinbench).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.ansible.conftest import assert_ok, report
from tests.ansible.fleet import Fleet, PlaybookRun

pytestmark = [pytest.mark.ansible, pytest.mark.integration, pytest.mark.timeout(900)]

SECURITY_LIMIT = 3.0


def test_site_converges_fresh_machines(deployed: PlaybookRun) -> None:
    recap = deployed.recap
    assert set(recap) == {"server", "exhibit-001"}, deployed.output[-3000:]
    assert recap["server"]["changed"] > 0
    assert recap["exhibit-001"]["changed"] > 0


def test_provision_exhibit_issues_credentials_registers_and_deploys(
    fleet: Fleet, provisioned: PlaybookRun
) -> None:
    vault = (fleet.inventory / "host_vars" / "exhibit-002" / "vault.yml").read_text()
    assert "vault_exhibit_agent_mqtt_password: !vault |" in vault
    assert "$ANSIBLE_VAULT;1.1;AES256" in vault
    env = fleet.ssh("pi2", "cat /etc/exhibit-agent/agent.env").stdout
    password = re.search(r'^EXHIBIT_PASSWORD="(.+)"$', env, re.MULTILINE)
    assert password is not None
    assert password.group(1) not in vault, "the password is in the vault file in clear"
    accounts = fleet.ssh(
        "server", "/opt/exhibit-fleet/broker-tools/venv/bin/python -m broker.admin list"
    ).stdout
    assert re.search(r"^exhibit-002\texhibit$", accounts, re.MULTILINE), accounts
    assert re.search(r"^exhibit-001\texhibit$", accounts, re.MULTILINE), accounts
    assert re.search(r"^fleet-ingest\tservice$", accounts, re.MULTILINE), accounts
    assert fleet.ssh("pi2", "systemctl is-active exhibit-agent").stdout.strip() == "active"
    # Registered, and online: the agent logged in to the broker with the new password.
    deadline = time.monotonic() + 30
    exhibit = fleet.api("GET", "/exhibits/exhibit-002")
    while not (exhibit.get("status") or {}).get("online") and time.monotonic() < deadline:
        time.sleep(1)
        exhibit = fleet.api("GET", "/exhibits/exhibit-002")
    assert (exhibit.get("status") or {}).get("online") is True, exhibit


def test_second_site_run_changes_nothing(fleet: Fleet, provisioned: PlaybookRun) -> None:
    again = fleet.playbook("site.yml")
    assert_ok(again)
    changed = {host: r["changed"] for host, r in again.recap.items() if r["changed"]}
    assert changed == {}, f"changed on a second run: {changed}\n" + "\n".join(again.changed_tasks())
    assert set(again.recap) >= {"server", "exhibit-001", "exhibit-002"}


def test_services_are_active(fleet: Fleet, provisioned: PlaybookRun) -> None:
    server = fleet.ssh("server", "systemctl is-active mosquitto postgresql fleet-api").stdout
    assert server.split() == ["active"] * 3
    for machine in ("pi1", "pi2"):
        agent = fleet.ssh(
            machine,
            "systemctl show exhibit-agent -p ActiveState -p Type -p Restart -p WatchdogUSec "
            "-p User -p SupplementaryGroups -p RestartPreventExitStatus",
        ).stdout
        shown = dict(line.split("=", 1) for line in agent.splitlines())
        assert shown["ActiveState"] == "active", agent
        assert shown["Type"] == "notify"
        assert shown["Restart"] == "always"
        assert shown["WatchdogUSec"] == "30s"
        assert shown["User"] == "exhibit-agent"
        assert shown["SupplementaryGroups"] == "gpio"
        assert "3" in shown["RestartPreventExitStatus"].split()
        # The admin wrapper runs the agent's CLI as the service does (user, settings).
        status = json.loads(fleet.ssh(machine, "exhibit-agent status --json").stdout)
        assert status["exhibit_id"] == {"pi1": "exhibit-001", "pi2": "exhibit-002"}[machine]
    # Same on the server: the API's CLI with its settings lists the bootstrap admin token.
    assert "admin" in fleet.ssh("server", "fleet-api token list").stdout
    health = fleet.api("GET", "/healthz")
    assert health["database"] == "ok"
    assert health["ingestion"] == "connected", health


@pytest.mark.parametrize(
    ("machine", "unit"),
    [
        ("pi1", "exhibit-agent.service"),
        ("server", "fleet-api.service"),
        ("server", "fleet-api-backup.service"),
        ("server", "fleet-api-backup.timer"),
    ],
)
def test_units_verify_cleanly(
    fleet: Fleet, provisioned: PlaybookRun, machine: str, unit: str
) -> None:
    # systemd-analyze verify exits 0 even for unknown keys: any output is a finding.
    done = fleet.ssh(
        machine, f"systemd-analyze verify /etc/systemd/system/{unit} 2>&1", check=False
    )
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip() == "", done.stdout


def test_the_backup_timer_runs_fleet_api_backup_and_keeps_the_newest(
    fleet: Fleet, provisioned: PlaybookRun
) -> None:
    assert fleet.ssh("server", "systemctl is-active fleet-api-backup.timer").stdout.strip() == (
        "active"
    )
    for _ in range(2):  # a oneshot: start returns when the backup is written
        fleet.ssh("server", "systemctl start fleet-api-backup.service && sleep 1.1")
    files = fleet.ssh("server", "ls /var/backups/fleet-api").stdout.split()
    assert len(files) == 2, files
    assert all(name.startswith("fleet-") and name.endswith(".pgdump") for name in files), files
    # A whole custom-format dump of the live database, owned by the service user.
    listing = fleet.ssh("server", f"pg_restore --list /var/backups/fleet-api/{files[-1]}").stdout
    assert "TABLE DATA public count_records" in listing, listing[-2000:]
    owner = fleet.ssh("server", f"stat -c %U /var/backups/fleet-api/{files[-1]}").stdout
    assert owner.strip() == "fleet-api"


def test_agent_unit_security_score(
    fleet: Fleet, provisioned: PlaybookRun, request: pytest.FixtureRequest
) -> None:
    analysis = fleet.ssh("pi1", "systemd-analyze security --no-pager exhibit-agent.service").stdout
    found = re.search(
        r"Overall exposure level for exhibit-agent\.service: ([0-9.]+) (\w+)", analysis
    )
    assert found is not None, analysis
    score = float(found.group(1))
    report(
        request,
        f"systemd-analyze security exhibit-agent.service (as deployed on pi1): "
        f"{score} {found.group(2)}",
    )
    assert score <= SECURITY_LIMIT, analysis


def _usage_total(fleet: Fleet, visit_id: int, exhibit_id: str) -> tuple[int, dict[str, Any]]:
    usage = fleet.api("GET", f"/visits/{visit_id}/usage")
    for exhibit in usage["exhibits"]:
        if exhibit["exhibit_id"] == exhibit_id:
            return int(exhibit["total"]), exhibit
    return 0, usage


def test_presses_on_the_deployed_agent_reach_the_fleet_api(
    fleet: Fleet, visit: dict[str, Any]
) -> None:
    before, _ = _usage_total(fleet, visit["id"], "exhibit-001")
    # Three presses of the button on GPIO17, through the deployed agent's own pins.
    fleet.ssh(
        "pi1",
        'python3 -c "import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); '
        "s.sendto(b'press 17 3', '/run/exhibit-agent/pinbench.sock')\"",
    )
    deadline = time.monotonic() + 60
    total, detail = before, dict[str, Any]()
    while time.monotonic() < deadline:
        total, detail = _usage_total(fleet, visit["id"], "exhibit-001")
        if total >= before + 3:
            break
        time.sleep(1)
    assert total == before + 3, detail


def test_update_holds_the_exhibit_in_a_visit(fleet: Fleet, visit: dict[str, Any]) -> None:
    update = fleet.playbook("update.yml", "-e", "exhibit_agent_log_level=DEBUG")
    assert_ok(update)
    assert "HELD exhibit-001: in visit" in update.output
    assert "HELD exhibit-002" not in update.output
    unit = "cat /etc/systemd/system/exhibit-agent.service"
    assert "--log-level INFO run" in fleet.ssh("pi1", unit).stdout, "exhibit-001 was updated"
    assert "--log-level DEBUG run" in fleet.ssh("pi2", unit).stdout, "exhibit-002 was not updated"
    assert fleet.ssh("pi2", "systemctl is-active exhibit-agent").stdout.strip() == "active"

    forced = fleet.playbook(
        "update.yml",
        "--limit",
        "exhibit-001",
        "-e",
        "force=true",
        "-e",
        "exhibit_agent_log_level=DEBUG",
    )
    assert_ok(forced)
    assert "HELD" not in forced.output
    assert "--log-level DEBUG run" in fleet.ssh("pi1", unit).stdout
    assert fleet.ssh("pi1", "systemctl is-active exhibit-agent").stdout.strip() == "active"


def _prometheus(fleet: Fleet, path: str) -> Any:
    """GET Prometheus's HTTP API on the server (it listens on the server's loopback only)."""
    done = fleet.ssh(
        "server",
        'python3 -c "import urllib.request, sys; '
        f"sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:9090{path}').read().decode())\"",
    )
    return json.loads(done.stdout)


def test_alerting_is_deployed_and_reaches_the_webhook(
    fleet: Fleet, provisioned: PlaybookRun, request: pytest.FixtureRequest
) -> None:
    from fleet_api.notifications.signing import verify
    from tests.ansible.fleet import REPO

    # The webhook's secret went from the vault into the API's env file, and nowhere in clear.
    env = fleet.ssh("server", "stat -c '%a %U:%G' /etc/exhibit-fleet/fleet-api.env").stdout
    assert env.split() == ["640", "root:fleet-api"]
    settings = fleet.ssh("server", "cat /etc/exhibit-fleet/fleet-api.env").stdout
    line = next(s for s in settings.splitlines() if s.startswith("FLEET_NOTIFY_WEBHOOKS="))
    hooks = json.loads(line.split("=", 1)[1][1:-1].replace('\\"', '"'))
    assert hooks == [{"name": "testbed", "url": fleet.webhook_url, "secret": fleet.webhook_secret}]
    vault = (fleet.inventory / "group_vars" / "api_servers" / "vault.yml").read_text()
    assert fleet.webhook_secret not in vault

    # The rules, byte for byte, loaded by the Prometheus the role installed.
    installed = fleet.ssh("server", "cat /etc/prometheus/rules.d/exhibit-fleet.rules.yml")
    ours = (REPO / "ops" / "prometheus" / "exhibit-fleet.rules.yml").read_text()
    assert installed.stdout == ours
    active = fleet.ssh("server", "systemctl is-active prometheus prometheus-node-exporter")
    assert active.stdout.split() == ["active", "active"]
    check = fleet.ssh("server", "promtool check config /etc/prometheus/prometheus.yml 2>&1")
    report(
        request,
        "promtool check config (on the server): " + check.stdout.strip().replace("\n", " | "),
    )
    rules = _prometheus(fleet, "/api/v1/rules")["data"]["groups"]
    loaded = {rule["name"] for group in rules for rule in group["rules"]}
    said = fleet.ssh("server", "journalctl -u prometheus -n 15 --no-pager -o cat", check=False)
    assert {"ExhibitOfflineDuringVisit", "FleetIngestionDown", "ExhibitUnderVoltage"} <= loaded, (
        said.stdout
    )
    deadline = time.monotonic() + 60
    health: dict[str, str] = {}
    while time.monotonic() < deadline:
        targets = _prometheus(fleet, "/api/v1/targets")["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if health.get("exhibit-fleet-api") == "up" and health.get("node") == "up":
            break
        time.sleep(2)
    assert health.get("exhibit-fleet-api") == "up", health
    assert health.get("node") == "up", health
    series = _prometheus(fleet, "/api/v1/query?query=fleet_exhibit_info")["data"]["result"]
    assert {s["metric"]["exhibit_id"] for s in series} >= {"exhibit-001", "exhibit-002"}

    # A test notification leaves the server and reaches the host, signed with the secret.
    assert fleet.receiver is not None
    before = len(fleet.receiver.requests)
    sent = fleet.api("POST", "/alerts/test")
    deadline = time.monotonic() + 30
    while len(fleet.receiver.requests) == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(fleet.receiver.requests) > before, fleet.api("GET", "/alerts")["events"][:1]
    arrived = fleet.receiver.requests[before]
    assert arrived.json()["event_id"] == sent["event_id"]
    assert verify(
        fleet.webhook_secret,
        arrived.body,
        arrived.headers["X-Fleet-Signature"],
        now=time.time(),
    )
