"""Shared by the fleet integration tests: run a fleet module in a real playbook, read its result."""

from __future__ import annotations

import json
import pathlib
import tempfile

from tests.support.playbook import run_playbook

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the fleet module
      keyless.aws.{module}: {args}
      register: fleet_result
      ignore_errors: {ignore_errors}

    - name: Save the result
      ansible.builtin.copy:
        content: "{{{{ fleet_result | to_json }}}}"
        dest: {out}
        mode: "0600"
      check_mode: false
      diff: false
      changed_when: false
"""


def run_fleet(module, endpoint_url, args, check=False, diff=False, ignore_errors=False):
    """(playbook Result, module result dict); the module's args are written into the task as JSON."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        text = PLAYBOOK.format(module=module, args=json.dumps(args), ignore_errors=json.dumps(ignore_errors),
                               out=json.dumps(str(out)))
        res = run_playbook(text, endpoint_url, check=check, diff=diff)
        data = json.loads(out.read_text()) if out.exists() else None
    return res, data
