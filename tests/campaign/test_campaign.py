"""Fixed seeds of the fault campaign against real Mosquitto and the fleet API, both databases.

Chosen to pass on main of 2026-12-05 while covering every fault the nemesis draws: black
holes, reboot chains, presses in flight, clock jumps, broker and API restarts, duplicate
delivery (seeds 2, 6, 8, 10, 13, 14, 16; `exhibit-sim campaign --seed N --show` prints
one). Seeds that expose issue 16 (a boot that never syncs, an untagged visit; seed 1 and
simulator/scenarios/issue-16/) run in `make soak` until the fleet's bounds are on main.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.mosquitto import INSTALL_HINT, mosquitto_binary
from simulator.campaign_run import SeedResult, run_seed
from simulator.databases import Backend
from tests.conftest import require
from tests.reliability.conftest import _usable

SEEDS = [
    (2, "sqlite"),
    (6, "postgresql"),
    (8, "sqlite"),
    (10, "sqlite"),
    (13, "postgresql"),
    (14, "sqlite"),
    (16, "postgresql"),
]


@pytest.mark.timeout(400)
@pytest.mark.parametrize(
    ("seed", "database"),
    [
        pytest.param(seed, db, marks=[pytest.mark.postgres] if db == "postgresql" else [])
        for seed, db in SEEDS
    ],
)
def test_seed_loses_duplicates_and_misplaces_nothing(
    seed: int, database: str, tmp_path: Path, campaign_results: list[SeedResult]
) -> None:
    require(mosquitto_binary() is not None, "mosquitto", INSTALL_HINT)
    backend: Backend = _usable(database)
    result = run_seed(seed, work_dir=tmp_path / f"seed-{seed}", database=backend)
    campaign_results.append(result)
    findings = result.findings
    assert result.ok, f"replay: {result.replay}\n" + "\n".join(
        [*findings.problems, *result.differences]
    )
    assert (findings.lost, findings.duplicated, findings.misattributed) == (0, 0, 0)
    assert result.interactions > 0
    assert result.faults >= 3, "the nemesis injected its faults"
