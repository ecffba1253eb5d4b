"""The agent against the production security of Mosquitto: TLS, WebSocket, accounts, ACL.

The broker runs ``render_security`` (what production runs): password file and ACL from
``AccountStore``, a TLS listener and a TLS WebSocket listener for exhibits, and the
service listener the fleet ingest reads from with its client certificate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.accounts import Issued
from broker.acl import Role, role_name
from broker.control import ControlAccess, ControlClient
from broker.devca import DevCa, ensure_dev_ca
from broker.embedded import EmbeddedBroker
from broker.endpoint import BrokerEndpoint
from broker.messages import CountBatch, Heartbeat, Status
from broker.mosquitto import (
    MosquittoProcess,
    free_port,
)
from broker.mosquitto.production import ProductionConfig
from broker.tls import TlsSettings
from broker.topics import Channel, exhibit_topic, subscription
from device.link.mqtt import MqttLink
from device.runtime.agent import Agent
from simulator.netfault import PartitionProxy
from tests.broker.mqtt_probe import Probe, connect
from tests.broker.secured import secured_mosquitto
from tests.device.conftest import SettingsMaker
from tests.device.fakes import custody_for, eventually
from tests.device.subscriber import Subscriber

pytestmark = pytest.mark.integration

A, B, INGEST = "exhibit-a", "exhibit-b", "fleet-ingest"


@dataclass
class Secured:
    config: ProductionConfig
    ca: DevCa
    issued: dict[str, Issued]
    ingest: Probe
    access: ControlAccess

    def url(self, scheme: str) -> str:
        if scheme == "wss":
            return f"wss://127.0.0.1:{self.config.websocket_port}/mqtt"
        return f"mqtts://127.0.0.1:{self.config.tls_port}"

    def confirm(self, exhibit: str) -> None:
        """As the fleet does after its commit: tell ``exhibit`` which of its seqs are stored."""
        seqs = {
            record.seq
            for message in list(self.ingest.messages)
            if message.topic == f"fleet/v1/exhibits/{exhibit}/counts"
            for record in CountBatch.model_validate_json(message.payload).records
        }
        custody = custody_for(exhibit, seqs)
        assert (
            self.ingest.publish(exhibit_topic(exhibit, Channel.CUSTODY), custody.to_payload()) == 0
        )

    def counts(self, exhibit: str) -> dict[str, int]:
        by_seq: dict[int, tuple[str, int]] = {}
        for message in list(self.ingest.messages):
            if message.topic == f"fleet/v1/exhibits/{exhibit}/counts":
                for record in CountBatch.model_validate_json(message.payload).records:
                    if record.type == "count":
                        by_seq[record.seq] = (record.input, record.count)
        totals: dict[str, int] = {}
        for name, count in by_seq.values():
            totals[name] = totals.get(name, 0) + count
        return totals


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCa:
    return ensure_dev_ca(tmp_path_factory.mktemp("ca"), clients=[INGEST])


@pytest.fixture
def secured(tmp_path: Path, dev_ca: DevCa) -> Iterator[Secured]:
    with secured_mosquitto(tmp_path, dev_ca, exhibits=(A, B), services=(INGEST,)) as m:
        config, issued = m.config, m.issued
        cert, key = dev_ca.client_certs[INGEST]
        ingest = connect(
            BrokerEndpoint.parse(f"mqtts://127.0.0.1:{config.service_port}"),
            username=INGEST,
            password=issued[INGEST].password,
            tls=TlsSettings(ca_file=dev_ca.ca_cert, cert_file=cert, key_file=key),
            client_id="fleet-ingest:1",
        )
        try:
            assert ingest.connack == 0
            for channel in (Channel.COUNTS, Channel.STATUS, Channel.SELFTEST):
                assert ingest.subscribe(subscription(channel)) == [1]
            yield Secured(config, dev_ca, issued, ingest, m.access)
        finally:
            ingest.close()


def exhibit_agent(
    secured: Secured,
    make_settings: SettingsMaker,
    factory: MockFactory,
    *,
    scheme: str = "mqtts",
    exhibit: str = A,
    account: str = A,
    password: str | None = None,
    **more: object,
) -> Agent:
    settings = make_settings(
        exhibit_id=exhibit,
        broker_url=secured.url(scheme),
        username=account,
        password=password or secured.issued[account].password,
        tls_ca_file=secured.ca.ca_cert,
        inputs=[{"name": "button", "kind": "button", "pin": 17, "debounce_s": 0}],
        indicator={"pin": 27},
        reconnect_min_s=0.2,
        reconnect_max_s=0.5,
        **more,
    )
    return Agent(settings, pin_factory=factory)


def press(factory: MockFactory, times: int) -> None:
    for _ in range(times):
        factory.pin(17).drive_low()
        factory.pin(17).drive_high()


@pytest.mark.parametrize("scheme", ["mqtts", "wss"])
def test_counts_arrive_over_tls_with_the_exhibits_own_account(
    secured: Secured, make_settings: SettingsMaker, factory: MockFactory, scheme: str
) -> None:
    with exhibit_agent(secured, make_settings, factory, scheme=scheme) as agent:
        assert agent.wait_connected(10)
        press(factory, 4)
        assert not agent.flush(0.5)  # the broker has them, the fleet has not confirmed them
        secured.ingest.wait("the counts", lambda: secured.counts(A) == {"button": 4})
        # The service account may write the exhibit's custody topic; the exhibit reads it.
        secured.confirm(A)
        assert agent.flush(10)
    statuses = [m for m in secured.ingest.messages if m.topic.endswith(f"{A}/status")]
    assert statuses, "the birth and the goodbye went through the ACL too"


def test_a_wrong_password_is_refused_blinks_and_keeps_counting(
    secured: Secured, make_settings: SettingsMaker, factory: MockFactory
) -> None:
    agent = exhibit_agent(secured, make_settings, factory, password="not-the-password")
    with agent:
        press(factory, 2)
        assert agent.wait_recorded(5)
        eventually(lambda: agent.indicator.error is not None, what="the refusal")
        assert "Not authorized" in str(agent.indicator.error)
        eventually(lambda: len(factory.pin(27).states) > 2, what="the LED flashing")
        assert not agent.wait_connected(0)
    assert agent.interactions_recorded == 2


def test_publishing_outside_the_acl_is_refused_and_the_records_are_kept(
    secured: Secured, make_settings: SettingsMaker, factory: MockFactory
) -> None:
    # B's card configured with A's account: the ACL lets it write only under exhibit-a.
    agent = exhibit_agent(secured, make_settings, factory, exhibit=B, account=A)
    with agent:
        assert agent.wait_connected(10)
        press(factory, 3)
        assert not agent.flush(1.5)  # PUBACK 0x87 each time: nothing may leave the outbox
        assert agent.outbox_depth() >= 1
        assert "Not authorized" in str(agent.indicator.error)
        assert agent.wait_connected(0)  # the connection itself is fine: no reconnect storm
    assert secured.counts(B) == {}
    assert secured.counts(A) == {}


def test_mqtt_311_is_used_when_the_broker_speaks_nothing_newer(
    make_settings: SettingsMaker, factory: MockFactory
) -> None:
    with EmbeddedBroker(free_port(), v311_port=free_port()) as embedded:
        assert embedded.v311_port is not None
        fleet = Subscriber(embedded.port, [subscription(Channel.COUNTS)], confirm=True)
        settings = make_settings(
            broker_url=f"mqtt://127.0.0.1:{embedded.v311_port}",
            reconnect_min_s=0.1,
            reconnect_max_s=0.2,
        )
        with Agent(settings, pin_factory=factory) as agent:
            assert agent.wait_connected(15)
            link = agent.link
            assert isinstance(link, MqttLink)
            assert link.protocol == "3.1.1"
            press(factory, 1)
            assert agent.flush(10)
        fleet.close()


def test_a_broker_that_answered_mqtt_5_is_never_downgraded_by_a_bad_network(
    mosquitto: MosquittoProcess, make_settings: SettingsMaker, factory: MockFactory
) -> None:
    # A cut link (dead Wi-Fi, a proxy) closes connections before any CONNACK, exactly like
    # a 3.1.1-only broker would. Once this broker has spoken MQTT 5, that must not make
    # the agent fall back: on 3.1.1 an ACL refusal would look like a delivery.
    fleet = Subscriber(mosquitto.port, [subscription(Channel.COUNTS)], confirm=True)
    with PartitionProxy("127.0.0.1", mosquitto.port) as proxy:
        settings = make_settings(broker_url=proxy.url, reconnect_min_s=0.05, reconnect_max_s=0.1)
        with Agent(settings, pin_factory=factory) as agent:
            assert agent.wait_connected(10)
            link = agent.link
            assert isinstance(link, MqttLink)
            assert link.protocol == "5"
            proxy.cut()
            # Several reconnects are accepted and closed unanswered while the link is cut:
            # the old rule fell back to 3.1.1 after two of them.
            eventually(lambda: proxy.connections_refused >= 4, timeout=15, what="reconnects")
            proxy.restore()
            assert agent.wait_connected(10)
            assert link.protocol == "5"
            press(factory, 2)
            assert agent.flush(10)
    fleet.close()


def test_a_subscription_the_broker_refuses_is_logged_shown_and_reported(
    secured: Secured,
    make_settings: SettingsMaker,
    factory: MockFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The exhibit's dynamic-security role loses the right to subscribe to its own command
    channel (live, over $CONTROL): the SUBACK refuses it (0x87), and the agent says so in
    its log, on its indicator, in its retained status and in every heartbeat."""
    command = exhibit_topic(A, Channel.COMMAND)
    with ControlClient(secured.access) as control:
        control.execute(
            [
                {
                    "command": "removeRoleACL",
                    "rolename": role_name(A, Role.EXHIBIT),
                    "acltype": "subscribeLiteral",
                    "topic": command,
                }
            ]
        )
    assert secured.ingest.subscribe(subscription(Channel.HEARTBEAT)) == [1]
    with exhibit_agent(secured, make_settings, factory, heartbeat_seconds=0.5) as agent:
        assert agent.wait_connected(10)
        eventually(lambda: agent.indicator.error is not None, what="the refusal shown")
        assert f"broker refused subscription {command}: Not authorized" in str(
            agent.indicator.error
        )

        def reported(kind: type[Status] | type[Heartbeat]) -> list[dict[str, str] | None]:
            channel = Channel.STATUS if kind is Status else Channel.HEARTBEAT
            return [
                kind.model_validate_json(m.payload).refused_subscriptions
                for m in list(secured.ingest.messages)
                if m.topic == exhibit_topic(A, channel) and m.payload
            ]

        secured.ingest.wait(
            "the status again", lambda: {command: "Not authorized"} in reported(Status)
        )
        secured.ingest.wait(
            "a heartbeat", lambda: {command: "Not authorized"} in reported(Heartbeat)
        )
    assert f"refused our subscription to {command} (Not authorized)" in caplog.text
    # Its other channels were granted: custody still reaches it.
    assert {command} == {topic for refused in reported(Status) if refused for topic in refused}
