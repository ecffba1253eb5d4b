"""The ingest on the broker's service listener: TLS with its client certificate.

Production Mosquitto (``render_security``) has a service listener that wants a client
certificate from the fleet's CA as well as the service account's password. The fleet
API's ingest reaches it with ``FLEET_MQTT_CERT_FILE`` and ``FLEET_MQTT_KEY_FILE``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.devca import DevCa, ensure_dev_ca
from broker.endpoint import BrokerEndpoint
from broker.tls import TlsSettings
from broker.topics import Channel, exhibit_topic
from fleet_api.inbound import Inbound
from fleet_api.mqtt_source import MqttSource
from fleet_api.settings import Settings
from tests.broker.mqtt_probe import connect
from tests.broker.secured import SecuredMosquitto, secured_mosquitto

pytestmark = pytest.mark.integration

EXHIBIT, INGEST = "exhibit-a", "fleet-ingest"


@pytest.fixture(scope="module")
def dev_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCa:
    return ensure_dev_ca(tmp_path_factory.mktemp("ca"), clients=[INGEST])


@pytest.fixture
def broker(tmp_path: Path, dev_ca: DevCa) -> Iterator[SecuredMosquitto]:
    with secured_mosquitto(tmp_path, dev_ca, exhibits=(EXHIBIT,), services=(INGEST,)) as m:
        yield m


def ingest_settings(broker: SecuredMosquitto, ca: DevCa, *, with_cert: bool) -> Settings:
    cert, key = ca.client_certs[INGEST]
    return Settings(
        mqtt_url=f"mqtts://127.0.0.1:{broker.config.service_port}",
        mqtt_username=INGEST,
        mqtt_password=broker.issued[INGEST].password,
        mqtt_ca_file=ca.ca_cert,
        mqtt_cert_file=cert if with_cert else None,
        mqtt_key_file=key if with_cert else None,
        mqtt_client_id="fleet-ingest-1",
    )


def wait_for(condition: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_the_ingest_with_its_client_certificate_receives_exhibit_messages(
    broker: SecuredMosquitto, dev_ca: DevCa
) -> None:
    received: list[Inbound] = []
    arrived = threading.Event()

    def deliver(message: Inbound) -> None:
        received.append(message)
        arrived.set()

    source = MqttSource(ingest_settings(broker, dev_ca, with_cert=True))
    source.start(deliver)
    exhibit = connect(
        BrokerEndpoint.parse(f"mqtts://127.0.0.1:{broker.config.tls_port}"),
        username=EXHIBIT,
        password=broker.issued[EXHIBIT].password,
        tls=TlsSettings(ca_file=dev_ca.ca_cert),
        client_id=EXHIBIT,
    )
    try:
        assert wait_for(lambda: source.connected), "the ingest did not connect and subscribe"
        topic = exhibit_topic(EXHIBIT, Channel.COUNTS)
        assert exhibit.publish(topic, b'{"probe": 1}') == 0
        assert arrived.wait(10)
        assert [(m.topic, m.payload) for m in received] == [(topic, b'{"probe": 1}')]
    finally:
        exhibit.close()
        source.stop()


def test_without_the_client_certificate_the_service_listener_refuses_the_ingest(
    broker: SecuredMosquitto, dev_ca: DevCa
) -> None:
    source = MqttSource(ingest_settings(broker, dev_ca, with_cert=False))
    source.start(lambda message: None)
    try:
        # The TLS handshake fails, so the password alone never gets the ingest in.
        assert not wait_for(lambda: source.connected, timeout=3)
    finally:
        source.stop()
