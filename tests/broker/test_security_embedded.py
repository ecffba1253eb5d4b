"""What the embedded single-machine broker does NOT enforce, shown rather than claimed.

docs/broker.md says the embedded rumqttd has no authentication and no ACLs and is
safe only because it binds loopback. If a future iotcore starts enforcing either, these
tests fail and the documentation must change with them.
"""

from __future__ import annotations

from broker.embedded import EmbeddedBroker
from broker.endpoint import BrokerEndpoint
from broker.topics import Channel, exhibit_topic, subscription
from tests.broker.mqtt_probe import connect


def test_embedded_broker_accepts_any_credentials_and_forged_topics(
    embedded_broker: EmbeddedBroker,
) -> None:
    endpoint = BrokerEndpoint.parse(f"mqtt://127.0.0.1:{embedded_broker.port}")
    ingest = connect(endpoint, username=None, password=None, tls=None, client_id="ingest")
    forger = connect(
        endpoint, username="exhibit-a", password="not-checked", tls=None, client_id="exhibit-a"
    )
    try:
        assert (ingest.connack, forger.connack) == (0, 0)
        assert ingest.subscribe(subscription(Channel.COUNTS)) == [1]
        forged = exhibit_topic("exhibit-b", Channel.COUNTS)
        assert forger.publish(forged, b'{"forged": true}') == 0
        ingest.wait_for_topic(forged)
    finally:
        forger.close()
        ingest.close()


def test_embedded_broker_listens_on_loopback_only(embedded_broker: EmbeddedBroker) -> None:
    assert embedded_broker.host == "127.0.0.1"
    assert f'listen = "127.0.0.1:{embedded_broker.port}"' in embedded_broker.config_path.read_text()
