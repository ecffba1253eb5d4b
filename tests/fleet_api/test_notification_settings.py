"""Alerting and notification settings: JSON lists from the environment, one-line errors that
name the setting and the fix (exit 2 from the command line), secrets never echoed."""

from __future__ import annotations

import json

import pytest

from fleet_api.cli import main
from fleet_api.errors import ConfigError
from fleet_api.settings import Settings, get_settings, load_settings

SECRET = "a-webhook-secret-of-at-least-32-characters"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"FLEET_{name.upper()}", raising=False)
    get_settings.cache_clear()


def test_webhooks_and_addresses_come_from_json_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hooks = [{"name": "depot", "url": "https://hooks.example.lv/fleet", "secret": SECRET}]
    monkeypatch.setenv("FLEET_NOTIFY_WEBHOOKS", json.dumps(hooks))
    monkeypatch.setenv("FLEET_SMTP_HOST", "mail.example.lv")
    monkeypatch.setenv("FLEET_SMTP_FROM", "fleet@example.lv")
    monkeypatch.setenv("FLEET_NOTIFY_EMAILS", '["anna@example.lv", "janis@example.lv"]')
    monkeypatch.setenv("FLEET_PUBLIC_URL", "https://fleet.example.lv/")
    settings = load_settings()
    [hook] = settings.notify_webhooks
    assert (hook.name, hook.url) == ("depot", "https://hooks.example.lv/fleet")
    assert hook.secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings)
    assert settings.notify_emails == ["anna@example.lv", "janis@example.lv"]
    assert settings.public_url == "https://fleet.example.lv"
    defaults = load_settings(notify_webhooks=[])
    assert (defaults.alerts_raise_after_s, defaults.alerts_resolve_after_s) == (120.0, 600.0)
    assert defaults.notify_min_severity == "warning"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "FLEET_NOTIFY_WEBHOOKS",
            "https://hooks.example.lv",
            "FLEET_NOTIFY_WEBHOOKS: not JSON; set it to a JSON list of",
        ),
        (
            "FLEET_NOTIFY_WEBHOOKS",
            json.dumps([{"name": "depot", "url": "ftp://x", "secret": SECRET}]),
            "FLEET_NOTIFY_WEBHOOKS: 0.url: not an http:// or https:// URL; set it to",
        ),
        (
            "FLEET_NOTIFY_WEBHOOKS",
            json.dumps([{"name": "depot", "url": "https://x.lv", "secret": "short"}]),
            "0.secret: shorter than 32 characters",
        ),
        (
            "FLEET_NOTIFY_WEBHOOKS",
            json.dumps([{"name": "depot", "url": "https://u:p@x.lv", "secret": SECRET}]),
            "credentials do not belong in the URL",
        ),
        (
            "FLEET_NOTIFY_WEBHOOKS",
            json.dumps([{"name": "a", "url": "https://x.lv", "secret": SECRET}] * 2),
            "two webhooks have the same name",
        ),
        (
            "FLEET_NOTIFY_EMAILS",
            '["anna@example.lv"]',
            "FLEET_NOTIFY_EMAILS=['anna@example.lv']: e-mail needs FLEET_SMTP_HOST and "
            "FLEET_SMTP_FROM as well",
        ),
        ("FLEET_NOTIFY_EMAILS", '["not an address"]', "'not an address' is not an e-mail"),
        ("FLEET_NOTIFY_MIN_SEVERITY", "critical", "FLEET_NOTIFY_MIN_SEVERITY='critical'"),
        ("FLEET_ALERTS_INTERVAL_S", "0", "FLEET_ALERTS_INTERVAL_S='0'"),
        ("FLEET_AGENT_CURRENT_VERSION", "latest", "not a PEP 440 version"),
        ("FLEET_PUBLIC_URL", "fleet.example.lv", "FLEET_PUBLIC_URL='fleet.example.lv'"),
        ("FLEET_NOTIFY_CA_FILE", "/nonexistent/ca.pem", "no such file"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration: ")
    assert expected in message
    assert SECRET not in message  # a webhook's secret is never echoed, whatever is wrong


def test_the_command_line_exits_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = [{"name": "Depot!", "url": "https://x.lv", "secret": SECRET}]
    monkeypatch.setenv("FLEET_NOTIFY_WEBHOOKS", json.dumps(hooks))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fleet-api: invalid configuration: FLEET_NOTIFY_WEBHOOKS: 0.name")
    assert SECRET not in err
