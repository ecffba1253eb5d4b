"""The fleet's accepted configuration in the data directory, laid over the local settings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from broker.exhibit_config import config_hash
from device.core.errors import ConfigError
from device.settings.config import load_settings
from device.settings.pushed import Pushed, overlaid, pushed_path, read_pushed, write_pushed
from tests.device.conftest import SettingsMaker

DOCUMENT: dict[str, Any] = {
    "inputs": [{"name": "knob", "kind": "button", "pin": 22, "hold_s": 2}],
    "outputs": [{"name": "lamp", "kind": "led", "pin": 5}],
    "behaviours": [{"input": "knob", "event": "hold", "output": "lamp", "action": "blink"}],
    "bucket_seconds": 15,
}
PUSHED = Pushed(4, config_hash(DOCUMENT), DOCUMENT)


def test_the_document_replaces_the_wiring_and_the_rest_stays_local(
    make_settings: SettingsMaker,
) -> None:
    settings = make_settings(
        outputs=[{"name": "fan", "kind": "motor", "forward_pin": 12, "backward_pin": 13}],
        quiet_hours={"start": "18:00", "end": "08:00"},
        session_idle_s=45,
    )
    running = overlaid(settings, PUSHED)
    assert running.count_names() == ["knob", "knob_hold"]
    assert running.outputs == DOCUMENT["outputs"]
    assert running.quiet_hours is None  # the document has none: off
    assert (running.bucket_seconds, running.session_idle_s) == (15, 45)
    assert (running.exhibit_id, running.data_dir) == (settings.exhibit_id, settings.data_dir)
    assert (running.config_version, running.config_hash()) == (4, PUSHED.config_hash)


def test_a_document_that_does_not_fit_the_local_settings_is_one_line(
    make_settings: SettingsMaker,
) -> None:
    with pytest.raises(ConfigError, match=r"^setting indicator .*: pin 5 is used by both"):
        overlaid(make_settings(indicator={"pin": 5}), PUSHED)


def test_written_atomically_and_laid_over_the_loaded_settings(
    make_settings: SettingsMaker,
) -> None:
    data_dir = make_settings().data_dir
    data_dir.mkdir(parents=True)
    write_pushed(data_dir, PUSHED)
    assert read_pushed(data_dir) == PUSHED
    assert [p.name for p in data_dir.iterdir()] == ["pushed-config.json"]  # no temporary left
    loaded = load_settings(use_environment=False, exhibit_id="exhibit-001", data_dir=data_dir)
    assert loaded.config_version == 4
    assert loaded.count_names() == ["knob", "knob_hold"]


@pytest.mark.parametrize(
    "body",
    [
        b"{half",
        b"[]",
        json.dumps({"version": 4, "config_hash": "0" * 16, "config": DOCUMENT}).encode(),
        json.dumps({"version": 4, "config_hash": PUSHED.config_hash}).encode(),
    ],
)
def test_a_damaged_file_leaves_the_local_settings_running(
    make_settings: SettingsMaker, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = make_settings().data_dir
    data_dir.mkdir(parents=True)
    pushed_path(data_dir).write_bytes(body)
    with pytest.raises(ConfigError, match=r"delete it$"):
        read_pushed(data_dir)
    loaded = load_settings(use_environment=False, exhibit_id="exhibit-001", data_dir=data_dir)
    assert loaded.config_version is None
    assert loaded.count_names() == []
    assert "running the local settings" in caplog.text
