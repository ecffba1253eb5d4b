"""The agent's real broker link: an ``MqttLink`` built from its settings."""

from __future__ import annotations

from device.core.clock import Clock
from device.link.base import Link
from device.ops.commands import subscriptions
from device.ops.status import status_message
from device.settings.config import AgentSettings


def mqtt_link(settings: AgentSettings, clock: Clock) -> Link:
    """The link with the agent's will, birth (read at each connection) and subscriptions."""
    from device.link.mqtt import LinkOptions, MqttLink  # paho only when really needed

    endpoint = settings.endpoint
    options = LinkOptions(
        host=endpoint.host,
        port=endpoint.port,
        client_id=settings.mqtt_client_id,
        transport=endpoint.transport,
        ws_path=endpoint.path,
        tls=settings.tls,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        protocol=settings.mqtt_protocol,
        keepalive=settings.keepalive_s,
        will=status_message(settings, online=False),
        birth=lambda: status_message(settings, online=True, clock=clock),
        subscriptions=subscriptions(settings),
        max_inflight=settings.inflight_window,
        reconnect_min_s=settings.reconnect_min_s,
        reconnect_max_s=settings.reconnect_max_s,
    )
    return MqttLink(options)
