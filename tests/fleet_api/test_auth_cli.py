"""Tokens from outside the API: ``fleet-api token ...`` and FLEET_BOOTSTRAP_ADMIN_TOKEN."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from fleet_api.auth import hash_token
from fleet_api.cli import main
from fleet_api.db import make_engine
from fleet_api.errors import ConfigError
from fleet_api.main import create_app
from fleet_api.settings import Settings, load_settings
from fleet_api.tables import api_tokens
from tests.fleet_api.tokens import ADMIN_TOKEN, bearer


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLEET_"):
            monkeypatch.delenv(name)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/fleet.db"
    monkeypatch.setenv("FLEET_DATABASE_URL", url)
    return url


def stored(url: str) -> list[tuple[int, str, str, bool]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(api_tokens).order_by(api_tokens.c.id)).all()
    finally:
        engine.dispose()
    return [(r.id, r.name, r.token_hash, r.revoked_at is not None) for r in rows]


def test_token_create_prints_the_token_alone_on_stdout(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "create", "--role", "staff", "--name", "Anna"]) == 0
    out, err = capsys.readouterr()
    token = out.removesuffix("\n")
    assert re.fullmatch(r"fleet_[A-Za-z0-9_-]{43}", token)
    assert err == "created token 1 'Anna' (staff); it is shown only this once\n"
    assert stored(database) == [(1, "Anna", hash_token(token), False)]


def test_token_list_and_revoke(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "create", "--role", "viewer"]) == 0
    token = capsys.readouterr().out.strip()
    assert main(["token", "create", "--role", "admin", "--name", "grafana"]) == 0
    capsys.readouterr()
    assert main(["token", "revoke", "1"]) == 0
    assert capsys.readouterr().out.startswith("token 1 'viewer token' (viewer) is revoked since ")
    assert main(["token", "list"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [(line[0], line[1], line[3] != "-", line[4]) for line in lines] == [
        ("1", "viewer", True, "viewer token"),
        ("2", "admin", False, "grafana"),
    ]
    assert token not in str(lines)


def test_token_mistakes_are_one_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "revoke", "7"]) == 1
    assert capsys.readouterr().err == "fleet-api: token 7 does not exist\n"
    assert main(["token", "create", "--role", "staff", "--name", "   "]) == 2
    assert capsys.readouterr().err.endswith(": --name: Value error, may not be blank\n")
    with pytest.raises(SystemExit) as exited:
        main(["token", "create", "--role", "root"])
    assert exited.value.code == 2
    assert "invalid choice: 'root'" in capsys.readouterr().err


def test_token_commands_refuse_an_unmigrated_database_when_told_not_to_migrate(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLEET_MIGRATE_ON_START", "false")
    assert main(["token", "list"]) == 1
    assert "run `fleet-api migrate`" in capsys.readouterr().err


async def test_the_bootstrap_token_is_ensured_at_every_start(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=database, bootstrap_admin_token=ADMIN_TOKEN)
    for _ in range(2):  # a restart finds it there and adds nothing
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/tokens", headers=bearer(ADMIN_TOKEN))
        assert response.status_code == 200
    [(token_id, name, digest, revoked)] = stored(database)
    assert (name, digest, revoked) == (
        "bootstrap admin (FLEET_BOOTSTRAP_ADMIN_TOKEN)",
        hash_token(ADMIN_TOKEN),
        False,
    )
    assert ADMIN_TOKEN not in caplog.text

    # Revoked in the API, it stays revoked however often the API restarts with it.
    assert main(["token", "revoke", str(token_id)]) == 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fleet_api.main"):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.get("/tokens", headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 401
    assert "names a revoked token; it stays revoked" in caplog.text


@pytest.mark.parametrize("value", ["short", "x" * 257, "has space " * 5, "fleet_ü" * 10])
def test_a_bad_bootstrap_token_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FLEET_BOOTSTRAP_ADMIN_TOKEN", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("invalid configuration: FLEET_BOOTSTRAP_ADMIN_TOKEN: not 32-256")
    assert value not in message
