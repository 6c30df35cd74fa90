"""The ec2_identity role refuses an ec2_identity_* variable it does not know, wherever it is set (the role's
vars, the inventory, -e), in every entry point, before any AWS call, naming the closest valid names; the
variables of other entry points and the facts the role sets are not refused."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.aws_env import ROOT
from tests.support.markdown_blocks import fenced_blocks
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration


def readme_example():
    """The README's first playbook example, as the README has it."""
    blocks = [b for b in fenced_blocks((ROOT / "README.md").read_text()) if b.language == "yaml"]
    return blocks[0].body


def test_the_readme_typo_is_refused_naming_the_variable_meant(moto, tmp_path):
    """The README once set ec2_identity_profile_name, which the role ignored (the profile was named after
    the role): now it is refused before any call, and the message names ec2_identity_instance_profile_name."""
    example = readme_example()
    assert "ec2_identity_instance_profile_name: MyAppProfile" in example
    play = example.replace("ec2_identity_instance_profile_name:", "ec2_identity_profile_name:")
    moto.reset_calls()
    res = run_playbook(play, moto.url)
    assert res.rc != 0, res
    assert moto.calls()["total"] == 0, moto.calls()
    assert (
        "ec2_identity_profile_name is not a variable of the keyless.aws.ec2_identity role and would be ignored: "
        "did you mean ec2_identity_role_name (Name of the IAM role (and, unless ec2_identity_instance_profile_name "
        "is set, of the instance profile)), ec2_identity_profile (A named profile of the AWS config files (the "
        "connection, not the instance profile)) or ec2_identity_instance_profile_name (Name of the instance "
        "profile; unset, the role's name)? Every variable of the role: ansible-doc -t role keyless.aws.ec2_identity"
    ) in res.stdout, res
    assert "MyAppRole" not in [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]


def test_every_entry_point_refuses_unknown_variables_from_any_source(moto, tmp_path):
    """Inventory group vars (audit), -e (teardown, rollback): all refused, a name with nothing close said to
    be unknown without a guess."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"aws_targets": {"hosts": {"t1": {"aws_region": "us-east-1"}}, "vars": {
        "ec2_identity_role_name": "App", "ec2_identity_instance_tag": {"App": "x"}}}}))
    moto.reset_calls()
    audit = run_playbook("keyless.aws.audit", moto.url, inventory=str(inventory))
    assert audit.rc != 0, audit
    assert ("ec2_identity_instance_tag is not a variable of the keyless.aws.ec2_identity role and would be ignored: "
            "did you mean ec2_identity_instance_tags (Select instances with these tags (key -> value or list of "
            "values); each becomes a tag:<key> filter)") in audit.stdout, audit

    for playbook in ("keyless.aws.teardown", "keyless.aws.rollback"):
        res = run_playbook(playbook, moto.url, inventory=str(inventory), extra_vars={
            "ec2_identity_teardown_confirm": True, "ec2_identity_rollback_confirm": True,
            "ec2_identity_xyzzy": 1})
        assert res.rc != 0, res
        assert "ec2_identity_xyzzy is not a variable of the keyless.aws.ec2_identity role and would be ignored." \
            in res.stdout, res
        assert "ec2_identity_instance_tag is not a variable" in res.stdout, res
    assert moto.calls()["total"] == 0, moto.calls()


def test_other_entry_points_variables_and_the_role_facts_are_accepted(moto, tmp_path):
    """One inventory serves converge, audit, rollback and teardown: audit takes converge-only variables, and
    a second include in the same play sees the first one's ec2_identity_result(s) without complaint."""
    out = tmp_path / "out.json"
    play = """
- name: Two entry points in one play
  hosts: localhost
  gather_facts: false
  vars:
    ec2_identity_role_name: VarsApp
    ec2_identity_instance_tags: {App: nothing-here}
    ec2_identity_batch_size: 10              # a variable of the main entry point only
    ec2_identity_teardown_confirm: false     # and one of teardown
    ec2_identity_report_dir: %s
  tasks:
    - name: Converge the IAM part only
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
      vars:
        ec2_identity_manage_fleet: false
    - name: Audit (sees ec2_identity_result and ec2_identity_results of the first include)
      ansible.builtin.include_role:
        name: keyless.aws.ec2_identity
        tasks_from: audit
    - name: Save what the role set
      ansible.builtin.copy:
        content: "{{ {'result': ec2_identity_result.role_name, 'audit': ec2_identity_audit_result.summary} | to_json }}"
        dest: %s
        mode: "0644"
""" % (tmp_path, out)
    res = run_playbook(play, moto.url)
    assert res.rc == 0, res
    saved = json.loads(out.read_text())
    assert saved["result"] == "VarsApp"
    assert moto.client("iam").get_role(RoleName="VarsApp")["Role"]["RoleName"] == "VarsApp"
