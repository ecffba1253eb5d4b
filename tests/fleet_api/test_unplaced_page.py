"""Staff place a visit's unplaced records from the visit page, and undo it (issue 16).

Tuesday's visit: exhibit-001's clock synced for 10 minutes, then a boot that never synced
made 3 records the bounds cannot place (Tuesday, or nowhere). A staff member who knows the
exhibit was there counts them in the visit with one button, and can undo it; a viewer sees
the records but no button, and a post of theirs is refused.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from tests.fleet_api.helpers import register, schedule
from tests.fleet_api.test_clock_truth import E, behind_run, school_day, send, synced_run
from tests.fleet_api.tokens import ADMIN_TOKEN, add_token
from tests.fleet_api.web_client import csrf_of, log_in


def tuesday_with_three_unplaced(app: FastAPI) -> int:
    engine = app.state.engine
    register(engine, E)
    tuesday = schedule(engine, E, start_h=24.5, hours=6)
    tue_start, _ = school_day(1)
    send(
        engine,
        [
            *synced_run(1, tue_start, 10, "boot-1"),
            *behind_run(11, tue_start + timedelta(minutes=20), 3, "boot-2"),
        ],
    )
    return tuesday


async def test_staff_count_them_in_the_visit_and_undo_it(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    tuesday = tuesday_with_three_unplaced(app)
    await log_in(anonymous, ADMIN_TOKEN)
    url = f"/ui/visits/{tuesday}"

    page = (await anonymous.get(url)).text
    assert "3 records (3 interactions) not placed yet." in page
    assert "Count them in this visit" in page
    assert (await client.get(f"/visits/{tuesday}/usage")).json()["total"] == 10

    posted = await anonymous.post(
        f"{url}/unplaced", data={"exhibit_id": E, "action": "assign", "csrf_token": csrf_of(page)}
    )
    assert posted.status_code == 303
    assert posted.headers["location"].endswith(f"{url}?notice=unplaced_assigned")
    usage = (await client.get(f"/visits/{tuesday}/usage")).json()
    assert (usage["total"], usage["unplaced_records"]) == (13, 0)
    page = (await anonymous.get(f"{url}?notice=unplaced_assigned")).text
    assert "The records now count in this visit." in page
    assert "3 records (3 interactions) counted here by staff." in page
    audit = (await client.get("/audit", params={"entity": "exhibit", "entity_id": E})).json()
    assert [e["action"] for e in audit if e["action"].startswith("unplaced")] == ["unplaced.assign"]

    latvian = (await anonymous.get(f"{url}?lang=lv")).text
    assert "Atsaukt" in latvian

    undone = await anonymous.post(
        f"{url}/unplaced", data={"exhibit_id": E, "action": "undo", "csrf_token": csrf_of(page)}
    )
    assert undone.headers["location"].endswith(f"{url}?notice=unplaced_undone")
    usage = (await client.get(f"/visits/{tuesday}/usage")).json()
    assert (usage["total"], usage["unplaced_records"]) == (10, 3)

    again = await anonymous.post(
        f"{url}/unplaced", data={"exhibit_id": E, "action": "undo", "csrf_token": csrf_of(page)}
    )
    assert again.headers["location"].endswith(f"{url}?notice=unplaced_undone")  # nothing to undo
    unknown = await anonymous.post(
        f"{url}/unplaced",
        data={"exhibit_id": "exhibit-999", "action": "assign", "csrf_token": csrf_of(page)},
    )
    assert unknown.headers["location"].endswith(f"{url}?problem=unplaced")
    assert (await client.get(f"/visits/{tuesday}/usage")).json()["total"] == 10


async def test_a_viewer_sees_them_but_cannot_place_them(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    tuesday = tuesday_with_three_unplaced(app)
    csrf = await log_in(anonymous, add_token(app.state.engine, "viewer"))
    url = f"/ui/visits/{tuesday}"
    page = (await anonymous.get(url)).text
    assert "3 records (3 interactions) not placed yet." in page
    assert "Count them in this visit" not in page
    posted = await anonymous.post(
        f"{url}/unplaced", data={"exhibit_id": E, "action": "assign", "csrf_token": csrf}
    )
    assert posted.status_code == 403
    assert (await client.get(f"/visits/{tuesday}/usage")).json()["total"] == 10
