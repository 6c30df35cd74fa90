"""Every ```yaml block of README.md and roles/ec2_identity/README.md, read from the files (never copied),
runs against the moto server, as a user would run it, and the state it leaves is checked with boto3.

The harness, per kind of block (a block that is none of these fails the test, unless its info string
says ```yaml example-only: <why it cannot run>):

- playbook (a list of plays): written to playbook.yml in a fresh directory, which is also the working
  directory (relative paths such as `./reports` land there, `PWD` says so too); files it reads with
  lookup('ansible.builtin.file', NAME) are put next to it: policies/NAME, or FIXTURES[NAME]. Plays on
  `localhost` run with no inventory (Ansible's implicit localhost) and twice: the second run must change
  nothing. Plays on other hosts run once against playbooks/inventory/example.yml, the shipped inventory of
  account/region targets (the same role through the same targets is rerun by the inventory's own runs).
- inventory (groups of hosts): `ansible-inventory --list` must read it. Group `aws_targets` gets what the
  README says to run: `keyless.aws.converge --check --diff` (not one mutating call), `keyless.aws.converge`,
  again (changed=0), `keyless.aws.audit` (read-only). Group `ec2_instances` gets `keyless.aws.verify`,
  each host answered by the IMDS emulator for a seeded instance that carries `keyless_expected_role`: a
  second inventory source gives each host `ansible_connection: local`, the instance's Python
  (/usr/bin/python3, which has no boto3) and its emulator URL: the only things a test without machines adds.
- targets (a keyless.aws.targets inventory file): an organization is built to match it - for each OU id it
  names, an OU (and an OU nested in it) with a member account in each, and an account in an OU it does not
  name - and the example's OU ids are replaced by the ones AWS gave. `ansible-inventory --list` must list
  exactly the selected accounts x its regions; with the application of playbooks/inventory/example.yml in
  group_vars/aws_targets.yml beside it (as the README says), the same runs as an inventory of aws_targets
  follow, and the run summary must count every target.
- tasks (a list of tasks) run in a play on localhost; vars (a mapping of ec2_identity_* variables) are the
  role's variables in such a play. Then as a playbook.

Seeding: every account/region target (the inventory's hosts; the moto account 123456789012 unless the
host assumes a role in another one) gets SEED instances (mixed: no profile, another profile, stopped,
terminated, hop limit 2, IMDSv2 already) tagged like each `ec2_identity_instance_tags` the example
declares. AWS-managed policies are loaded in the moto server. Every `aws_profile` the example names is
defined (AWS_CONFIG_FILE) with the test keys, since SSO and real profiles cannot exist here.
Checks after a run: each application's role and instance profile exist in its target's account with its
managed policies; every selected running or stopped instance has that profile and the metadata options
the example asks for; tasks of keyless.aws.iam_managed_policy / iam_role left what they declare; every
API call the moto server served is granted by policies/deployer.json (auditor.json for the audit).

Nothing sets an interpreter: ANSIBLE_PYTHON_INTERPRETER is removed from the environment, so an example
that needed one configured would fail here the way it fails on a user's machine.
"""

from __future__ import annotations

import sys

import pytest
import yaml

from tests.support.docs_examples import (EXAMPLE_INVENTORY, DOCS, Harness, NotRunnable, block_id, classify,
                                         run_inventory_block, run_playbook_block, run_targets_block, yaml_blocks)
from tests.support.markdown_blocks import fenced_blocks

pytestmark = pytest.mark.integration


# ---- the tests --------------------------------------------------------------------------------------

def test_the_docs_have_yaml_examples():
    blocks = yaml_blocks()
    assert {doc for doc, _block in blocks} == set(DOCS)
    assert len(blocks) >= 5, [block_id(b) for b in blocks]


@pytest.mark.parametrize("item", yaml_blocks(), ids=block_id)
def test_example_runs_as_written(item, moto, tmp_path, monkeypatch):
    doc, block = item
    try:
        kind, data = classify(block)
        if kind == "example-only":
            pytest.skip("%s:%d is marked example-only: %s" % (doc, block.line, data))
        h = Harness(moto, tmp_path, monkeypatch)
        if kind == "inventory":
            run_inventory_block(h, block, data)
        elif kind == "targets":
            run_targets_block(h, block, data)
        elif kind == "playbook":
            run_playbook_block(h, block, data)
        else:
            if kind == "vars" and (data.get("ec2_identity_watch_seconds") or 0) > 2:
                # a wave's watch is wall time: the example's minutes run as 2 seconds here (the rest as written)
                data = dict(data, ec2_identity_watch_seconds=2)
            play = [{"name": "Harness for %s:%d" % (doc, block.line), "hosts": "localhost", "connection": "local",
                     "gather_facts": False, "tasks": data if kind == "tasks" else [
                         {"name": "The role with the example's variables",
                          "ansible.builtin.include_role": {"name": "keyless.aws.ec2_identity"}, "vars": data}]}]
            run_playbook_block(h, block._replace(body=yaml.safe_dump(play, sort_keys=False)), play)
    except NotRunnable as exc:
        pytest.fail("%s:%d cannot run: %s (fix the example, or mark it ```yaml example-only: <why>)\n%s"
                    % (doc, block.line, exc, block.body))


@pytest.mark.parametrize("info,body,expected", [
    ("", "- hosts: localhost\n  tasks: []\n", "playbook"),
    ("", "aws_targets:\n  hosts:\n    a: {aws_region: us-east-1}\n", "inventory"),
    ("", "- name: A task\n  ansible.builtin.debug: {msg: hi}\n", "tasks"),
    ("", "ec2_identity_role_name: App\n", "vars"),
    ("", "plugin: keyless.aws.targets\nregions: [us-east-1]\n", "targets"),
    ("example-only: a fragment of ~/.aws/config", "[profile prod]\n", "example-only"),
])
def test_classify_blocks(info, body, expected):
    assert classify(fenced_blocks("```yaml %s\n%s```\n" % (info, body))[0])[0] == expected


@pytest.mark.parametrize("info,body", [
    ("", "just: a mapping\nof: things\n"),       # nothing the harness can run
    ("", "- 1\n- 2\n"),
    ("example-only", "anything: at all\n"),     # marked, but without saying why
    ("run-me-maybe", "- hosts: localhost\n"),
])
def test_unmarked_or_unexplained_blocks_are_refused(info, body):
    with pytest.raises(NotRunnable):
        classify(fenced_blocks("```yaml %s\n%s```\n" % (info, body))[0])


def test_example_inventory_works_without_an_interpreter_setting(moto, tmp_path, monkeypatch):
    """An inventory shaped like playbooks/inventory/example.yml but without ansible_connection and
    ansible_python_interpreter: the playbook itself runs the modules with the controller's Python (here,
    with ANSIBLE_PYTHON_INTERPRETER unset, Ansible would otherwise discover /usr/bin/python3, which has no
    boto3). A host that sets its own interpreter keeps it."""
    h = Harness(moto, tmp_path, monkeypatch)
    inventory = yaml.safe_load(EXAMPLE_INVENTORY.read_text())
    group = inventory["aws_targets"]
    for key in ("ansible_connection", "ansible_python_interpreter"):
        assert key in group["vars"], key  # the shipped inventory sets both; this copy does not
        del group["vars"][key]
    wrapper = tmp_path / "python-wrapper"
    used = tmp_path / "wrapper-used"
    wrapper.write_text("#!/bin/sh\necho \"$@\" >> %s\nexec %s \"$@\"\n" % (used, sys.executable))
    wrapper.chmod(0o755)
    first = sorted(group["hosts"])[0]
    group["hosts"][first]["ansible_python_interpreter"] = str(wrapper)
    others = [name for name in sorted(group["hosts"]) if name != first and "aws_assume_role_arn" in group["hosts"][name]]
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    assert "ANSIBLE_PYTHON_INTERPRETER" not in h.env()
    hosts = [first] + others[:1]  # one host with its own interpreter, one in another account without
    targets = [t for t in h.targets(path) if t.name in hosts]
    h.seed_targets(targets)
    res = h.playbook("keyless.aws.converge", "-i", path, "--limit", ",".join(hosts))
    assert sorted(res.recap) == sorted(hosts), res
    h.check_targets(targets)
    assert used.exists() and used.read_text().strip(), "the inventory's own interpreter was not used"
