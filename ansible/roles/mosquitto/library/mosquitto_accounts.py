#!/usr/bin/python
# SPDX-License-Identifier: MIT
"""Ansible module: the running Mosquitto's dynamic-security accounts are exactly the given ones.

Runs with the Python of the broker tools venv (the exhibit-fleet project installed), so the
accounts are changed by the project's own code (``broker.accounts.BrokerAccounts``): live,
over the broker's ``$CONTROL`` socket, with the roles ``broker.acl`` derives from
``broker.topics`` (every role is re-synced, so a new channel reaches deployed exhibits).
A stored password is checked against the broker's own dynamic-security file (read-only),
so a second run with the same passwords changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: mosquitto_accounts
short_description: Make a running Mosquitto's dynamic-security accounts the given ones
description:
  - Each exhibit gets a role of its own (its literal topics) and a client holding it; each
    service a client holding the shared service role. Passwords that already match are
    kept, so a second run changes nothing. Every role is set to what the project's
    contract gives it now.
  - Talks to the broker over its control socket with the admin file C(fleet-api broker
    init) wrote; run it with the Python of a venv that has the exhibit-fleet project
    installed (C(ansible_python_interpreter)).
options:
  control_file:
    description: The admin file (socket, admin username and password), root only.
    type: path
    required: true
  dynsec_file:
    description: The broker's dynamic-security file, read to check known passwords.
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
    description: Revoke accounts the broker has but the list does not.
    type: bool
    default: true
  wait:
    description: Seconds to wait for the control socket (Mosquitto may just have restarted).
    type: int
    default: 30
author: exhibit-fleet maintainers
"""

EXAMPLES = r"""
- name: Accounts
  mosquitto_accounts:
    control_file: /etc/mosquitto/fleet-control.env
    dynsec_file: /var/lib/mosquitto/dynsec/dynamic-security.json
    accounts:
      - {name: exhibit-001, role: exhibit, password: "{{ vault_password }}"}
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
roles_synced:
  description: Roles whose ACLs were set to what the contract gives them now.
  type: list
  elements: str
  returned: always
"""


def main() -> None:
    """Bring the broker's accounts to the wanted ones; report what changed by name only."""
    module = AnsibleModule(
        argument_spec={
            "control_file": {"type": "path", "required": True},
            "dynsec_file": {"type": "path", "required": True},
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
            "wait": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    try:
        from broker.accounts import BrokerAccounts, wanted_from
        from broker.control import ControlAccess, ControlClient
        from broker.dynsec import Document
        from broker.errors import BrokerError
    except ImportError as exc:
        module.fail_json(
            msg=f"the exhibit-fleet project is not importable ({exc}): run this module with "
            "the broker tools venv's python (ansible_python_interpreter)"
        )

    wanted = module.params["accounts"]
    names = [account["name"] for account in wanted]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        module.fail_json(msg=f"accounts listed twice: {', '.join(duplicates)}")
    try:
        access = ControlAccess.read(Path(module.params["control_file"]))
        with ControlClient(access, wait_s=module.params["wait"]) as control:
            report = BrokerAccounts(control).reconcile(
                wanted_from(wanted),
                stored=Document.read(Path(module.params["dynsec_file"])),
                exclusive=module.params["exclusive"],
                dry_run=module.check_mode,
            )
    except BrokerError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=report.changed, **vars(report))


if __name__ == "__main__":
    main()
