#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Ansible module: Mosquitto's password file and ACL hold exactly the given accounts.

Runs with the Python of the broker tools venv (the exhibit-fleet project installed), so
the files are written by the project's own code: ``broker.acl`` (the ACL generated from
``broker.topics``), ``broker.passwords`` ($7$ hashes) and ``broker.accounts.atomic_write``,
under the same ``<passwd>.lock`` as ``fleet-api broker ...``.
"""

from __future__ import annotations

import fcntl
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: mosquitto_accounts
short_description: Make Mosquitto's password file and ACL hold the given accounts
description:
  - Each account gets a C($7$) password hash and its generated ACL block (exhibit or
    service role). A stored hash that already matches the password is kept, so a second
    run changes nothing.
  - Run it with the Python of a venv that has the exhibit-fleet project installed
    (C(ansible_python_interpreter)).
options:
  passwd_file:
    description: The Mosquitto password file.
    type: path
    required: true
  acl_file:
    description: The Mosquitto ACL file.
    type: path
    required: true
  accounts:
    description: The accounts.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Username (the exhibit id for an exhibit).
        type: str
        required: true
      role:
        description: exhibit or service.
        type: str
        required: true
        choices: [exhibit, service]
      password:
        description: The password.
        type: str
        required: true
        no_log: true
  exclusive:
    description: Revoke accounts found in the files but not listed.
    type: bool
    default: true
extends_documentation_fragment: [files]
author: exhibit-fleet maintainers
"""

EXAMPLES = r"""
- name: Accounts
  mosquitto_accounts:
    passwd_file: /etc/mosquitto/passwd
    acl_file: /etc/mosquitto/acl
    accounts:
      - {name: exhibit-001, role: exhibit, password: "{{ vault_password }}"}
    owner: root
    group: mosquitto
    mode: "0640"
  vars:
    ansible_python_interpreter: /opt/exhibit-fleet/broker-tools/venv/bin/python
"""

RETURN = r"""
added:
  description: Accounts created.
  type: list
  elements: str
  returned: always
changed_password:
  description: Accounts whose password changed.
  type: list
  elements: str
  returned: always
changed_role:
  description: Accounts whose role changed.
  type: list
  elements: str
  returned: always
revoked:
  description: Accounts removed.
  type: list
  elements: str
  returned: always
"""


def main() -> None:
    """Bring both files to the wanted accounts; report what changed by name only."""
    module = AnsibleModule(
        argument_spec={
            "passwd_file": {"type": "path", "required": True, "no_log": False},
            "acl_file": {"type": "path", "required": True},
            "accounts": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "role": {"type": "str", "required": True, "choices": ["exhibit", "service"]},
                    "password": {"type": "str", "required": True, "no_log": True},
                },
            },
            "exclusive": {"type": "bool", "default": True},
        },
        add_file_common_args=True,
        supports_check_mode=True,
    )
    try:
        from broker.accounts import atomic_write
        from broker.acl import Role, parse_acl_file, render_acl_file, validate_account_name
        from broker.errors import BrokerError
        from broker.passwords import (
            hash_password,
            parse_password_file,
            render_password_file,
            verify_password,
        )
    except ImportError as exc:
        module.fail_json(
            msg=f"the exhibit-fleet project is not importable ({exc}): run this module with "
            "the broker tools venv's python (ansible_python_interpreter)"
        )

    passwd = Path(module.params["passwd_file"])
    acl = Path(module.params["acl_file"])
    wanted = module.params["accounts"]
    names = [account["name"] for account in wanted]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        module.fail_json(msg=f"accounts listed twice: {', '.join(duplicates)}")

    lock = passwd.with_name(passwd.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"changed": False}
    with lock.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            old_passwd = passwd.read_text() if passwd.exists() else ""
            old_acl = acl.read_text() if acl.exists() else ""
            hashes = parse_password_file(old_passwd, source=str(passwd))
            roles = parse_acl_file(old_acl, source=str(acl))
            for account in wanted:
                validate_account_name(account["name"])
            report = _reconcile(
                hashes,
                roles,
                wanted,
                exclusive=module.params["exclusive"],
                role_of=Role,
                verify=verify_password,
                new_hash=hash_password,
            )
            new_passwd = render_password_file(hashes)
            new_acl = render_acl_file(roles)
            changed = new_passwd != old_passwd or new_acl != old_acl
            if changed and not module.check_mode:
                # Safe in-between states, as broker/accounts.py orders them: a removed
                # account loses its password first, a new one gets its ACL first.
                writes = [(acl, new_acl), (passwd, new_passwd)]
                if report["revoked"]:
                    writes.reverse()
                for path, text in writes:
                    atomic_write(path, text)  # keeps owner and mode; a new file is 0640
        except BrokerError as exc:
            module.fail_json(msg=str(exc))
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)

    if not module.check_mode:
        for path in (passwd, acl):
            file_args = module.load_file_common_arguments(module.params, path=str(path))
            changed = module.set_fs_attributes_if_different(file_args, changed)
    result.update(report, changed=changed)
    module.exit_json(**result)


def _reconcile(hashes, roles, wanted, *, exclusive, role_of, verify, new_hash):  # type: ignore[no-untyped-def]
    """Update ``hashes`` and ``roles`` in place; return the names added/changed/revoked."""
    report: dict[str, list[str]] = {
        "added": [],
        "changed_password": [],
        "changed_role": [],
        "revoked": [],
    }
    wanted_names = {account["name"] for account in wanted}
    for account in wanted:
        name, role, password = account["name"], role_of(account["role"]), account["password"]
        if name not in hashes and name not in roles:
            report["added"].append(name)
        elif roles.get(name) is not role:
            report["changed_role"].append(name)
        roles[name] = role
        current = hashes.get(name)
        if current is None or not verify(password, current):
            if current is not None:
                report["changed_password"].append(name)
            hashes[name] = new_hash(password)
    if exclusive:
        for name in sorted((hashes.keys() | roles.keys()) - wanted_names):
            hashes.pop(name, None)
            roles.pop(name, None)
            report["revoked"].append(name)
    return report


if __name__ == "__main__":
    main()
