"""One exhibit's password must not steal anyone's data: the production broker, the real
fleet ingest in a shared subscription, and the C clients with a real exhibit's credentials.

The acceptance run that found the hole: with ``acl_file``, exhibit C ran
``mosquitto_sub -V mqttv5 -q 1 -c -t '$share/ingest/fleet/v1/exhibits/+/counts'``, got a
SUBACK and joined the ingest's group; exhibit B's 20 messages all got PUBACK 0, and only
10 were stored. Here C is refused (SUBACK 0x87), for the guessable group name and for the
real one alike, and all 20 of B's messages are stored, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from gpiozero.pins.mock import MockFactory

from broker.acl import Role, role_name
from broker.control import ControlClient
from broker.devca import DevCa, ensure_dev_ca
from broker.topics import Channel, exhibit_topic, subscription
from device.runtime.agent import Agent
from device.settings.config import AgentSettings
from simulator.databases import Backend, run_database
from simulator.errors import FleetApiError
from simulator.fleet_client import FleetClient
from simulator.fleet_process import FleetApiProcess
from tests.broker.secured import SecuredMosquitto, secured_mosquitto
from tests.reliability.bad_input import TOKEN, batch, eventually
from tests.reliability.c_clients import Credentials, publish, start_sub, suback_codes

B, C, INGEST = "exhibit-b", "exhibit-c", "fleet-ingest"
NOT_AUTHORIZED = 0x87


@dataclass
class Deployment:
    """The production broker and a fleet API ingesting from it through a share group."""

    broker: SecuredMosquitto
    ca: DevCa
    api: FleetApiProcess
    client: FleetClient

    def card(self, exhibit: str) -> Credentials:
        """What exhibit ``exhibit``'s SD card holds."""
        port = self.broker.config.tls_port
        return Credentials(port, exhibit, self.broker.issued[exhibit].password, self.ca.ca_cert)

    def interactions(self, exhibit: str) -> int:
        """Interactions stored for ``exhibit`` (in no visit: none is scheduled here)."""
        return self.client.exhibit_totals().get(exhibit, (0, 0))[1]


@pytest.fixture
def deployment(backend: Backend, tmp_path: Path) -> Iterator[Deployment]:
    ca = ensure_dev_ca(tmp_path / "ca", clients=[INGEST])
    cert, key = ca.client_certs[INGEST]
    with (
        secured_mosquitto(tmp_path, ca, exhibits=(B, C), services=(INGEST,)) as broker,
        run_database(backend, tmp_path) as database_url,
    ):
        service = {
            "FLEET_MQTT_USERNAME": INGEST,
            "FLEET_MQTT_PASSWORD": broker.issued[INGEST].password,
            "FLEET_MQTT_CA_FILE": str(ca.ca_cert),
            "FLEET_MQTT_CERT_FILE": str(cert),
            "FLEET_MQTT_KEY_FILE": str(key),
            "FLEET_MQTT_SHARE_GROUP": broker.share_group,
            "FLEET_MQTT_CLIENT_ID": "fleet-ingest-1",
        }
        api = FleetApiProcess(
            database_url=database_url,
            mqtt_url=f"mqtts://127.0.0.1:{broker.config.service_port}",
            token=TOKEN,
            log_path=tmp_path / "fleet-api.log",
            extra_env=service,
        ).start()
        client = FleetClient(api.url, token=TOKEN)
        try:
            for exhibit in (B, C):
                client.ensure_exhibit(exhibit, exhibit)
            yield Deployment(broker, ca, api, client)
        finally:
            client.close()
            api.stop()


def test_an_exhibit_cannot_join_the_ingests_shared_subscription(deployment: Deployment) -> None:
    thieves = [
        start_sub(deployment.card(C), subscription(Channel.COUNTS, share_group=group))
        for group in ("ingest", deployment.broker.share_group)  # guessed, and even known
    ]
    outputs = []
    for thief in thieves:
        output, _ = thief.communicate(timeout=30)  # refused: it gives up by itself
        outputs.append(output)
        assert suback_codes(output) == [NOT_AUTHORIZED], output
        assert "All subscription requests were denied" in output

    counts = exhibit_topic(B, Channel.COUNTS)
    for seq in range(1, 21):
        payload = batch(B, {"seq": seq, "count": 1, "boot_id": "hostile-boot-1"})
        assert publish(deployment.card(B), counts, payload) == 0  # B deletes what got PUBACK 0
    eventually(lambda: deployment.interactions(B) == 20, what="all 20 of B's messages stored")
    stats = deployment.client.ingest_stats()
    assert stats["records_inserted"] == 20, json.dumps(stats)


def test_an_exhibit_subscribes_to_its_own_commands_and_nothing_else(
    deployment: Deployment,
) -> None:
    card = deployment.card(C)
    refused = ["#", "fleet/#", "$SYS/#", "$CONTROL/#", subscription(Channel.STATUS)]
    refused += [exhibit_topic(B, channel) for channel in Channel]
    for topic_filter in refused:
        output, _ = start_sub(card, topic_filter).communicate(timeout=30)
        assert suback_codes(output) == [NOT_AUTHORIZED], (topic_filter, output)
    # Granted, it would wait for messages: -W 2 makes it give up after 2 s and print.
    own = start_sub(card, exhibit_topic(C, Channel.ASSIGNMENT), "-W", "2")
    output, _ = own.communicate(timeout=30)
    assert suback_codes(output) == [1], output


def test_the_ingest_refused_a_guessable_group_says_so(
    deployment: Deployment, tmp_path: Path
) -> None:
    """An ingest configured with a group the broker does not admit is not silently deaf."""
    env = {**deployment.api.extra_env, "FLEET_MQTT_SHARE_GROUP": "ingest"}
    env["FLEET_MQTT_CLIENT_ID"] = "fleet-ingest-guessable"
    api = FleetApiProcess(
        database_url=deployment.api.database_url,
        mqtt_url=deployment.api.mqtt_url,
        token=TOKEN,
        log_path=tmp_path / "guessable.log",
        extra_env=env,
    )
    with pytest.raises(FleetApiError, match="not ready"):
        api.start(timeout=8)
    try:
        health = httpx.get(f"{api.url}/healthz", timeout=5).json()
        assert health["ingestion"] != "connected", health
        assert "refused our subscriptions" in api.log_path.read_text()
    finally:
        api.stop()


def health_of(deployment: Deployment, exhibit: str) -> dict[str, Any]:
    """``GET /exhibits/{exhibit}/health``."""
    answer = httpx.get(
        f"{deployment.api.url}/exhibits/{exhibit}/health",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_an_agent_refused_its_own_command_channel_shows_on_fleet_health(
    deployment: Deployment, tmp_path: Path
) -> None:
    """C's role loses the right to subscribe to its own command channel (live, over
    $CONTROL). ``mosquitto_sub`` with C's card is refused (0x87); C's real agent is
    refused the same at its SUBACK, and says so: fleet health alerts subscription_refused."""
    command = exhibit_topic(C, Channel.COMMAND)
    with ControlClient(deployment.broker.access) as control:
        control.execute(
            [
                {
                    "command": "removeRoleACL",
                    "rolename": role_name(C, Role.EXHIBIT),
                    "acltype": "subscribeLiteral",
                    "topic": command,
                }
            ]
        )
    output, _ = start_sub(deployment.card(C), command).communicate(timeout=30)
    assert suback_codes(output) == [NOT_AUTHORIZED], output

    card = deployment.card(C)
    settings = AgentSettings(
        exhibit_id=C,
        data_dir=tmp_path / "agent",
        broker_url=f"mqtts://127.0.0.1:{card.port}",
        username=C,
        password=card.password,
        tls_ca_file=deployment.ca.ca_cert,
        inputs=[{"name": "button", "kind": "button", "pin": 17}],
        heartbeat_seconds=1,
    )
    factory = MockFactory()
    try:
        with Agent(settings, pin_factory=factory) as agent:
            assert agent.wait_connected(15)

            def alerted() -> bool:
                codes = [alert["code"] for alert in health_of(deployment, C)["alerts"]]
                return "subscription_refused" in codes

            eventually(alerted, what="fleet health's subscription_refused")
    finally:
        factory.reset()
    health = health_of(deployment, C)
    assert health["heartbeat"]["refused_subscriptions"] == {command: "Not authorized"}
