"""``exhibit-sim demo`` (``make demo``): everything on one machine, nothing to install.

Starts the embedded broker and the fleet API on SQLite (as a child process, talking to
it only over HTTP like the real fleet), registers a term of field trips to Latgale and
Kurzeme schools (``demo_story.py``), replays the past ones in seconds through real agents
on simulated clocks, then runs today's trip live (``demo_live.py``) and prints its usage
as it arrives. Ctrl-C stops it all.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
from datetime import datetime
from pathlib import Path

from rich.console import Console

from broker.embedded import EmbeddedBroker
from broker.mosquitto import free_port
from simulator.demo_live import Story
from simulator.fleet_client import FleetClient
from simulator.fleet_process import FleetApiProcess


def preferred_port(port: int) -> int:
    """``port`` if nothing listens on it, else any free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def usage_line(client: FleetClient, visit_id: int) -> str:
    """One line: time, each exhibit's total, and the visit total."""
    usage = client.visit_usage(visit_id)
    parts = [f"{e['exhibit_id']}: {e['total']:>4}" for e in usage["exhibits"]]
    return f"{datetime.now():%H:%M:%S}  " + "  ".join(parts) + f"   total {usage['total']}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def write_token(path: Path, token: str) -> None:
    """Save ``token`` readable by its owner only."""
    path.touch(mode=0o600)
    path.write_text(token + "\n")


def demo(
    *, data_dir: Path, exhibits: int, console: Console, seed: int = 1, token: str | None = None
) -> int:
    """Run the demo until Ctrl-C (or SIGTERM); return the exit code.

    The API starts with ``token`` (a new random one if None) as its admin token, saved
    in ``data_dir/admin-token`` for curl and the Authorize button of ``/docs``.
    """
    token = token or "fleet_" + secrets.token_urlsafe(32)
    # Explicit handlers: a shell starts background jobs with SIGINT ignored, and a
    # service manager stops with SIGTERM; both must end the demo the same clean way.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    write_token(data_dir / "admin-token", token)
    broker_port, api_port = preferred_port(1883), preferred_port(8000)
    api_url = f"http://127.0.0.1:{api_port}"
    broker_url = f"mqtt://127.0.0.1:{broker_port}"
    with EmbeddedBroker(broker_port):
        console.print(f"embedded MQTT broker on 127.0.0.1:{broker_port} (loopback only)")
        api = FleetApiProcess(
            database_url=f"sqlite:///{data_dir / 'fleet.db'}",
            mqtt_url=broker_url,
            token=token,
            log_path=data_dir / "api.log",
            port=api_port,
            own_session=True,
        )
        client = FleetClient(api_url, token=token)
        story: Story | None = None
        try:
            api.start(timeout=60)
            story = Story(client, broker_url, data_dir, exhibits=exhibits, seed=seed)
            console.print(
                f"replaying a term of field trips: {story.past} to Latgale and Kurzeme "
                f"schools, {story.history_touches} interactions ..."
            )
            story.replay_history()
            story.go_live()
            today = story.today_visit
            console.print(f"fleet API on {api_url} (SQLite in {data_dir}, log {data_dir}/api.log)")
            console.print(f"[bold]usage appears at {api_url}/visits/{today}/usage[/bold]")
            token_file = data_dir / "admin-token"
            console.print(
                f"staff pages at {api_url}/ui/ (log in with the token in {token_file}); "
                f"today's field trip: {api_url}/ui/visits/{today}; the funder report: "
                f"{api_url}/ui/reports/funder"
            )
            console.print(f"API docs at {api_url}/docs (Authorize with the token in {token_file})")
            console.print(
                "exhibits drive lamps, a fan, a servo, a motor and signs; a technician's change "
                "(the lamp stays on 8 s) was pushed and applied: "
                f"{api_url}/ui/exhibits/sim-001/config"
            )
            console.print(
                f'  curl -H "Authorization: Bearer $(cat {token_file})" '
                f"{api_url}/visits/{today}/usage",
                soft_wrap=True,
            )
            console.print("Ctrl-C stops everything")
            while story.live_step(seconds=5):
                console.print(usage_line(client, today))
        except KeyboardInterrupt:
            console.print("stopping ...")
        finally:
            if story is not None:
                story.close()
            client.close()
            api.stop(timeout=15)
    console.print("stopped: broker, fleet API and simulated exhibits are down")
    return 0
