"""Run a real ansible-playbook against the moto server and read its recap."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import tempfile

from tests.support.aws_env import ROOT, aws_env

_RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+skipped=(\d+)"
                    r"\s+rescued=(\d+)\s+ignored=(\d+)", re.M)


class Result:
    def __init__(self, proc, cmd):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.cmd = cmd
        self.recap = {}
        for m in _RECAP.finditer(proc.stdout):
            keys = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
            self.recap[m.group(1)] = dict(zip(keys, map(int, m.groups()[1:])))

    @property
    def changed(self):
        return sum(h["changed"] for h in self.recap.values())

    @property
    def failed(self):
        return sum(h["failed"] + h["unreachable"] for h in self.recap.values())

    def __repr__(self):
        return "<playbook rc=%s recap=%s>\nSTDOUT:\n%s\nSTDERR:\n%s" % (self.rc, self.recap, self.stdout[-6000:], self.stderr[-3000:])


def plain(value):
    """A value of `ansible-inventory --list` without ansible-core 2.19's {"__ansible_unsafe": v} wrapping (what a
    dynamic inventory plugin returns is marked untrusted)."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    return [plain(v) for v in value] if isinstance(value, list) else value


def run_playbook(playbook, endpoint_url, extra_vars=None, check=False, diff=False, verbosity=0,
                 inventory=None, env=None, timeout=900, args=()):
    """Run ansible-playbook; `playbook` is a path or YAML text."""
    playbook = str(playbook)
    tmp = None
    if "\n" in playbook:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False, dir=tempfile.gettempdir())
        tmp.write(playbook)
        tmp.close()
        playbook = tmp.name
    bindir = pathlib.Path(sys.executable).parent
    cmd = [str(bindir / "ansible-playbook"), playbook, "-i", inventory or "localhost,", "-c", "local"]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    cmd += list(args)
    proc = subprocess.run(cmd, cwd=str(ROOT), env=aws_env(endpoint_url, extra=env), capture_output=True,
                          text=True, timeout=timeout, check=False)
    if tmp:
        pathlib.Path(tmp.name).unlink()
    return Result(proc, cmd)


def role_playbook(result_file, role_vars):
    """A play that includes keyless.aws.ec2_identity with role_vars and writes ec2_identity_result to result_file
    (on a failure too: the failure is printed as ROLE_FAILED <msg>)."""
    return """
- name: Converge
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Converge, and on failure still save the result
      block:
        - name: Include the role
          ansible.builtin.include_role:
            name: keyless.aws.ec2_identity
          vars: %s
      rescue:
        - name: Show the failure
          ansible.builtin.debug:
            msg: "ROLE_FAILED {{ ansible_failed_result.msg }}"
    - name: Save the result
      ansible.builtin.copy:
        content: "{{ ec2_identity_result | to_json }}"
        dest: %s
        mode: "0644"
      check_mode: false
      changed_when: false
""" % (json.dumps(role_vars), result_file)


def module_playbook(module, args, result_file):
    """A play that runs one module of the collection with args and writes its registered result to result_file."""
    return """
- name: Run %(module)s
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run %(module)s
      keyless.aws.%(module)s: %(args)s
      register: outcome
    - name: Save it
      ansible.builtin.copy:
        content: "{{ outcome | to_json }}"
        dest: %(out)s
        mode: "0644"
""" % {"module": module, "args": json.dumps(args), "out": result_file}
