"""The agent's own announcements: retained birth / offline status, last will, heartbeat."""

from __future__ import annotations

from broker.topics import Channel, exhibit_topic
from device import __version__
from device.core.clock import Clock
from device.link.base import Publication
from device.ops.health import Health
from device.settings.config import AgentSettings
from device.wire.codec import heartbeat_payload, status_payload


def status_message(
    settings: AgentSettings,
    *,
    online: bool,
    clock: Clock | None = None,
    refused: dict[str, str] | None = None,
) -> Publication:
    """The retained status: birth (online), explicit offline, or the last will (no clock).

    The birth carries the agent version, the config hash and the count names, so the
    fleet sees what this exhibit counts before any count arrives. ``refused``: the
    subscriptions the broker refused (the birth goes out before the SUBACK, so the agent
    publishes its status again once it knows).
    """
    if clock is None:
        payload = status_payload(exhibit_id=settings.exhibit_id, online=online)
    else:
        payload = status_payload(
            exhibit_id=settings.exhibit_id,
            online=online,
            at=clock.wall(),
            boot_id=clock.boot_id(),
            agent_version=__version__,
            config_hash=settings.config_hash(),
            inputs=settings.count_names(),
            config_version=settings.config_version,
            refused_subscriptions=refused,
        )
    topic = exhibit_topic(settings.exhibit_id, Channel.STATUS)
    return Publication(topic, payload, qos=1, retain=True)


def heartbeat_message(
    settings: AgentSettings,
    *,
    clock: Clock,
    clock_synced: bool,
    outbox_depth: int,
    health: Health,
    retained_from_seq: int | None = None,
    retained_records: int | None = None,
    refused: dict[str, str] | None = None,
) -> Publication:
    """A heartbeat (QoS 0): uptime, clock state, outbox depth, the window of records still
    held for a resend (``device.outbox.retention``) and what health is readable."""
    payload = heartbeat_payload(
        exhibit_id=settings.exhibit_id,
        at=clock.wall(),
        boot_id=clock.boot_id(),
        uptime_s=max(clock.monotonic(), 0.0),
        clock_synced=clock_synced,
        outbox_depth=max(outbox_depth, 0),
        cpu_temp_c=health.cpu_temp_c,
        under_voltage=health.under_voltage,
        throttled=health.throttled,
        disk_free_bytes=health.disk_free_bytes,
        mem_available_bytes=health.mem_available_bytes,
        wifi_signal_dbm=health.wifi_signal_dbm,
        retained_from_seq=retained_from_seq,
        retained_records=retained_records,
        refused_subscriptions=refused,
    )
    topic = exhibit_topic(settings.exhibit_id, Channel.HEARTBEAT)
    return Publication(topic, payload, qos=0)
