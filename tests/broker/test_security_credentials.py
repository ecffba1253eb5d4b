"""Password hashes, the generated ACL and the account store, without a broker."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from broker import passwords
from broker.accounts import AccountStore, atomic_write, reload_broker
from broker.acl import Role, parse_acl_file, publisher, render_acl_file, topic_rules
from broker.errors import (
    AccountExists,
    CredentialsFileError,
    ReloadError,
    TopicError,
    UnknownAccount,
)
from broker.topics import Channel, exhibit_topic, subscription
from tests.conftest import require

# -- password file -----------------------------------------------------------------------


def test_hash_has_mosquittos_pbkdf2_sha512_layout() -> None:
    hashed = passwords.hash_password("secret", salt=b"\x00" * 12)
    # Recomputed here the way mosquitto_passwd 2.0 does: PBKDF2-HMAC-SHA512, 101 rounds.
    digest = hashlib.pbkdf2_hmac("sha512", b"secret", b"\x00" * 12, 101, 64)
    assert hashed == f"$7$101$AAAAAAAAAAAAAAAA${base64.b64encode(digest).decode()}"
    assert passwords.verify_password("secret", hashed)
    assert not passwords.verify_password("Secret", hashed)


def test_verifies_a_hash_written_by_mosquitto_passwd(tmp_path: Path) -> None:
    binary = shutil.which("mosquitto_passwd")
    require(binary is not None, "mosquitto_passwd", "sudo apt-get install mosquitto")
    assert binary is not None
    path = tmp_path / "passwd"
    subprocess.run([binary, "-c", "-b", str(path), "alice", "s3cret"], check=True)
    hashes = passwords.parse_password_file(path.read_text())
    assert passwords.verify_password("s3cret", hashes["alice"])
    assert not passwords.verify_password("s3cret!", hashes["alice"])


@pytest.mark.parametrize(
    "bad", ["", "$6$rounds$salt$hash", "$7$x$AAAA$AAAA", "$7$101$!!$AAAA", "$7$0$AAAA$AAAA"]
)
def test_malformed_hashes_never_verify(bad: str) -> None:
    assert not passwords.verify_password("", bad)


def test_generated_passwords_are_long_and_distinct() -> None:
    generated = {passwords.generate_password() for _ in range(100)}
    assert len(generated) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", p) for p in generated)


def test_password_file_round_trips_sorted() -> None:
    hashes = {"b": passwords.hash_password("1"), "a": passwords.hash_password("2")}
    text = passwords.render_password_file(hashes)
    assert [line.split(":")[0] for line in text.splitlines()] == ["a", "b"]
    assert passwords.parse_password_file(text + "\n\n") == hashes


@pytest.mark.parametrize("text", ["alice\n", "alice:plaintext\n", "a:$7$1$x$y\na:$7$1$x$y\n"])
def test_password_file_we_cannot_read_is_an_error(text: str) -> None:
    with pytest.raises(CredentialsFileError, match="line"):
        passwords.parse_password_file(text)


# -- ACL ---------------------------------------------------------------------------------


def test_every_channel_has_exactly_one_publishing_role() -> None:
    assert {publisher(channel) for channel in Channel} == {Role.EXHIBIT, Role.SERVICE}


def test_exhibit_rules_name_only_its_own_topics() -> None:
    rules = topic_rules("exhibit-001", Role.EXHIBIT)
    expected = {
        f"topic {'write' if publisher(c) is Role.EXHIBIT else 'read'} "
        + exhibit_topic("exhibit-001", c)
        for c in Channel
    }
    assert set(rules) == expected
    assert not any("+" in rule or "#" in rule for rule in rules)


def test_service_rules_read_everything_and_write_only_fleet_channels() -> None:
    rules = set(topic_rules("fleet-ingest", Role.SERVICE))
    for channel in Channel:
        access = "readwrite" if publisher(channel) is Role.SERVICE else "read"
        assert f"topic {access} {subscription(channel)}" in rules
    assert len(rules) == len(Channel)


def test_acl_file_round_trips_roles() -> None:
    roles = {"exhibit-002": Role.EXHIBIT, "fleet-ingest": Role.SERVICE, "exhibit-001": Role.EXHIBIT}
    text = render_acl_file(roles)
    assert parse_acl_file(text) == roles
    users = re.findall(r"^user (\S+)$", text, flags=re.MULTILINE)
    assert users == sorted(roles)
    # No rule before the first user line: those would apply to every client.
    before_first_user = text.split("\nuser ", 1)[0]
    assert not re.search(r"^(topic|pattern) ", before_first_user, flags=re.MULTILINE)


def test_acl_block_not_written_by_us_is_an_error() -> None:
    text = render_acl_file({"exhibit-001": Role.EXHIBIT}) + "\nuser intruder\ntopic write #\n"
    with pytest.raises(CredentialsFileError, match="'user intruder' was not written"):
        parse_acl_file(text)


@pytest.mark.parametrize("name", ["Exhibit", "a/b", "a+b", "#", "a b", "a:b", "", "-a"])
def test_account_names_that_would_break_topics_or_files_are_refused(name: str) -> None:
    with pytest.raises(TopicError, match="account name"):
        render_acl_file({name: Role.EXHIBIT})


# -- account store -----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "etc" / "passwd", tmp_path / "etc" / "acl")


def test_add_rotate_revoke(store: AccountStore) -> None:
    issued = store.add("exhibit-001", Role.EXHIBIT)
    store.add("fleet-ingest", Role.SERVICE)
    hashes = passwords.parse_password_file(store.passwd_file.read_text())
    assert passwords.verify_password(issued.password, hashes["exhibit-001"])
    assert issued.password not in store.passwd_file.read_text() + store.acl_file.read_text()
    assert parse_acl_file(store.acl_file.read_text()) == {
        "exhibit-001": Role.EXHIBIT,
        "fleet-ingest": Role.SERVICE,
    }

    rotated = store.rotate("exhibit-001")
    assert rotated.role is Role.EXHIBIT
    assert rotated.password != issued.password
    hashes = passwords.parse_password_file(store.passwd_file.read_text())
    assert passwords.verify_password(rotated.password, hashes["exhibit-001"])
    assert not passwords.verify_password(issued.password, hashes["exhibit-001"])

    store.revoke("exhibit-001")
    assert [(a.name, a.role, a.has_password) for a in store.accounts()] == [
        ("fleet-ingest", Role.SERVICE, True)
    ]
    assert "exhibit-001" not in store.passwd_file.read_text() + store.acl_file.read_text()


def test_issued_password_is_not_in_its_repr(store: AccountStore) -> None:
    issued = store.add("exhibit-001", Role.EXHIBIT)
    assert issued.password not in repr(issued)


def test_adding_a_taken_name_is_refused_for_either_role(store: AccountStore) -> None:
    store.add("exhibit-001", Role.EXHIBIT)
    with pytest.raises(AccountExists, match="rotate exhibit-001"):
        store.add("exhibit-001", Role.SERVICE)


@pytest.mark.parametrize("operation", ["rotate", "revoke"])
def test_unknown_account(store: AccountStore, operation: str) -> None:
    with pytest.raises(UnknownAccount, match="no broker account 'nobody'"):
        getattr(store, operation)("nobody")


def test_half_present_account_can_be_revoked_not_rotated(store: AccountStore) -> None:
    store.add("exhibit-001", Role.EXHIBIT)
    # A hand edit removed the ACL block: the account can connect but do nothing.
    store.acl_file.write_text(render_acl_file({}))
    assert [(a.role, a.has_password) for a in store.accounts()] == [(None, True)]
    with pytest.raises(UnknownAccount, match="half present"):
        store.rotate("exhibit-001")
    store.revoke("exhibit-001")
    assert store.accounts() == []


def test_files_are_0640_new_and_keep_their_mode(store: AccountStore) -> None:
    store.add("exhibit-001", Role.EXHIBIT)
    assert store.passwd_file.stat().st_mode & 0o777 == 0o640
    store.acl_file.chmod(0o600)
    store.add("exhibit-002", Role.EXHIBIT)
    assert store.acl_file.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in store.passwd_file.parent.iterdir()) == [
        "acl",
        "passwd",
        "passwd.lock",
    ]  # no temporary files left behind


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "acl"
    path.write_text("old\n")

    def fail(self: Path, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, "new\n")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["acl"]


def test_concurrent_admins_lose_no_account(store: AccountStore) -> None:
    names = [f"exhibit-{n:03d}" for n in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda name: store.add(name, Role.EXHIBIT), names))
    assert [a.name for a in store.accounts()] == names
    assert len(passwords.parse_password_file(store.passwd_file.read_text())) == 40


def test_reload_sends_sighup_to_the_pid_in_the_file(tmp_path: Path) -> None:
    # A stand-in broker that exits 0 on SIGHUP: its exit is the barrier.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys; signal.signal(signal.SIGHUP, lambda *a: sys.exit(0)); "
            "print('ready', flush=True); signal.pause()",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        pid_file = tmp_path / "mosquitto.pid"
        pid_file.write_text(f"{child.pid}\n")
        assert reload_broker(pid_file) == child.pid
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_reload_without_a_pid_file_explains_the_alternative(tmp_path: Path) -> None:
    with pytest.raises(ReloadError, match="systemctl reload mosquitto"):
        reload_broker(tmp_path / "missing.pid")
