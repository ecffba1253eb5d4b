"""Lists: JSON arrays paged with ``limit``/``offset``, the total in ``X-Total-Count``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.fleet_api.builders import T0, iso


async def make_visits(client: httpx.AsyncClient) -> list[int]:
    """Three visits of exhibit-001: day 0 08-14, day 1 08-14, day 2 08-14."""
    await client.post("/exhibits", json={"id": "exhibit-001", "name": "Pendulum"})
    school = {
        "name": "Kuldīgas 2. vidusskola",
        "municipality": "Kuldīgas novads",
        "region": "Kurzeme",
    }
    school_id = (await client.post("/schools", json=school)).json()["id"]
    ids = []
    for day in range(3):
        start = T0 + timedelta(days=day)
        body = {
            "school_id": school_id,
            "starts_at": iso(start),
            "ends_at": iso(start + timedelta(hours=6)),
            "exhibit_ids": ["exhibit-001"],
        }
        response = await client.post("/visits", json=body)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


@pytest.mark.parametrize("path", ["/exhibits", "/schools", "/visits", "/tokens"])
async def test_every_list_says_its_total_whatever_the_page(
    client: httpx.AsyncClient, path: str
) -> None:
    await make_visits(client)
    whole = await client.get(path)
    total = int(whole.headers["x-total-count"])
    assert total == len(whole.json()) >= 1
    page = await client.get(path, params={"limit": 1, "offset": total})
    assert (page.json(), page.headers["x-total-count"]) == ([], str(total))


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({}, [0, 1, 2]),
        # Overlapping, not contained: a visit that ends after `from` is in.
        ({"from": iso(T0 + timedelta(hours=5))}, [0, 1, 2]),
        ({"from": iso(T0 + timedelta(hours=6))}, [1, 2]),  # day 0 ended exactly then
        ({"to": iso(T0 + timedelta(days=1))}, [0]),  # day 1 starts exactly then
        ({"to": iso(T0 + timedelta(days=1, seconds=1))}, [0, 1]),
        (
            {
                "from": iso(T0 + timedelta(days=1, hours=1)),
                "to": iso(T0 + timedelta(days=1, hours=2)),
            },
            [1],
        ),
        ({"from": iso(T0 + timedelta(days=3))}, []),
    ],
)
async def test_visits_are_filtered_by_overlap_with_from_to(
    client: httpx.AsyncClient, window: dict[str, str], expected: list[int]
) -> None:
    ids = await make_visits(client)
    response = await client.get("/visits", params=window)
    assert response.status_code == 200, response.text
    assert [visit["id"] for visit in response.json()] == [ids[i] for i in expected]
    assert response.headers["x-total-count"] == str(len(expected))


async def test_a_backwards_range_is_422_naming_to(client: httpx.AsyncClient) -> None:
    window = {"from": iso(T0), "to": iso(T0 - timedelta(hours=1))}
    response = await client.get("/visits", params=window)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "query.to: must be after from (2026-05-04T08:00:00+00:00)"
    assert body["errors"][0]["loc"] == ["query", "to"]


async def test_an_offset_past_64_bits_is_422_not_an_overflow(client: httpx.AsyncClient) -> None:
    response = await client.get("/schools", params={"offset": 2**63})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.offset: ")
