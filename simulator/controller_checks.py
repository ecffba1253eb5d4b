"""Cross-checks of a scenario's controllers, pushes and output checks (``scenario_controller``).

Every document an exhibit would get is checked by the agent's own checker
(``broker.exhibit_config``): a scenario never asks for what an exhibit refuses. A push is
made by staff through the fleet, so it is refused while the broker or the fleet API is
down; and while the exhibit cannot hear it (partitioned or without power) it is refused
too, so the engine can wait for the exhibit's answer. Behaviours run without the network,
so an output check needs only power.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from broker.exhibit_config import problems as config_problems
from simulator.scenario import ExhibitDef, Scenario
from simulator.scenario_checks import Loc, Problem, fleet_down, power_off, targets, unreachable
from simulator.scenario_controller import ControllerDef, document


def problems(scenario: Scenario) -> list[Problem]:
    """Every controller cross-check that fails, as (location, message), in file order."""
    return [*_controllers(scenario), *_pushes(scenario), *_checks(scenario)]


def _documents(loc: Loc, exhibit: ExhibitDef, controller: ControllerDef) -> Iterator[Problem]:
    for problem in config_problems(document(exhibit.inputs, controller)):
        head = loc if problem.loc[:1] != ("inputs",) else loc[:-1]
        yield (*head, *problem.loc), problem.message


def _controllers(scenario: Scenario) -> Iterator[Problem]:
    for index, exhibit in enumerate(scenario.exhibits):
        if exhibit.controller is not None:
            yield from _documents(("exhibits", index, "controller"), exhibit, exhibit.controller)


def _inside(scenario: Scenario, at: datetime) -> bool:
    return scenario.start <= at < scenario.end


def _pushes(scenario: Scenario) -> Iterator[Problem]:
    defs = scenario.exhibit_defs()
    down = fleet_down(scenario)
    for index, push in enumerate(scenario.configs):
        loc = ("configs", index)
        if not _inside(scenario, push.at):
            yield (*loc, "at"), "outside the scenario"
        for window in down:
            if window.holds(push.at):
                yield (*loc, "at"), f"falls in {window.what}: staff could not push it"
        checked: set[int] = set()
        for exhibit_id in targets(push.exhibits, scenario):
            exhibit = defs.get(exhibit_id)
            if exhibit is None:
                yield (*loc, "exhibits"), f"no exhibit {exhibit_id!r}"
                continue
            if id(exhibit) not in checked:  # a range of alike exhibits: one document
                checked.add(id(exhibit))
                yield from _documents((*loc, "controller"), exhibit, push.controller)
            for window in unreachable(scenario, exhibit_id):
                if window.holds(push.at) and window not in down:
                    yield (
                        (*loc, "at"),
                        f"{exhibit_id} cannot hear it then ({window.what}); push it when "
                        "the exhibit is reachable",
                    )


def _names(scenario: Scenario, exhibit_id: str, at: datetime) -> set[str]:
    """Outputs ``exhibit_id`` may have at ``at``: its own, and any pushed to it before."""
    exhibit = scenario.exhibit_defs()[exhibit_id]
    found = set(exhibit.controller.output_names()) if exhibit.controller else set()
    for push in scenario.configs:
        if push.at <= at and exhibit_id in targets(push.exhibits, scenario):
            found |= set(push.controller.output_names())
    return found


def _checks(scenario: Scenario) -> Iterator[Problem]:
    defs = scenario.exhibit_defs()
    for index, check in enumerate(scenario.output_checks):
        loc = ("output_checks", index)
        if not _inside(scenario, check.at):
            yield (*loc, "at"), "outside the scenario"
        for exhibit_id in targets(check.exhibits, scenario):
            if exhibit_id not in defs:
                yield (*loc, "exhibits"), f"no exhibit {exhibit_id!r}"
                continue
            for window in power_off(scenario, exhibit_id):
                if window.holds(check.at):
                    yield (*loc, "at"), f"{exhibit_id} has no power then ({window.what})"
            known = _names(scenario, exhibit_id, check.at)
            for name in check.outputs:
                if name not in known:
                    have = ", ".join(sorted(known)) or "none"
                    yield (*loc, "outputs", name), f"{exhibit_id} has no output {name!r} ({have})"
