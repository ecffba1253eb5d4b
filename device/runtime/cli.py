"""``exhibit-agent``: run the agent, provision its identity, self-test its inputs, show status.

    exhibit-agent run [--provision]   count and report until SIGTERM (systemd: Type=notify);
                                      a configuration the fleet pushes restarts the agent
    exhibit-agent provision [--force] record this machine as the exhibit's (clone detection)
    exhibit-agent self-test [--seconds N]
                                      trigger every input within N seconds; prints each
                                      input seen / NOT SEEN, publishes the result
    exhibit-agent status [--json]     outbox depth, last confirmation, records kept, clock,
                                      assignment, self-test

Exit codes: 0 fine (self-test: every input seen), 1 failed at run time (self-test: an
input not seen), 2 bad configuration or usage, 3 identity mismatch (a cloned SD card;
the systemd unit should say ``RestartPreventExitStatus=3``: restarting cannot fix it).
User mistakes print one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from collections.abc import Sequence

from device import __version__
from device.core.errors import AgentError, ConfigError, IdentityMismatch
from device.ops import identity
from device.ops.instance import agent_running
from device.ops.selftest import wait_result, write_request
from device.ops.status_report import status_report
from device.settings.config import AgentSettings, load_settings
from device.wire.codec import SelfTestResult

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_IDENTITY = 3
PROG = "exhibit-agent"
RESULT_GRACE_S = 15.0
"""How long past its window a self-test result may take to arrive."""

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold (default INFO)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="count interactions and report them until SIGTERM")
    run.add_argument(
        "--provision", action="store_true", help="record this machine first if never provisioned"
    )
    provision = commands.add_parser("provision", help="record this machine as the exhibit's")
    provision.add_argument(
        "--force", action="store_true", help="replace a different recording (see docs)"
    )
    test = commands.add_parser("self-test", help="check that every input reacts")
    test.add_argument("--seconds", type=float, help="window length (default: self_test_seconds)")
    test.add_argument("--json", action="store_true", help="machine-readable output")
    status = commands.add_parser("status", help="show what the outbox holds")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _run(settings: AgentSettings, *, provision: bool) -> int:
    from device.runtime.agent import Agent  # gpiozero and paho only for the commands that need them

    if provision and identity.recorded(settings) is None:
        identity.provision(settings)
        print(f"{PROG}: provisioned {settings.exhibit_id} on this machine", file=sys.stderr)
    # A configuration the fleet pushed is applied by a new Agent on the settings loaded
    # again (device.settings.pushed lays it over them); the outbox carries on.
    while Agent(settings).run_forever() == "reconfigure":
        settings = load_settings()
        log.info("running configuration version %s", settings.config_version)
    return EXIT_OK


def _provision(settings: AgentSettings, *, force: bool) -> int:
    machine = identity.provision(settings, force=force)
    print(f"provisioned {settings.exhibit_id} in {identity.identity_path(settings)}")
    for field, value in (
        ("machine-id", machine.machine_id),
        ("Pi serial", machine.serial),
        ("SD card", machine.sd_cid),
    ):
        print(f"  {field}: {value or '-'}")
    return EXIT_OK


def _self_test(settings: AgentSettings, *, seconds: float | None, as_json: bool) -> int:
    window = seconds or settings.self_test_seconds
    names = ", ".join(spec.name for spec in settings.inputs) or "(no inputs configured)"
    if agent_running(settings.data_dir):
        # The service holds the pins: ask it, through a request file it watches.
        command_id = write_request(settings.data_dir, seconds=window)
        print(f"trigger every input within {window:g}s: {names}", file=sys.stderr)
        result = wait_result(settings.data_dir, command_id, timeout=window + RESULT_GRACE_S)
    else:
        result = _self_test_here(settings, window, names)
    if result is None:
        print(f"{PROG}: the running agent did not answer the self-test", file=sys.stderr)
        return EXIT_FAILED
    _print_result(result, as_json=as_json)
    return EXIT_OK if result.passed else EXIT_FAILED


def _self_test_here(settings: AgentSettings, window: float, names: str) -> SelfTestResult | None:
    from device.runtime.agent import Agent

    agent = Agent(settings)
    agent.start()
    try:
        print(f"trigger every input within {window:g}s: {names}", file=sys.stderr)
        command_id = f"local-{uuid.uuid4().hex[:12]}"
        request = agent.self_test(window, command_id=command_id, timeout=window + RESULT_GRACE_S)
        # Publish it if the broker is there; if not, the service sends it when it starts.
        if request.result is not None and agent.wait_connected(5):
            agent.wait_self_test_published(5)
        return request.result
    finally:
        agent.stop()


def _print_result(result: SelfTestResult, *, as_json: bool) -> None:
    if as_json:
        print(result.to_payload().decode())
        return
    print(f"self-test {result.command_id}: {'PASSED' if result.passed else 'FAILED'}")
    width = max((len(name) for name in result.seen), default=0)
    for name, seen in result.seen.items():
        print(f"  {name:<{width}}  {'seen' if seen else 'NOT SEEN'}")
    if result.taken:
        taken = ", ".join(f"{name} {count}" for name, count in result.taken.items())
        print(f"  not counted as visitors' (self-test presses): {taken}")


def _status(settings: AgentSettings, *, as_json: bool) -> int:
    report = status_report(settings)
    if as_json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {'-' if value is None else value}")
    return EXIT_OK


def _blink_identity_error(settings: AgentSettings) -> None:
    if settings.indicator is None or settings.identity_blink_s <= 0:
        return
    from device.gpio.indicator import Indicator
    from device.gpio.inputs import build_lamp

    try:
        indicator = Indicator(build_lamp(settings.indicator, pin_factory=None))
    except AgentError as exc:
        log.warning("cannot blink the identity error: %s", exc)
        return
    indicator.show_error("identity mismatch")
    time.sleep(settings.identity_blink_s)  # the process ends next: nothing else to do
    indicator.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``exhibit-agent`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings: AgentSettings | None = None
    try:
        settings = load_settings()
        if args.command == "status":
            return _status(settings, as_json=args.json)
        if args.command == "provision":
            return _provision(settings, force=args.force)
        if args.command == "self-test":
            return _self_test(settings, seconds=args.seconds, as_json=args.json)
        return _run(settings, provision=args.provision)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except IdentityMismatch as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        if settings is not None and args.command == "run":
            _blink_identity_error(settings)
        return EXIT_IDENTITY
    except AgentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
