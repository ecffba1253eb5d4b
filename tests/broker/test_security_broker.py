"""The secured Mosquitto for real: accounts, ACL, TLS and limits against the 2.0.11 binary.

Every broker here runs the production security block (``render_security``): the
dynamic-security plugin with accounts added live by ``BrokerAccounts`` (what
``fleet-api broker`` runs), a TLS listener for exhibits, a WebSocket one, and the service
listener the ingest uses with its client certificate.

"Never reaches ingestion" is proven with a barrier: the ingest account subscribes to
every exhibit channel, the attacker's forbidden publish goes first, then a permitted
one on the same connection; when the permitted one has arrived, the forbidden one
would have arrived before it.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from broker.accounts import Issued
from broker.acl import Role, publisher
from broker.devca import DevCa, ensure_dev_ca
from broker.endpoint import BrokerEndpoint
from broker.limits import MAX_PAYLOAD_BYTES
from broker.mosquitto import (
    MosquittoProcess,
)
from broker.mosquitto.production import MAX_PACKET_BYTES, ProductionConfig
from broker.tls import TlsSettings
from broker.topics import Channel, exhibit_topic, subscription
from tests.broker.mqtt_probe import (
    NO_MATCHING_SUBSCRIBERS,
    NOT_AUTHORIZED,
    PACKET_TOO_LARGE,
    UNSPECIFIED_ERROR,
    Probe,
    connack_refused,
    connect,
    raw_publish_v5,
)
from tests.broker.secured import SecuredMosquitto, secured_mosquitto

pytestmark = pytest.mark.integration

A, B, INGEST = "exhibit-a", "exhibit-b", "fleet-ingest"
V5, V311 = mqtt.MQTTv5, mqtt.MQTTv311


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCa:
    return ensure_dev_ca(tmp_path_factory.mktemp("ca"), clients=[INGEST])


@dataclass
class SecureBroker:
    process: MosquittoProcess
    secured: SecuredMosquitto
    ca: DevCa
    config: ProductionConfig
    issued: dict[str, Issued]
    probes: list[Probe]

    @property
    def agent_tls(self) -> TlsSettings:
        return TlsSettings(ca_file=self.ca.ca_cert)

    def exhibit_endpoint(self, transport: str = "mqtts") -> BrokerEndpoint:
        port = self.config.tls_port if transport == "mqtts" else self.config.websocket_port
        return BrokerEndpoint.parse(f"{transport}://127.0.0.1:{port}")

    def exhibit(
        self, name: str, *, protocol: MQTTProtocolVersion = V5, client_id: str = ""
    ) -> Probe:
        probe = connect(
            self.exhibit_endpoint(),
            username=name,
            password=self.issued[name].password,
            tls=self.agent_tls,
            client_id=client_id or name,
            protocol=protocol,
        )
        self.probes.append(probe)
        assert probe.connack == 0, probe
        return probe

    def ingest_worker(self, number: int) -> Probe:
        cert, key = self.ca.client_certs[INGEST]
        probe = connect(
            BrokerEndpoint.parse(f"mqtts://127.0.0.1:{self.config.service_port}"),
            username=INGEST,
            password=self.issued[INGEST].password,
            tls=TlsSettings(ca_file=self.ca.ca_cert, cert_file=cert, key_file=key),
            client_id=f"fleet-ingest:worker-{number}",
        )
        self.probes.append(probe)
        assert probe.connack == 0, probe
        return probe

    def ingest(self) -> Probe:
        probe = self.ingest_worker(1)
        for channel in Channel:
            assert probe.subscribe(subscription(channel)) == [1]
        return probe

    def attempt(
        self, username: str | None, password: str | None, protocol: MQTTProtocolVersion
    ) -> Probe:
        probe = connect(
            self.exhibit_endpoint(),
            username=username,
            password=password,
            tls=self.agent_tls,
            protocol=protocol,
        )
        self.probes.append(probe)
        return probe


@pytest.fixture
def secure(tmp_path: Path, dev_ca: DevCa) -> Iterator[SecureBroker]:
    with secured_mosquitto(tmp_path, dev_ca, exhibits=(A, B), services=(INGEST,)) as m:
        broker = SecureBroker(m.process, m, dev_ca, m.config, m.issued, [])
        yield broker
        for probe in broker.probes:
            probe.close()


@pytest.mark.parametrize(
    ("protocol", "denied_puback"), [(V5, NOT_AUTHORIZED), (V311, 0)], ids=["mqtt5", "mqtt311"]
)
def test_exhibit_cannot_publish_as_another(
    secure: SecureBroker, protocol: MQTTProtocolVersion, denied_puback: int
) -> None:
    ingest = secure.ingest()
    a = secure.exhibit(A, protocol=protocol)
    forged = [exhibit_topic(B, channel) for channel in Channel]  # B's data and B's commands
    # and to itself: a command, or a configuration that would rewire its outputs
    forged += [exhibit_topic(A, c) for c in Channel if publisher(c) is Role.SERVICE]
    for topic in forged:
        # MQTT v5 is told 0x87; MQTT 3.1.1 has no reason codes, so it gets a plain PUBACK
        # and cannot tell: either way the message is dropped, as the barrier shows.
        assert a.publish(topic, b'{"forged": true}', retain=True) == denied_puback, topic
    own = exhibit_topic(A, Channel.COUNTS)
    assert a.publish(own, b'{"own": true}') == 0
    ingest.wait_for_topic(own)
    assert ingest.topics() == [own]
    later = secure.exhibit(A, protocol=protocol)  # what a retained forgery would reach
    assert later.subscribe(exhibit_topic(A, Channel.CONFIG)) == [1]
    assert ingest.publish(exhibit_topic(A, Channel.CONFIG), b"fleet's", retain=True) == 0
    later.wait_for_topic(exhibit_topic(A, Channel.CONFIG))
    # No forged retained configuration came before the fleet's own.
    assert [m.payload for m in later.messages] == [b"fleet's"]


def test_exhibit_cannot_read_another_exhibits_config_or_data(secure: SecureBroker) -> None:
    ingest = secure.ingest()
    b_config, a_config = (exhibit_topic(x, Channel.ASSIGNMENT) for x in (B, A))
    assert ingest.publish(b_config, b"b-retained", retain=True) == 0
    a = secure.exhibit(A)
    b = secure.exhibit(B)
    for topic_filter in (b_config, subscription(Channel.ASSIGNMENT), "fleet/#", "#"):
        # The plugin checks the filter at SUBSCRIBE: refused, so nothing can follow.
        assert a.subscribe(topic_filter) == [NOT_AUTHORIZED], topic_filter
    assert a.subscribe(a_config) == [1]
    assert b.publish(exhibit_topic(B, Channel.COUNTS), b"b-data") == 0
    assert ingest.publish(b_config, b"b-live") == 0
    assert ingest.publish(a_config, b"a-live") == 0
    a.wait_for_topic(a_config)
    assert set(a.topics()) == {a_config}
    assert all(m.payload == b"a-live" for m in a.messages)


def _foreign_filters(share_group: str) -> list[str]:
    """Every kind of filter an exhibit (A) might try beyond its own channels."""
    filters = ["#", "+/#", "fleet/#", "fleet/v1/exhibits/#", f"fleet/v1/exhibits/{A}/#"]
    filters += ["$SYS/#", "$CONTROL/#", "$CONTROL/dynamic-security/v1/response"]
    for channel in Channel:
        filters += [exhibit_topic(B, channel), subscription(channel)]
        for group in ("ingest", share_group, "x"):
            filters += [subscription(channel, share_group=group)]
            filters += [f"$share/{group}/{exhibit_topic(A, channel)}"]
        if publisher(channel) is Role.EXHIBIT:
            filters.append(exhibit_topic(A, channel))  # its own outgoing data: not to read
    return filters


@pytest.mark.parametrize(
    ("protocol", "refused"), [(V5, NOT_AUTHORIZED), (V311, 0x80)], ids=["mqtt5", "mqtt311"]
)
def test_an_exhibit_can_subscribe_to_its_own_commands_and_nothing_else(
    secure: SecureBroker, protocol: MQTTProtocolVersion, refused: int
) -> None:
    a = secure.exhibit(A, protocol=protocol)
    for topic_filter in _foreign_filters(secure.secured.share_group):
        assert a.subscribe(topic_filter) == [refused], topic_filter
    own = [exhibit_topic(A, c) for c in Channel if publisher(c) is Role.SERVICE]
    assert own, "the fleet sends exhibits something"
    for topic_filter in own:
        assert a.subscribe(topic_filter) == [1], topic_filter
    assert a.disconnects == []


def test_no_exhibit_can_send_control_commands(secure: SecureBroker) -> None:
    a = secure.exhibit(A)
    command = b'{"commands": [{"command": "deleteClient", "username": "exhibit-b"}]}'
    assert a.publish("$CONTROL/dynamic-security/v1", command) == NOT_AUTHORIZED
    assert secure.exhibit(B).connack == 0  # still there


def test_services_join_only_the_deployments_own_share_group(secure: SecureBroker) -> None:
    ingest = secure.ingest()
    group = secure.secured.share_group
    assert len(group) >= len("ingest-") + 22  # 128 random bits
    for channel in Channel:
        assert ingest.subscribe(subscription(channel, share_group=group)) == [1]
        assert ingest.subscribe(subscription(channel, share_group="ingest")) == [NOT_AUTHORIZED]
    assert ingest.subscribe("#") == [NOT_AUTHORIZED]
    assert ingest.subscribe("$SYS/#") == [NOT_AUTHORIZED]


def test_an_exhibit_cannot_divert_the_ingests_shared_subscription(secure: SecureBroker) -> None:
    """The hole the acceptance run found: exhibit C joined the ingest's group and half of
    exhibit B's acknowledged messages went to it (and were dropped at delivery)."""
    group = secure.secured.share_group
    workers = [secure.ingest_worker(n) for n in (1, 2)]
    for worker in workers:
        assert worker.subscribe(subscription(Channel.COUNTS, share_group=group)) == [1]
    thief = secure.exhibit(A)
    assert thief.subscribe(subscription(Channel.COUNTS, share_group=group)) == [NOT_AUTHORIZED]
    b = secure.exhibit(B)
    counts = exhibit_topic(B, Channel.COUNTS)
    for n in range(20):
        assert b.publish(counts, str(n).encode()) == 0
    received = lambda: sorted(int(m.payload) for w in workers for m in w.messages)  # noqa: E731
    workers[0].wait("all 20 messages at the workers", lambda: len(received()) == 20)
    assert received() == list(range(20))
    assert all(w.messages for w in workers)  # shared between the two, not one copy each
    assert thief.messages == []


@pytest.mark.parametrize("protocol", [V5, V311], ids=["mqtt5", "mqtt311"])
@pytest.mark.parametrize(
    ("username", "password"),
    [(None, None), (A, "wrong-password"), ("exhibit-z", "no-such-account"), (A, "")],
    ids=["anonymous", "wrong-password", "unknown-user", "empty-password"],
)
def test_wrong_password_and_anonymous_are_refused(
    secure: SecureBroker,
    protocol: MQTTProtocolVersion,
    username: str | None,
    password: str | None,
) -> None:
    # 0x87 "not authorized" in MQTT v5; return code 5 in 3.1.1, which paho reports as 0x87.
    assert connack_refused(secure.attempt(username, password, protocol)) == NOT_AUTHORIZED


def test_tls_end_to_end_with_the_agents_and_the_ingests_settings(secure: SecureBroker) -> None:
    ingest = secure.ingest()
    agent = secure.exhibit(A)
    counts, config = exhibit_topic(A, Channel.COUNTS), exhibit_topic(A, Channel.ASSIGNMENT)
    assert agent.subscribe(config) == [1]
    assert agent.publish(counts, b'{"n": 1}') == 0
    ingest.wait_for_topic(counts)
    assert ingest.publish(config, b'{"visit": 7}', retain=True) == 0
    agent.wait_for_topic(config)
    assert [m.payload for m in agent.messages] == [b'{"visit": 7}']

    websocket = connect(
        secure.exhibit_endpoint("wss"),
        username=B,
        password=secure.issued[B].password,
        tls=secure.agent_tls,
    )
    secure.probes.append(websocket)
    assert websocket.connack == 0
    assert websocket.publish(exhibit_topic(B, Channel.HEARTBEAT), b"{}") == 0
    ingest.wait_for_topic(exhibit_topic(B, Channel.HEARTBEAT))


def test_tls_refuses_a_broker_certificate_from_another_ca(
    secure: SecureBroker, tmp_path: Path
) -> None:
    # The context paho's tls_set builds from these kwargs (CERT_REQUIRED, hostname
    # checked); plain ssl here because paho leaks the socket of a failed handshake.
    other = TlsSettings(ca_file=ensure_dev_ca(tmp_path / "other-ca").ca_cert)
    context = ssl.create_default_context(cafile=other.tls_set_kwargs()["ca_certs"])
    with (
        socket.create_connection(("127.0.0.1", secure.config.tls_port)) as sock,
        pytest.raises(ssl.SSLCertVerificationError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        context.wrap_socket(sock, server_hostname="127.0.0.1")


def test_service_listener_requires_a_client_certificate(secure: SecureBroker) -> None:
    # Exhibits have no client certificate: with the right password they still cannot
    # reach the listener where client ids are free.
    probe = connect(
        BrokerEndpoint.parse(f"mqtts://127.0.0.1:{secure.config.service_port}"),
        username=A,
        password=secure.issued[A].password,
        tls=secure.agent_tls,
        wait_connack=False,
    )
    secure.probes.append(probe)
    probe.wait_disconnected()
    assert probe.connack is None, probe


def test_an_exhibit_cannot_take_over_another_exhibits_client_id(secure: SecureBroker) -> None:
    b = secure.exhibit(B, client_id=B)
    impostor = secure.exhibit(A, client_id=B)  # forced back to "exhibit-a" by the broker
    # A round trip on B's connection after the impostor's CONNACK: had the broker
    # dropped B for the impostor, B's PUBACK could not come back on this connection.
    heartbeat = exhibit_topic(B, Channel.HEARTBEAT)
    assert b.publish(heartbeat, b"{}") == NO_MATCHING_SUBSCRIBERS
    assert b.disconnects == []
    assert impostor.publish(heartbeat, b"{}") == NOT_AUTHORIZED  # still only exhibit-a


def test_without_forced_client_ids_the_takeover_is_real(secure: SecureBroker) -> None:
    # Why use_username_as_clientid is on: the harness's plain listener lacks it, and
    # there exhibit A, with B's client id, disconnects B.
    plain = BrokerEndpoint.parse(f"mqtt://127.0.0.1:{secure.process.port}")
    b = connect(plain, username=B, password=secure.issued[B].password, tls=None, client_id=B)
    impostor = connect(plain, username=A, password=secure.issued[A].password, tls=None, client_id=B)
    secure.probes += [b, impostor]
    assert (b.connack, impostor.connack) == (0, 0)
    b.wait_disconnected()


def test_oversized_payload_is_refused(secure: SecureBroker) -> None:
    ingest = secure.ingest()
    counts = exhibit_topic(A, Channel.COUNTS)
    password = secure.issued[A].password
    ca = str(secure.ca.ca_cert)
    port = secure.config.tls_port
    assert raw_publish_v5("127.0.0.1", port, ca, A, password, counts, b"x" * MAX_PAYLOAD_BYTES) == 0
    ingest.wait_for_topic(counts)
    assert [len(m.payload) for m in ingest.messages] == [MAX_PAYLOAD_BYTES]

    # One byte over message_size_limit: MQTT v5 gets PUBACK 0x95 (which paho 2.2 cannot
    # decode: it drops the connection as malformed, hence the raw client here).
    over = b"x" * (MAX_PAYLOAD_BYTES + 1)
    assert raw_publish_v5("127.0.0.1", port, ca, A, password, counts, over) == PACKET_TOO_LARGE
    # MQTT 3.1.1 gets a plain PUBACK and the payload is dropped all the same.
    a311 = secure.exhibit(A, protocol=V311)
    assert a311.publish(counts, over) == 0
    marker = exhibit_topic(A, Channel.HEARTBEAT)
    assert a311.publish(marker, b"{}") == 0
    ingest.wait_for_topic(marker)
    # (Closed before the next connection as exhibit-a, which would take it over.)
    a311.close()
    # Bigger than max_packet_size: disconnected before Mosquitto buffers it. It sends
    # DISCONNECT 0x95 first, but over TLS paho is often still writing and sees a reset
    # (0x80) instead, so the broker's log is what tells the reason reliably.
    a5 = secure.exhibit(A)
    a5.client.publish(counts, b"x" * (MAX_PACKET_BYTES + 1), qos=1)
    assert a5.wait_disconnected() in (PACKET_TOO_LARGE, UNSPECIFIED_ERROR)
    log = secure.process.log_path.read_text()
    assert f"Client {A} disconnected due to oversize packet." in log
    assert secure.exhibit(B).publish(marker.replace(A, B), b"{}") == 0
    ingest.wait_for_topic(marker.replace(A, B))
    assert [len(m.payload) for m in ingest.messages] == [MAX_PAYLOAD_BYTES, 2, 2]


def test_revoked_exhibit_is_disconnected_and_can_no_longer_connect(secure: SecureBroker) -> None:
    a = secure.exhibit(A)
    b = secure.exhibit(B)
    with secure.secured.accounts() as accounts:
        accounts.revoke(A)
    # The plugin drops the revoked client's connection at once, no reload needed.
    a.wait_disconnected()
    assert connack_refused(secure.attempt(A, secure.issued[A].password, V5)) == NOT_AUTHORIZED
    assert b.publish(exhibit_topic(B, Channel.HEARTBEAT), b"{}") == NO_MATCHING_SUBSCRIBERS
    assert b.disconnects == []


def test_rotated_password_replaces_the_old_one(secure: SecureBroker) -> None:
    old = secure.exhibit(A)
    with secure.secured.accounts() as accounts:
        rotated = accounts.rotate(A)
    old.wait_disconnected()
    old_password = secure.issued[A].password
    assert connack_refused(secure.attempt(A, old_password, V5)) == NOT_AUTHORIZED
    assert secure.attempt(A, rotated.password, V5).connack == 0
