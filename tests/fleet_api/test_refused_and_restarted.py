"""Fleet health says what an exhibit cannot say for itself, in the API and on the page.

- An agent whose own subscription the broker refused (its role does not let it read its
  command channel) reports it in its heartbeat; fleet health shows it and alerts.
- An exhibit whose seqs started again (a reflashed card) or that reused a stored seq
  with another body is shown as such on the page, in English and Latvian, not as the
  backlog text the page used to fall back to.
"""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from fleet_api.store.ingest import write_batch
from tests.fleet_api.builders import beat, counts, record, status
from tests.fleet_api.helpers import register
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import log_in

EXHIBIT = "exhibit-001"
COMMANDS = f"fleet/v1/exhibits/{EXHIBIT}/commands"


def _visible(html: str) -> str:
    return " ".join(re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.DOTALL).split())


async def test_a_refused_subscription_is_shown_on_fleet_health_and_its_page(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    engine = app.state.engine
    register(engine, EXHIBIT)
    refused = {COMMANDS: "Not authorized"}
    write_batch(engine, [status(EXHIBIT), beat(EXHIBIT, refused_subscriptions=refused)])
    health = (await client.get(f"/exhibits/{EXHIBIT}/health")).json()
    assert health["heartbeat"]["refused_subscriptions"] == refused
    alert = [a for a in health["alerts"] if a["code"] == "subscription_refused"]
    assert len(alert) == 1, health["alerts"]
    assert COMMANDS in alert[0]["message"]
    assert alert[0]["severity"] == "warning"

    await log_in(anonymous, ADMIN_TOKEN)
    english = _visible((await anonymous.get("/ui/")).text)
    assert f"The broker refused its subscription to {COMMANDS} (Not authorized)" in english
    latvian = _visible((await anonymous.get("/ui/?lang=lv")).text)
    assert f"Brokeris atteica tā abonementu {COMMANDS} (Not authorized)" in latvian

    # Granted again (the role was fixed): the next heartbeat says {} and the alert goes.
    write_batch(engine, [beat(EXHIBIT, uptime_s=65, refused_subscriptions={})])
    health = (await client.get(f"/exhibits/{EXHIBIT}/health")).json()
    assert health["heartbeat"]["refused_subscriptions"] == {}
    assert "subscription_refused" not in [a["code"] for a in health["alerts"]]


async def test_restarted_seqs_and_conflicts_are_said_on_the_page(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    engine = app.state.engine
    register(engine, EXHIBIT, "exhibit-002")
    write_batch(engine, [counts(EXHIBIT, record(1), record(2, minute=1))])
    write_batch(engine, [counts(EXHIBIT, record(1, minute=30, boot_id="fresh-card"))])
    write_batch(engine, [counts("exhibit-002", record(1))])
    write_batch(engine, [counts("exhibit-002", record(1, count=4))])  # same boot, other body
    await log_in(anonymous, ADMIN_TOKEN)
    english = _visible((await anonymous.get("/ui/")).text)
    assert (
        "Its record numbers started again (a reflashed SD card or a restored backup?): 1 "
        "record reuses a number stored from an earlier boot." in english
    )
    assert "1 record reused a stored record number with other values" in english
    assert "waiting to be sent" not in english  # the text the page fell back to
    latvian = _visible((await anonymous.get("/ui/?lang=lv")).text)
    assert "Tā ierakstu numuri sākās no jauna" in latvian
    assert "1 ieraksts atkārtoja saglabāta ieraksta numuru ar citām vērtībām" in latvian
