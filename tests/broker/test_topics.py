from __future__ import annotations

import pytest

from broker import topics
from broker.errors import TopicError
from broker.topics import Channel


@pytest.mark.parametrize("channel", list(Channel))
def test_build_then_parse_round_trips(channel: Channel) -> None:
    topic = topics.exhibit_topic("exhibit-001", channel)
    assert topic == f"fleet/v1/exhibits/exhibit-001/{channel.value}"
    assert topics.parse(topic) == topics.ExhibitTopic("exhibit-001", channel)


@pytest.mark.parametrize(
    "bad",
    [
        "other/v1/exhibits/a/counts",
        "fleet/v1/exhibits/a/counts/extra",
        "fleet/v1/exhibits/a/unknown",
        "fleet/v1/exhibits/UPPER/counts",
        "fleet/v1/exhibits/-lead/counts",
        "fleet/v1/exhibits/+/counts",
        "fleet/v1/exhibits//counts",
    ],
)
def test_parse_rejects_foreign_topics(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(bad)


def test_exhibit_id_with_wildcard_cannot_build_a_topic() -> None:
    with pytest.raises(TopicError, match="exhibit id"):
        topics.exhibit_topic("a/#", Channel.COUNTS)


def test_subscriptions_plain_and_shared() -> None:
    assert topics.subscription(Channel.COUNTS) == "fleet/v1/exhibits/+/counts"
    assert (
        topics.subscription(Channel.COUNTS, share_group="ingest")
        == "$share/ingest/fleet/v1/exhibits/+/counts"
    )
